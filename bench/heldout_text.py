"""Texts of bench/heldout.py's `receipt` and `long` sets, which no training source draws from.

- `ReceiptLines`: one line of a till receipt or a paper form, laid out in 32 to 42 monospace
  columns (a 58-80 mm thermal printer): shop headers, item lines with quantities and prices
  (ไข่ไก่ 2 x 45.00  90.00), rules of - = *, POS and tax codes (POS#T 22W1101), totals, VAT,
  payments, dates and times, footers, form fields with dotted leaders; Thai and English mixed.
  Its shop, item and street vocabulary is written here by hand.
- `ProseLines`: a printed line of 60 to 100 code points of pseudo-prose: frequency-weighted words
  of the Thai National Corpus (pythainlp's tnc_freq.txt), joined as Thai writes them (no space inside
  a clause, a space between clauses), with person names, provinces, countries, dictionary words
  (orst_words_th.txt) and numbers. Training draws words_th.txt, wikipedia_titles_th.txt,
  ttc_freq.txt and the transliteration table, never these files.

Both draw only from the ``random.Random`` given, so a line is a pure function of its seed, and both
answer ``draw(rng, index) -> (kind, text)`` as thaiocr.synth.textsource.TextSource does, so that
thaiocr.synth.lines.pick_text_and_font picks their fonts. A receipt line keeps its column padding (runs of
spaces); its label is the text with each run of spaces read as one, as the readers write it.
"""

from __future__ import annotations

import bisect
import itertools
import random
import re
from collections.abc import Callable, Sequence

from thaiocr.charset import Charset, is_combining, normalize_text
from thaiocr.synth.corpora import has_orphan_mark, lines_in_alphabet, pythainlp_lines

VERSION = 2  # bump when a generator's output for the same seed changes: the bench rebuilds its sets

# --- receipts and forms -------------------------------------------------------------------------

