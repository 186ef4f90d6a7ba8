"""Thai pages typeset by a real layout engine (LibreOffice), for bench/page_bench.py.

    python bench/layout_pages.py [--per-kind 4] [--seed 27] [--dpi 200] [--out data/bench/layout_pages]

Each page is an OpenDocument text (flat XML, written here) that LibreOffice headless
(``soffice --convert-to pdf``, Debian's ``libreoffice-writer-nogui``) typesets and exports to PDF:
LibreOffice shapes Thai with HarfBuzz and breaks Thai lines between words with ICU's dictionary,
as a word processor does. The PDF is rasterised with pypdfium2 (``--dpi``, default 200).

Page kinds (:data:`KINDS`): ``paragraphs`` (one column), ``columns`` (two columns),
``heading-columns`` (a heading across the page over two columns), ``table`` (a ruled table of
items), ``receipt`` (a till receipt in a monospace face, a narrow block in the middle of the page)
and ``form`` (a paper form: fields with dotted leaders, tick boxes, two fields on one line).
Their texts come only from bench/heldout_text.py (the Thai National Corpus pseudo-prose and the
receipt and form lines that no training source draws from).

Fonts: of each kind, even pages use a family that training uses (:data:`SEEN_FONTS`, Sarabun,
Loma, Norasi, ...; TlwgMono for receipts) and odd pages one that every recipe holds out
(:data:`HELD_OUT_FONTS`: Laksaman and Sawasdee; TlwgTypewriter for receipts).

Ground truth, per page, in ``manifest.json``:
- ``text``: the source text in reading order (heading, then the first column, then the second;
  a table row by row, cells left to right; a receipt line's left part, then its right part);
- ``lines``: line boxes from the born-digital PDF's text layer (pypdfium2): the tight boxes of
  the characters, grouped by baseline and split where a gap is wider than one em (table cells,
  a receipt's amounts, the two columns), in page pixels;
- ``layer_text``: the text layer's text, which must hold the same characters as ``text`` once
  white space is dropped (checked when the pages are made: what the engine typeset is what the
  truth says). Their order may differ in a few places (``layer_cer``): PDFium sometimes puts a
  stacked mark after the next letters (สิทธิ์ศุ -> สิทธิศุ...์) where the page shows it in its place.

A page that LibreOffice breaks onto a second sheet is made again with its last block left out.
The pages are a pure function of the seed, the fonts and the LibreOffice version; they are made
once and made again only when the settings or :data:`VERSION` change.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent))

from heldout_text import ITEMS, RECEIPT_KINDS, ProseLines, baht  # noqa: E402
from thaiocr.charset import Charset, normalize_text  # noqa: E402
from thaiocr.det.metrics import fast_edit_distance  # noqa: E402
from thaiocr.synth.lines import PREFERRED_VAL_FAMILIES  # noqa: E402

VERSION = 3  # bump when a page's content or its truth changes for the same settings
KINDS = ("paragraphs", "columns", "heading-columns", "table", "receipt", "form")
# Families by LibreOffice's (fontconfig's) name. Training uses every Thai family but the held-out ones.
SEEN_FONTS = ("Sarabun", "Loma", "Norasi", "Garuda", "Kinnari", "Umpush")
HELD_OUT_FONTS = ("Laksaman", "Sawasdee")
SEEN_MONO = ("Tlwg Mono",)
HELD_OUT_MONO = ("Tlwg Typewriter",)
BODY_PT = {"Laksaman": 16.0, "Sarabun": 15.0}  # faces with small letters at a given size; others 14 pt
DEFAULT_BODY_PT = 14.0
PER_KIND = 4  # pages of each kind: two in seen families, two in held-out ones
SPLIT_GAP_EM = 1.0  # a gap wider than this many ems between characters on a baseline splits a line box
# A line box is its ink grown by this many ems on every side: a detector's box surrounds the text
# with a margin (DB's unclip), and a short text (a table's "7", an amount) would otherwise fail
# IoU 0.5 on its margin alone (the synthetic pages pad their ink boxes by 2 px).
BOX_PAD_EM = 0.1
SOFFICE_TIMEOUT = 600


def is_held_out(family: str) -> bool:
    """Whether training never sees ``family`` (thaiocr names families without spaces)."""
    return family.replace(" ", "") in PREFERRED_VAL_FAMILIES


# --- documents ----------------------------------------------------------------------------------


@dataclass
class Doc:
    """A page: its blocks (ODF body XML, and the block's text in reading order), the face and size.

    Blocks from ``wrap_from`` on go inside the ``wrap`` pair of XML (a two-column section, which
    LibreOffice fills column by column, or a table, whose rows are those blocks). The last block
    can be dropped when the page overflows.
    """

    font: str
    size: float
    blocks: list[tuple[str, str]] = field(default_factory=list)
    wrap_from: int | None = None
    wrap: tuple[str, str] = ("", "")

    def add(self, xml: str, text: str) -> None:
        self.blocks.append((xml, text))

    def start_wrap(self, opening: str, closing: str) -> None:
        self.wrap_from, self.wrap = len(self.blocks), (opening, closing)

    @property
    def text(self) -> str:
        return "\n".join(text for _, text in self.blocks)

    def body(self) -> str:
        xml = [block for block, _ in self.blocks]
        if self.wrap_from is None or self.wrap_from >= len(xml):
            return "".join(xml[: self.wrap_from])
        at = self.wrap_from
        return "".join(xml[:at]) + self.wrap[0] + "".join(xml[at:]) + self.wrap[1]


def _span(text: str) -> str:
    """Text for an ODF paragraph: runs of spaces as ``text:s`` (XML would fold them), tabs as ``text:tab``."""
    out, i = [], 0
    while i < len(text):
        if text[i] == " ":
            j = i
            while j < len(text) and text[j] == " ":
                j += 1
            out.append(" " if j - i == 1 else f'<text:s text:c="{j - i}"/>')
            i = j
        elif text[i] == "\t":
            out.append("<text:tab/>")
            i += 1
        else:
            j = i
            while j < len(text) and text[j] not in " \t":
                j += 1
            out.append(escape(text[i:j]))
            i = j
    return "".join(out)


def _p(text: str, style: str = "Body") -> str:
    return f'<text:p text:style-name="{style}">{_span(text)}</text:p>'


def _paragraph(prose: ProseLines, rng: random.Random, lines: tuple[int, int]) -> str:
    return " ".join(prose.draw(rng)[1] for _ in range(rng.randint(*lines)))


def _heading(prose: ProseLines, rng: random.Random) -> str:
    """A title: a few corpus words run together, as Thai writes them."""
    return "".join(prose.words.draw(rng) for _ in range(rng.randint(3, 5)))


def make_doc(kind: str, font: str, rng: random.Random, prose: ProseLines) -> Doc:
    """A page of ``kind`` (:data:`KINDS`) in the family ``font`` (a monospace one for a receipt)."""
    doc = Doc(font, BODY_PT.get(font, DEFAULT_BODY_PT))
    if kind == "paragraphs":
        title = _heading(prose, rng)
        doc.add(_p(title, "Title"), title)
        for _ in range(10):
            text = _paragraph(prose, rng, (2, 4))
            doc.add(_p(text), text)
    elif kind in ("columns", "heading-columns"):
        if kind == "heading-columns":
            title = _heading(prose, rng)
            doc.add(_p(title, "Title"), title)
            lead = _paragraph(prose, rng, (1, 2))
            doc.add(_p(lead), lead)
        paragraphs = [_paragraph(prose, rng, (2, 4)) for _ in range(14 if kind == "columns" else 11)]
        _columns(doc, paragraphs)
    elif kind == "table":
        _table_page(doc, prose, rng)
    elif kind == "receipt":
        _receipt_page(doc, rng)
    elif kind == "form":
        _form_page(doc, prose, rng)
    else:
        raise ValueError(f"unknown page kind {kind!r}")
    return doc


def _columns(doc: Doc, paragraphs: list[str]) -> None:
    doc.start_wrap('<text:section text:style-name="TwoColumns" text:name="Columns">', "</text:section>")
    for text in paragraphs:
        doc.add(_p(text), text)


TABLE_WIDTHS = (2.0, 6.5, 2.0, 3.0, 3.5)  # cm, 17 in all: the text width


def _table_page(doc: Doc, prose: ProseLines, rng: random.Random) -> None:
    """A title, a paragraph and a ruled table of items (number, item, quantity, unit price,
    amount; numbers right-aligned), last on the page so that rows go when it overflows."""
    title = _heading(prose, rng)
    doc.add(_p(title, "Title"), title)
    for _ in range(rng.randint(1, 2)):
        text = _paragraph(prose, rng, (1, 2))
        doc.add(_p(text), text)
    header = ["ลำดับ", "รายการ", "จำนวน", "ราคาต่อหน่วย", "จำนวนเงิน"]
    columns = "".join(f'<table:table-column table:style-name="Col{i}"/>' for i in range(len(TABLE_WIDTHS)))
    doc.start_wrap(f'<table:table table:name="Items" table:style-name="Items">{columns}', "</table:table>")
    doc.add(_row(header, "Head"), " ".join(header))
    for number, (name, low, high) in enumerate(rng.sample(ITEMS, 24), start=1):
        quantity, price = rng.randint(1, 24), rng.randint(low, high)
        row = [str(number), name, str(quantity), baht(price), baht(quantity * price)]
        doc.add(_row(row, "Cell"), " ".join(row))


def _row(cells: list[str], style: str) -> str:
    return "<table:table-row>" + "".join(
        f'<table:table-cell table:style-name="Ruled" office:value-type="string">'
        f'{_p(text, style + ("Num" if c >= 2 and style == "Cell" else ""))}</table:table-cell>'
        for c, text in enumerate(cells)) + "</table:table-row>"


def _receipt_page(doc: Doc, rng: random.Random) -> None:
    """A till receipt: header, date, items, totals, payment and footer, each line padded to the
    receipt's width in monospace cells (its right part, an amount, at the right edge)."""
    width = rng.randint(32, 42)

    def line(kind: str) -> str:
        return normalize_text(RECEIPT_KINDS[kind][1](rng, width).strip())

    texts = [line("header") for _ in range(3)] + [line("code"), line("date"), line("rule")]
    texts += [line("item") for _ in range(rng.randint(14, 20))]
    texts += [line("rule")] + [line("total") for _ in range(rng.randint(3, 5))] + [line("code"), line("rule")]
    texts += [line("footer") for _ in range(2)]
    for text in texts:
        doc.add(_p(text, "Receipt"), text)


def _form_page(doc: Doc, prose: ProseLines, rng: random.Random) -> None:
    """A paper form: a title, an instruction, fields with dotted leaders (some two to a line,
    apart at a tab stop), tick boxes and a signature."""
    title = rng.choice(("แบบคำขอรับเงินสงเคราะห์", "ใบสมัครสมาชิก", "แบบฟอร์มขอเปลี่ยนแปลงข้อมูล",
                        "ใบเบิกค่าใช้จ่าย", "แบบแจ้งความประสงค์"))
    doc.add(_p(title, "Title"), title)
    intro = _paragraph(prose, rng, (1, 2))
    doc.add(_p(intro), intro)
    for _ in range(rng.randint(16, 20)):
        first = normalize_text(RECEIPT_KINDS["form"][1](rng, 40).strip())
        if rng.random() < 0.4:
            second = normalize_text(RECEIPT_KINDS["form"][1](rng, 40).strip())
            doc.add(_p(f"{first}\t{second}", "Field"), f"{first} {second}")
        else:
            doc.add(_p(first, "Field"), first)
    closing = _paragraph(prose, rng, (1, 1))
    doc.add(_p(closing), closing)


# --- the ODF file -------------------------------------------------------------------------------

NAMESPACES = {
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "style": "urn:oasis:names:tc:opendocument:xmlns:style:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "fo": "urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0",
    "svg": "urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0",
}


def _text_props(font: str, size: float, bold: bool = False) -> str:
    """The same face and size for Western, Asian and complex (Thai) text, in Thai."""
    weight = ' fo:font-weight="bold" style:font-weight-complex="bold"' if bold else ""
    return (f'<style:text-properties style:font-name="{font}" fo:font-size="{size}pt" '
            f'style:font-name-complex="{font}" style:font-size-complex="{size}pt" '
            f'style:font-name-asian="{font}" style:font-size-asian="{size}pt" '
            f'fo:language="th" fo:country="TH" style:language-complex="th" style:country-complex="TH"{weight}/>')


def fodt(doc: Doc) -> str:
    """A flat OpenDocument text of the page: A4, 2 cm margins, the page's face throughout."""
    font, size = doc.font, doc.size
    fonts = {font, "Tlwg Mono", "Tlwg Typewriter"}
    faces = "".join(f'<style:font-face style:name="{f}" svg:font-family="\'{f}\'"/>' for f in sorted(fonts))
    ns = " ".join(f'xmlns:{k}="{v}"' for k, v in NAMESPACES.items())
    paragraph = '<style:paragraph-properties fo:margin-top="0cm" fo:margin-bottom="{after}cm" {extra}/>'
    centre, end = 'fo:text-align="center"', 'fo:text-align="end"'
    styles = [
        f'<style:style style:name="Body" style:family="paragraph">{paragraph.format(after=0.25, extra="")}'
        f'{_text_props(font, size)}</style:style>',
        f'<style:style style:name="Title" style:family="paragraph">'
        f'{paragraph.format(after=0.4, extra=centre)}{_text_props(font, size * 1.5, True)}</style:style>',
        f'<style:style style:name="Field" style:family="paragraph">'
        f'<style:paragraph-properties fo:margin-top="0cm" fo:margin-bottom="0.2cm"><style:tab-stops>'
        f'<style:tab-stop style:position="9cm"/></style:tab-stops></style:paragraph-properties>'
        f'{_text_props(font, size)}</style:style>',
        f'<style:style style:name="Receipt" style:family="paragraph">'
        f'<style:paragraph-properties fo:margin-left="4.5cm" fo:margin-right="1cm" fo:margin-top="0cm" '
        f'fo:margin-bottom="0cm"/>{_text_props(doc.font, 12.0)}</style:style>',
        f'<style:style style:name="Head" style:family="paragraph">{paragraph.format(after=0, extra="")}'
        f'{_text_props(font, size - 1, True)}</style:style>',
        f'<style:style style:name="Cell" style:family="paragraph">{paragraph.format(after=0, extra="")}'
        f'{_text_props(font, size - 1)}</style:style>',
        f'<style:style style:name="CellNum" style:family="paragraph">'
        f'{paragraph.format(after=0, extra=end)}{_text_props(font, size - 1)}</style:style>',
    ]
    automatic = [
        '<style:page-layout style:name="A4"><style:page-layout-properties fo:page-width="21cm" '
        'fo:page-height="29.7cm" fo:margin-top="2cm" fo:margin-bottom="2cm" fo:margin-left="2cm" '
        'fo:margin-right="2cm"/></style:page-layout>',
        '<style:style style:name="TwoColumns" style:family="section"><style:section-properties>'
        '<style:columns fo:column-count="2" fo:column-gap="1cm"/></style:section-properties></style:style>',
        '<style:style style:name="Items" style:family="table"><style:table-properties style:width="17cm" '
        'table:align="left" fo:margin-top="0.2cm" fo:margin-bottom="0.4cm"/></style:style>',
        '<style:style style:name="Ruled" style:family="table-cell"><style:table-cell-properties '
        'fo:padding="0.1cm" fo:border="0.5pt solid #000000"/></style:style>',
        *(f'<style:style style:name="Col{i}" style:family="table-column"><style:table-column-properties '
          f'style:column-width="{w}cm"/></style:style>' for i, w in enumerate(TABLE_WIDTHS)),
    ]
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document {ns} office:version="1.3" '
        f'office:mimetype="application/vnd.oasis.opendocument.text">'
        f'<office:font-face-decls>{faces}</office:font-face-decls>'
        f'<office:styles>{"".join(styles)}</office:styles>'
        f'<office:automatic-styles>{"".join(automatic)}</office:automatic-styles>'
        f'<office:master-styles><style:master-page style:name="Standard" style:page-layout-name="A4"/>'
        f'</office:master-styles><office:body><office:text>{doc.body()}</office:text></office:body>'
        f'</office:document>\n'
    )


