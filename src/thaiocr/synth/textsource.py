"""Text sources for synthetic lines: named samplers of labels, alone or mixed with weights.

A source is built by name from ``TEXT_SOURCES`` (``words``, ``phrases``, ``abbreviations``,
``prose``, ``receipts``, ``wiki``, ``names``, ``numbers``, ``mixed``, ``corpus``, ``coverage``) into a
``TextSource``, which normalises every text and redraws it until it fits the length limit and the
alphabet. Every sampler draws only from the ``rng`` it is given (and the coverage source also from
the sample's index), so a sample is a pure function of its seed. The ``numbers`` source draws the digit lines of
:mod:`thaiocr.synth.numberlines` (phone numbers, dates, amounts, IDs, times) in Thai or Arabic digits.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from thaiocr.charset import Charset, is_combining, normalize_text
from thaiocr.errors import ThaiOCRError, did_you_mean
from thaiocr.synth.corpora import (
    ENGLISH_WORDS_FILE,
    FOLLOWING_SIGNS,
    LEADING_VOWELS,
    THAI_CONSONANTS,
    clip_text,
    english_words,
    has_orphan_mark,
    lines_in_alphabet,
    pythainlp_lines,
    read_corpus_file,
)
from thaiocr.synth.numberlines import SAMPLE_KINDS, amount_text, sample_kind_text, sample_number_text

# --- sources ------------------------------------------------------------------------------------

DEFAULT_MAX_LENGTH = 40
MAX_TRIES = 1000
WORDS_FILE = "words_th.txt"
WIKI_FILE = "wikipedia_titles_th.txt"
PROSE_FREQUENCIES_FILE = "ttc_freq.txt"  # word counts of the Thai Textbook Corpus
MALE_NAMES_FILE = "person_names_male_th.txt"
FEMALE_NAMES_FILE = "person_names_female_th.txt"
FAMILY_NAMES_FILE = "family_names_th.txt"

Generator = Callable[[random.Random, int], str]
"""A candidate text from the rng and the sample's index; ``TextSource`` normalises and checks it."""


@dataclass(frozen=True)
class SourceContext:
    """What every source factory is given besides its own options."""

    charset: Charset | None
    max_length: int

    def package_corpus(self, filename: str) -> list[str]:
        """The entries of one of pythainlp's corpora that are within the alphabet."""
        return lines_in_alphabet(pythainlp_lines(filename), self.charset, filename)


def _join_within(rng: random.Random, tokens: Sequence[str], max_length: int, space_probability: float) -> str:
    """The tokens joined by a space or nothing, stopping before the text would pass ``max_length``."""
    text = tokens[0]
    for token in tokens[1:]:
        joined = text + (" " if rng.random() < space_probability else "") + token
        if len(joined) > max_length:
            break
        text = joined
    return text


def _words_source(ctx: SourceContext) -> Generator:
    """One word of pythainlp's Thai word list (62,000 entries, abbreviations like ก.ค. included)."""
    words = ctx.package_corpus(WORDS_FILE)
    return lambda rng, _index: rng.choice(words)


def _phrases_source(
    ctx: SourceContext, min_words: int = 2, max_words: int = 6, space_probability: float = 0.3
) -> Generator:
    """Several words, each pair joined by a space with ``space_probability`` (Thai often has none)."""
    if not 1 <= min_words <= max_words:
        raise ThaiOCRError(f"phrases: need 1 <= min_words <= max_words, got {min_words} and {max_words}")
    words = ctx.package_corpus(WORDS_FILE)

    def generate(rng: random.Random, _index: int) -> str:
        tokens = [rng.choice(words) for _ in range(rng.randint(min_words, max_words))]
        return _join_within(rng, tokens, ctx.max_length, space_probability)

    return generate


def is_abbreviation(word: str) -> bool:
    """A Thai consonant followed by a full stop somewhere in it: ก.พ., จ., กทม., ก.ย"""
    return any(first in THAI_CONSONANTS and second == "." for first, second in itertools.pairwise(word))


