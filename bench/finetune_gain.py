"""What fine-tuning buys: validation accuracy per evaluation, from a trained model against from scratch.

    .venv/bin/python bench/finetune_gain.py -c configs/rec/numbers.yml \\
        --pretrained models/numbers/best_accuracy.pt [-o Global.character_dict_path=my_dict.txt ...] \\
        [--out bench_runs/finetune_gain]

Both runs train the same recipe (with the ``-o`` overrides) on the same data, for the same steps
and seed, into OUT/scratch and OUT/pretrained, each started afresh. One row per evaluation step:
line accuracy and CER of each run; then the best of each and the seconds each run took. Use a
dict or data the source model has not seen, or the comparison only measures memory.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from thaiocr.config import Config, load_config
from thaiocr.errors import ThaiOCRError
from thaiocr.shipped import pretrained_folder
from thaiocr.train import TrainResult, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", type=Path, required=True)
    parser.add_argument("--pretrained", type=Path, required=True,
                        help="a .pt checkpoint, a folder holding one, or 'shipped' (the shipped model)")
    parser.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", type=Path, default=Path("bench_runs/finetune_gain"))
    args = parser.parse_args()

    config = load_config(args.config, args.override)
    scratch = _train(config, args.out / "scratch", None)
    pretrained = _train(config, args.out / "pretrained", pretrained_folder(args.pretrained))
    _print_table(scratch, pretrained)


def _train(config: Config, run_dir: Path, pretrained: Path | None) -> TrainResult:
    g = dataclasses.replace(config.Global, save_model_dir=run_dir, pretrained_model=pretrained)
    return train(dataclasses.replace(config, Global=g), resume=False, progress=False)


def _print_table(scratch: TrainResult, pretrained: TrainResult) -> None:
    rows = {row["step"]: row for row in pretrained.history}
    print(f"{'step':>6}  {'scratch acc':>11} {'CER':>7}  {'pretrained acc':>14} {'CER':>7}")
    for mine in scratch.history:
        theirs = rows.get(mine["step"])
        right = f"{theirs['line_acc']:>14.2%} {theirs['cer']:>7.2%}" if theirs else f"{'-':>14} {'-':>7}"
        print(f"{mine['step']:>6}  {mine['line_acc']:>11.2%} {mine['cer']:>7.2%}  {right}")
    for name, result in (("scratch", scratch), ("pretrained", pretrained)):
        best = f"best {result.best} at step {result.best_step}" if result.best else "no evaluations"
        print(f"{name:>10}: {best}; {result.steps} steps in {result.seconds:.0f} s")


if __name__ == "__main__":
    try:
        main()
    except ThaiOCRError as exc:  # missing data or a bad recipe: the message says which file and line
        sys.exit(f"finetune_gain: error: {exc}")
