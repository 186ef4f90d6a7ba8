"""The training loop: CTC loss, Adam, cosine schedule with warm-up, evaluation, checkpoints, resume.

A run folder (``Global.save_model_dir``) ends up in the guide's layout:
``best_accuracy.pt``, ``latest.pt``, ``iter_epoch_N.pt``, ``config.yml`` and ``best_model/``
(``inference.onnx`` + ``dict.txt`` + ``config.yml``). ``latest.pt`` is rewritten atomically after
every evaluation and at the end of every epoch, so a run killed at any moment resumes from it.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from thaiocr.augment import LineAugment
from thaiocr.batches import Batch, RecDataset, load_split, make_loader
from thaiocr.charset import Charset, load_charset
from thaiocr.checkpoint import load_checkpoint, make_payload, save_checkpoint
from thaiocr.config import Config
from thaiocr.distributed import DistContext, init_distributed
from thaiocr.errors import ThaiOCRError
from thaiocr.evaluate import Metrics, compute_metrics
from thaiocr.export import write_inference_bundle
from thaiocr.fileio import atomic_copy, atomic_write_text
from thaiocr.finetune import load_pretrained
from thaiocr.kernel.blocks import count_parameters
from thaiocr.kernel.training import RunState, build_optimizer, pick_device, remove_stale_writes, say, seed_everything
from thaiocr.model import CRNN, build_model, check_input_height
from thaiocr.modeldescription import ModelDescription
from thaiocr.report import write_training_curves
from thaiocr.runfolder import BEST_CHECKPOINT, LATEST_CHECKPOINT, MODEL_FOLDER, epoch_checkpoint
from thaiocr.synthstream import build_synth_split


@dataclass(frozen=True)
class EvalEvent:
    """What the trainer knows after an evaluation; passed to the ``on_eval`` callback."""

    epoch: int
    step: int
    seconds: float  # training-loop seconds since the run began (resumed runs included)
    metrics: Metrics
    is_best: bool


@dataclass
class TrainResult:
    run_dir: Path
    best: Metrics | None
    best_step: int
    steps: int
    seconds: float
    onnx_path: Path | None
    parity: float | None
    history: list[dict] = field(default_factory=list)


@dataclass
class _State(RunState):
    best_acc: float = -1.0
    losses: list[tuple[int, float]] = field(default_factory=list)  # (step, smoothed loss) every print_batch_step


def ctc_loss(logits: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Mean CTC loss; every sample uses all T steps, padding included, as at inference."""
    log_probs = F.log_softmax(logits.float(), dim=2).permute(1, 0, 2)  # [T, N, C]
    n, t = logits.shape[0], logits.shape[1]
    input_lengths = torch.full((n,), t, dtype=torch.long)
    return F.ctc_loss(
        log_probs, batch.targets, input_lengths, batch.target_lengths, blank=0, zero_infinity=True
    )


def greedy_texts(logits: torch.Tensor, charset: Charset) -> list[str]:
    probs = torch.softmax(logits.float(), dim=2).cpu().numpy()
    return [text for text, _ in charset.decode_greedy(probs)]