# --- typesetting, rasterising, the text layer ---------------------------------------------------

INSTALL_HINT = ("LibreOffice is needed to typeset the pages: `make bench-setup` installs it "
                "(apt-get install -y libreoffice-writer-nogui)")


def soffice_path() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if not found:
        raise SystemExit(INSTALL_HINT)
    return found


def soffice_version() -> str:
    done = subprocess.run([soffice_path(), "--version"], capture_output=True, text=True, timeout=120)
    return done.stdout.strip()


def fontconfig_file(folder: Path) -> Path:
    """A fontconfig file that adds the font wheels' folders (Sarabun, ...) to the system's fonts,
    so that LibreOffice finds the same families synthesis does."""
    from thaiocr.synth.fonts import package_font_dirs

    dirs = "".join(f"<dir>{escape(str(d))}</dir>" for d in package_font_dirs())
    path = folder / "fonts.conf"
    path.write_text('<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>'
                    f'<include ignore_missing="yes">/etc/fonts/fonts.conf</include>{dirs}'
                    f"<cachedir>{escape(str(folder / 'fontcache'))}</cachedir></fontconfig>\n", encoding="utf-8")
    return path


def typeset(sources: list[Path], out_dir: Path, fonts_conf: Path) -> None:
    """PDFs of the ``.fodt`` files, in ``out_dir``, by one LibreOffice run (a private profile)."""

    with tempfile.TemporaryDirectory() as profile:
        env = {**os.environ, "FONTCONFIG_FILE": str(fonts_conf), "SAL_USE_VCLPLUGIN": "svp"}
        done = subprocess.run(
            [soffice_path(), "--headless", "--norestore", "--nolockcheck", "--nodefault",
             f"-env:UserInstallation=file://{profile}", "--convert-to", "pdf:writer_pdf_Export",
             "--outdir", str(out_dir), *map(str, sources)],
            capture_output=True, text=True, timeout=SOFFICE_TIMEOUT, env=env)
    missing = [s.name for s in sources if not (out_dir / f"{s.stem}.pdf").is_file()]
    if done.returncode or missing:
        raise SystemExit(f"LibreOffice failed ({done.returncode}) on {missing}: {done.stderr[-2000:]}")