SHOPS = (
    "ร้านป้าแดงของชำ", "มินิมาร์ท ทองดี", "ร้านกาแฟ บ้านไร่", "ครัวคุณยาย", "ร้านข้าวแกง เจ๊หมวย",
    "สหกรณ์ร้านค้า บ้านนาเหนือ", "ร้านยา สุขใจเภสัช", "เครื่องเขียน ปากกาทอง", "ตลาดสดเทศบาล 2",
    "ก๋วยเตี๋ยวเรือ ลุงเปี๊ยก", "Cafe Lamoon", "Happy Mart", "Baan Suan Bakery", "ร้านเสริมสวย น้องฝน",
)  # fmt: skip
# name, lowest and highest unit price in baht
ITEMS = (
    ("ไข่ไก่", 4, 6), ("ไข่ไก่ แผง 30 ฟอง", 110, 150), ("นมสด 200 มล.", 12, 16), ("น้ำดื่ม 600 มล.", 7, 10),
    ("ข้าวหอมมะลิ 5 กก.", 165, 245), ("น้ำปลาแท้", 25, 45), ("ซีอิ๊วขาว", 28, 42), ("น้ำตาลทราย 1 กก.", 24, 32),
    ("น้ำมันพืช 1 ลิตร", 48, 62), ("บะหมี่กึ่งสำเร็จรูป", 6, 8), ("ขนมปังแซนด์วิช", 28, 45), ("กาแฟเย็น", 35, 65),
    ("ชาไทยปั่น", 40, 60), ("ชาเขียวนม", 35, 55), ("โอเลี้ยง", 20, 30), ("ข้าวผัดกุ้ง", 50, 80),
    ("ผัดกะเพราหมูสับ", 45, 70), ("ต้มยำกุ้งน้ำข้น", 120, 220), ("ส้มตำไทย", 40, 60), ("ไก่ทอด 3 ชิ้น", 59, 99),
    ("ข้าวมันไก่", 45, 60), ("ข้าวเหนียวมะม่วง", 60, 120), ("สบู่เหลว", 65, 149), ("ยาสีฟัน", 35, 89),
    ("แปรงสีฟัน", 25, 59), ("ผงซักฟอก", 49, 189), ("น้ำยาล้างจาน", 19, 45), ("กระดาษทิชชู", 89, 159),
    ("ถุงขยะดำ", 25, 39), ("ถ่านไฟฉาย AA", 35, 99), ("ปากกาลูกลื่น", 5, 25), ("สมุดปกอ่อน", 12, 30),
    ("กล้วยหอม", 15, 35), ("มะนาว", 3, 8), ("หมูสับ", 140, 180), ("อกไก่", 85, 120), ("กุ้งขาว", 220, 380),
    ("ปลาทู", 40, 70), ("ผักกาดขาว", 20, 40), ("พริกขี้หนู", 10, 30), ("กระเทียมไทย", 60, 120),
    ("มะพร้าวน้ำหอม", 30, 45), ("ไอศกรีมกะทิ", 15, 35), ("ซาลาเปาหมูแดง", 15, 25), ("น้ำแข็งหลอด", 10, 20),
    ("ยาแก้ปวดพาราเซตามอล", 15, 35), ("หน้ากากอนามัย", 25, 99), ("เจลล้างมือ", 29, 89), ("ค่าบริการ 10%", 20, 90),
    ("ค่าจัดส่ง", 30, 60), ("ตัดผมชาย", 100, 200), ("Coke 325ml", 15, 20), ("Americano (L)", 55, 85),
    ("Latte Hot", 50, 80), ("Croissant", 45, 75), ("USB-C Cable 1m", 99, 299), ("A4 Paper 80g", 115, 160),
    ("Battery AAA x4", 45, 89), ("Water 1.5L", 14, 20), ("Orange Juice", 25, 45), ("Mocha Frappe", 65, 95),
)  # fmt: skip
ROADS = ("สุขุมวิท", "พหลโยธิน", "มิตรภาพ", "เพชรเกษม", "รัชดาภิเษก", "นิมมานเหมินท์", "ศรีนครินทร์", "Rama IV")
STAFF = ("สมศรี", "มานี", "ปิติ", "วีระ", "ชูใจ", "Nok", "Tom", "Ying")
THAI_MONTHS = ("ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.", "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค.")
FULL_MONTHS = ("มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน", "กรกฎาคม", "สิงหาคม",
               "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม")  # fmt: skip
RECEIPT_COLUMNS = (32, 42)
BUDDHIST_ERA = 543
TO_THAI_DIGITS = str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙")


def cells(text: str) -> int:
    """Monospace cells ``text`` takes: every character but a combining mark."""
    return sum(not is_combining(ch) for ch in text)


def columns(left: str, right: str, width: int) -> str:
    """``left`` and ``right`` at the two edges of ``width`` cells, at least two spaces apart."""
    return left + " " * max(2, width - cells(left) - cells(right)) + right


def baht(value: float) -> str:
    return f"{value:,.2f}"


def digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def _phone(rng: random.Random) -> str:
    return rng.choice((f"0{rng.choice('689')}{digits(rng, 1)}-{digits(rng, 3)}-{digits(rng, 4)}",
                       f"0-2{digits(rng, 3)}-{digits(rng, 4)}"))  # fmt: skip


def _header(rng: random.Random, width: int) -> str:
    options = (
        rng.choice(SHOPS), f"สาขา {digits(rng, 5)}", f"สาขาที่ {rng.randint(1, 99):04d}",
        f"โทร. {_phone(rng)}", f"TEL {_phone(rng)}", "ใบเสร็จรับเงิน", "ใบกำกับภาษีอย่างย่อ", "TAX INVOICE (ABB)",
        "ใบเสร็จรับเงิน/ใบกำกับภาษีอย่างย่อ", f"{rng.randint(1, 999)}/{rng.randint(1, 99)} ถ.{rng.choice(ROADS)}",
    )  # fmt: skip
    return rng.choice(options)