def _abbreviations_source(ctx: SourceContext, max_words: int = 3, space_probability: float = 0.5) -> Generator:
    """One of the word list's 500 abbreviations, then words attached or after a space: จ.เชียงใหม่, กทม. ถนน.

    Titles and place prefixes are written attached to the next word, so the full stop sits between
    two letters with hardly any room; about 3 lines in 100 of ``phrases`` have one.
    """
    if max_words < 1:
        raise ThaiOCRError(f"abbreviations: max_words must be at least 1, got {max_words}")
    words = ctx.package_corpus(WORDS_FILE)
    abbreviations = [word for word in words if is_abbreviation(word)]

    def generate(rng: random.Random, _index: int) -> str:
        tokens = [rng.choice(abbreviations)] + [rng.choice(words) for _ in range(rng.randint(1, max_words))]
        return _join_within(rng, tokens, ctx.max_length, space_probability)

    return generate


def _prose_source(
    ctx: SourceContext, min_length: int = 12, space_probability: float = 0.12, flatten: float = 0.8
) -> Generator:
    """A run of words drawn as often as Thai text uses them, filling a length between ``min_length``
    and the limit: lines of running text, where ที่ การ และ ของ are everywhere.

    Word counts of the Thai Textbook Corpus, raised to ``flatten`` so rarer words still come up;
    words run together as Thai writes them, with a space between phrases now and then.
    """
    words, counts = _frequent_words(ctx)
    weights = list(itertools.accumulate(count**flatten for count in counts))

    def generate(rng: random.Random, _index: int) -> str:
        length = rng.randint(min(min_length, ctx.max_length), ctx.max_length)
        text = ""
        for word in rng.choices(words, cum_weights=weights, k=2 * length):
            joined = text + (" " if text and rng.random() < space_probability else "") + word
            if len(joined) <= length:
                text = joined
        return text

    return generate


def _frequent_words(ctx: SourceContext) -> tuple[list[str], list[int]]:
    rows = [line.split("\t") for line in pythainlp_lines(PROSE_FREQUENCIES_FILE)]
    counted = {word.strip(): int(count) for word, count in rows if count.strip().isdigit() and word.strip()}
    kept = set(lines_in_alphabet(list(counted), ctx.charset, PROSE_FREQUENCIES_FILE))
    words = [word for word in counted if word in kept and not has_orphan_mark(word)]
    return words, [counted[word] for word in words]


# Rules alone on a line; dots and low strokes only lead to a price (a line of them alone has no height).
_RULE_CHARS = "-=*"
_RECEIPT_WORDS = ("รวม", "ยอดรวม", "รวมทั้งสิ้น", "ส่วนลด", "เงินสด", "เงินทอน", "ภาษีมูลค่าเพิ่ม 7%", "VAT 7%",
                  "TOTAL", "SUBTOTAL", "CASH", "CHANGE", "DISCOUNT", "ราคาสุทธิ", "จำนวน", "บาท", "ชิ้น")
_VAT_FLAGS = ("N", "V", "T", "E", "*")  # a till's mark after a price: VAT charged or exempt
_CARD_NAMES = ("VISA", "MASTERCARD", "JCB", "AMEX", "UNIONPAY", "CARD", "บัตรเครดิต", "บัตรเดบิต")
_CODE_PREFIXES = ("POS#", "TAX ID", "REF:", "เลขที่", "INV", "No.", "Tel.", "โทร.", "สาขา", "RD#", "ID:")


def _receipts_source(ctx: SourceContext) -> Generator:
    """What receipts and forms print: item lines with quantities and prices, totals, rules of ``-``
    ``=`` ``*`` alone or around a word, register codes and dates, masked card numbers, form fields
    left blank with dots, Thai and English mixed.
    """
    thai = ctx.package_corpus(WORDS_FILE)
    english = lines_in_alphabet(english_words(), ctx.charset, ENGLISH_WORDS_FILE)
    makers = (_item_line, _item_line, _item_line, _total_line, _rule_line, _banner_line, _code_line, _card_line,
              _form_line)

    def generate(rng: random.Random, _index: int) -> str:
        return rng.choice(makers)(rng, thai, english)

    return generate


def _item_line(rng: random.Random, thai: Sequence[str], english: Sequence[str]) -> str:
    name = rng.choice(thai) if rng.random() < 0.75 else rng.choice(english).upper()
    if rng.random() < 0.4:
        name += ("" if name[-1] > "\u0e00" else " ") + rng.choice(thai)
    quantity, price = rng.randint(1, 12), amount_text(rng)
    line = rng.choice((
        f"{name} {quantity} x {price}",
        f"{quantity} {name} {price}",
        f"{name} {price}",
        f"{name} @{price}",
        f"{name} @{rng.randint(1, 999)} x{quantity} {price}",
        f"{name} {rng.choice('.-_') * rng.randint(3, 12)} {price}",
        f"{quantity} {name}",
    ))  # fmt: skip
    return f"{line} {rng.choice(_VAT_FLAGS)}" if rng.random() < 0.15 else line


