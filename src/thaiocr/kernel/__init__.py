"""The kernel that recognition and detection share, and neither owns: recipe machinery (``recipe``),
network building blocks (``blocks``), training plumbing (``training``), checkpoint files
(``checkpoints``) and ONNX export and parity (``onnxexport``).

The kernel imports only the shared helpers (errors, fileio, runfolder, onnxmodel), never a family.
"""
