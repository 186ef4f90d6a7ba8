"""Reports for people: an evaluation as one self-contained HTML page, training curves as a PNG.

Both use only what the package already needs (Pillow and the standard library). The HTML page
embeds its images as base64 PNG data URIs and its CSS inline, so the single file can be mailed or
opened from a bucket; its Thai text is left to the browser's fonts.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from thaiocr import __version__
from thaiocr.charset import is_combining
from thaiocr.evaluate import LineResult, Metrics, align, breakdown, summarize
from thaiocr.fileio import atomic_write_bytes, atomic_write_text
from thaiocr.synth.lines import font_families_beside

LENGTH_LIMITS = (5, 10, 20, 40)  # upper ends of the label-length buckets, in code points
N_WORST = 30
N_CONFUSIONS = 25
THUMBNAIL_BOX = (720, 64)  # worst-line images are shrunk to fit, never enlarged


# --- what the report counts ---------------------------------------------------------------------


@dataclass
class Confusions:
    """Character errors over all lines: ``substitutions[(truth, predicted)]``, deleted truth
    characters and inserted predicted characters, each with its count."""

    substitutions: Counter[tuple[str, str]] = field(default_factory=Counter)
    deletions: Counter[str] = field(default_factory=Counter)
    insertions: Counter[str] = field(default_factory=Counter)


def count_confusions(results: Iterable[LineResult]) -> Confusions:
    confusions = Confusions()
    for result in results:
        if result.correct:
            continue
        for truth, predicted in align(result.truth, result.prediction):
            if not predicted:
                confusions.deletions[truth] += 1
            elif not truth:
                confusions.insertions[predicted] += 1
            elif truth != predicted:
                confusions.substitutions[(truth, predicted)] += 1
    return confusions


def length_bucket(length: int) -> str:
    """``"≤5"``, ``"6–10"``, ... ``"41+"``: the bucket of a label of ``length`` code points."""
    low = 0
    for limit in LENGTH_LIMITS:
        if length <= limit:
            return f"≤{limit}" if low == 0 else f"{low}–{limit}"
        low = limit + 1
    return f"{low}+"


def by_length(results: Sequence[LineResult]) -> dict[str, Metrics]:
    """Metrics per label-length bucket, shortest first; empty buckets are left out."""
    groups: dict[str, list[LineResult]] = {}
    for result in sorted(results, key=lambda r: len(r.truth)):
        groups.setdefault(length_bucket(len(result.truth)), []).append(result)
    return {name: summarize(lines) for name, lines in groups.items()}


def line_cer(result: LineResult) -> float:
    return result.edits / max(len(result.truth), 1)


def worst_lines(results: Sequence[LineResult], n: int = N_WORST) -> list[LineResult]:
    """The ``n`` wrong lines with the highest CER (then most edits; ties keep file order)."""
    wrong = [r for r in results if not r.correct]
    return sorted(wrong, key=lambda r: (-line_cer(r), -r.edits))[:n]


# --- the HTML page ------------------------------------------------------------------------------

STYLE = """
body{font-family:"Noto Sans Thai","Sarabun","Leelawadee UI",Tahoma,system-ui,sans-serif;color:#222;
     max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.4}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:2px solid #eee}
