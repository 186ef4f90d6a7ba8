"""Copy a trained run's model into the package as the shipped model (maintainers only).

    .venv/bin/python scripts/ship_model.py RUN_DIR [--dest src/thaiocr/resources/models/thai_general]

Takes RUN_DIR/best_model/{inference.onnx, dict.txt, config.yml} and writes model.pt, the weights of
RUN_DIR/best_accuracy.pt without the optimizer and schedule state (what `--pretrained shipped` needs).
MODEL_CARD.md beside them is written by hand with the figures measured for that model.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from thaiocr.checkpoint import load_checkpoint, make_payload, model_from_checkpoint, save_checkpoint

BUNDLE = ("inference.onnx", "dict.txt", "config.yml")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--dest", type=Path, default=Path("src/thaiocr/resources/models/thai_general"))
    args = parser.parse_args()
    args.dest.mkdir(parents=True, exist_ok=True)
    for name in BUNDLE:
        shutil.copyfile(args.run_dir / "best_model" / name, args.dest / name)
    payload = load_checkpoint(args.run_dir / "best_accuracy.pt")
    model, charset, preprocess = model_from_checkpoint(payload)
    save_checkpoint(args.dest / "model.pt", make_payload(model, charset, preprocess, payload["config"]))
    for path in sorted(args.dest.iterdir()):
        print(f"{path}  {path.stat().st_size / 2**20:.2f} MiB")


if __name__ == "__main__":
    main()
