"""A character n-gram language model: how likely each next character is after the last few.

The CTC beam search (:mod:`thaiocr.ctcbeam`) weighs the recogniser's reading with it, so that of two
letters the network cannot tell apart (ด and ค, ธ and ช) the one Thai spelling allows wins: "ได้"
over "ไค้". Counted from the lines a recipe trains on (``thaiocr lm``), never from benchmark text.

Probabilities are interpolated Witten-Bell estimates: after a context ``h`` that was followed by
``T`` different characters in ``C`` counted cases, ``P(c|h) = (C(hc) + T * P(c|h')) / (C + T)``,
where ``h'`` is ``h`` without its first character, down to a uniform guess over the alphabet. They
are computed once from the full counts and stored; grams seen fewer than ``min_count`` times are
then left out of the file, and looked up as ``gamma(h) * P(c|h')`` with ``gamma = T / (C + T)``.

File (gzip, UTF-8): a JSON header line (with the counts of the rows below), then one row per kept
gram, its log probability after a tab, then one row per context, its log ``gamma`` after a tab.
Lines start with ``order - 1`` copies of ``START`` and end with ``END``.
"""

from __future__ import annotations

import gzip
import json
import math
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from thaiocr.charset import Charset
from thaiocr.errors import ThaiOCRError
from thaiocr.fileio import atomic_write

START, END = "\x02", "\x03"  # outside every alphabet: dict entries are printable
FORMAT = "thaiocr-charlm"
VERSION = 1