def _total_line(rng: random.Random, _thai: Sequence[str], _english: Sequence[str]) -> str:
    return f"{rng.choice(_RECEIPT_WORDS)} {amount_text(rng)}"


def _rule_line(rng: random.Random, _thai: Sequence[str], _english: Sequence[str]) -> str:
    char = rng.choice(_RULE_CHARS)
    rule = (char + " ") * rng.randint(4, 16) if rng.random() < 0.2 else char * rng.randint(6, 36)
    return rule.strip()


def _banner_line(rng: random.Random, thai: Sequence[str], english: Sequence[str]) -> str:
    """A word between two rules, as a receipt marks a copy, a void or its thanks."""
    word = rng.choice(thai) if rng.random() < 0.7 else rng.choice(english).upper()
    rule = rng.choice(_RULE_CHARS) * rng.randint(3, 14)
    return f"{rule} {word} {rule}" if rng.random() < 0.8 else f"{rule}{word}{rule}"


def _card_line(rng: random.Random, _thai: Sequence[str], _english: Sequence[str]) -> str:
    """A card payment: the scheme, the number masked but for its last four digits, the amount."""
    mask = rng.choice(("xxxx", "XXXX", "****", "xxxx-xxxx-xxxx-", "XXXX XXXX XXXX ", "************"))
    return f"{rng.choice(_CARD_NAMES)} {mask}{rng.randint(0, 9999):04d} {amount_text(rng)}"


def _form_line(rng: random.Random, thai: Sequence[str], _english: Sequence[str]) -> str:
    """A form's field left blank: a label, maybe hyphenated, then a run of dots, maybe a second label."""
    label = rng.choice(thai) if rng.random() < 0.6 else f"{rng.choice(thai)}-{rng.choice(thai)}"
    dots = "." * rng.randint(4, 20)
    if rng.random() < 0.3:
        return f"{label}{dots}{rng.choice(thai)}"
    return f"{label} {dots}" if rng.random() < 0.7 else f"{label}{dots}"


def _code_line(rng: random.Random, _thai: Sequence[str], english: Sequence[str]) -> str:
    letters = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(rng.randint(1, 3)))
    digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(3, 13)))
    code = rng.choice((f"{letters}{digits}", f"{letters[0]} {digits}", f"{digits[:2]}{letters}{digits[2:]}"))
    if rng.random() < 0.3:
        return f"{rng.choice(_CODE_PREFIXES)} {code} {sample_kind_text('date', rng)} {sample_kind_text('time', rng)}"
    return f"{rng.choice(_CODE_PREFIXES)}{rng.choice(('', ' '))}{code}"


def _clipped_lines_source(ctx: SourceContext, lines: Sequence[str]) -> Generator:
    return lambda rng, _index: clip_text(normalize_text(rng.choice(lines)), ctx.max_length)


def _wiki_source(ctx: SourceContext) -> Generator:
    """A Thai Wikipedia title (290,000 of them: names, places, terms), cut to the length limit."""
    return _clipped_lines_source(ctx, ctx.package_corpus(WIKI_FILE))


def _corpus_source(ctx: SourceContext, path: str) -> Generator:
    """A line of the user's UTF-8 text file, cut to the length limit."""
    return _clipped_lines_source(ctx, lines_in_alphabet(read_corpus_file(path), ctx.charset, str(path)))


_MALE_TITLES = ("นาย", "ด.ช.", "ดร.", "คุณ")
_FEMALE_TITLES = ("นาง", "นางสาว", "ด.ญ.", "ดร.", "คุณ")


def _names_source(ctx: SourceContext, title_probability: float = 0.5) -> Generator:
    """A given name and a family name, as on forms: นายสมชาย ใจดี (the title is written attached)."""
    male = ctx.package_corpus(MALE_NAMES_FILE)
    female = ctx.package_corpus(FEMALE_NAMES_FILE)
    family = ctx.package_corpus(FAMILY_NAMES_FILE)

    def generate(rng: random.Random, _index: int) -> str:
        names, titles = (male, _MALE_TITLES) if rng.random() < 0.5 else (female, _FEMALE_TITLES)
        title = rng.choice(titles) if rng.random() < title_probability else ""
        return f"{title}{rng.choice(names)} {rng.choice(family)}"

    return generate