@dataclass
class Char:
    text: str
    box: tuple[float, float, float, float]  # left, top, right, bottom in page pixels (y down); empty for space
    origin_y: float  # baseline, in page pixels
    origin_x: float
    em: float  # font size in pixels
    font: str


def text_layer(page, scale: float) -> list[Char]:  # page: pypdfium2.PdfPage
    """The characters of a born-digital page's text layer, in its order, in page pixels at ``scale``."""
    import pypdfium2.raw as pdfium_c

    textpage = page.get_textpage()
    height = page.get_height()
    chars = []
    x, y = ctypes.c_double(), ctypes.c_double()
    name = ctypes.create_string_buffer(256)
    flags = ctypes.c_int()
    for i in range(textpage.count_chars()):
        code = pdfium_c.FPDFText_GetUnicode(textpage.raw, i)
        text = chr(code) if code else ""
        left, bottom, right, top = textpage.get_charbox(i)
        pdfium_c.FPDFText_GetCharOrigin(textpage.raw, i, ctypes.byref(x), ctypes.byref(y))
        size = pdfium_c.FPDFText_GetFontSize(textpage.raw, i)
        length = pdfium_c.FPDFText_GetFontInfo(textpage.raw, i, name, len(name), ctypes.byref(flags))
        font = name.raw[: max(0, length - 1)].decode("utf-8", "replace") if length else ""
        box = (left * scale, (height - top) * scale, right * scale, (height - bottom) * scale)
        chars.append(Char(text, box, (height - y.value) * scale, x.value * scale, size * scale, font))
    textpage.close()
    return chars


