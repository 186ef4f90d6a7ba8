"""Lines per second that `thaiocr synth` writes to disk: 48 px high lines, default effects, all cores.

    python bench/synth_speed.py [--lines 6000] [--workers N] [--source SPEC] [--format png jpg]

Writes into a temporary folder under --dir (default: data/, where datasets go; removed afterwards)
and prints the rate, the CPU time (steadier than the clock on a busy machine), the image sizes and
the bytes written. On this machine creating a file in /tmp took ~1 ms against ~0.07 ms under the
working tree, so the folder matters. The clock covers font discovery, text sampling, rendering,
effects and image writing, as a user of `thaiocr synth` waits.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image

from thaiocr.charset import Charset
from thaiocr.synth.lines import generate_dataset

DEFAULT_SOURCE = "words:1,phrases:1,numbers:1,mixed:1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=6000)
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--source", default=DEFAULT_SOURCE)
    parser.add_argument("--max-length", type=int, default=25, help="longest label (25 fits about 320 px at 48)")
    parser.add_argument("--format", nargs="+", choices=["png", "jpg"], default=["png", "jpg"])
    parser.add_argument("--dir", type=Path, default=Path("data"), help="where the temporary dataset goes")
    args = parser.parse_args()
    for image_format in args.format:
        args.dir.mkdir(parents=True, exist_ok=True)
        out = Path(tempfile.mkdtemp(prefix="synth_speed_", dir=args.dir))
        try:
            started, cpu_started = time.perf_counter(), _cpu_seconds()
            generate_dataset(out, n_train=args.lines, n_val=0, seed=0, workers=args.workers, progress=False,
                             source=args.source, charset=Charset.builtin("thai_full"), max_length=args.max_length,
                             height=48, image_format=image_format)
            seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_started
            report(out, image_format, args.lines, seconds, args.workers or os.cpu_count() or 1, cpu)
        finally:
            shutil.rmtree(out, ignore_errors=True)


def _cpu_seconds() -> float:
    """User and system time of this process and its finished workers: steadier than the clock on a busy machine."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def report(out: Path, image_format: str, lines: int, seconds: float, workers: int, cpu: float) -> None:
    files = sorted((out / "thai_data" / "train").glob(f"*.{image_format}"))
    widths, heights = [], []
    for path in files[:: max(1, len(files) // 500)]:
        with Image.open(path) as image:
            widths.append(image.width)
            heights.append(image.height)
    megabytes = sum(p.stat().st_size for p in files) / 1e6
    print(f"{image_format}: {lines} lines in {seconds:.1f} s with {workers} processes: {lines / seconds:.0f} lines/s")
    print(f"  {cpu:.1f} CPU s in all, {1000 * cpu / lines:.2f} ms per line")
    print(f"  image height {min(heights)}-{max(heights)} px, width median {statistics.median(widths):.0f} px "
          f"(max {max(widths)}); {megabytes:.1f} MB written, {1000 * megabytes / lines:.1f} KB per line")


if __name__ == "__main__":
    main()