def _numbers_source(ctx: SourceContext, kinds: Sequence[str] | None = None) -> Generator:
    """The number lines of ``numberlines``: every kind with its usual frequency, or the given kinds uniformly."""
    if kinds is None:
        return lambda rng, _index: sample_number_text(rng)
    chosen = [kinds] if isinstance(kinds, str) else list(kinds)
    for kind in chosen:
        if kind not in SAMPLE_KINDS:
            raise ThaiOCRError(f"numbers: unknown kind {kind!r}{did_you_mean(kind, SAMPLE_KINDS)}")
    if not chosen:
        raise ThaiOCRError(f"numbers: kinds is empty; choose from {list(SAMPLE_KINDS)}")
    return lambda rng, _index: sample_kind_text(rng.choice(chosen), rng)


# Punctuation around a token of mixed text: (before, after).
_WRAPPINGS = (
    ("(", ")"), ("[", "]"), ("{", "}"), ("<", ">"), ('"', '"'), ("'", "'"),
    ("", ","), ("", "."), ("", ":"), ("", ";"), ("", "!"), ("", "?"), ("", "..."),
    ("#", ""), ("@", ""), ("*", ""), ("-", ""), ("", "/"), ("", "&"), ("~", ""), ("$", ""), ("_", ""),
)  # fmt: skip
_DOMAINS = ("com", "co.th", "or.th", "ac.th", "go.th", "org", "net", "in.th")


def _mixed_source(ctx: SourceContext, min_tokens: int = 2, max_tokens: int = 5) -> Generator:
    """Thai words, English words, amounts and web handles with ASCII punctuation: (graph) ราคา 1,250.00"""
    if not 1 <= min_tokens <= max_tokens:
        raise ThaiOCRError(f"mixed: need 1 <= min_tokens <= max_tokens, got {min_tokens} and {max_tokens}")
    thai = ctx.package_corpus(WORDS_FILE)
    english = lines_in_alphabet(english_words(), ctx.charset, ENGLISH_WORDS_FILE)

    def generate(rng: random.Random, _index: int) -> str:
        tokens = [_mixed_token(rng, thai, english) for _ in range(rng.randint(min_tokens, max_tokens))]
        return _join_within(rng, tokens, ctx.max_length, space_probability=0.8)

    return generate


def _mixed_token(rng: random.Random, thai: Sequence[str], english: Sequence[str]) -> str:
    roll = rng.random()
    if roll < 0.1:
        return _web_token(rng, thai, english)
    if roll < 0.45:
        token = rng.choice(thai)
    elif roll < 0.8:
        token = rng.choice((str.lower, str.lower, str.capitalize, str.upper))(rng.choice(english))
    else:
        token = amount_text(rng) + ("%" if rng.random() < 0.3 else "")
    if rng.random() < 0.35:
        before, after = rng.choice(_WRAPPINGS)
        token = before + token + after
    return token


def _web_token(rng: random.Random, thai: Sequence[str], english: Sequence[str]) -> str:
    """An e-mail address, a web address, a handle or a Thai hashtag."""
    user, site = (rng.choice(english).replace(" ", "").lower() for _ in range(2))
    domain, hashtag = rng.choice(_DOMAINS), rng.choice(thai)
    return rng.choice((f"{user}@{site}.{domain}", f"www.{site}.{domain}", f"@{user}", f"#{hashtag}"))


# --- coverage -----------------------------------------------------------------------------------

COVERAGE_PER_SAMPLE = 10


def _coverage_source(ctx: SourceContext, per_sample: int = COVERAGE_PER_SAMPLE) -> Generator:
    """Every character of the alphabet in turn, ``per_sample`` of them in each sample.

    Sample ``i`` holds the characters at positions ``i * width ... i * width + width - 1`` of a
    schedule that lists the whole alphabet once per round, in an order fixed by the round number
    alone; so over ``coverage_samples_needed`` consecutive indices every character appears at least
    the asked number of times, whatever the seed and whichever worker draws which index. The rng only
    shuffles the characters and picks the consonants that carry marks and vowels. In a mix the part
    sees only the indices the mix gives it, so there the counts hold on average, not at least.
    """
    if ctx.charset is None:
        raise ThaiOCRError("coverage: needs a charset (the dict whose characters it covers)")
    chars = ctx.charset.chars
    width = _coverage_width(per_sample, ctx.max_length)
    bases = [ch for ch in chars if ch in THAI_CONSONANTS - {"ฤ", "ฦ"}]
    needy = [ch for ch in chars if _needs_base(ch)]
    if needy and not bases:
        raise ThaiOCRError(f"coverage: the dict has {needy[0]!r} but no Thai consonant to write it on")
    fillers = [ch for ch in chars if ch != " "]
    if not fillers:
        raise ThaiOCRError("coverage: the dict has nothing but a space")

    def generate(rng: random.Random, index: int) -> str:
        targets = [_scheduled_char(chars, index * width + j) for j in range(width)]
        return _coverage_text(rng, targets, bases, fillers)

    return generate


