"""Page OCR on pages typeset by LibreOffice, against Tesseract: per page kind, line detection
precision, recall and H-mean, page CER (reading order included) and seconds per page.

    python bench/page_bench.py [--per-kind 4] [--detectors ppocrv4,ppocrv6] [--model shipped]
        [--no-tesseract] [--threads 2] [--pages data/bench/layout_pages] [--json FILE]

The pages come from bench/layout_pages.py (made once into ``--pages``, A4 at 200 dpi; see there
for the kinds, the fonts and the ground truth). For each detector thaiocr's page reader
(thaiocr.page.PageReader: detector, the recogniser ``--model``, reading order) reads every page;
Tesseract reads the same PNG as ``tesseract page.png out -l tha txt tsv`` (its text, and its
line boxes from the TSV, in one run; the text is what ``tesseract page.png - -l tha`` prints).

- Detection: predicted line boxes against the text layer's line boxes, matched one to one at
  IoU >= 0.5 (thaiocr.det.metrics), summed over the pages of a kind.
- Page CER: the edit distance between the page's text as read and the source text in reading
  order, both Thai-normalised with all white space dropped and every run of three or more of the
  same leader or rule character (``. - = * _``) cut to three (a form's dotted leaders and a
  receipt's rules are read, but nobody counts their dots), over the source's characters, summed
  over the pages of a kind. Reading order counts: two columns read row by row across both
  columns score badly even when every line is read right.
- Seconds per page: the median of the pages' wall-clock times (detector and recogniser together
  for thaiocr, the whole process for Tesseract), after one warm-up page.

A detector is a name from thaiocr.det.detector.DETECTORS, optionally with the longer-side limit of its
input after a colon (``ppocrv6:960``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from layout_pages import KINDS, PER_KIND, make_pages, squeeze  # noqa: E402
from thaiocr.det.detector import DETECTORS, Detector, TextRegion, load_detector  # noqa: E402
from thaiocr.det.metrics import DetectionCounts, detection_counts, fast_edit_distance  # noqa: E402
from thaiocr.page import PageReader  # noqa: E402
from thaiocr.predict import Recognizer  # noqa: E402

TESSERACT_HINT = "Tesseract is missing: apt-get install -y tesseract-ocr tesseract-ocr-tha (or --no-tesseract)"


@dataclasses.dataclass
class PageScore:
    page: str
    kind: str
    held_out: bool
    counts: DetectionCounts
    edits: int
    chars: int
    seconds: float
    detect_seconds: float | None = None
    text: str = ""

    def to_dict(self) -> dict:
        return {"page": self.page, "kind": self.kind, "held_out": self.held_out, **self.counts.to_dict(),
                "edits": self.edits, "chars": self.chars, "cer": self.edits / max(1, self.chars),
                "seconds": self.seconds, "detect_seconds": self.detect_seconds, "text": self.text}


class TimedDetector:
    """A detector that remembers how long its last call took."""

    def __init__(self, detector: Detector) -> None:
        self.detector, self.name, self.seconds = detector, detector.name, 0.0

    def __call__(self, image: Image.Image) -> list[TextRegion]:
        start = time.perf_counter()
        regions = self.detector(image)
        self.seconds = time.perf_counter() - start
        return regions


def cpu_name() -> str:
    """The CPU's model name (lscpu, else /proc/cpuinfo) and the cores this process may use."""
    name = ""
    if shutil.which("lscpu"):
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        name = next((line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")), "")
    if not name and Path("/proc/cpuinfo").is_file():
        cpuinfo = Path("/proc/cpuinfo").read_text()
        name = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")),
                    "")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{name or platform.processor() or 'unknown CPU'}, {cores} cores"


def load_named_detector(spec: str, threads: int) -> Detector:
    """``name`` or ``name:limit`` (the longer side of the detector's input)."""
    name, _, limit = spec.partition(":")
    detector = load_detector(name, None, threads)
    if limit:
        detector.settings = dataclasses.replace(detector.settings, limit_side_len=int(limit))  # type: ignore[attr-defined]
    return detector


def truth_quads(page: dict) -> list[np.ndarray]:
    return [np.array(line["points"], dtype=np.float32) for line in page["lines"]]


RULE_RUN = re.compile(r"([.\-=*_])\1{2,}")


def compared(text: str) -> str:
    """The text as the page CER compares it: Thai-normalised, no white space, leader and rule runs cut to three."""
    return RULE_RUN.sub(r"\1\1\1", squeeze(text))


def cer_edits(read: str, truth: str) -> tuple[int, int]:
    """Edits and truth length of :func:`compared` texts."""
    truth = compared(truth)
    return fast_edit_distance(compared(read), truth), len(truth)


def run_thaiocr(reader: PageReader, detector: TimedDetector, folder: Path, pages: list[dict]) -> list[PageScore]:
    reader(Image.open(folder / pages[0]["image"]))  # warm-up: a session's first run is slow
    scores = []
    for page in pages:
        image = Image.open(folder / page["image"]).convert("RGB")
        start = time.perf_counter()
        result = reader(image)
        seconds = time.perf_counter() - start
        counts = detection_counts([np.array(line.polygon, dtype=np.float32) for line in result.lines],
                                  truth_quads(page))
        edits, chars = cer_edits(result.text, page["text"])
        scores.append(PageScore(page["id"], page["kind"], page["held_out"], counts, edits, chars, seconds,
                                detector.seconds, result.text))
    return scores


def run_tesseract(folder: Path, pages: list[dict], lang: str) -> list[PageScore]:
    if not shutil.which("tesseract"):
        raise SystemExit(TESSERACT_HINT)
    scores = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "out"
        for page in pages:
            start = time.perf_counter()
            subprocess.run(["tesseract", str(folder / page["image"]), str(base), "-l", lang, "txt", "tsv"],
                           check=True, capture_output=True)
            seconds = time.perf_counter() - start
            text = base.with_suffix(".txt").read_text(encoding="utf-8")
            boxes = tesseract_lines(base.with_suffix(".tsv").read_text(encoding="utf-8"))
            counts = detection_counts(boxes, truth_quads(page))
            edits, chars = cer_edits(text, page["text"])
            scores.append(PageScore(page["id"], page["kind"], page["held_out"], counts, edits, chars, seconds,
                                    None, text))
    return scores


def tesseract_lines(tsv: str) -> list[np.ndarray]:
    """Tesseract's text-line boxes (level 4 rows of its TSV) that hold a word with text."""
    rows = [line.split("\t") for line in tsv.splitlines()[1:]]
    lines: dict[tuple[str, ...], list[int]] = {}
    has_text: set[tuple[str, ...]] = set()
    for row in rows:
        if len(row) < 12:
            continue
        key = tuple(row[1:5])  # page, block, paragraph, line
        if row[0] == "4":
            lines[key] = [int(v) for v in row[6:10]]
        elif row[0] == "5" and row[11].strip():
            has_text.add(key)
    return [np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], dtype=np.float32)
            for key, (x, y, w, h) in lines.items() if key in has_text]