def line_boxes(chars: list[Char], split_gap_em: float = SPLIT_GAP_EM, pad_em: float = BOX_PAD_EM) -> list[dict]:
    """Text-line boxes: characters in text-layer order, grouped while they share a baseline (within
    a third of an em) and follow on without a gap wider than ``split_gap_em`` ems.

    A box is the union of its characters' tight boxes (marks above and below included) grown by
    ``pad_em`` of the line's first font size, as ``{"text", "points"}`` with four corners clockwise
    from the top-left, in page pixels.
    """
    lines: list[dict] = []
    current: dict | None = None
    for char in chars:
        if not char.text or char.text.isspace() or char.box[2] <= char.box[0] or char.box[3] <= char.box[1]:
            if current is not None and char.text.isspace():
                current["space"] = True
            continue
        em = max(char.em, 1.0)
        if current is not None:
            same_baseline = abs(char.origin_y - current["baseline"]) <= em / 3
            gap = char.box[0] - current["box"][2]
            backwards = char.box[2] < current["box"][0] - em
            if same_baseline and gap <= split_gap_em * em and not backwards:
                box = current["box"]
                current["box"] = [min(box[0], char.box[0]), min(box[1], char.box[1]),
                                  max(box[2], char.box[2]), max(box[3], char.box[3])]
                current["text"] += (" " if current.pop("space", False) else "") + char.text
                continue
            lines.append(current)
        current = {"text": char.text, "box": list(char.box), "baseline": char.origin_y, "em": em}
    if current is not None:
        lines.append(current)
    return [{"text": line["text"], "points": _corners(line["box"], pad_em * line["em"])} for line in lines]


