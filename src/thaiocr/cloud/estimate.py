"""``thaiocr cloud estimate``: how long a recipe trains, here and on SageMaker instances, and the cost.

Here, measured: a few training steps of the recipe's own model and optimizer (built from the
config, stepped as the trainer steps) on random batches of its input size, on this machine's
CPU, give seconds per step; a few forward passes at the Eval batch size give seconds per
evaluation batch. The run's size comes from the recipe: epochs x steps per epoch (label lines /
batch size) and the evaluations ``eval_batch_step`` asks for. Image decoding is left out (the
trainer decodes every image once, up front), and every measured batch is as wide as the widest
line, so the figure leans long.

On an instance, estimated: this machine's time x (this machine's speed / the instance's speed),
plus ``START_OVERHEAD``. The instance speeds are the assumed factors of ``prices.csv`` (its header
says where they come from); this machine's speed is taken as ``(threads / 2) ** 0.8``, the same rule
the table's CPU rows follow. The cost is that time at the table's price.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from thaiocr.cloud.costs import Price, instance, money
from thaiocr.config import Config, DatasetConfig
from thaiocr.errors import ThaiOCRError

if TYPE_CHECKING:
    import torch

    from thaiocr.batches import Batch

DEFAULT_INSTANCES = ("ml.m5.xlarge", "ml.c5.2xlarge", "ml.g4dn.xlarge", "ml.g5.xlarge")
START_OVERHEAD = 180  # billed seconds before training starts: image, pip install, data download (assumed)
CPU_SCALING = 0.8  # speed = (threads / 2) ** CPU_SCALING, relative to 2 threads (see prices.csv)


@dataclass(frozen=True)
class RunSize:
    """How much work a recipe's run is."""

    epochs: int
    train_lines: int
    batch_size: int
    steps_per_epoch: int
    eval_lines: int
    eval_batch_size: int
    evaluations: int

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch

    @property
    def eval_batches(self) -> int:
        return math.ceil(self.eval_lines / self.eval_batch_size) if self.eval_lines else 0


@dataclass(frozen=True)
class Measurement:
    threads: int
    steps: int
    step_seconds: float  # median training step
    eval_batch_seconds: float  # median forward pass of an Eval batch (0 without Eval)

    @property
    def speed(self) -> float:
        """This machine's speed on the scale of ``prices.csv`` (1.0 = 2 threads)."""
        return (self.threads / 2) ** CPU_SCALING


# --- the size of a run --------------------------------------------------------------------------


def count_lines(dataset: DatasetConfig, split: str) -> int:
    """Label lines a split trains on (``ratio_list`` applied); empty lines do not count."""
    from thaiocr.labels import read_lines

    ratios = dataset.ratio_list or [1.0] * len(dataset.label_file_list)
    total = 0
    for path, ratio in zip(dataset.label_file_list, ratios, strict=False):
        if not path.is_file():
            raise ThaiOCRError(f"{split}: label file {path} not found here; give the number of training "
                               "lines with --samples N")
        total += round(len(read_lines(path)) * min(ratio, 1.0))
    return total


def steps_per_epoch(lines: int, batch_size: int, drop_last: bool) -> int:
    """As the loader batches: ``drop_last`` drops a partial batch, unless that would leave no batch."""
    return lines // batch_size if drop_last and lines >= batch_size else math.ceil(lines / batch_size)


def count_evaluations(total_steps: int, start: int, every: int) -> int:
    """Evaluations at every ``every``-th step from ``start``, plus the final one the trainer always makes."""
    first = max(start, 1)
    scheduled = total_steps // every - (first - 1) // every if total_steps >= first else 0
    final_is_scheduled = total_steps >= first and total_steps % every == 0
    return scheduled + (0 if final_is_scheduled else 1)


def run_size(config: Config, samples: int | None = None) -> RunSize:
    if config.Train.dataset.is_synthetic:
        raise ThaiOCRError("estimate: a SynthDataSet recipe renders its lines while training; this estimate "
                           "covers label-file recipes (SimpleDataSet)")
    loader = config.Train.loader
    lines = samples if samples is not None else count_lines(config.Train.dataset, "Train")
    if lines < 1:
        raise ThaiOCRError("estimate: the training split has no lines")
    per_epoch = steps_per_epoch(lines, loader.batch_size_per_card, loader.drop_last)
    eval_lines, eval_batch, evaluations = 0, 1, 0
    if config.Eval:
        eval_batch = config.Eval.loader.batch_size_per_card
        try:
            eval_lines = count_lines(config.Eval.dataset, "Eval")
        except ThaiOCRError:
            eval_lines = 0  # unknown here: evaluations are left out, and the table says so
        start, every = config.Global.eval_every
        evaluations = count_evaluations(config.Global.epoch_num * per_epoch, start, every) if eval_lines else 0
    return RunSize(config.Global.epoch_num, lines, loader.batch_size_per_card, per_epoch, eval_lines, eval_batch,
                   evaluations)


# --- the measurement ----------------------------------------------------------------------------


