"""Number lines for synthetic data: phone numbers, dates, amounts, national IDs, times and digit runs.

These are the foundation's digit lines, the ``numbers`` text source of :mod:`thaiocr.synth.textsource`:
each kind has a formatter writing Arabic digits and a relative frequency, and a sample is turned
into Thai digits about half the time, so every text stays within the built-in ``digits`` dict. The
formats live apart from the sources because they are a self-contained set of rules (separators,
check digits, calendars) that depend on nothing but the ``rng`` they are given.
"""

from __future__ import annotations

import calendar
import random
from collections.abc import Callable, Sequence

from thaiocr.charset import ARABIC_DIGITS, THAI_DIGITS
from thaiocr.errors import ThaiOCRError

_TO_THAI_DIGITS = str.maketrans(ARABIC_DIGITS, THAI_DIGITS)


def _digit_run(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(ARABIC_DIGITS) for _ in range(length))


def _grouped(digits: str, sizes: Sequence[int], separator: str) -> str:
    groups, start = [], 0
    for size in sizes:
        groups.append(digits[start : start + size])
        start += size
    return separator.join(groups)


def _single_digit(rng: random.Random) -> str:
    return rng.choice(ARABIC_DIGITS)


GROUPED_DIGITS_PROBABILITY = 0.3


def _plain_digits(rng: random.Random) -> str:
    """A run of 1-17 digits, or (as account and card numbers are written) 2-4 groups split by spaces.

    Spaces between digits are the demo model's commonest miss on unseen fonts, so they are not
    left to phone numbers alone.
    """
    if rng.random() >= GROUPED_DIGITS_PROBABILITY:
        return _digit_run(rng, rng.randint(1, 17))
    sizes = [rng.randint(1, 4) for _ in range(rng.randint(2, 4))]
    return _grouped(_digit_run(rng, sum(sizes)), sizes, " ")


def _phone_number(rng: random.Random) -> str:
    """Mobile 081-234-5678, Bangkok 02 123 4567 or provincial 053-123-456, with - or space or none."""
    style = rng.random()
    if style < 0.6:
        digits, sizes = "0" + rng.choice("689") + _digit_run(rng, 8), (3, 3, 4)
    elif style < 0.8:
        digits, sizes = "02" + _digit_run(rng, 7), (2, 3, 4)
    else:
        digits, sizes = "0" + rng.choice("34567") + _digit_run(rng, 7), (3, 3, 3)
    return _grouped(digits, sizes, rng.choice(("-", " ", "")))


def _date(rng: random.Random) -> str:
    """25/12/2567 (Buddhist era), 31.1.24, or ISO 2024-01-31."""
    year = rng.randint(2480, 2590) if rng.random() < 0.5 else rng.randint(1940, 2040)
    month = rng.randint(1, 12)
    day = rng.randint(1, calendar.monthrange(year, month)[1])
    if rng.random() < 0.2:
        return f"{year:04d}-{month:02d}-{day:02d}"
    padded = rng.random() < 0.6
    day_month = (f"{day:02d}", f"{month:02d}") if padded else (str(day), str(month))
    year_text = str(year) if rng.random() < 0.8 else f"{year % 100:02d}"
    return rng.choice("/-.").join((*day_month, year_text))


def amount_text(rng: random.Random) -> str:
    """1,234.50: log-uniform up to 10^8, usually with thousands separators, often with satang."""
    whole = int(10 ** rng.uniform(0, 8))
    text = f"{whole:,}" if rng.random() < 0.8 else str(whole)
    if rng.random() < 0.6:
        text += f".{rng.randint(0, 99):02d}"
    return text


def thai_id_check_digit(first12: str) -> str:
    """The 13th digit of a Thai national ID: ``(11 - sum(d_i * (13 - i)) mod 11) mod 10``."""
    total = sum(int(d) * (13 - i) for i, d in enumerate(first12))
    return str((11 - total % 11) % 10)


def _national_id(rng: random.Random) -> str:
    """1-2345-67890-12-3 or 1 2345 67890 12 3: 13 digits with a valid check digit, 17 characters."""
    first12 = str(rng.randint(1, 8)) + _digit_run(rng, 11)
    separator = "-" if rng.random() < 0.7 else " "
    return _grouped(first12 + thai_id_check_digit(first12), (1, 4, 5, 2, 1), separator)


def _time_of_day(rng: random.Random) -> str:
    """14:30, 09:05:12, or the Thai habit 14.30."""
    separator = ":" if rng.random() < 0.8 else "."
    parts = [rng.randint(0, 23), rng.randint(0, 59)]
    if rng.random() < 0.3:
        parts.append(rng.randint(0, 59))
    return separator.join(f"{p:02d}" for p in parts)


# kind -> (formatter writing Arabic digits, relative frequency); single digits are the guide's data.
_SAMPLERS: dict[str, tuple[Callable[[random.Random], str], int]] = {
    "single": (_single_digit, 1),
    "digits": (_plain_digits, 4),
    "phone": (_phone_number, 3),
    "date": (_date, 3),
    "amount": (amount_text, 3),
    "national_id": (_national_id, 2),
    "time": (_time_of_day, 2),
}
SAMPLE_KINDS: tuple[str, ...] = tuple(_SAMPLERS)
_KIND_WEIGHTS = [weight for _, weight in _SAMPLERS.values()]
THAI_DIGIT_PROBABILITY = 0.5


def choose_kind(rng: random.Random) -> str:
    return rng.choices(SAMPLE_KINDS, weights=_KIND_WEIGHTS)[0]


def sample_kind_text(kind: str, rng: random.Random) -> str:
    """A number line of one kind, in Thai digits (about half the time) or Arabic digits."""
    if kind not in _SAMPLERS:
        raise ThaiOCRError(f"unknown sample kind {kind!r}; choose one of {list(SAMPLE_KINDS)}")
    text = _SAMPLERS[kind][0](rng)
    return text.translate(_TO_THAI_DIGITS) if rng.random() < THAI_DIGIT_PROBABILITY else text


def sample_number_text(rng: random.Random) -> str:
    """A number line of a random kind; only characters of the built-in ``digits`` dict."""
    return sample_kind_text(choose_kind(rng), rng)
