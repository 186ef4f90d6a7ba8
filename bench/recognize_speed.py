"""Lines per second of ONNX recognition at a fixed batch size, on this machine's cores.

    python bench/recognize_speed.py [--model M] [--lines 1024] [--batch-size 32] [--threads 2]
        [--decoders beam,greedy] [--read-once]

Reads lines built as bench/heldout.py's `clean` set (48 px high, Thai names, held-out fonts, no
effects; kept in DATA/speed so the benchmark's own sets stay as they are) with the shipped model
unless --model names another. Prints two figures, the median of --rounds rounds:
- `end to end`: image files in, text out (decode, resize, batch, ONNX Runtime, CTC decoding);
- `model only`: the same batches, already preprocessed, through ONNX Runtime and the decoder
  (`Recognizer.read_batches`: the next batch runs while this one is decoded, as in end to end);
once per decoder of --decoders (default: beam with the model's language model, where it has one,
and greedy). Crowded lines are read a second time, wider, as `Recognizer` does by default;
`--read-once` times reading every line once (`Recognizer(reread=False)`).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from PIL import Image

from heldout import SETS, build_set  # bench/ is on sys.path when this script runs
from thaiocr.predict import Recognizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="default: the shipped model")
    parser.add_argument("--lines", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", type=Path, default=Path("data/heldout"))
    parser.add_argument("--decoders", default="auto,greedy", help="decoders to time, comma-separated "
                        "(auto: beam where the model has a language model; default: %(default)s)")
    parser.add_argument("--read-once", action="store_true", help="no second, wider reading of crowded lines")
    args = parser.parse_args()

    paths, _ = build_set(args.data / "speed", args.lines, *SETS["clean"])
    images = [Image.open(path).convert("RGB") for path in paths]
    for decoder in dict.fromkeys(args.decoders.split(",")):
        recognizer = Recognizer(args.model, num_threads=args.threads, decoder=decoder, reread=not args.read_once)
        _time(recognizer, paths, images, args)


def _time(recognizer: Recognizer, paths: list[Path], images: list[Image.Image], args: argparse.Namespace) -> None:
    batches = _preprocessed_batches(recognizer, images, args.batch_size)
    recognizer(images[: args.batch_size])  # warm-up: ONNX Runtime plans its kernels on the first runs
    end_to_end = [_rate(len(paths), lambda: recognizer(paths, batch_size=args.batch_size)) for _ in range(args.rounds)]
    model_only = [_rate(len(paths), lambda: list(recognizer.read_batches(batches))) for _ in range(args.rounds)]
    rereading = "crowded lines read again" if recognizer.reread else "every line read once"
    print(f"model {recognizer.source}, {recognizer.decoder} decoding, {rereading}, {len(paths)} lines, "
          f"batch {args.batch_size}, {args.threads} threads")
    print(f"end to end: {statistics.median(end_to_end):8.1f} lines/s  (rounds: {_listing(end_to_end)})")
    print(f"model only: {statistics.median(model_only):8.1f} lines/s  (rounds: {_listing(model_only)})")


def _preprocessed_batches(recognizer: Recognizer, images: list[Image.Image], size: int) -> list[list]:
    resized = sorted((recognizer.preprocess.resize(image) for image in images), key=lambda a: a.shape[1])
    return [resized[i : i + size] for i in range(0, len(resized), size)]


def _rate(count: int, work) -> float:
    started = time.perf_counter()
    work()
    return count / (time.perf_counter() - started)


def _listing(rates: list[float]) -> str:
    return ", ".join(f"{rate:.1f}" for rate in rates)


if __name__ == "__main__":
    main()