def _random_batch(model: torch.nn.Module, batch_size: int, height: int, width: int, num_classes: int,
                  max_length: int) -> Batch:
    """A batch of noise images and random labels, as long as the model's output allows."""
    import torch

    from thaiocr.batches import Batch

    images = torch.randn(batch_size, 3, height, width)
    with torch.no_grad():
        steps = model(images[:1]).shape[1]
    length = max(1, min(max_length, steps // 3))
    targets = torch.randint(1, num_classes, (batch_size * length,), dtype=torch.long)
    return Batch(images, targets, torch.full((batch_size,), length, dtype=torch.long), [""] * batch_size)


def _median_seconds(fn: Callable[[], object], repeats: int, warmup: int) -> float:
    times = []
    for i in range(warmup + repeats):
        started = time.perf_counter()
        fn()
        if i >= warmup:
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def _training_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                   scheduler: torch.optim.lr_scheduler.LRScheduler, batch: Batch, clip_norm: float | None) -> None:
    """One step as the trainer takes it: forward, CTC loss, backward, clipping, optimizer and schedule."""
    import torch

    from thaiocr.train import ctc_loss

    loss = ctc_loss(model(batch.images), batch)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip_norm:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
    optimizer.step()
    scheduler.step()


def measure(config: Config, steps: int = 10, warmup: int = 3) -> Measurement:
    """Time ``steps`` training steps (after ``warmup``) and a few Eval forward passes, on the CPU."""
    import torch

    from thaiocr.charset import load_charset
    from thaiocr.kernel.training import build_optimizer, seed_everything
    from thaiocr.model import build_model

    g, preprocess = config.Global, config.preprocess
    threads = g.num_threads or os.cpu_count() or 1
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        seed_everything(g.seed)
        num_classes = load_charset(g.character_dict_path, g.use_space_char).num_classes
        model = build_model(config.Architecture, num_classes)
        memory_format = torch.channels_last if g.channels_last else torch.contiguous_format
        model = model.to(memory_format=memory_format).train()
        optimizer, scheduler = build_optimizer(config.Optimizer, model, g.epoch_num, warmup + steps)
        batch = _random_batch(model, config.Train.loader.batch_size_per_card, preprocess.height,
                              preprocess.max_width, num_classes, g.max_text_length)
        batch.images = batch.images.contiguous(memory_format=memory_format)
        step_seconds = _median_seconds(
            lambda: _training_step(model, optimizer, scheduler, batch, config.Optimizer.clip_norm), steps, warmup)
        eval_seconds = 0.0
        if config.Eval:
            shape = (config.Eval.loader.batch_size_per_card, 3, preprocess.height, preprocess.max_width)
            images = torch.randn(shape).contiguous(memory_format=memory_format)
            model.eval()
            with torch.no_grad():
                eval_seconds = _median_seconds(lambda: model(images), 3, 1)
    finally:
        torch.set_num_threads(previous_threads)
    return Measurement(threads, steps, step_seconds, eval_seconds)


# --- the estimate -------------------------------------------------------------------------------


def local_seconds(size: RunSize, measurement: Measurement) -> float:
    """The run's time on this machine: its training steps and its evaluations."""
    evaluation = size.evaluations * size.eval_batches * measurement.eval_batch_seconds
    return size.total_steps * measurement.step_seconds + evaluation


def human_time(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


@dataclass(frozen=True)
class Row:
    where: str
    seconds: float
    price: Price | None = None


@dataclass(frozen=True)
class Estimate:
    size: RunSize
    measurement: Measurement
    rows: list[Row]
    region: str

    def _header(self) -> list[str]:
        m, s = self.measurement, self.size
        threads = f"{m.threads} thread{'s' if m.threads > 1 else ''}"
        measured = (f"Measured here: median of {m.steps} training steps (batch {s.batch_size}, CPU, {threads}): "
                    f"{m.step_seconds:.3f} s/step")
        if m.eval_batch_seconds:
            measured += f"; {m.eval_batch_seconds:.3f} s per Eval batch of {s.eval_batch_size}"
        evaluations = (f"{s.evaluations} evaluations of {s.eval_lines} lines" if s.evaluations
                       else "evaluations not counted (no Eval label files here)")
        run = (f"The run: {s.epochs} epochs x {s.steps_per_epoch} steps ({s.train_lines} lines, batch "
               f"{s.batch_size}) = {s.total_steps} steps; {evaluations}")
        return [measured, run]

    def _footnote(self) -> list[str]:
        inexact = sorted({row.price.region for row in self.rows if row.price and not row.price.exact})
        where = f"{', '.join(inexact)} ({self.region} may differ)" if inexact else self.region
        return [f"~ estimates: this machine's time scaled by the speeds assumed in prices.csv, plus "
                f"{START_OVERHEAD // 60} min of job start-up;",
                f"  prices are approximate list prices for {where}; see docs/cloud.md"]

    def table(self) -> str:
        lines = [*self._header(), "", f"{'where':<18} {'time':>14} {'$/hour':>8} {'cost':>8}"]
        for row in self.rows:
            rate = f"${row.price.usd_per_hour:.3f}" if row.price else "-"
            cost = money(row.price.cost(row.seconds)) if row.price else "-"
            time_text = human_time(row.seconds) if row.price is None else "~" + human_time(row.seconds)
            lines.append(f"{row.where:<18} {time_text:>14} {rate:>8} {cost:>8}")
        return "\n".join([*lines, "", *self._footnote()])


def estimate(config: Config, instance_types: Sequence[str] = DEFAULT_INSTANCES, region: str = "us-east-1",
             samples: int | None = None, steps: int = 10) -> Estimate:
    """Measure the recipe here, then scale to each instance type (see the module docstring)."""
    machines = [instance(name) for name in instance_types]  # unknown names fail before the measurement
    size = run_size(config, samples)
    measurement = measure(config, steps)
    here = local_seconds(size, measurement)
    rows = [Row("this machine", here)]
    for machine in machines:
        seconds = here * measurement.speed / machine.relative_speed + START_OVERHEAD
        rows.append(Row(machine.name, seconds, machine.price(region)))
    return Estimate(size, measurement, rows, region)