def _corners(box: list[float], pad: float) -> list[list[float]]:
    x0, y0, x1, y1 = (round(v, 1) for v in (box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad))
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def squeeze(text: str) -> str:
    """The text compared: Thai-normalised, white space dropped."""
    return "".join(normalize_text(text).split())


# --- the pages ----------------------------------------------------------------------------------


def page_plan(per_kind: int) -> list[tuple[str, int, str, str]]:
    """``(page id, index, kind, family)``: of each kind, even pages in a seen family, odd in a held-out one."""
    plan = []
    for k, kind in enumerate(KINDS):
        seen, held = (SEEN_MONO, HELD_OUT_MONO) if kind == "receipt" else (SEEN_FONTS, HELD_OUT_FONTS)
        for i in range(per_kind):
            family = seen[(k + i // 2) % len(seen)] if i % 2 == 0 else held[(k + i // 2) % len(held)]
            plan.append((f"{kind}-{i + 1}", i, kind, family))
    return plan


def make_pages(out: Path, per_kind: int = PER_KIND, seed: int = 27, dpi: int = 200, progress: bool = True) -> dict:
    """Typeset, rasterise and label the pages into ``out`` (again only when the settings changed);
    returns the manifest."""
    import pypdfium2 as pdfium

    settings = {"version": VERSION, "per_kind": per_kind, "seed": seed, "dpi": dpi, "engine": soffice_version()}
    manifest_path = out / "manifest.json"
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("settings") == settings and all((out / p["image"]).is_file() for p in manifest["pages"]):
            return manifest
    out = out.resolve()  # LibreOffice and fontconfig get absolute paths
    out.mkdir(parents=True, exist_ok=True)
    prose = ProseLines(Charset.builtin("thai_full"))
    docs = {}
    for page_id, index, kind, family in page_plan(per_kind):
        rng = random.Random(f"{seed}-{kind}-{index}")
        docs[page_id] = (kind, family, make_doc(kind, family, rng, prose))
    fonts_conf = fontconfig_file(out)
    pending = list(docs)
    for _ in range(8):  # rounds of typesetting until every page fits one sheet
        if not pending:
            break
        sources = []
        for page_id in pending:
            path = out / f"{page_id}.fodt"
            path.write_text(fodt(docs[page_id][2]), encoding="utf-8")
            sources.append(path)
        if progress:
            print(f"typesetting {len(sources)} pages with {settings['engine']}", file=sys.stderr)
        typeset(sources, out, fonts_conf)
        overflowing = []
        for page_id in pending:
            pdf = pdfium.PdfDocument(out / f"{page_id}.pdf")
            if len(pdf) > 1:
                spill = sum(len(squeeze(c.text)) for p in range(1, len(pdf)) for c in text_layer(pdf[p], 1.0))
                _drop_blocks(docs[page_id][2], spill)
                overflowing.append(page_id)
            pdf.close()
        pending = overflowing
    if pending:
        raise SystemExit(f"pages still overflow one sheet: {pending}")
    pages = []
    for page_id, (kind, family, doc) in docs.items():
        pdf = pdfium.PdfDocument(out / f"{page_id}.pdf")
        page = pdf[0]
        scale = dpi / 72
        image = page.render(scale=scale).to_pil().convert("RGB")
        image.save(out / f"{page_id}.png")
        chars = text_layer(page, scale)
        layer = "".join(c.text for c in chars)
        truth = doc.text
        layer_cer = fast_edit_distance(squeeze(layer), squeeze(truth)) / max(1, len(squeeze(truth)))
        if Counter(squeeze(layer)) != Counter(squeeze(truth)):
            missing = Counter(squeeze(truth)) - Counter(squeeze(layer))
            extra = Counter(squeeze(layer)) - Counter(squeeze(truth))
            raise SystemExit(f"{page_id}: the PDF's text layer has other characters than the source text "
                             f"(missing {dict(missing)}, extra {dict(extra)}; CER {layer_cer:.2%}): "
                             f"{_first_difference(squeeze(layer), squeeze(truth))}")
        faces = sorted({c.font for c in chars if c.text.strip()})
        wanted = family.replace(" ", "")
        if not faces or not all(face.split("+")[-1].startswith(wanted) for face in faces):
            raise SystemExit(f"{page_id}: LibreOffice set it in {faces}, not in {family} alone: is the font installed "
                             "(fc-list; `make setup` installs the Debian fonts and the font wheels)?")
        pages.append({"id": page_id, "kind": kind, "family": family, "held_out": is_held_out(family),
                      "image": f"{page_id}.png", "pdf": f"{page_id}.pdf", "size": list(image.size),
                      "pdf_fonts": faces, "text": truth, "layer_text": layer,
                      "layer_cer": layer_cer, "lines": line_boxes(chars)})
        pdf.close()
    manifest = {"settings": settings, "pages": pages}
    tmp = manifest_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(manifest_path)
    return manifest


def _drop_blocks(doc: Doc, spill: int) -> None:
    """Drop the last blocks until at least ``spill`` characters (what went onto a second sheet) are gone."""
    dropped = 0
    while doc.blocks and dropped < max(spill, 1):
        dropped += len(squeeze(doc.blocks.pop()[1]))


def _first_difference(a: str, b: str) -> str:
    at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return f"at {at}: layer {a[max(0, at - 10):at + 20]!r}, source {b[max(0, at - 10):at + 20]!r}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=PER_KIND, help="pages of each kind (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=27)
    parser.add_argument("--dpi", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("data/bench/layout_pages"))
    args = parser.parse_args(argv)
    manifest = make_pages(args.out, args.per_kind, args.seed, args.dpi)
    for page in manifest["pages"]:
        print(f"{page['id']:<20} {page['family']:<16} {'held out' if page['held_out'] else 'seen':<8} "
              f"{len(page['lines']):>3} lines {len(squeeze(page['text'])):>5} chars, text layer CER "
              f"{page['layer_cer']:.2%}, fonts in the PDF: "
              f"{', '.join(page['pdf_fonts'])}")


if __name__ == "__main__":
    main()
