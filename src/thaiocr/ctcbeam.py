"""CTC prefix beam search weighed by a character language model (shallow fusion).

Greedy decoding keeps the likeliest class at every time step. Where the network is torn between two
letters that differ by a loop or a head (ด/ค, ธ/ช, ย/ข), the beam keeps both readings and lets
:class:`thaiocr.charlm.CharLM` judge which one Thai spelling allows. A prefix's score is its CTC
log probability (summed over the alignments that give it) plus ``alpha`` times its language-model
log probability plus ``beta`` per character.

Settings (alpha 0.4, beta 0, eight prefixes) chosen on tuning lines no benchmark and no training
source uses (bench/lm_tuning.py: phrases of the Volubilis dictionary's words in the held-out font
families); alpha 0.4 to 0.6 read them within two points of each other (the model card has the
figures). An insertion bonus (beta > 0) read them a little better but filled the wide gaps of
receipt lines with letters the network half-sees there, so it stays 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from thaiocr.charlm import END, CharLM

NEG_INF = -math.inf


@dataclass(frozen=True)
class BeamSettings:
    alpha: float = 0.4  # weight of the language model's log probability
    beta: float = 0.0  # bonus per character, against the model's preference for short readings
    width: int = 8  # prefixes kept after each time step
    prune: float = 1e-3  # classes below this probability at a step are not tried there
    margin: float = 8.0  # prefixes scored this far (natural log) below the best are dropped


def _logsumexp(a: float, b: float) -> float:
    if a < b:
        a, b = b, a
    if b == NEG_INF:
        return a
    return a + math.log1p(math.exp(b - a))


class _Beam:
    """Prefixes and their CTC log probabilities, ending in a blank and ending in a character."""

    def __init__(self) -> None:
        self.blank: dict[str, float] = {}
        self.char: dict[str, float] = {}
        self.lm: dict[str, float] = {}

    def add(self, prefix: str, blank: float, char: float, lm: float) -> None:
        if prefix in self.lm:
            self.blank[prefix] = _logsumexp(self.blank[prefix], blank)
            self.char[prefix] = _logsumexp(self.char[prefix], char)
        else:
            self.blank[prefix], self.char[prefix], self.lm[prefix] = blank, char, lm

    def total(self, prefix: str) -> float:
        return _logsumexp(self.blank[prefix], self.char[prefix])

    def best(self, width: int, margin: float = math.inf) -> list[str]:
        scores = {prefix: self.total(prefix) + lm for prefix, lm in self.lm.items()}
        kept = sorted(scores, key=scores.__getitem__, reverse=True)[:width]
        floor = scores[kept[0]] - margin
        return [prefix for prefix in kept if scores[prefix] >= floor]


def beam_decode(probs: np.ndarray, chars: tuple[str, ...], lm: CharLM, settings: BeamSettings = BeamSettings(),
                history: str = "", last_piece: bool = True) -> str:
    """The best reading of one line's ``[T, C]`` probabilities (class 0 the blank, class i
    ``chars[i - 1]``). ``history`` is the text read before it on the same line (a cut line's earlier
    pieces); ``last_piece`` adds the probability that the line ends there.

    A run of spaces is one space, and no space starts the reading, as greedy decoding tidies them.
    """
    logs = np.log(np.maximum(probs, 1e-30)).tolist()
    context = lm.start() + history
    beam = _Beam()
    beam.add("", 0.0, NEG_INF, 0.0)
    for t, classes in _steps_to_try(probs, settings.prune):
        step = _Beam()
        for prefix in beam.best(settings.width, settings.margin):
            _extend(step, beam, prefix, classes, logs[t], chars, lm, context, settings)
        beam = step
    kept = beam.best(settings.width)

    def final(prefix: str) -> float:
        ending = settings.alpha * lm.logp(context + prefix, END) if last_piece and prefix else 0.0
        return beam.total(prefix) + beam.lm[prefix] + ending

    return max(kept, key=final).rstrip(" ")


def _steps_to_try(probs: np.ndarray, prune: float) -> list[tuple[int, list[int]]]:
    """``(step, classes to try)``, without the steps of a blank run after its first: there every
    prefix only adds the same blank probability, which changes no ranking."""
    tried = probs > prune
    blank_only = tried[:, 0] & (tried.sum(axis=1) == 1)
    repeats = blank_only & np.concatenate([[False], blank_only[:-1]])
    steps, classes = np.nonzero(tried & ~repeats[:, None])
    grouped: dict[int, list[int]] = {}
    for step, k in zip(steps.tolist(), classes.tolist(), strict=True):
        grouped.setdefault(step, []).append(k)
    return list(grouped.items())


def _extend(step: _Beam, beam: _Beam, prefix: str, classes: list[int], logs: list[float],
            chars: tuple[str, ...], lm: CharLM, context: str, settings: BeamSettings) -> None:
    blank, char, lm_score = beam.blank[prefix], beam.char[prefix], beam.lm[prefix]
    total = _logsumexp(blank, char)
    last = prefix[-1] if prefix else None
    for k in classes:
        log_p = logs[k]
        if k == 0:
            step.add(prefix, total + log_p, NEG_INF, lm_score)
            continue
        ch = chars[k - 1]
        if ch == " " and last in (" ", None):  # another space, or one before any text: no new character
            step.add(prefix, NEG_INF, total + log_p, lm_score)
            continue
        if ch == last:
            step.add(prefix, NEG_INF, char + log_p, lm_score)  # the same character held over steps
            if blank == NEG_INF:
                continue
            reach = blank + log_p  # a blank between: the character again
        else:
            reach = total + log_p
        extended = prefix + ch
        step.add(extended, NEG_INF, reach, lm_score + settings.alpha * lm.logp(context + prefix, ch) + settings.beta)
