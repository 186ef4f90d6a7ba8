"""Time from the start of training to 99% validation line accuracy for the demo recipe.

Prints one line per evaluation and a final verdict against the 120 s target. The clock counts
batching, augmentation, training steps and the evaluations themselves (not data synthesis, nor
decoding the images into memory once before training).

The demo recipe fine-tunes the general model shipped in the package, so the clock starts at its
weights, not at random ones (that model's own training, 44 min on 2 cores, is not counted);
``--scratch`` times the same recipe from random weights instead.

    .venv/bin/python bench/time_to_accuracy.py [--target 0.99] [--eval-every 50] [--threads 2] [--scratch]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from thaiocr.config import load_config
from thaiocr.demo import DEFAULT_CONFIG, demo_overrides, ensure_dataset
from thaiocr.train import EvalEvent, train

TARGET_SECONDS = 120


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--data", type=Path, default=Path("data/numbers"))
    parser.add_argument("--target", type=float, default=0.99)
    parser.add_argument("--eval-every", type=int, default=50, help="steps between evaluations")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--scratch", action="store_true", help="random weights, not the recipe's pretrained model")
    args = parser.parse_args()

    reached: list[EvalEvent] = []
    best: list[EvalEvent] = []

    def stop_at_target(event: EvalEvent) -> bool:
        print(f"step {event.step:5d}  {event.seconds:7.1f} s  line acc {event.metrics.line_acc:.2%}  "
              f"CER {event.metrics.cer:.2%}", flush=True)
        if event.is_best:
            best[:] = [event]
        if event.metrics.line_acc >= args.target:
            reached.append(event)
        return bool(reached)

    with tempfile.TemporaryDirectory() as run_dir:
        overrides = demo_overrides(args.data, Path(run_dir)) + [
            f"Global.eval_batch_step={args.eval_every}",
            f"Global.num_threads={args.threads}",
        ] + (["Global.pretrained_model=null"] if args.scratch else [])
        config = load_config(args.config, overrides)
        started = time.perf_counter()
        ensure_dataset(args.data, config.preprocess.height, progress=False)
        print(f"data ready in {time.perf_counter() - started:.1f} s")
        train(config, resume=False, progress=False, on_eval=stop_at_target)

    if reached:
        event = reached[0]
        verdict = "meets" if event.seconds <= TARGET_SECONDS else "misses"
        print(f"time to {args.target:.0%} validation line accuracy: {event.seconds:.1f} s "
              f"(step {event.step}, {args.threads} threads) — {verdict} the {TARGET_SECONDS} s target")
    elif best:
        top = best[0]
        print(f"never reached {args.target:.0%} validation line accuracy within the recipe's epochs; best "
              f"{top.metrics.line_acc:.2%} (CER {top.metrics.cer:.2%}) at {top.seconds:.1f} s, step {top.step}")


if __name__ == "__main__":
    main()