def _item(rng: random.Random, width: int) -> str:
    name, low, high = rng.choice(ITEMS)
    quantity, price = rng.choice((1, 1, 2, 2, 3, 4, 6, 10, 12)), rng.randint(low, high)
    total = baht(quantity * price) + rng.choice(("", "", " V", " N"))
    layouts = (
        lambda: columns(f"{name} {quantity} x {baht(price)}", total, width),
        lambda: columns(f"{quantity} {name}", total, width),
        lambda: columns(name, total, width),
        lambda: columns(f"{name} @{price}", f"x{quantity} {total}", width),
        lambda: columns(f"  {quantity} x {baht(price)}", total, width),
        lambda: columns(f"{digits(rng, 13)}", name, width),
        lambda: columns(rng.choice(("ส่วนลด", "Discount", "ส่วนลดสมาชิก")), f"-{baht(rng.randint(1, 50))}", width),
    )  # fmt: skip
    return rng.choice(layouts)()


def _total(rng: random.Random, width: int) -> str:
    amount = baht(rng.randint(20, 9000) + rng.choice((0, 0.25, 0.5, 0.75)))
    vat = baht(rng.randint(100, 60000) / 100)
    options = (
        (f"รวม {rng.randint(1, 30)} ชิ้น", amount), (f"จำนวน {rng.randint(1, 30)} รายการ", amount),
        ("ยอดรวม", amount), ("รวมทั้งสิ้น", amount), ("ยอดสุทธิ", amount), ("TOTAL", amount),
        ("Sub Total", amount), ("NET", amount), ("VAT 7%", vat), ("ภาษีมูลค่าเพิ่ม 7%", vat),
        ("VATABLE", amount), ("มูลค่าสินค้า", amount), ("เงินสด", amount), ("เงินทอน", vat), ("CASH", amount),
        ("CHANGE", vat), ("QR พร้อมเพย์", amount), (f"VISA xxxx{digits(rng, 4)}", amount),
    )  # fmt: skip
    return columns(*rng.choice(options), width)


def _date_time(rng: random.Random, width: int) -> str:
    year, month, day = rng.randint(2023, 2026), rng.randint(1, 12), rng.randint(1, 28)
    hour, minute, second = rng.randint(6, 23), rng.randint(0, 59), rng.randint(0, 59)
    clock = f"{hour:02d}:{minute:02d}"
    options = (
        f"วันที่ {day:02d}/{month:02d}/{year + BUDDHIST_ERA} เวลา {clock}",
        f"{day:02d}/{month:02d}/{year % 100:02d} {clock}:{second:02d}",
        columns(f"Date: {year}-{month:02d}-{day:02d}", f"Time: {clock}", width),
        f"{day} {THAI_MONTHS[month - 1]} {(year + BUDDHIST_ERA) % 100} {clock} น.",
        columns(f"{day:02d}-{month:02d}-{year}", f"{clock}:{second:02d}", width),
    )  # fmt: skip
    return rng.choice(options)


def _code(rng: random.Random, width: int) -> str:
    letter = rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ")
    options = (
        f"POS#T {digits(rng, 2)}{letter}{digits(rng, 4)}", f"POS ID:E{digits(rng, 6)}",
        f"REG:{digits(rng, 2)} CSH:{digits(rng, 4)}", f"บิลเลขที่ {digits(rng, 6)}",
        f"เลขที่ {digits(rng, 4)}-{digits(rng, 5)}", f"Ref. No. INV-{rng.randint(2023, 2026)}-{digits(rng, 5)}",
        f"TAX ID {digits(rng, 13)}", f"เลขประจำตัวผู้เสียภาษี {digits(rng, 13)}", f"สมาชิก {_phone(rng)}",
        f"Member ID: {digits(rng, 10)}", f"RD#{letter}{digits(rng, 9)}",
        f"Table {rng.randint(1, 40)}  Guest {rng.randint(1, 9)}",
        f"คิวที่ {letter}{rng.randint(1, 99):02d}", f"พนักงาน: {rng.choice(STAFF)}", f"Cashier: {rng.choice(STAFF)}",
    )  # fmt: skip
    code = rng.choice(options)
    return code if rng.random() < 0.8 else columns(code, f"#{rng.randint(1, 999)}", width)


