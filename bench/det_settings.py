"""A sweep of a DB detector's inference settings on tuning pages: H-mean at IoU 0.5 and seconds per page.

    python bench/det_settings.py [--detector ppocrv6] [--pages 8] [--seed 4242]
        [--limits 960,1280,1664] [--unclips 1.2,1.4,1.6] [--norms half,imagenet] [--dilation both]

How the settings of a detector whose training recipe is not ours (PP-OCRv6's, from RapidOCR's
config.yaml) were chosen without looking at the benchmarks that judge it: the tuning pages are
synthetic pages (thaiocr.synth.pages) in the fonts training uses (``font_split="train"``), with a
seed of their own (4242), A4 at 150 dpi, never the held-out pages of bench/page_ocr.py (seed
90001, held-out fonts) nor the LibreOffice pages of bench/page_bench.py. Every combination of the
listed settings is run; the rest stay the detector's own.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image

from thaiocr.det.detector import HALF, IMAGENET_MEAN, IMAGENET_STD, DBDetector, load_detector
from thaiocr.det.labels import read_det_labels
from thaiocr.det.metrics import DetectionCounts, detection_counts
from thaiocr.synth.pages import LABEL_FILE, generate_pages

NORMS = {"imagenet": (IMAGENET_MEAN, IMAGENET_STD), "half": (HALF, HALF)}


def floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", default="ppocrv6")
    parser.add_argument("--pages", type=int, default=8)
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--limits", default="960,1280,1664")
    parser.add_argument("--unclips", default="", help="unclip ratios (default: the detector's own)")
    parser.add_argument("--box-threshes", default="", help="box score thresholds (default: the detector's own)")
    parser.add_argument("--norms", default="", help="some of imagenet,half (default: the detector's own)")
    parser.add_argument("--dilation", choices=["own", "on", "off", "both"], default="own")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("data/bench/det_tuning"))
    args = parser.parse_args(argv)

    folder = args.out / f"train-fonts-{args.seed}"
    if not (folder / LABEL_FILE).is_file() or len(read_det_labels(folder / LABEL_FILE)) != args.pages:
        generate_pages(folder, args.pages, seed=args.seed, font_split="train", progress=False)
    pages = [(Image.open(path).convert("RGB"), [np.array(b.points, dtype=np.float32) for b in boxes])
             for path, boxes in read_det_labels(folder / LABEL_FILE)]
    base = load_detector(args.detector, None, args.threads)
    assert isinstance(base, DBDetector)
    own = base.settings
    norms = [n for n in args.norms.split(",") if n] or [None]
    dilations = {"own": [own.use_dilation], "on": [True], "off": [False], "both": [True, False]}[args.dilation]
    print(f"{len(pages)} tuning pages (training fonts, seed {args.seed}, {pages[0][0].width}x{pages[0][0].height}); "
          f"{args.detector}'s own settings: {own}")
    grid = itertools.product(floats(args.limits), floats(args.unclips) or [own.unclip_ratio],
                             floats(args.box_threshes) or [own.box_thresh], norms, dilations)
    for limit, unclip, box_thresh, norm, dilation in grid:
        detector = base  # one session for every setting
        detector.settings = dataclasses.replace(own, limit_side_len=int(limit), unclip_ratio=unclip,
                                                box_thresh=box_thresh, use_dilation=dilation)
        if norm is not None:
            detector.mean, detector.std = NORMS[norm]
        counts, seconds = DetectionCounts(), []
        detector(pages[0][0])  # warm-up
        for image, truth in pages:
            start = time.perf_counter()
            quads = [region.quad for region in detector(image)]
            seconds.append(time.perf_counter() - start)
            counts += detection_counts(quads, truth)
        print(f"limit {int(limit):>4}, unclip {unclip:.2f}, box_thresh {box_thresh:.2f}, norm {norm or 'own':<8}, "
              f"dilation {'on ' if dilation else 'off'}: precision {counts.precision:.3f}, recall {counts.recall:.3f}, "
              f"H-mean {counts.hmean:.3f}; {statistics.median(seconds):.2f} s per page", flush=True)


if __name__ == "__main__":
    main()
