"""The names of what a training run writes into its folder, defined once.

A run folder (``Global.save_model_dir``) holds ``best_accuracy.pt``, ``latest.pt`` (training resumes
from it), ``iter_epoch_N.pt``, ``config.yml``, ``curves.png`` and ``best_model/``: the exported
model, with ``inference.onnx`` beside its checkpoint and alphabet. Recognition and detection runs
share the layout, and the CLI, fine-tuning, the cloud download and the endpoint read it by these names.
"""

from __future__ import annotations

from pathlib import Path

BEST_CHECKPOINT = "best_accuracy.pt"
LATEST_CHECKPOINT = "latest.pt"
MODEL_FOLDER = "best_model"
ONNX_NAME = "inference.onnx"
LM_NAME = "charlm.gz"  # a character language model beside the model (thaiocr.charlm)
EPOCH_CHECKPOINT_PREFIX = "iter_epoch_"
CHECKPOINT_NAMES = (BEST_CHECKPOINT, LATEST_CHECKPOINT)  # looked for, in this order, in a run folder


def epoch_checkpoint(run_dir: Path, epoch: int) -> Path:
    return run_dir / f"{EPOCH_CHECKPOINT_PREFIX}{epoch}.pt"