class Trainer:
    """One training run of a recipe; ``run()`` trains (or resumes) and exports the best model."""

    def __init__(
        self,
        config: Config,
        resume: bool = True,
        progress: bool = True,
        on_eval: Callable[[EvalEvent], bool] | None = None,
    ) -> None:
        self.config = config
        self.resume = resume
        self.progress = progress
        self.on_eval = on_eval
        self.run_dir = Path(config.Global.save_model_dir)
        self.charset = load_charset(config.Global.character_dict_path, config.Global.use_space_char)
        self.preprocess = config.preprocess
        self.dist = DistContext()
        self.device = pick_device(config.Global.use_gpu)
        self.state = _State()

    def _say(self, message: str) -> None:
        if self.dist.is_main:
            say(message)

    # --- set-up -----------------------------------------------------------------------------

    def _load_data(self) -> tuple[RecDataset, RecDataset | None]:
        train_ds = self._load_split("Train")
        eval_ds = self._load_split("Eval") if self.config.Eval and self.dist.is_main else None
        return train_ds, eval_ds

    def _load_split(self, split: str) -> RecDataset:
        """A split's dataset, ready to batch: files are decoded once; a synthetic Eval is rendered once."""
        g = self.config.Global
        dataset = (self.config.Train if split == "Train" else self.config.Eval).dataset
        if dataset.is_synthetic:
            built = build_synth_split(dataset, split, self.charset, g.max_text_length, self.preprocess, g.seed)
            if split == "Eval":
                built.preload(progress=self.progress)
            return built
        loaded = load_split(dataset, self.charset, g.max_text_length, self.preprocess, split)
        loaded.preload(workers=(os.cpu_count() or 0) if split == "Train" else 0, progress=self.progress)
        return loaded

    def _prepare_run_dir(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_writes(self.run_dir)
        atomic_write_text(self.run_dir / "config.yml", self.config.to_yaml())

    # --- checkpoints ------------------------------------------------------------------------

    def _save(self, name: str) -> None:
        if not self.dist.is_main:
            return
        payload = {
            **make_payload(self.model, self.charset, self.preprocess, self.config.to_dict()),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "state": dataclasses.asdict(self.state),
            "torch_rng": torch.get_rng_state(),
        }
        save_checkpoint(self.run_dir / f"{name}.pt", payload)

    def _resume_source(self) -> Path | None:
        """``Global.checkpoints`` when set, else the run folder's ``latest.pt``; none with --no-resume."""
        if not self.resume:
            return None
        explicit = self.config.Global.checkpoints
        if explicit:
            return Path(explicit)
        latest = self.run_dir / LATEST_CHECKPOINT
        return latest if latest.exists() else None

    def _restore(self, path: Path) -> None:
        payload = load_checkpoint(path)
        description = ModelDescription.from_checkpoint(payload)
        if description.charset.chars != self.charset.chars:
            raise ThaiOCRError(
                f"{path}: this checkpoint was trained with a different alphabet than "
                f"{self.config.Global.character_dict_path}; choose another Global.save_model_dir "
                "or start afresh with --no-resume"
            )
        if description.architecture != dataclasses.asdict(self.config.Architecture):
            raise ThaiOCRError(
                f"{path}: this checkpoint has a different Architecture than the recipe; "
                "choose another Global.save_model_dir or start afresh with --no-resume"
            )
        self.model.load_state_dict(payload["model"])
        if "optimizer" in payload:
            self.optimizer.load_state_dict(payload["optimizer"])
            self.scheduler.load_state_dict(payload["scheduler"])
            self.state = _State(**payload["state"])
            torch.set_rng_state(payload["torch_rng"])
        self._say(
            f"Resuming from {path} at epoch {self.state.epoch + 1}, step {self.state.global_step} "
            f"(best line accuracy so far {max(self.state.best_acc, 0):.2%})."
        )

    # --- evaluation -------------------------------------------------------------------------

    @torch.no_grad()
    def evaluate(self, dataset: RecDataset) -> Metrics:
        self.model.eval()
        loader = make_loader(dataset, self.config.Eval.loader, self.charset, self.preprocess, seed=0)
        predictions: list[str] = []
        truths: list[str] = []
        for batch in loader:
            predictions.extend(greedy_texts(self.model(self._to_device(batch.images)), self.charset))
            truths.extend(batch.texts)
        self.model.train()
        return compute_metrics(predictions, truths)

    def _evaluate_and_checkpoint(self, eval_ds: RecDataset | None) -> bool:
        """Evaluate, keep the best, refresh ``latest``; True when the callback asks to stop.

        In distributed training rank 0 alone evaluates and writes; the others learn its decision.
        """
        stop = self._evaluate_on_main(eval_ds) if self.dist.is_main else False
        return self.dist.broadcast_flag(stop)

    def _evaluate_on_main(self, eval_ds: RecDataset | None) -> bool:
        s = self.state
        if eval_ds is None:
            self._save("latest")
            write_training_curves(self.run_dir / "curves.png", s.history, s.losses)
            return False
        metrics = self.evaluate(eval_ds)
        is_best = s.note_evaluation(metrics.line_acc, s.best_acc, metrics.to_dict())
        if is_best:
            s.best_acc = metrics.line_acc
            self._save("best_accuracy")
        self._save("latest")
        write_training_curves(self.run_dir / "curves.png", s.history, s.losses)
        mark = " (best)" if is_best else ""
        self._say(f"[eval] epoch {s.epoch + 1} step {s.global_step}: {metrics}{mark}")
        if self.on_eval is None:
            return False
        return bool(self.on_eval(EvalEvent(s.epoch, s.global_step, s.seconds, metrics, is_best)))

    # --- the loop ---------------------------------------------------------------------------

    def _to_device(self, images: torch.Tensor) -> torch.Tensor:
        images = images.to(self.device, non_blocking=True)
        if self.config.Global.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return images

    def _train_step(self, batch: Batch) -> float:
        logits = self.forward_model(self._to_device(batch.images))
        loss = ctc_loss(logits, batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        clip = self.config.Optimizer.clip_norm
        if clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        self.optimizer.step()
        self.scheduler.step()
        return self.dist.mean(loss.detach())

    def _is_eval_step(self, step: int) -> bool:
        start, every = self.config.Global.eval_every
        return step >= start and step % every == 0

    def run(self) -> TrainResult:
        use_cuda = self.device.type == "cuda"
        self.dist = init_distributed(use_cuda)
        try:
            return self._run()
        finally:
            self.dist.close()

    def _run(self) -> TrainResult:
        g = self.config.Global
        self.device = pick_device(g.use_gpu, self.dist.local_rank)
        self.progress = self.progress and self.dist.is_main
        seed_everything(g.seed)
        torch.set_num_threads(g.num_threads or max(1, (os.cpu_count() or 1) // self.dist.local_world_size))
        self.model = build_model(self.config.Architecture, self.charset.num_classes).to(self.device)
        check_input_height(self.model, self.preprocess.height)
        train_ds, eval_ds = self._load_data()
        if g.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        steps_per_epoch = len(self._train_loader(train_ds, epoch=0))
        self.optimizer, self.scheduler = build_optimizer(self.config.Optimizer, self.model, g.epoch_num,
                                                         steps_per_epoch)
        source = self._resume_source()
        if source:
            self._restore(source)
            if g.pretrained_model:
                say(f"Not loading Global.pretrained_model {g.pretrained_model}: resuming takes precedence "
                    "(--no-resume starts afresh from it).")
        elif g.pretrained_model:
            self._say(load_pretrained(self.model, self.charset, g.pretrained_model, self.preprocess).summary())
        self.forward_model = self._wrap_for_ddp(self.model)
        if self.dist.is_main:
            self._prepare_run_dir()  # only now: a run refused above leaves the folder as it was
        ranks = f" x {self.dist.world_size} processes (DDP)" if self.dist.enabled else ""
        self._say(
            f"Training {count_parameters(self.model):,} parameters on {self.device}{ranks}: "
            f"{len(train_ds)} training lines, {len(eval_ds) if eval_ds else 0} validation lines, "
            f"{g.epoch_num} epochs of {steps_per_epoch} steps, alphabet of {len(self.charset)} characters."
        )
        self._loop(train_ds, eval_ds, steps_per_epoch)
        self.dist.barrier()  # rank 0's last checkpoint is on disk before anyone reads it
        return self._finish(eval_ds)

    def _wrap_for_ddp(self, model: CRNN) -> torch.nn.Module:
        """The module the training steps run: ``model`` itself, or DDP around it (weights stay shared)."""
        if not self.dist.enabled:
            return model
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)

    def _train_loader(self, train_ds: RecDataset, epoch: int):
        return make_loader(train_ds, self.config.Train.loader, self.charset, self.preprocess,
                           seed=self.config.Global.seed, epoch_seed_offset=epoch, context=self.dist)

    def _loop(self, train_ds: RecDataset, eval_ds: RecDataset | None, steps_per_epoch: int) -> None:
        g, s = self.config.Global, self.state
        total = g.epoch_num * steps_per_epoch
        losses: deque[float] = deque(maxlen=g.log_smooth_window)
        bar = tqdm(total=total, initial=s.global_step, unit="step", disable=not self.progress,
                   file=sys.stderr, mininterval=0.5 if sys.stderr.isatty() else 10, dynamic_ncols=True)
        self.model.train()
        stop = False
        while s.epoch < g.epoch_num and not stop:
            if self.config.has_transform("Train", "RecAug"):
                train_ds.augment = LineAugment(g.seed, self.preprocess.max_width, epoch=s.epoch)
            if hasattr(train_ds, "epoch"):
                train_ds.epoch = s.epoch  # synthetic lines: new ones every epoch
            loader = self._train_loader(train_ds, s.epoch)
            bar.set_description(f"epoch {s.epoch + 1}/{g.epoch_num}")
            tick = time.perf_counter()
            for batch in itertools.islice(loader, s.step_in_epoch, None):
                losses.append(self._train_step(batch))
                s.step_in_epoch += 1
                s.global_step += 1
                bar.update(1)
                if s.global_step % g.print_batch_step == 0:
                    s.losses.append((s.global_step, sum(losses) / len(losses)))
                    bar.set_postfix(loss=f"{s.losses[-1][1]:.4f}",
                                    lr=f"{self.scheduler.get_last_lr()[0]:.2e}", refresh=False)
                # The clock covers batching, augmentation, the step and evaluation alike.
                now = time.perf_counter()
                s.seconds, tick = s.seconds + now - tick, now
                if self._is_eval_step(s.global_step):
                    stop = self._timed(self._evaluate_and_checkpoint, eval_ds)
                    tick = time.perf_counter()
                    if stop:
                        break
            if stop:
                break
            self._end_of_epoch(eval_ds, total)
        bar.close()

    def _timed(self, fn: Callable, *args):
        """Run ``fn`` and count its time as training time (evaluation is part of the run)."""
        started = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.state.seconds += time.perf_counter() - started

    def _end_of_epoch(self, eval_ds: RecDataset | None, total_steps: int) -> None:
        g, s = self.config.Global, self.state
        if s.global_step == total_steps and not self._is_eval_step(s.global_step):
            self._timed(self._evaluate_and_checkpoint, eval_ds)  # always judge the final weights
        s.epoch += 1
        s.step_in_epoch = 0
        self._save("latest")
        if s.epoch % g.save_epoch_step == 0 and self.dist.is_main:
            atomic_copy(self.run_dir / LATEST_CHECKPOINT, epoch_checkpoint(self.run_dir, s.epoch))

    # --- the end ----------------------------------------------------------------------------

    def _finish(self, eval_ds: RecDataset | None) -> TrainResult:
        s = self.state
        if not self.dist.is_main:
            return TrainResult(self.run_dir, None, s.best_step, s.global_step, s.seconds, None, None, s.history)
        # Without evaluations in this run's history, a best_accuracy.pt here could be another run's.
        source = self.run_dir / (BEST_CHECKPOINT if s.history else LATEST_CHECKPOINT)
        self.model.load_state_dict(load_checkpoint(source)["model"])
        self.model.eval()
        onnx_path, parity = self._export(eval_ds)
        best = None
        if s.history:
            best_row = max(s.history, key=lambda row: row["line_acc"])
            best = Metrics(**{k: best_row[k] for k in ("n", "line_acc", "cer", "ned", "n_chars", "n_edits")})
        return TrainResult(self.run_dir, best, s.best_step, s.global_step, s.seconds, onnx_path, parity,
                           s.history)

    def _export(self, eval_ds: RecDataset | None) -> tuple[Path, float]:
        folders = [self.run_dir / MODEL_FOLDER]
        if self.config.Global.save_inference_dir:
            folders.append(Path(self.config.Global.save_inference_dir))
        batch = None
        if eval_ds is not None:
            batch = self.preprocess.batch([eval_ds[i][0] for i in range(min(8, len(eval_ds)))])
        results = [write_inference_bundle(self.model, self.charset, self.preprocess, folder, self.config.to_dict(),
                                          batch) for folder in folders]
        onnx_path, parity = results[0][0], max(p for _, p in results)
        images = "validation" if batch is not None else "random"
        say(f"Exported {onnx_path} (max |ONNX - PyTorch| = {parity:.2e} on {images} images).")
        return onnx_path, parity


def train(config: Config, resume: bool = True, progress: bool = True,
          on_eval: Callable[[EvalEvent], bool] | None = None) -> TrainResult:
    """Train a recipe and export its best model.

    Resumes from ``Global.checkpoints`` or the run folder's ``latest.pt`` when there is one; otherwise
    starts from ``Global.pretrained_model``'s weights when set (see finetune.py), else from scratch.
    """
    return Trainer(config, resume=resume, progress=progress, on_eval=on_eval).run()
