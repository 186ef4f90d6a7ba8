"""Page OCR on held-out synthetic pages: detection precision, recall and H-mean at IoU 0.5, page CER,
time per page, and how often the orientation rule turns upside-down lines; with ``--speed``, the
seconds per A4 page at 150 and 200 dpi.

    .venv/bin/python bench/page_ocr.py [--pages 10] [--seed 90001] [--content thai|numbers]
        [--model data/page_models/numbers] [--detector ppocrv4|ppocrv6|DB.onnx] [--limit 960] [--threads 2]
        [--out data/bench/page_ocr]
    .venv/bin/python bench/page_ocr.py --speed [--dpis 150,200] [--detector NAME] [--model shipped]

Pages are A4 at 150 dpi, drawn only in the held-out font families (synth's validation families,
which a detector trained on ``synth pages`` output never sees) with a seed of their own. Without
``--model`` only detection is measured. ``--content numbers`` writes pages of number texts only,
which the digits model of ``make demo`` can read, so that the page CER means something before a
Thai recogniser exists. The target is at most 1 s per page for detection and recognition on 2 cores.

``--speed`` times thaiocr's whole page OCR (``PageReader``: the detector, default the package's
default detector, the recogniser, default the shipped ``thai_general``, and reading order) on
real A4 documents: the pages of bench/page_bench.py (typeset by LibreOffice, see
bench/layout_pages.py), each rasterised from its PDF at every ``--dpis`` resolution, after one
warm-up page. It prints the CPU (lscpu's model name), the load average before and after (timings
mean most on an otherwise idle machine) and, per resolution, the median, mean and slowest page,
split into detection and the rest (crops, recognition, reading order).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image

from page_bench import TimedDetector, cpu_name  # bench/ is on sys.path when a script runs
from thaiocr.charset import normalize_text
from thaiocr.det.detector import DEFAULT_DETECTOR, DBDetector, load_detector, order_corners
from thaiocr.det.labels import TextBox, read_det_labels
from thaiocr.det.metrics import DetectionCounts, detection_counts, fast_edit_distance, match_boxes, page_edits
from thaiocr.page import RECHECK_BELOW, PageReader, crop_line, page_text, read_crops
from thaiocr.predict import Recognizer
from thaiocr.synth.pages import LABEL_FILE, generate_pages

TARGET_SECONDS = 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--seed", type=int, default=90001)
    parser.add_argument("--content", choices=["thai", "numbers"], default="thai")
    parser.add_argument("--model", type=Path, default=None, help="recogniser for the page CER")
    parser.add_argument("--detector", default=DEFAULT_DETECTOR,
                        help="a detector name or a DB .onnx file (default: %(default)s)")
    parser.add_argument("--limit", type=int, default=None,
                        help="detector input: longest side (default: the detector's own, 960 for ppocrv4)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("data/bench/page_ocr"))
    parser.add_argument("--speed", action="store_true", help="only time page OCR on A4 documents at --dpis")
    parser.add_argument("--dpis", default="150,200", help="resolutions for --speed (default: %(default)s)")
    parser.add_argument("--documents", type=Path, default=Path("data/bench/layout_pages"),
                        help="where --speed finds (or makes) bench/layout_pages.py's pages")
    args = parser.parse_args()
    if args.speed:
        speed(args)
        return

    folder = args.out / f"{args.content}-{args.seed}"
    manifest = generate_pages(folder, args.pages, seed=args.seed, font_split="val", content=args.content,
                              progress=False)
    pages = read_det_labels(folder / LABEL_FILE)
    db = _load_detector(args.detector, args.limit, args.threads)
    detector = TimedDetector(db)
    recognizer = Recognizer.from_path(args.model, args.threads) if args.model else None
    reader = PageReader(detector, recognizer)
    reader(Image.open(pages[0][0]))  # warm-up: the first run of a session is slow

    print(f"{len(pages)} held-out pages ({args.content}, seed {args.seed}, {manifest['size'][0]}x{manifest['size'][1]},"
          f" fonts {', '.join(sorted({name.split('-')[0] for name in manifest['fonts']}))})")
    counts, ious, timings, edits, squeezed = DetectionCounts(), [], [], [0, 0, 0], [0, 0]
    for path, boxes in pages:
        image = Image.open(path).convert("RGB")
        start = time.perf_counter()
        result = reader(image)
        timings.append((detector.seconds, time.perf_counter() - start))
        truth = [np.array(box.points, dtype=np.float32) for box in boxes]
        predicted = [np.array(line.polygon, dtype=np.float32) for line in result.lines]
        counts += detection_counts(predicted, truth)
        ious += [iou for _, _, iou in match_boxes(predicted, truth)]
        if recognizer is not None:
            page_truth = page_text([box.text for box in boxes], truth)
            found, total = page_edits(result.text, page_truth)
            with_truth_boxes, _ = page_edits(_read_truth_boxes(recognizer, image, boxes), page_truth)
            edits = [edits[0] + found, edits[1] + with_truth_boxes, edits[2] + total]
            truth_chars = _squeeze(page_truth)
            squeezed = [squeezed[0] + fast_edit_distance(_squeeze(result.text), truth_chars),
                        squeezed[1] + len(truth_chars)]

    print(f"detection ({args.detector}, limit {db.settings.limit_side_len}, thresh {db.settings.thresh:g}, box_thresh "
          f"{db.settings.box_thresh:g}, {args.threads} threads): precision {counts.precision:.3f}, "
          f"recall {counts.recall:.3f}, H-mean {counts.hmean:.3f} at IoU 0.5 ({counts.matched} of {counts.truth} "
          f"lines, {counts.predicted} boxes; mean IoU of matches {np.mean(ious):.2f})")
    _print_times(timings, recognizer is not None)
    if recognizer is not None:
        print(f"page CER ({args.model}): {edits[0] / edits[2]:.2%} with detected boxes, "
              f"{edits[1] / edits[2]:.2%} with the ground-truth boxes ({edits[2]} characters); with white space "
              f"ignored (as bench/page_bench.py counts it): {squeezed[0] / squeezed[1]:.2%} with detected boxes")
        _print_orientation(recognizer, pages)


def _load_detector(name: str, limit: int | None, threads: int) -> DBDetector:
    """A DB detector by name or file, with its own post-processing (a thaiocr model's metadata, else
    PaddleOCR's) and the input size limit asked for (None: its own)."""
    detector = DBDetector.from_onnx(Path(name), name, None, threads) if name.endswith(".onnx") else \
        load_detector(name, None, threads)
    assert isinstance(detector, DBDetector)
    if limit is not None:
        detector.settings = dataclasses.replace(detector.settings, limit_side_len=limit)
    return detector


def speed(args: argparse.Namespace) -> None:
    """Seconds per A4 page of whole page OCR at each resolution (module docstring)."""
    import pypdfium2 as pdfium

    from layout_pages import make_pages  # bench/ is on sys.path when this script runs

    manifest = make_pages(args.documents)
    pdfs = [args.documents / page["pdf"] for page in manifest["pages"]]
    detector = TimedDetector(_load_detector(args.detector, args.limit, args.threads))
    model = args.model or "shipped"
    reader = PageReader(detector, Recognizer(model, args.threads))
    print(f"CPU: {cpu_name()}; {args.threads} threads; load average {os.getloadavg()[0]:.2f} before")
    print(f"page OCR: detector {args.detector} (limit {detector.detector.settings.limit_side_len}), "
          f"recogniser {model}; {len(pdfs)} A4 documents typeset by LibreOffice "
          f"({', '.join(sorted({p['kind'] for p in manifest['pages']}))})")
    for dpi in [int(d) for d in args.dpis.split(",")]:
        images = []
        for path in pdfs:
            pdf = pdfium.PdfDocument(path)
            images.append(pdf[0].render(scale=dpi / 72).to_pil().convert("RGB"))
            pdf.close()
        reader(images[0])  # warm-up
        timings = []
        for image in images:
            start = time.perf_counter()
            result = reader(image)
            timings.append((detector.seconds, time.perf_counter() - start, len(result.lines)))
        total = [t for _, t, _ in timings]
        median, lines = statistics.median(total), statistics.median(n for _, _, n in timings)
        print(f"{dpi} dpi ({images[0].width}x{images[0].height}): {median:.2f} s per page median, "
              f"mean {statistics.mean(total):.2f}, slowest {max(total):.2f} "
              f"(detection median {statistics.median(d for d, _, _ in timings):.2f} s, the rest "
              f"{statistics.median(t - d for d, t, _ in timings):.2f} s; {lines:.0f} lines a page) — "
              f"{'meets' if median <= TARGET_SECONDS else 'misses'} the {TARGET_SECONDS:g} s target")
    print(f"load average {os.getloadavg()[0]:.2f} after")


def _squeeze(text: str) -> str:
    return "".join(normalize_text(text).split())


def _read_truth_boxes(recognizer: Recognizer, image: Image.Image, boxes: list[TextBox]) -> str:
    """The page read from its label boxes, as a perfect detector would give them (orientation unknown)."""
    quads = [order_corners(np.array(box.points, dtype=np.float32)) for box in boxes]
    readings = read_crops(recognizer, [crop_line(image, quad) for quad in quads])
    return page_text([prediction.text for prediction, _ in readings], quads)


def _print_times(timings: list[tuple[float, float]], recognised: bool) -> None:
    detection = [d for d, _ in timings]
    total = [t for _, t in timings]
    line = f"time per page: detection median {statistics.median(detection):.2f} s (min {min(detection):.2f})"
    if recognised:
        reading = [t - d for d, t in timings]
        line += (f", recognition median {statistics.median(reading):.2f} s (min {min(reading):.2f}), "
                 f"total median {statistics.median(total):.2f} s (min {min(total):.2f})")
    verdict = "meets" if statistics.median(total) <= TARGET_SECONDS else "misses"
    print(f"{line} — {verdict} the {TARGET_SECONDS:g} s target")


def _print_orientation(recognizer: Recognizer, pages: list[tuple[Path, list[TextBox]]]) -> None:
    """The rule on every labelled line, cropped as it lies on the page: turned when it should be?"""
    crops, upside_down = [], []
    for path, boxes in pages:
        image = Image.open(path).convert("RGB")
        for box in boxes:
            crops.append(crop_line(image, order_corners(np.array(box.points, dtype=np.float32))))
            upside_down.append(box.upside_down)
    flipped = np.array(upside_down)
    confidence = np.array([p.confidence for p, _ in read_crops(recognizer, crops, 0.0)])
    rules = [("never", 0.0)] + [(f"below {t:g}", t) for t in sorted({0.8, RECHECK_BELOW, 0.95, 0.99})]
    for name, threshold in [*rules, ("always", 2.0)]:
        start = time.perf_counter()
        readings = read_crops(recognizer, crops, threshold)
        seconds = time.perf_counter() - start
        turned = np.array([t for _, t in readings])
        reread = np.mean(confidence < threshold)
        print(f"orientation, lines read again turned {name}: {np.sum(turned & flipped)} of {flipped.sum()} "
              f"upside-down lines turned, {np.sum(turned & ~flipped)} of {np.sum(~flipped)} upright lines turned "
              f"wrongly; {reread:.0%} of lines read twice; {1000 * seconds / len(crops):.1f} ms per line")


if __name__ == "__main__":
    main()
