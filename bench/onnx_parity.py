"""ONNX against PyTorch on a whole label file: the largest probability difference and text mismatches.

    .venv/bin/python bench/onnx_parity.py [--run models/numbers] [--labels data/numbers/rec_gt_val.txt]

Compares ``best_accuracy.pt`` with ``best_model/inference.onnx`` of a run folder; the target is a
maximum absolute difference of at most 1e-4 and no line read differently.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from thaiocr.checkpoint import load_checkpoint, model_from_checkpoint
from thaiocr.data import read_labelled_images
from thaiocr.export import check_parity
from thaiocr.predict import Recognizer
from thaiocr.preprocess import open_image

BATCH = 64
TOLERANCE = 1e-4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("models/numbers"))
    parser.add_argument("--labels", type=Path, default=Path("data/numbers/rec_gt_val.txt"))
    args = parser.parse_args()

    checkpoint, onnx_path = args.run / "best_accuracy.pt", args.run / "best_model" / "inference.onnx"
    model, _, preprocess = model_from_checkpoint(load_checkpoint(checkpoint))
    images = [sample.image_path for sample in read_labelled_images(args.labels)]
    resized = sorted((preprocess.resize(open_image(path)) for path in images), key=lambda a: a.shape[1])
    worst = max(check_parity(model, onnx_path, preprocess.batch(resized[i : i + BATCH]))
                for i in range(0, len(resized), BATCH))

    torch_texts = [p.text for p in Recognizer.from_path(checkpoint)(images)]
    onnx_texts = [p.text for p in Recognizer.from_path(onnx_path)(images)]
    mismatches = sum(a != b for a, b in zip(torch_texts, onnx_texts, strict=True))
    verdict = "meets" if worst <= TOLERANCE and mismatches == 0 else "misses"
    print(f"{len(images)} lines: max |ONNX - PyTorch| probability {worst:.2e}, {mismatches} lines read "
          f"differently — {verdict} the target (<= {TOLERANCE:g}, 0 lines)")


if __name__ == "__main__":
    main()
