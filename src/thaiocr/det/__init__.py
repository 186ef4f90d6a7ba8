"""Text detection: the DB detector's recipe, network, training targets, training loop, metrics,
inference (``DBDetector`` and the PP-OCR detectors) and its label format (``labels``).

Imports the kernel and the shared helpers, never the recogniser's modules; ``labels`` and
``metrics`` are torch-free, so synthesis writes the label format without pulling in torch.
"""
