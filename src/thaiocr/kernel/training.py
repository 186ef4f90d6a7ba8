"""Training plumbing shared by the recogniser's and the detector's trainers: messages, the device,
seeding, the optimizer and its schedule, the state that survives a restart, and cleaning up after a
killed run's writes."""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from tqdm import tqdm

from thaiocr.fileio import remove_stale_temp_files
from thaiocr.kernel.recipe import OptimizerConfig
from thaiocr.runfolder import MODEL_FOLDER


class Trainable(Protocol):
    def param_groups(self, base_weight_decay: float) -> list[dict]:
        """Optimizer parameter groups, each with its ``weight_decay``."""
        ...


@dataclass
class RunState:
    """What a trainer must carry over a restart besides model, optimizer and scheduler tensors."""

    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    seconds: float = 0.0
    best_step: int = 0
    history: list[dict] = field(default_factory=list)

    def note_evaluation(self, score: float, best: float, metrics: dict) -> bool:
        """Add an evaluation to the history; True (and ``best_step`` is now) when ``score`` beats ``best``."""
        self.history.append({"step": self.global_step, "epoch": self.epoch + 1, "seconds": round(self.seconds, 2),
                             **metrics})
        if score > best:
            self.best_step = self.global_step
        return score > best


def say(message: str) -> None:
    """A line on stderr that does not break a progress bar."""
    tqdm.write(message, file=sys.stderr)


def remove_stale_writes(run_dir: Path) -> None:
    """Delete the temp files of checkpoint and model writes that a killed run left in its folder
    (``.latest.pt.*.tmp`` ...), which would otherwise stay forever and be packed with the model."""
    stale = [path for folder in (run_dir, run_dir / MODEL_FOLDER) for path in remove_stale_temp_files(folder)]
    if stale:
        noun = "file" if len(stale) == 1 else "files"
        say(f"Removed {len(stale)} temp {noun} of an interrupted write: {', '.join(p.name for p in stale)}")


def pick_device(use_gpu: bool, local_rank: int = 0) -> torch.device:
    if use_gpu and torch.cuda.is_available():
        return torch.device("cuda", local_rank)
    if use_gpu:
        say("Global.use_gpu is true but no GPU is available: training on the CPU.")
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def cosine_with_warmup(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    """LR multiplier per step: linear warm-up, then a cosine decay to zero at ``total_steps``."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def build_optimizer(settings: OptimizerConfig, model: Trainable, epochs: int, steps_per_epoch: int
                    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """Adam or AdamW over the model's parameter groups, and a per-step schedule over ``epochs``."""
    weight_decay = settings.regularizer.factor if settings.regularizer else 0.0
    optimizer_cls = torch.optim.AdamW if settings.name == "AdamW" else torch.optim.Adam
    optimizer = optimizer_cls(model.param_groups(weight_decay), lr=settings.lr.learning_rate,
                              betas=(settings.beta1, settings.beta2))
    if settings.lr.name == "Cosine":
        warmup = int(round(settings.lr.warmup_epoch * steps_per_epoch))
        schedule = cosine_with_warmup(epochs * steps_per_epoch, warmup)
    else:
        schedule = lambda step: 1.0  # noqa: E731 - a constant rate
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