class CharLM:
    """Log probabilities of the next character; ``logp(history, ch)`` with ``ch`` a character of the
    alphabet or ``END``."""

    def __init__(self, order: int, logprobs: dict[str, float], gammas: dict[str, float], vocab_size: int,
                 header: dict) -> None:
        self.order = order
        self.header = header
        self._logprobs = logprobs
        self._gammas = gammas
        self._floor = -math.log(vocab_size)
        self._rows: dict[str, _Following] = {}

    @property
    def alphabet_sha256(self) -> str:
        return self.header["alphabet_sha256"]

    def start(self) -> str:
        """The history of a line's first character."""
        return START * (self.order - 1)

    def logp(self, history: str, ch: str) -> float:
        """Natural log of ``P(ch | the last order-1 characters of history)``."""
        return self.following(history[len(history) - self.order + 1 :] if self.order > 1 else "")[ch]

    def following(self, context: str) -> dict[str, float]:
        """The log probability of each next character after ``context`` (at most ``order - 1``
        characters), looked up as it is first asked for: a beam search asks the same few many times."""
        row = self._rows.get(context)
        if row is None:
            row = self._rows[context] = _Following(self, context)
        return row

    def _lookup(self, context: str, ch: str) -> float:
        penalty = 0.0
        for cut in range(len(context) + 1):
            gram = context[cut:] + ch
            found = self._logprobs.get(gram)
            if found is not None:
                return penalty + found
            penalty += self._gammas.get(context[cut:], 0.0)
        return penalty + self._floor

    # --- files ---------------------------------------------------------------------------------

    def save(self, path: Path) -> Path:
        """Write the model atomically (gzip, rows sorted: neighbours share prefixes); returns ``path``."""
        header = {**self.header, "grams": len(self._logprobs), "contexts": len(self._gammas)}
        rows = [json.dumps(header, ensure_ascii=False)]
        rows += [f"{gram}\t{self._logprobs[gram]:.3f}" for gram in sorted(self._logprobs)]
        rows += [f"{context}\t{self._gammas[context]:.3f}" for context in sorted(self._gammas)]
        data = gzip.compress(("\n".join(rows) + "\n").encode("utf-8"), compresslevel=9, mtime=0)
        return atomic_write(Path(path), lambda f: f.write(data))

    @classmethod
    def load(cls, path: str | Path, charset: Charset | None = None) -> CharLM:
        """Read a file ``save`` wrote; with ``charset``, refuse a model counted for another alphabet."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ThaiOCRError(f"{path}: cannot read language model ({exc.strerror})") from None
        try:
            text = gzip.decompress(data).decode("utf-8")
        except (OSError, EOFError, UnicodeDecodeError) as exc:
            raise ThaiOCRError(f"{path}: not a language model file ({exc})") from None
        first, _, body = text.partition("\n")
        header = _read_header(path, first)
        rows = body.split("\n")
        grams = _read_rows(path, rows[: header["grams"]], first_line=2)
        gammas = _read_rows(path, rows[header["grams"] : header["grams"] + header["contexts"]],
                            first_line=2 + header["grams"])
        if charset is not None and header["alphabet_sha256"] != charset.sha256:
            raise ThaiOCRError(f"{path}: language model was counted for another alphabet "
                               f"({header['alphabet_sha256']}, the model's is {charset.sha256})")
        return cls(header["order"], grams, gammas, header["vocab_size"], header)


HEADER_KEYS = ("order", "vocab_size", "alphabet_sha256", "grams", "contexts")


def _read_header(path: Path, line: str) -> dict:
    try:
        header = json.loads(line)
    except json.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ThaiOCRError(f"{path}:1: not a thaiocr language model (no {FORMAT} header)")
    if header.get("version") != VERSION:
        raise ThaiOCRError(f"{path}:1: language model format version {header.get('version')}, "
                           f"this thaiocr reads version {VERSION}")
    missing = [key for key in HEADER_KEYS if key not in header]
    if missing:
        raise ThaiOCRError(f"{path}:1: language model header lacks {', '.join(missing)}")
    return header


def _read_rows(path: Path, rows: list[str], first_line: int) -> dict[str, float]:
    """``key<TAB>number`` rows; split all at once (a million rows load in a fraction of a second)."""
    fields = "\t".join(rows).split("\t")
    try:
        if len(fields) != 2 * len(rows):
            raise ValueError
        return dict(zip(fields[0::2], map(float, fields[1::2]), strict=True))
    except ValueError:
        for number, row in enumerate(rows, start=first_line):
            key, tab, value = row.partition("\t")
            if not tab or "\t" in value or not _is_number(value):
                raise ThaiOCRError(f"{path}:{number}: malformed language model row {row[:40]!r}") from None
        raise ThaiOCRError(f"{path}: language model ends early") from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --- counting ------------------------------------------------------------------------------------


def count_grams(lines: Iterable[str], order: int) -> Counter[str]:
    """Every gram of 1 to ``order`` characters in the lines, each padded with START and END."""
    counts: Counter[str] = Counter()
    for line in lines:
        padded = START * (order - 1) + line + END
        for n in range(1, order + 1):
            # grams that hold only padding past what a shorter history needs are skipped
            first = order - n if n > 1 else order - 1
            counts.update(padded[i : i + n] for i in range(max(first, 0), len(padded) - n + 1))
    return counts


def build_lm(lines: Iterable[str], charset: Charset, order: int = 6, min_count: int = 3,
             about: dict | None = None) -> CharLM:
    """Count ``lines`` (texts in ``charset``) and estimate the model; grams of three or more
    characters seen fewer than ``min_count`` times are left out."""
    if order < 1:
        raise ThaiOCRError(f"language model order must be at least 1, got {order}")
    if min_count < 1:
        raise ThaiOCRError(f"min_count must be at least 1, got {min_count}")
    counts = count_grams(lines, order)
    if not counts:
        raise ThaiOCRError("no text to count a language model from")
    totals, types = _context_totals(counts)
    vocab_size = len(charset) + 1  # the alphabet and END
    logprobs, gammas = _estimate(counts, totals, types, vocab_size)
    kept = {gram: lp for gram, lp in logprobs.items() if len(gram) <= 2 or counts[gram] >= min_count}
    gammas = {context: g for context, g in gammas.items() if context in kept or not context.strip(START)}
    header = {"format": FORMAT, "version": VERSION, "order": order, "min_count": min_count,
              "vocab_size": vocab_size, "alphabet_sha256": charset.sha256, "grams": len(kept),
              "contexts": len(gammas), **(about or {})}
    return CharLM(order, kept, gammas, vocab_size, header)


def _context_totals(counts: Counter[str]) -> tuple[Counter[str], Counter[str]]:
    """Per context: how many grams continue it (C) and with how many different characters (T)."""
    totals: Counter[str] = Counter()
    types: Counter[str] = Counter()
    for gram, count in counts.items():
        totals[gram[:-1]] += count
        types[gram[:-1]] += 1
    return totals, types


def _estimate(counts: Counter[str], totals: Counter[str], types: Counter[str],
              vocab_size: int) -> tuple[dict[str, float], dict[str, float]]:
    probs: dict[str, float] = {}
    for gram in sorted(counts, key=len):  # shorter grams first: each needs its suffix's estimate
        context = gram[:-1]
        lower = probs[gram[1:]] if len(gram) > 1 else 1.0 / vocab_size
        total, kinds = totals[context], types[context]
        probs[gram] = (counts[gram] + kinds * lower) / (total + kinds)
    gammas = {context: math.log(types[context] / (totals[context] + types[context])) for context in totals}
    return {gram: math.log(p) for gram, p in probs.items()}, gammas


class _Following(dict):
    """One context's row of :meth:`CharLM.following`: a missing character is looked up and kept."""

    def __init__(self, lm: CharLM, context: str) -> None:
        super().__init__()
        self._lm, self._context = lm, context

    def __missing__(self, ch: str) -> float:
        value = self[ch] = self._lm._lookup(self._context, ch)
        return value