def _rule(rng: random.Random, width: int) -> str:
    mark = rng.choice("-=*")
    titles = ("สรุปยอด", "ยกเลิก", "สำเนา", "COPY", "ขอบคุณค่ะ", "Thank You")
    if rng.random() < 0.6:
        return mark * rng.randint(width // 2, width)
    title = f" {rng.choice(titles)} "
    side = max(1, (width - cells(title)) // 2 - rng.randint(0, 6))
    return mark * side + title + mark * side


def _footer(rng: random.Random, width: int) -> str:
    options = (
        "ขอบคุณที่ใช้บริการ", "*** ขอบคุณค่ะ ***", "สินค้าซื้อแล้วไม่รับเปลี่ยนหรือคืน", "Thank you, please come again",
        "โปรดเก็บใบเสร็จไว้เป็นหลักฐาน", f"Wi-Fi: cafe{digits(rng, 4)} / {digits(rng, 8)}", "ราคานี้รวมภาษีมูลค่าเพิ่มแล้ว",
        f"แต้มสะสม {rng.randint(0, 2000):,} แต้ม", "www.example.co.th",
    )  # fmt: skip
    return rng.choice(options)


def _form(rng: random.Random, width: int) -> str:
    def dots() -> str:
        return "." * rng.randint(6, 16)

    day, month, year = rng.randint(1, 28), rng.choice(FULL_MONTHS), rng.randint(2566, 2569)
    options = (
        f"ชื่อ-สกุล {dots()}", f"ลงชื่อ{dots()}ผู้รับเงิน", f"วันที่ {day} เดือน {month} พ.ศ. {year}",
        f"เลขที่ {dots()} เล่มที่ {rng.randint(1, 99)}", f"({dots()})", "[ ] เงินสด  [/] เงินโอน",
        f"จำนวนเงิน {baht(rng.randint(100, 50000))} บาท", f"เบอร์โทร {_phone(rng)}",
    )  # fmt: skip
    return rng.choice(options)


# kind -> (weight, maker of a line of ``width`` columns)
RECEIPT_KINDS: dict[str, tuple[int, Callable[[random.Random, int], str]]] = {
    "item": (35, _item), "total": (14, _total), "header": (10, _header), "code": (10, _code),
    "date": (8, _date_time), "rule": (8, _rule), "footer": (7, _footer), "form": (8, _form),
}  # fmt: skip


class ReceiptLines:
    """Lines of receipts and forms (module docstring); the kind is the part of the receipt."""

    spec = "receipt"

    def __init__(self) -> None:
        self._kinds = list(RECEIPT_KINDS)
        self._weights = [weight for weight, _ in RECEIPT_KINDS.values()]

    def draw(self, rng: random.Random, index: int = 0) -> tuple[str, str]:
        kind = rng.choices(self._kinds, self._weights)[0]
        text = RECEIPT_KINDS[kind][1](rng, rng.randint(*RECEIPT_COLUMNS))
        return kind, normalize_text(text.strip())


# --- long prose ---------------------------------------------------------------------------------

PROSE_LENGTH = (60, 100)  # code points
CLAUSE_WORDS = (2, 6)
CLAUSE_SPACE_PROBABILITY = 0.45  # a clause starts after a space; otherwise it runs on from the last
THAI_WORD = re.compile("[\u0e01-\u0e5b]+")
FOLLOWERS = "ๆฯ"  # the repetition and abbreviation marks, written after a word
TITLES = ("นาย", "นาง", "นางสาว", "คุณ", "ดร.")


class WeightedWords:
    """Words drawn by their corpus frequency (bisect over cumulative counts)."""

    def __init__(self, words: Sequence[str], counts: Sequence[int]) -> None:
        self.words = list(words)
        self._cumulative = list(itertools.accumulate(counts))

    def draw(self, rng: random.Random) -> str:
        return self.words[bisect.bisect_right(self._cumulative, rng.random() * self._cumulative[-1])]


def tnc_words(charset: Charset) -> WeightedWords:
    """The Thai words of the Thai National Corpus frequency list that the alphabet writes, by frequency."""
    pairs = [line.split("\t") for line in pythainlp_lines("tnc_freq.txt")]
    kept = [(word, int(count)) for word, count in pairs if _usable_word(word, charset)]
    return WeightedWords([word for word, _ in kept], [count for _, count in kept])


def _usable_word(word: str, charset: Charset) -> bool:
    return bool(THAI_WORD.fullmatch(word)) and not has_orphan_mark(word) and not charset.unknown_chars(word)


def _corpus(filename: str, charset: Charset) -> list[str]:
    """A pythainlp list's single-word entries (its first CSV column) that the alphabet writes."""
    entries = [line.split(",")[0].strip("\ufeff") for line in pythainlp_lines(filename)]
    return lines_in_alphabet([entry for entry in entries if " " not in entry], charset, filename)


class ProseLines:
    """Long lines of pseudo-prose (module docstring); the kind is always ``prose``."""

    spec = "prose"

    def __init__(self, charset: Charset) -> None:
        self.words = tnc_words(charset)
        self.given = _corpus("person_names_male_th.txt", charset) + _corpus("person_names_female_th.txt", charset)
        self.family = _corpus("family_names_th.txt", charset)
        self.provinces = _corpus("thailand_provinces_th.csv", charset)
        self.countries = _corpus("countries_th.txt", charset)
        self.dictionary = _corpus("orst_words_th.txt", charset)

    def draw(self, rng: random.Random, index: int = 0) -> tuple[str, str]:
        target = rng.randint(*PROSE_LENGTH)
        text, last_spaced = self._clause(rng), False
        while len(text) < target:
            piece, spaced = self._piece(rng)
            space = spaced or last_spaced or rng.random() < CLAUSE_SPACE_PROBABILITY
            joined = text + (" " if space else "") + piece
            if len(joined) <= PROSE_LENGTH[1]:
                text, last_spaced = joined, spaced
            elif len(text) >= PROSE_LENGTH[0]:
                break
        return "prose", normalize_text(text)

    def _piece(self, rng: random.Random) -> tuple[str, bool]:
        """A clause, or a name, place, dictionary word or number; whether spaces must stand around it."""
        roll = rng.random()
        if roll < 0.08:
            return f"{rng.choice(TITLES)}{rng.choice(self.given)} {rng.choice(self.family)}", True
        if roll < 0.16:
            place = rng.choice((f"จังหวัด{rng.choice(self.provinces)}", f"ประเทศ{rng.choice(self.countries)}"))
            return place, False
        if roll < 0.24:
            return _number(rng), True
        if roll < 0.30:
            return rng.choice(self.dictionary), False
        return self._clause(rng), False

    def _clause(self, rng: random.Random) -> str:
        """Words run together; never starting with ๆ or ฯ, which only follow a word."""
        clause = "".join(self.words.draw(rng) for _ in range(rng.randint(*CLAUSE_WORDS))).lstrip(FOLLOWERS)
        return clause or self._clause(rng)


def _number(rng: random.Random) -> str:
    year = rng.randint(2480, 2569)
    options = (
        f"พ.ศ. {year}", f"{rng.randint(1, 31)} {rng.choice(FULL_MONTHS)} {year}", f"{rng.randint(2, 90_000):,} บาท",
        f"ร้อยละ {rng.randint(1, 99)}.{rng.randint(0, 9)}", f"{rng.randint(2, 500)} คน",
        str(year).translate(TO_THAI_DIGITS),
        f"{rng.randint(1, 12)}.{rng.randint(0, 99):02d} น.", f"{rng.randint(1, 999)}/{rng.randint(1, 99)}",
    )  # fmt: skip
    return rng.choice(options)
