"""``make demo``: the guide's whole flow on a laptop CPU, in minutes.

Synthesise Thai/Arabic digit lines, train the numbers recipe, export it to ONNX, evaluate it on
validation lines rendered in fonts training never saw, read a few images, and print a summary.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from thaiocr.checkpoint import load_checkpoint
from thaiocr.config import Config, load_config
from thaiocr.errors import ThaiOCRError
from thaiocr.evaluate import Metrics, breakdown, evaluate_label_file
from thaiocr.predict import Recognizer
from thaiocr.runfolder import LATEST_CHECKPOINT
from thaiocr.synth.fonts import discover_fonts
from thaiocr.synth.lines import dataset_is_current, font_families_beside, generate_dataset
from thaiocr.train import train

DEFAULT_CONFIG = Path("configs/rec/numbers.yml")
N_TRAIN, N_VAL, SEED = 20000, 1000, 0
N_SAMPLES_SHOWN = 6


@dataclass(frozen=True)
class DemoSummary:
    metrics: Metrics
    by_family: dict[str, Metrics]
    seconds: dict[str, float]
    onnx_path: Path
    onnx_bytes: int


def ensure_dataset(data_dir: Path, height: int, progress: bool) -> bool:
    """Generate the demo's dataset, lines ``height`` px high, unless the same one is there; True if generated.

    "The same" means the same generator version, sizes, seed, height and installed fonts (names and
    character maps): installing a font, or one gaining characters, changes what synthesis renders.
    """
    fonts = discover_fonts()
    if dataset_is_current(data_dir, fonts, n_train=N_TRAIN, n_val=N_VAL, seed=SEED, height=height):
        return False
    generate_dataset(data_dir, n_train=N_TRAIN, n_val=N_VAL, seed=SEED, fonts=fonts, progress=progress,
                     height=height)
    return True


def set_aside_other_run(run_dir: Path, config: Config) -> None:
    """Move away a run folder left by another recipe, so the demo resumes only its own run."""
    latest = run_dir / LATEST_CHECKPOINT
    if not latest.exists() or load_checkpoint(latest).get("config") == config.to_dict():
        return
    aside = run_dir.with_name(f"{run_dir.name}.old-{time.strftime('%Y%m%d-%H%M%S')}")
    run_dir.rename(aside)
    print(f"   {run_dir} held a run of another recipe: moved it to {aside}")


def demo_overrides(data_dir: Path, run_dir: Path) -> list[str]:
    data_dir, run_dir = data_dir.resolve(), run_dir.resolve()
    return [
        f"Train.dataset.data_dir={data_dir}",
        f"Train.dataset.label_file_list=[{data_dir / 'rec_gt_train.txt'}]",
        f"Eval.dataset.data_dir={data_dir}",
        f"Eval.dataset.label_file_list=[{data_dir / 'rec_gt_val.txt'}]",
        f"Global.save_model_dir={run_dir}",
    ]


def run_demo(data_dir: Path, run_dir: Path, config_path: Path | None = None, progress: bool = True) -> DemoSummary:
    config_path = config_path or DEFAULT_CONFIG
    if not config_path.exists():
        raise ThaiOCRError(f"{config_path}: recipe not found; run from the repository root or pass --config")
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    config = load_config(config_path, demo_overrides(data_dir, run_dir))

    height = config.preprocess.height
    print(f"== 1/4 Synthesising {N_TRAIN} training and {N_VAL} validation lines, {height} px high, into {data_dir}")
    if not ensure_dataset(data_dir, height, progress):
        print("   (already there, reusing it)")
    seconds["data"] = time.perf_counter() - started

    print(f"== 2/4 Training {config_path} on the CPU into {run_dir}")
    mark = time.perf_counter()
    set_aside_other_run(run_dir, config)
    result = train(config, progress=progress)
    seconds["train"] = time.perf_counter() - mark

    print("== 3/4 Evaluating the exported ONNX model on validation lines (fonts unseen in training)")
    mark = time.perf_counter()
    recognizer = Recognizer.from_path(result.onnx_path)
    metrics, lines = evaluate_label_file(recognizer, data_dir / "rec_gt_val.txt")
    by_family = breakdown(lines, font_families_beside(data_dir / "rec_gt_val.txt"))
    seconds["eval"] = time.perf_counter() - mark

    print("== 4/4 Reading a few validation images")
    for line in lines[:N_SAMPLES_SHOWN]:
        verdict = "✅" if line.correct else "❌"
        print(f"   {verdict} {line.image}: read {line.prediction!r}, truth {line.truth!r}")
    seconds["total"] = time.perf_counter() - started

    summary = DemoSummary(metrics, by_family, seconds, result.onnx_path, result.onnx_path.stat().st_size)
    print_summary(summary)
    return summary


def print_summary(summary: DemoSummary) -> None:
    s, m = summary.seconds, summary.metrics
    print("\n== Summary")
    print(f"   time:      {s['total']:.0f} s (data {s['data']:.0f} s, training {s['train']:.0f} s, "
          f"evaluation {s['eval']:.1f} s)")
    print(f"   accuracy:  {m.line_acc:.2%} of {m.n} validation lines exactly right, CER {m.cer:.2%}")
    for family, fm in summary.by_family.items():
        print(f"   {family:>16s}: {fm.line_acc:7.2%} of {fm.n} lines, CER {fm.cer:.2%} (a family unseen in training)")
    print(f"   model:     {from_here(summary.onnx_path)} ({summary.onnx_bytes / 1e6:.1f} MB)")
    print("   the guide: 13.3% on 15 digit images after 13 minutes on a cloud GPU")


def from_here(path: Path) -> Path:
    """``path`` from the current folder when it lies below it (``models/numbers/...``), else as it is."""
    try:
        return path.absolute().relative_to(Path.cwd())
    except ValueError:
        return path