def _coverage_width(per_sample: int, max_length: int) -> int:
    """Characters per sample: each takes at most 2 code points, plus spaces and one filler (3k + 2)."""
    if per_sample < 1:
        raise ThaiOCRError(f"coverage: per_sample must be at least 1, got {per_sample}")
    width = min(per_sample, (max_length - 2) // 3)
    if width < 1:
        raise ThaiOCRError(f"coverage: needs max_length >= 5, got {max_length}")
    return width


def coverage_samples_needed(
    charset: Charset, min_count: int, max_length: int = DEFAULT_MAX_LENGTH, per_sample: int = COVERAGE_PER_SAMPLE
) -> int:
    """How many consecutive indices of the ``coverage`` source show every character ``min_count`` times."""
    return math.ceil(min_count * len(charset) / _coverage_width(per_sample, max_length))


def _scheduled_char(chars: tuple[str, ...], position: int) -> str:
    round_number, offset = divmod(position, len(chars))
    return _round_order(chars, round_number)[offset]


@functools.lru_cache(maxsize=64)
def _round_order(chars: tuple[str, ...], round_number: int) -> tuple[str, ...]:
    order = list(chars)
    random.Random(round_number).shuffle(order)
    return tuple(order)


def _needs_base(ch: str) -> bool:
    return is_combining(ch) or ch in FOLLOWING_SIGNS or ch in LEADING_VOWELS


def _with_base(rng: random.Random, ch: str, bases: Sequence[str]) -> str:
    """``ch`` written as Thai writes it: a mark or following vowel after a consonant, เ แ โ ใ ไ before one."""
    if is_combining(ch) or ch in FOLLOWING_SIGNS:
        return rng.choice(bases) + ch
    if ch in LEADING_VOWELS:
        return ch + rng.choice(bases)
    return ch


def _coverage_text(rng: random.Random, targets: Sequence[str], bases: Sequence[str], fillers: Sequence[str]) -> str:
    """The targets in random order; a space target goes between two units, never at either end."""
    units = [_with_base(rng, ch, bases) for ch in targets if ch != " "]
    spaces = len(targets) - len(units)
    while len(units) < spaces + 1:
        units.append(_with_base(rng, rng.choice(fillers), bases))
    rng.shuffle(units)
    gaps = set(rng.sample(range(1, len(units)), spaces))
    return "".join((" " if i in gaps else "") + unit for i, unit in enumerate(units))


# --- the registry and the sampler ---------------------------------------------------------------

TEXT_SOURCES: dict[str, Callable[..., Generator]] = {
    "words": _words_source,
    "phrases": _phrases_source,
    "abbreviations": _abbreviations_source,
    "prose": _prose_source,
    "receipts": _receipts_source,
    "wiki": _wiki_source,
    "names": _names_source,
    "numbers": _numbers_source,
    "mixed": _mixed_source,
    "corpus": _corpus_source,
    "coverage": _coverage_source,
}

SourceSpec = str | Mapping[str, Any]
"""``"words"``, ``"words:2,numbers:1"``, or a mapping label -> weight, or label -> options with an
optional ``weight`` and ``source`` (the source's name when it differs from the label):
``{"words": 2, "legal": {"source": "corpus", "path": "laws.txt", "weight": 1}}``."""


@dataclass(frozen=True)
class _Part:
    label: str
    source: str
    weight: float
    options: dict[str, Any]


class TextSource:
    """Labels from one text source or a weighted mix of several.

    ``draw`` picks a part by weight with ``rng``, then draws from it until the text, after
    ``normalize_text``, is non-empty, at most ``max_length`` code points, without spaces at either
    end or combining marks without a base consonant, and made only of the charset's characters (when
    a charset is given); a part that cannot do so in ``MAX_TRIES`` draws is an error, never a silent
    swap to another part.
    It pickles as its spec, so a worker process rebuilds it and reads each corpus once.
    """

    def __init__(self, spec: SourceSpec, charset: Charset | None = None, max_length: int = DEFAULT_MAX_LENGTH):
        if max_length < 1:
            raise ThaiOCRError(f"max_length must be at least 1, got {max_length}")
        self.spec, self.charset, self.max_length = spec, charset, max_length
        parts = _parse_spec(spec)
        context = SourceContext(charset, max_length)
        self.labels = tuple(part.label for part in parts)
        self._weights = [part.weight for part in parts]
        self._generators = [_build_generator(part, context) for part in parts]

    def __reduce__(self) -> tuple[type, tuple[SourceSpec, Charset | None, int]]:
        return (TextSource, (self.spec, self.charset, self.max_length))

    def draw(self, rng: random.Random, index: int = 0) -> tuple[str, str]:
        """``(label of the part used, text)``; ``index`` matters only to the coverage source."""
        part = 0 if len(self._generators) == 1 else rng.choices(range(len(self._generators)), self._weights)[0]
        label, generate = self.labels[part], self._generators[part]
        for _ in range(MAX_TRIES):
            text = normalize_text(generate(rng, index))
            problem = self._problem(text)
            if problem is None:
                return label, text
        raise ThaiOCRError(f"text source {label!r} made no usable label in {MAX_TRIES} draws; last {text!r}: {problem}")

    def sample(self, rng: random.Random, index: int = 0) -> str:
        return self.draw(rng, index)[1]

    def _problem(self, text: str) -> str | None:
        if not text:
            return "empty"
        if len(text) > self.max_length:
            return f"{len(text)} code points, over the limit of {self.max_length}"
        if text != text.strip():
            return "a space at either end (invisible in the image)"
        if has_orphan_mark(text):
            return "a combining mark without a base consonant"
        missing = self.charset.unknown_chars(text) if self.charset is not None else []
        if missing:
            return f"characters not in the alphabet: {' '.join(map(repr, missing))}"
        return None


def _parse_spec(spec: SourceSpec) -> list[_Part]:
    entries = _parse_spec_string(spec) if isinstance(spec, str) else spec
    if not isinstance(entries, Mapping) or not entries:
        raise ThaiOCRError(f"a text source is a name or a mapping of names to weights or options, got {spec!r}")
    return [_parse_entry(str(label), value) for label, value in entries.items()]


def _parse_spec_string(text: str) -> dict[str, Any]:
    """``"words"`` or ``"words:2,numbers:1"`` (the form the command line takes)."""
    entries: dict[str, Any] = {}
    for item in text.split(","):
        label, _, weight = item.partition(":")
        entries[label.strip()] = weight.strip() or 1
    return entries


def _parse_entry(label: str, value: Any) -> _Part:
    options = dict(value) if isinstance(value, Mapping) else {} if value is None else {"weight": value}
    weight = options.pop("weight", 1)
    try:
        number = float(weight)
    except (TypeError, ValueError):
        number = math.nan
    if not 0 < number < math.inf:
        raise ThaiOCRError(f"text source {label!r}: weight must be a positive number, got {weight!r}")
    return _Part(label, str(options.pop("source", label)), number, options)


def check_spec(spec: SourceSpec) -> None:
    """Refuse a spec naming an unknown source, option or weight, without reading any corpus."""
    for part in _parse_spec(spec):
        _checked_factory(part)


def _build_generator(part: _Part, context: SourceContext) -> Generator:
    return _checked_factory(part)(context, **part.options)


def _checked_factory(part: _Part) -> Callable[..., Generator]:
    factory = TEXT_SOURCES.get(part.source)
    if factory is None:
        raise ThaiOCRError(f"unknown text source {part.source!r}{did_you_mean(part.source, TEXT_SOURCES)}")
    params = list(inspect.signature(factory).parameters.values())[1:]
    names = [p.name for p in params]
    for key in part.options:
        if key not in names:
            raise ThaiOCRError(f"text source {part.label!r} has no option {key!r}{did_you_mean(key, names)}")
    missing = [p.name for p in params if p.default is p.empty and p.name not in part.options]
    if missing:
        raise ThaiOCRError(f"text source {part.label!r} ({part.source}) needs the option {missing[0]!r}")
    return factory
