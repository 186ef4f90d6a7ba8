"""Training the DB text detector: DB loss, the loop, H-mean evaluation, checkpoints, resume, ONNX export.

``thaiocr det train -c configs/det/db_mobilenet.yml`` fills the run folder (``Global.save_model_dir``)::

    config.yml  latest.pt  best_accuracy.pt  best_model/inference.onnx  best_model/config.yml

``latest.pt`` is rewritten atomically after every evaluation and every epoch, so a run stopped at
any moment resumes from it. Evaluation reads the held-out pages whole, through the same
pre- and post-processing as inference (:class:`thaiocr.det.detector.DBDetector`), and scores the boxes
with :mod:`thaiocr.det.metrics` (precision, recall, H-mean at IoU 0.5). The exported graph maps
``[N, 3, H, W]`` to the probability ``[N, 1, H, W]`` (batch, height and width dynamic), so
``DBDetector.from_onnx`` runs it as it runs PP-OCRv4.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

from thaiocr import __version__
from thaiocr.det.config import DBLossConfig, DetArchitectureConfig, DetConfig
from thaiocr.det.detector import DET_ONNX_FORMAT, IMAGENET_MEAN, IMAGENET_STD, DBDetector, DBSettings, db_input
from thaiocr.det.metrics import DetectionCounts, detection_counts
from thaiocr.det.model import DBMaps, DBNet, build_det_model
from thaiocr.det.targets import DetPage, DetSamples, TargetSettings, read_det_pages
from thaiocr.errors import ThaiOCRError
from thaiocr.fileio import atomic_write_bytes, atomic_write_text
from thaiocr.kernel.blocks import count_parameters, inference_mode
from thaiocr.kernel.checkpoints import CheckpointError, read_checkpoint, write_checkpoint
from thaiocr.kernel.onnxexport import check_parity, onnx_graph
from thaiocr.kernel.training import RunState, build_optimizer, pick_device, remove_stale_writes, say, seed_everything
from thaiocr.runfolder import BEST_CHECKPOINT, LATEST_CHECKPOINT, MODEL_FOLDER, ONNX_NAME

DET_CHECKPOINT_FORMAT = "thaiocr-det-checkpoint/1"
INPUT_NAME, OUTPUT_NAME = "image", "probability"


# --- the loss -----------------------------------------------------------------------------------


def ohem_bce(logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, ratio: float) -> torch.Tensor:
    """BCE over every positive pixel and the ``ratio`` times as many hardest negatives (DB's balance)."""
    loss = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    positive, negative = target * mask, (1 - target) * mask
    n_positive = int(positive.sum())
    n_negative = min(int(negative.sum()), int(n_positive * ratio))
    hardest = torch.topk((loss * negative).flatten(), n_negative).values.sum() if n_negative else 0.0
    return ((loss * positive).sum() + hardest) / (n_positive + n_negative + 1e-6)


def dice_loss(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    overlap = (prediction * target * mask).sum()
    return 1 - 2 * overlap / ((prediction * mask).sum() + (target * mask).sum() + 1e-6)


def masked_l1(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return ((prediction - target).abs() * mask).sum() / (mask.sum() + 1e-6)


def db_loss(maps: DBMaps, targets: list[torch.Tensor], weights: DBLossConfig) -> tuple[torch.Tensor, dict]:
    """``alpha * probability + binary + beta * threshold``, and each part as a float.

    ``targets``: shrink map, its mask, threshold map, its mask, each ``[N, H, W]``.
    """
    shrink, shrink_mask, threshold, threshold_mask = (t.unsqueeze(1) for t in targets)
    parts = {
        "prob": ohem_bce(maps.prob_logits, shrink, shrink_mask, weights.ohem_ratio),
        "binary": dice_loss(maps.binary, shrink, shrink_mask),
        "thresh": masked_l1(maps.threshold, threshold, threshold_mask),
    }
    total = weights.alpha * parts["prob"] + parts["binary"] + weights.beta * parts["thresh"]
    return total, {name: float(value.detach()) for name, value in parts.items()}


# --- evaluation ---------------------------------------------------------------------------------


def torch_detector(model: DBNet, settings: DBSettings, device: torch.device) -> DBDetector:
    """The PyTorch model behind det/detector.py's pre- and post-processing, as the ONNX export will be."""

    def run(batch: np.ndarray) -> np.ndarray:
        with inference_mode(model):
            return model(torch.from_numpy(batch).to(device)).float().cpu().numpy()

    return DBDetector(run, settings, "thaiocr-db")


def evaluate_pages(detector: DBDetector, pages: list[DetPage]) -> DetectionCounts:
    """Precision, recall and H-mean at IoU 0.5 over whole pages (``###`` boxes are not counted)."""
    counts = DetectionCounts()
    for page in pages:
        with Image.open(page.image) as image:
            found = [region.quad for region in detector(image.convert("RGB"))]
        counts += detection_counts(found, [box.polygon for box in page.boxes if not box.ignore])
    return counts


# --- checkpoints --------------------------------------------------------------------------------


def save_det_checkpoint(path: Path, payload: dict) -> None:
    write_checkpoint(path, payload, DET_CHECKPOINT_FORMAT)


def load_det_checkpoint(path: Path) -> dict:
    """A detector checkpoint read safely (``weights_only``); anything else raises ``CheckpointError``."""
    return read_checkpoint(path, DET_CHECKPOINT_FORMAT, "thaiocr detector checkpoint")


# --- export -------------------------------------------------------------------------------------


def export_det_onnx(model: DBNet, out_path: Path, settings: DBSettings, config: dict | None = None) -> Path:
    """Write the probability graph with dynamic batch, height and width, and a ``thaiocr`` metadata
    entry describing its pre- and post-processing; the caller's model is untouched."""
    exported = copy.deepcopy(model).cpu().eval()
    axes = {name: {0: "batch", 2: "height", 3: "width"} for name in (INPUT_NAME, OUTPUT_NAME)}
    metadata = {"thaiocr": json.dumps(describe_detector(model, settings, config))}
    graph = onnx_graph(exported, torch.zeros(1, 3, 64, 64), (INPUT_NAME, OUTPUT_NAME), axes, metadata)
    return atomic_write_bytes(Path(out_path), graph)


def describe_detector(model: DBNet, settings: DBSettings, config: dict | None) -> dict:
    return {
        "format": DET_ONNX_FORMAT,
        "thaiocr_version": __version__,
        "preprocess": {"channels": "BGR", "scale": 1 / 255, "mean": IMAGENET_MEAN.tolist(),
                       "std": IMAGENET_STD.tolist(), "multiple_of": 32},
        "postprocess": dataclasses.asdict(settings),
        "architecture": model.architecture,
        "config": config or {},
    }


def check_det_parity(model: DBNet, onnx_path: Path, batch: np.ndarray) -> float:
    """Max |PyTorch - ONNX Runtime| over the probability maps of ``batch``."""
    return check_parity(model, onnx_path, batch, (INPUT_NAME, OUTPUT_NAME))


# --- the trainer --------------------------------------------------------------------------------


@dataclass
class _State(RunState):
    best_hmean: float = -1.0


@dataclass
class DetTrainResult:
    run_dir: Path
    best: dict | None  # the best evaluation's counts and rates
    best_step: int
    steps: int
    seconds: float
    onnx_path: Path
    parity: float


def settings_of(config: DetConfig) -> DBSettings:
    post = config.PostProcess
    return DBSettings(post.limit_side_len, post.thresh, post.box_thresh, post.unclip_ratio, post.min_size,
                      post.max_candidates)


class DetTrainer:
    """One training run of a det recipe; ``run()`` trains (or resumes) and exports the best model."""

    def __init__(self, config: DetConfig, resume: bool = True, progress: bool = True) -> None:
        self.config, self.resume, self.progress = config, resume, progress
        self.run_dir = Path(config.Global.save_model_dir)
        self.settings = settings_of(config)
        self.device = pick_device(config.Global.use_gpu)
        self.state = _State()

    def run(self) -> DetTrainResult:
        g = self.config.Global
        seed_everything(g.seed)
        torch.set_num_threads(g.num_threads or max(1, os.cpu_count() or 1))
        train = self.config.Train.dataset
        targets = TargetSettings(self.settings.unclip_ratio, train.min_text_size, train.thresh_min, train.thresh_max)
        samples = DetSamples(read_det_pages(train.label_file_list), train.scale, train.crop_size, targets, g.seed)
        eval_pages = read_det_pages(self.config.Eval.dataset.label_file_list) if self.config.Eval else []
        self.model = build_det_model(self.config.Architecture).to(self.device)
        steps_per_epoch = len(self._batches(len(samples), 0))
        self.optimizer, self.scheduler = build_optimizer(self.config.Optimizer, self.model, g.epoch_num,
                                                         steps_per_epoch)
        source = self._resume_source()
        if source:
            self._restore(source)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_writes(self.run_dir)
        atomic_write_text(self.run_dir / "config.yml", self.config.to_yaml())
        say(f"Training a DB detector of {count_parameters(self.model):,} parameters on {self.device}: "
            f"{len(samples)} training pages, {len(eval_pages)} held-out pages, "
            f"{g.epoch_num} epochs of {steps_per_epoch} steps.")
        self._loop(samples, eval_pages, steps_per_epoch)
        return self._finish(eval_pages)

    # --- batches and steps ------------------------------------------------------------------

    def _batches(self, count: int, epoch: int) -> list[list[int]]:
        """The epoch's batches of page indices: shuffled by (seed, epoch) when the loader shuffles."""
        loader = self.config.Train.loader
        order = np.arange(count)
        if loader.shuffle:
            order = np.random.default_rng([self.config.Global.seed, epoch]).permutation(count)
        size = loader.batch_size_per_card
        batches = [order[i : i + size].tolist() for i in range(0, count, size)]
        return batches[:-1] if loader.drop_last and len(batches[-1]) < size and len(batches) > 1 else batches

    def _loader(self, samples: DetSamples, batches: list[list[int]]) -> torch.utils.data.DataLoader:
        return torch.utils.data.DataLoader(samples, batch_sampler=batches, collate_fn=_stack,
                                           num_workers=self.config.Train.loader.num_workers)

    def _train_step(self, tensors: list[torch.Tensor]) -> tuple[float, dict]:
        images, *targets = (t.to(self.device) for t in tensors)
        loss, parts = db_loss(self.model.maps(images), targets, self.config.Loss)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.Optimizer.clip_norm:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.Optimizer.clip_norm)
        self.optimizer.step()
        self.scheduler.step()
        return float(loss.detach()), parts

    def _loop(self, samples: DetSamples, eval_pages: list[DetPage], steps_per_epoch: int) -> None:
        g, s = self.config.Global, self.state
        start, every = g.eval_every
        losses: deque[float] = deque(maxlen=g.log_smooth_window)
        bar = tqdm(total=g.epoch_num * steps_per_epoch, initial=s.global_step, unit="step", file=sys.stderr,
                   disable=not self.progress, mininterval=0.5 if sys.stderr.isatty() else 10, dynamic_ncols=True)
        self.model.train()
        while s.epoch < g.epoch_num:
            samples.epoch = s.epoch
            bar.set_description(f"epoch {s.epoch + 1}/{g.epoch_num}")
            batches = self._batches(len(samples), s.epoch)[s.step_in_epoch :]
            tick = time.perf_counter()
            for tensors in self._loader(samples, batches):
                loss, parts = self._train_step(tensors)
                losses.append(loss)
                s.step_in_epoch, s.global_step = s.step_in_epoch + 1, s.global_step + 1
                bar.update(1)
                if s.global_step % g.print_batch_step == 0:
                    shown = {name: f"{value:.3f}" for name, value in parts.items()}
                    bar.set_postfix(loss=f"{sum(losses) / len(losses):.3f}", **shown,
                                    lr=f"{self.scheduler.get_last_lr()[0]:.1e}", refresh=False)
                now = time.perf_counter()
                s.seconds, tick = s.seconds + now - tick, now
                if s.global_step >= start and s.global_step % every == 0:
                    self._evaluate_and_save(eval_pages)
                    tick = time.perf_counter()
            if s.epoch + 1 == g.epoch_num and not (s.history and s.history[-1]["step"] == s.global_step):
                self._evaluate_and_save(eval_pages)  # always judge the final weights
            s.epoch, s.step_in_epoch = s.epoch + 1, 0
            self._save("latest")
        bar.close()

    # --- evaluation and checkpoints ---------------------------------------------------------

    def _evaluate_and_save(self, eval_pages: list[DetPage]) -> None:
        s = self.state
        started = time.perf_counter()
        if eval_pages:
            counts = evaluate_pages(torch_detector(self.model, self.settings, self.device), eval_pages)
            is_best = s.note_evaluation(counts.hmean, s.best_hmean, counts.to_dict())
            if is_best:
                s.best_hmean = counts.hmean
                self._save("best_accuracy")
            say(f"[eval] epoch {s.epoch + 1} step {s.global_step}: precision {counts.precision:.3f}, recall "
                f"{counts.recall:.3f}, H-mean {counts.hmean:.3f} ({counts.matched} of {counts.truth} lines)"
                f"{' (best)' if is_best else ''}")
        s.seconds += time.perf_counter() - started
        self._save("latest")

    def _save(self, name: str) -> None:
        save_det_checkpoint(self.run_dir / f"{name}.pt", {
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "architecture": dict(self.model.architecture),
            "config": self.config.to_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "state": dataclasses.asdict(self.state),
            "torch_rng": torch.get_rng_state(),
        })

    def _resume_source(self) -> Path | None:
        if not self.resume:
            return None
        if self.config.Global.checkpoints:
            return Path(self.config.Global.checkpoints)
        latest = self.run_dir / LATEST_CHECKPOINT
        return latest if latest.exists() else None

    def _restore(self, path: Path) -> None:
        payload = load_det_checkpoint(path)
        if payload.get("architecture") != dataclasses.asdict(self.config.Architecture):
            raise ThaiOCRError(f"{path}: this checkpoint has a different Architecture than the recipe; "
                               "choose another Global.save_model_dir or start afresh with --no-resume")
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.scheduler.load_state_dict(payload["scheduler"])
        self.state = _State(**payload["state"])
        torch.set_rng_state(payload["torch_rng"])
        say(f"Resuming from {path} at epoch {self.state.epoch + 1}, step {self.state.global_step} "
            f"(best H-mean so far {max(self.state.best_hmean, 0):.3f}).")

    def _finish(self, eval_pages: list[DetPage]) -> DetTrainResult:
        s = self.state
        best_path = self.run_dir / BEST_CHECKPOINT
        source = best_path if s.history and best_path.exists() else self.run_dir / LATEST_CHECKPOINT
        self.model.load_state_dict(load_det_checkpoint(source)["model"])
        batch = parity_batch(eval_pages, self.settings.limit_side_len)
        path, parity = write_det_bundle(self.model, self.config, self.run_dir / MODEL_FOLDER, batch)
        say(f"Exported {path} (max |ONNX - PyTorch| = {parity:.2e}).")
        best = max(s.history, key=lambda row: row["hmean"]) if s.history else None
        return DetTrainResult(self.run_dir, best, s.best_step, s.global_step, s.seconds, path, parity)


def parity_batch(eval_pages: list[DetPage], limit_side_len: int) -> np.ndarray:
    """A held-out page as inference sees it, or random input without one."""
    if eval_pages:
        with Image.open(eval_pages[0].image) as image:
            return db_input(image.convert("RGB"), limit_side_len)
    return np.random.default_rng(0).standard_normal((1, 3, 128, 96)).astype(np.float32)


def write_det_bundle(model: DBNet, config: DetConfig, out_dir: Path, batch: np.ndarray) -> tuple[Path, float]:
    """``out_dir/inference.onnx`` with the recipe's post-processing in its metadata, ``config.yml``,
    and the parity of the export against PyTorch on ``batch``."""
    path = export_det_onnx(model, Path(out_dir) / ONNX_NAME, settings_of(config), config.to_dict())
    atomic_write_text(Path(out_dir) / "config.yml", config.to_yaml())
    return path, check_det_parity(model.eval(), path, batch)


def export_det_checkpoint(config: DetConfig, checkpoint: Path | None = None, out_dir: Path | None = None
                          ) -> tuple[Path, float]:
    """Export a run's ``best_accuracy.pt`` (or ``checkpoint``) to ``best_model/`` (or ``out_dir``)
    with the recipe's post-processing: how a detector gets settings tuned after training."""
    run_dir = Path(config.Global.save_model_dir)
    source = checkpoint or run_dir / BEST_CHECKPOINT
    payload = load_det_checkpoint(source)
    try:
        model = build_det_model(DetArchitectureConfig(**payload["architecture"]))
        model.load_state_dict(payload["model"])
    except (KeyError, TypeError, RuntimeError) as exc:
        raise CheckpointError(f"{source}: does not describe a usable detector ({str(exc).splitlines()[0]})") from None
    eval_pages = read_det_pages(config.Eval.dataset.label_file_list[:1]) if config.Eval else []
    return write_det_bundle(model, config, out_dir or run_dir / MODEL_FOLDER,
                            parity_batch(eval_pages, config.PostProcess.limit_side_len))


def _stack(samples: list[tuple[np.ndarray, ...]]) -> list[torch.Tensor]:
    return [torch.from_numpy(np.stack(column)) for column in zip(*samples, strict=True)]


def train_detector(config: DetConfig, resume: bool = True, progress: bool = True) -> DetTrainResult:
    """Train a det recipe and export its best model; resumes from ``latest.pt`` (or
    ``Global.checkpoints``) unless ``resume`` is False."""
    return DetTrainer(config, resume=resume, progress=progress).run()