table{border-collapse:collapse;margin:.5em 0 1em}
th,td{border-bottom:1px solid #e4e4e4;padding:.3em .7em;text-align:left;vertical-align:middle}
th{background:#f6f6f6}td.n{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;gap:2.5em;flex-wrap:wrap}.card b{display:block;font-size:1.8em}
.grid{display:flex;gap:2.5em;flex-wrap:wrap;align-items:flex-start}
.ch{font-size:1.4em;display:inline-block;min-width:1.4em}code{color:#777;font-size:.8em}
.text{white-space:pre;font-size:1.3em}mark{background:#ffcf70;border-radius:2px}
.bar{display:inline-block;height:.7em;background:#5b9;margin-right:.5em}
img{border:1px solid #ccc;display:block}.muted{color:#777}
"""


def _e(value: object) -> str:
    return html.escape(str(value))


def _percent(value: float) -> str:
    return f"{value:.2%}"


def _metrics_section(metrics: Metrics) -> str:
    cards = [("lines", f"{metrics.n}"), ("line accuracy", _percent(metrics.line_acc)),
             ("CER", _percent(metrics.cer)), ("NED", f"{metrics.ned:.4f}"),
             ("character edits", f"{metrics.n_edits} of {metrics.n_chars}")]
    body = "".join(f'<div class="card"><b>{_e(value)}</b>{_e(name)}</div>' for name, value in cards)
    return f'<h2>Metrics</h2><div class="cards">{body}</div>'


def _groups_section(title: str, column: str, groups: dict[str, Metrics]) -> str:
    if not groups:
        return ""
    rows = "".join(
        f"<tr><td>{_e(name)}</td><td class=n>{m.n}</td>"
        f'<td><span class="bar" style="width:{m.line_acc * 80:.0f}px"></span>{_percent(m.line_acc)}</td>'
        f"<td class=n>{_percent(m.cer)}</td><td class=n>{m.ned:.4f}</td></tr>"
        for name, m in groups.items()
    )
    head = f"<tr><th>{_e(column)}</th><th>lines</th><th>line accuracy</th><th>CER</th><th>NED</th></tr>"
    return f"<h2>{_e(title)}</h2><table>{head}{rows}</table>"


def _char(ch: str) -> str:
    """A character as a table cell shows it: marks on a dotted circle, the space named, plus its code point."""
    shown = "\u25cc" + ch if is_combining(ch) else "␠" if ch == " " else ch
    return f'<span class="ch">{_e(shown)}</span> <code>U+{ord(ch):04X}</code>'


def _count_table(title: str, head: str, rows: list[tuple[str, int]]) -> str:
    body = "".join(f"<tr><td>{cells}</td><td class=n>{count}</td></tr>" for cells, count in rows)
    if not rows:
        body = '<tr><td colspan=2 class="muted">none</td></tr>'
    return f"<div><h3>{_e(title)}</h3><table><tr><th>{head}</th><th>count</th></tr>{body}</table></div>"


def _confusions_section(confusions: Confusions) -> str:
    top = confusions.substitutions.most_common(N_CONFUSIONS)
    substitutions = [(f"{_char(t)} → {_char(p)}", n) for (t, p), n in top]
    deletions = [(_char(ch), n) for ch, n in confusions.deletions.most_common(N_CONFUSIONS)]
    insertions = [(_char(ch), n) for ch, n in confusions.insertions.most_common(N_CONFUSIONS)]
    tables = (_count_table("Substituted", "truth → read", substitutions)
              + _count_table("Deleted (in the truth, not read)", "character", deletions)
              + _count_table("Inserted (read, not in the truth)", "character", insertions))
    return f'<h2>Character confusions</h2><div class="grid">{tables}</div>'


def _clusters(chars: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """Join each Thai mark to its base, so that marking never splits what the browser draws as one."""
    clusters: list[tuple[str, bool]] = []
    for ch, differs in chars:
        if clusters and is_combining(ch):
            text, marked = clusters[-1]
            clusters[-1] = (text + ch, marked or differs)
        else:
            clusters.append((ch, differs))
    return clusters


def _marked(chars: list[tuple[str, bool]]) -> str:
    parts = []
    for differs, run in itertools.groupby(_clusters(chars), key=lambda cluster: cluster[1]):
        text = _e("".join(text for text, _ in run))
        parts.append(f"<mark>{text}</mark>" if differs else text)
    return "".join(parts)


def highlight_differences(truth: str, prediction: str) -> tuple[str, str]:
    """Both lines as escaped HTML with the characters that differ (and their clusters) in ``<mark>``."""
    truth_chars: list[tuple[str, bool]] = []
    read_chars: list[tuple[str, bool]] = []
    for t, p in align(truth, prediction):
        if t:
            truth_chars.append((t, t != p))
        if p:
            read_chars.append((p, t != p))
    return _marked(truth_chars), _marked(read_chars)


def png_data_uri(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _thumbnail(path: Path) -> str:
    with Image.open(path) as image:
        small = image.convert("RGB")
    small.thumbnail(THUMBNAIL_BOX)
    return png_data_uri(small)


def _worst_section(lines: list[LineResult], folder: Path) -> str:
    """The worst lines; image paths are shown relative to the label file's ``folder`` where they can be."""
    if not lines:
        return "<h2>Worst lines</h2><p>Every line was read right.</p>"
    rows = []
    for rank, line in enumerate(lines, start=1):
        truth, read = highlight_differences(line.truth, line.prediction)
        read = read or '<span class="muted">(nothing)</span>'
        image, name = "", ""
        if line.image:
            image = f'<img alt="line {rank}" src="{_thumbnail(line.image)}">'
            name = line.image.relative_to(folder) if line.image.is_relative_to(folder) else line.image
        rows.append(
            f"<tr><td class=n>{rank}</td><td>{image}<code>{_e(name)}</code>"
            f'<div>read <span class="text">{read}</span></div><div>truth <span class="text">{truth}</span></div></td>'
            f"<td class=n>{_percent(line_cer(line))}</td><td class=n>{line.edits}</td></tr>"
        )
    head = "<tr><th>#</th><th>image, what was read and the truth</th><th>CER</th><th>edits</th></tr>"
    return (f"<h2>Worst lines ({len(lines)}, highest CER first)</h2>"
            f"<table>{head}{''.join(rows)}</table>")


def render_report(results: Sequence[LineResult], model: str, labels: Path,
                  families: dict[Path, str] | None = None) -> str:
    """The evaluation of ``model`` on ``labels`` as one HTML page; ``families`` maps images to fonts."""
    sections = [
        _metrics_section(summarize(results)),
        _groups_section("By label length", "length (code points)", by_length(results)),
        _groups_section("By font family", "font family", breakdown(results, families or {})),
        _confusions_section(count_confusions(results)),
        _worst_section(worst_lines(results), Path(labels).parent),
    ]
    title = f"thaiocr evaluation: {Path(labels).name}"
    return (
        f'<!DOCTYPE html>\n<html lang="th"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{_e(title)}</h1><p class=muted>model {_e(model)}<br>labels {_e(labels)}<br>thaiocr {__version__}</p>"
        + "\n".join(section for section in sections if section)
        + "</body></html>\n"
    )


def write_report(path: Path, results: Sequence[LineResult], model: str, labels: Path) -> Path:
    """Write the HTML report, with the per-font table when a ``rec_meta_*.tsv`` names the images."""
    page = render_report(results, model, Path(labels), font_families_beside(Path(labels)))
    return atomic_write_text(Path(path), page)


# --- training curves ----------------------------------------------------------------------------

CURVES_SIZE = (900, 500)
LOSS_COLOUR, ACCURACY_COLOUR, CER_COLOUR = (31, 119, 180), (44, 160, 44), (214, 39, 40)
TEXT_COLOUR, GRID_COLOUR, FRAME_COLOUR = (34, 34, 34), (228, 228, 228), (120, 120, 120)
MIN_LOSS = 1e-4  # the floor of the log scale
MAX_MARKERS = 50  # series with more points are drawn as a bare line

Series = tuple[str, tuple[int, int, int], list[tuple[float, float]]]


@dataclass(frozen=True)
class _Axis:
    low: float
    high: float
    log: bool = False
    tick: float = 0.0  # linear axes: the distance between ticks (0: about five ticks)

    def fraction(self, value: float) -> float:
        """Where ``value`` lies between the ends, 0 to 1."""
        low, high = (math.log10(self.low), math.log10(self.high)) if self.log else (self.low, self.high)
        return ((math.log10(value) if self.log else value) - low) / (high - low)

    def ticks(self) -> list[float]:
        if not self.log:
            step = self.tick or _nice_step((self.high - self.low) / 5)
            return [i * step for i in range(math.ceil(self.low / step), math.floor(self.high / step) + 1)]
        decades = range(round(math.log10(self.low)), round(math.log10(self.high)) + 1)
        multiples = (1,) if len(decades) > 3 else (1, 2, 5)
        values = [m * 10.0**d for d in decades for m in multiples]
        return [v for v in values if self.low <= v <= self.high * 1.0001]


def _nice_step(raw: float) -> float:
    """The smallest of 1, 2, 5 times a power of ten that is at least ``raw``."""
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw * 0.9999)


def _step_axis(last_step: float) -> _Axis:
    step = max(_nice_step(max(last_step, 1) / 5), 1.0)  # steps are whole numbers
    return _Axis(0, step * math.ceil(max(last_step, 1) / step), tick=step)


def _loss_axis(values: list[float]) -> _Axis:
    low = 10.0 ** math.floor(math.log10(min(values, default=1.0)))
    high = 10.0 ** math.ceil(math.log10(max(values, default=1.0)))
    return _Axis(low, high if high > low else low * 10, log=True)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _panel(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], title: str, x_axis: _Axis, y_axis: _Axis,
           y_label: Callable[[float], str], series: list[Series], empty: str) -> None:
    """One framed plot with grid, ticks, a title, a legend above it and its series (or ``empty``)."""
    left, top, right, bottom = box
    font = _font(13)

    def at(x: float, y: float) -> tuple[float, float]:
        return left + x_axis.fraction(x) * (right - left), bottom - y_axis.fraction(y) * (bottom - top)

    for value in y_axis.ticks():
        _, y = at(x_axis.low, value)
        draw.line([(left, y), (right, y)], fill=GRID_COLOUR)
        draw.text((left - 6, y), y_label(value), fill=TEXT_COLOUR, font=font, anchor="rm")
    for value in x_axis.ticks():
        x, _ = at(value, y_axis.low)
        draw.line([(x, top), (x, bottom)], fill=GRID_COLOUR)
        draw.text((x, bottom + 6), f"{value:,.0f}", fill=TEXT_COLOUR, font=font, anchor="mt")
    draw.rectangle(box, outline=FRAME_COLOUR)
    draw.text(((left + right) / 2, bottom + 26), "step", fill=TEXT_COLOUR, font=font, anchor="mt")
    draw.text((left, top - 30), title, fill=TEXT_COLOUR, font=_font(15), anchor="ls")
    if not any(points for _, _, points in series):
        draw.text(((left + right) / 2, (top + bottom) / 2), empty, fill=FRAME_COLOUR, font=font, anchor="mm")
        return
    legend_x = right
    for name, colour, points in reversed(series):
        pixels = [at(x, y) for x, y in points]
        if len(pixels) > 1:
            draw.line(pixels, fill=colour, width=2, joint="curve")
        if len(pixels) <= MAX_MARKERS:
            for x, y in pixels:
                draw.ellipse([(x - 3, y - 3), (x + 3, y + 3)], fill=colour)
        legend_x -= font.getlength(name) + 8
        draw.text((legend_x, top - 8), name, fill=TEXT_COLOUR, font=font, anchor="ls")
        legend_x -= 24
        draw.line([(legend_x, top - 12), (legend_x + 18, top - 12)], fill=colour, width=3)
        legend_x -= 14


def draw_training_curves(history: Sequence[dict], losses: Sequence[Sequence[float]]) -> Image.Image:
    """The smoothed training loss (log scale) beside each evaluation's line accuracy and CER."""
    loss_points = [(float(step), max(float(loss), MIN_LOSS)) for step, loss in losses if math.isfinite(loss)]
    accuracy = [(float(row["step"]), float(row["line_acc"])) for row in history]
    cer = [(float(row["step"]), min(float(row["cer"]), 1.0)) for row in history]
    x_axis = _step_axis(max([x for x, _ in loss_points + accuracy], default=1))
    validation = "validation"
    if history:
        best = max(history, key=lambda row: row["line_acc"])
        validation += f" (best {best['line_acc']:.2%} at step {best['step']:,})"
    image = Image.new("RGB", CURVES_SIZE, "white")
    draw = ImageDraw.Draw(image)
    width, height = CURVES_SIZE
    _panel(draw, (70, 70, width // 2 - 25, height - 60), "training loss (smoothed, log scale)", x_axis,
           _loss_axis([y for _, y in loss_points]), lambda v: f"{v:g}",
           [("loss", LOSS_COLOUR, loss_points)], "no loss recorded yet")
    _panel(draw, (width // 2 + 60, 70, width - 30, height - 60), validation, x_axis, _Axis(0.0, 1.0),
           lambda v: f"{v:.0%}", [("line accuracy", ACCURACY_COLOUR, accuracy), ("CER", CER_COLOUR, cer)],
           "no evaluation yet")
    return image


def write_training_curves(path: Path, history: Sequence[dict], losses: Sequence[Sequence[float]]) -> Path:
    """Draw ``curves.png``: ``history`` rows have step, line_acc and cer; ``losses`` are (step, loss) pairs."""
    buffer = io.BytesIO()
    draw_training_curves(history, losses).save(buffer, format="PNG")
    return atomic_write_bytes(Path(path), buffer.getvalue())