# --- report -------------------------------------------------------------------------------------


def summary(scores: list[PageScore]) -> dict:
    counts = sum((s.counts for s in scores), DetectionCounts())
    edits, chars = sum(s.edits for s in scores), sum(s.chars for s in scores)
    return {"pages": len(scores), **counts.to_dict(), "cer": edits / max(1, chars), "chars": chars,
            "seconds": statistics.median(s.seconds for s in scores),
            "detect_seconds": statistics.median(s.detect_seconds for s in scores)
            if all(s.detect_seconds is not None for s in scores) else None}


def groups(scores: list[PageScore]) -> dict[str, list[PageScore]]:
    grouped: dict[str, list[PageScore]] = defaultdict(list)
    for kind in KINDS:
        grouped[kind] = [s for s in scores if s.kind == kind]
    grouped["seen fonts"] = [s for s in scores if not s.held_out]
    grouped["held-out fonts"] = [s for s in scores if s.held_out]
    grouped["all"] = list(scores)
    return {name: group for name, group in grouped.items() if group}


def print_tables(results: dict[str, list[PageScore]]) -> None:
    """One markdown table per measure: a row per page group, a column per reader."""
    readers = list(results)
    grouped = {reader: groups(scores) for reader, scores in results.items()}
    names = list(grouped[readers[0]])
    detecting = [r for r in readers if any(s.counts.truth for s in results[r])]
    measures = [
        ("page CER (white space ignored, leader and rule runs cut to three)", readers, lambda s: f"{s['cer']:.2%}"),
        ("line detection precision / recall / H-mean at IoU 0.5", detecting,
         lambda s: f"{s['precision']:.3f} / {s['recall']:.3f} / {s['hmean']:.3f}"),
        ("seconds per page (median)", readers,
         lambda s: f"{s['seconds']:.2f}" + (f" (det {s['detect_seconds']:.2f})" if s["detect_seconds"] else "")),
    ]
    for title, columns, cell in measures:
        print(f"\n{title}\n")
        print("| pages | " + " | ".join(columns) + " |")
        print("|---" * (len(columns) + 1) + "|")
        for name in names:
            pages = len(grouped[readers[0]][name])
            print(f"| {name} ({pages}) | " + " | ".join(cell(summary(grouped[r][name])) for r in columns) + " |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=PER_KIND, help="pages of each kind (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=27)
    parser.add_argument("--dpi", type=int, default=200)
    parser.add_argument("--pages", type=Path, default=Path("data/bench/layout_pages"), help="where the pages go")
    parser.add_argument("--kinds", default=",".join(KINDS), help="some of " + ",".join(KINDS))
    parser.add_argument("--detectors", default=",".join(d for d in DETECTORS if d != "thaiocr-db"),
                        help="names, each optionally with :LIMIT (default: %(default)s)")
    parser.add_argument("--model", default="shipped", help="the recogniser (default: the shipped thai_general)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--read-once", action="store_true", help="no second, wider reading of crowded lines")
    parser.add_argument("--no-tesseract", action="store_true")
    parser.add_argument("--tesseract-lang", default="tha")
    parser.add_argument("--json", type=Path, default=None, help="write every page's figures here")
    args = parser.parse_args(argv)

    manifest = make_pages(args.pages, args.per_kind, args.seed, args.dpi)
    kinds = args.kinds.split(",")
    pages = [page for page in manifest["pages"] if page["kind"] in kinds]
    families = ", ".join(f"{f} ({'held out' if h else 'seen'})"
                         for f, h in sorted({(p["family"], p["held_out"]) for p in pages}))
    print(f"{len(pages)} pages typeset by {manifest['settings']['engine']}, A4 at {args.dpi} dpi ({families}); "
          f"{sum(len(p['lines']) for p in pages)} lines, {sum(len(compared(p['text'])) for p in pages)} characters")
    print(f"CPU: {cpu_name()}; load average {os.getloadavg()[0]:.2f} at the start; threads {args.threads}")

    recognizer = Recognizer(args.model, args.threads, reread=not args.read_once)
    results: dict[str, list[PageScore]] = {}
    for spec in [d for d in args.detectors.split(",") if d]:
        detector = TimedDetector(load_named_detector(spec, args.threads))
        limit = detector.detector.settings.limit_side_len  # type: ignore[attr-defined]
        results[f"thaiocr + {spec}" + ("" if ":" in spec else f" ({limit})")] = run_thaiocr(
            PageReader(detector, recognizer), detector, args.pages, pages)
    if not args.no_tesseract:
        results[f"Tesseract {args.tesseract_lang}"] = run_tesseract(args.pages, pages, args.tesseract_lang)
    print(f"recogniser: {args.model}; load average {os.getloadavg()[0]:.2f} at the end")
    print_tables(results)
    if args.json:
        figures = {reader: [score.to_dict() for score in scores] for reader, scores in results.items()}
        args.json.write_text(json.dumps({"settings": manifest["settings"], "cpu": cpu_name(), "results": figures},
                                        ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
