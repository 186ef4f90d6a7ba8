"""CTC prefix beam search weighed by a character language model (shallow fusion).

Greedy decoding keeps the likeliest class at every time step. Where the network is torn between two
letters that differ by a loop or a head (ด/ค, ธ/ช, ย/ข), the beam keeps both readings and lets
:class:`thaiocr.charlm.CharLM` judge which one Thai spelling allows. A prefix's score is its CTC
log probability (summed over the alignments that give it) plus ``alpha`` times its language-model
log probability plus ``beta`` per character and ``mark_bonus`` per Thai mark written above or below
its letter.

Settings (alpha 0.4, beta 0, eight prefixes) chosen on tuning lines no benchmark and no training
source uses (bench/lm_tuning.py: phrases of the Volubilis dictionary's words in the held-out font
families); alpha 0.4 to 0.6 read them within two points of each other (the model card has the
figures). An insertion bonus (beta > 0) read them a little better but filled the wide gaps of
receipt lines with letters the network half-sees there, so it stays 0. A bonus for the stacked
marks alone (tone marks, upper and lower vowels; 1.5) keeps the small marks that the language model's
cost of one more character used to drop (ก่ำ read as กำ), and adds no letter to a gap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from thaiocr.charlm import END, CharLM
from thaiocr.charset import COMBINING

NEG_INF = -math.inf


@dataclass(frozen=True)
class BeamSettings:
    alpha: float = 0.4  # weight of the language model's log probability
    beta: float = 0.0  # bonus per character, against the model's preference for short readings
    mark_bonus: float = 1.5  # bonus per stacked Thai mark (tone mark, upper or lower vowel)
    width: int = 8  # prefixes kept after each time step
    prune: float = 1e-3  # classes below this probability at a step are not tried there
    margin: float = 8.0  # prefixes scored this far (natural log) below the best are dropped


def _logsumexp(a: float, b: float) -> float:
    if a < b:
        a, b = b, a
    if b == NEG_INF:
        return a
    return a + math.log1p(math.exp(b - a))


# A prefix's entry: [CTC log probability ending in a blank, ending in its last character, weighted
# language-model score, the last ``order - 1`` characters the language model reads it by]. Plain lists:
# the search makes a few hundred thousand of them per thousand lines.
Entry = list
Scored = tuple[str, Entry, float]  # prefix, entry, CTC log probability


def beam_decode(probs: np.ndarray, chars: tuple[str, ...], lm: CharLM, settings: BeamSettings = BeamSettings(),
                history: str = "", last_piece: bool = True) -> str:
    """The best reading of one line's ``[T, C]`` probabilities (class 0 the blank, class i
    ``chars[i - 1]``). ``history`` is the text read before it on the same line (a cut line's earlier
    pieces); ``last_piece`` adds the probability that the line ends there.

    A run of spaces is one space, and no space starts the reading, as greedy decoding tidies them.
    """
    beam: dict[str, Entry] = {"": [0.0, NEG_INF, 0.0, _tail(lm, lm.start() + history)]}
    for step in _steps_to_try(probs, settings.prune, chars):
        beam = _advance(beam, step, lm, settings)

    def final(item: Scored) -> float:
        prefix, entry, ctc = item
        ending = settings.alpha * lm.logp(entry[3], END) if last_piece and prefix else 0.0
        return ctc + entry[2] + ending

    return max(_best(beam, settings.width), key=final)[0].rstrip(" ")


def _advance(beam: dict[str, Entry], step: list[tuple[str | None, float]], lm: CharLM,
             settings: BeamSettings) -> dict[str, Entry]:
    """The beam after one time step; ``step`` holds the characters tried there (``None``: the blank)
    and their log probabilities.

    A new character is not looked up in the language model where even a free one would leave its
    prefix ``margin`` below what the best prefix reaches by a blank: the next step drops it anyway.
    """
    kept = _best(beam, settings.width, settings.margin)
    blank_log = step[0][1] if step[0][0] is None else NEG_INF
    if len(step) == 1 and blank_log > NEG_INF:  # only the blank: every prefix now ends in one
        return {prefix: [ctc + blank_log, NEG_INF, entry[2], entry[3]] for prefix, entry, ctc in kept}
    alpha, beta, mark_bonus, keep = settings.alpha, settings.beta, settings.mark_bonus, lm.order - 1
    floor = kept[0][2] + kept[0][1][2] + blank_log - settings.margin
    following: dict[str, Entry] = {}
    for prefix, (blank, char, lm_score, tail), ctc in kept:
        last = prefix[-1] if prefix else None
        next_logp = None
        for ch, log_p in step:
            if ch is None:
                _add(following, prefix, ctc + log_p, NEG_INF, lm_score, tail)
                continue
            if ch == " " and last in (" ", None):  # another space, or one before any text: no new character
                _add(following, prefix, NEG_INF, ctc + log_p, lm_score, tail)
                continue
            if ch == last:
                _add(following, prefix, NEG_INF, char + log_p, lm_score, tail)  # the same character held
                reach = blank + log_p  # a blank between: the character again
            else:
                reach = ctc + log_p
            if reach > NEG_INF and reach + lm_score >= floor:
                if next_logp is None:
                    next_logp = lm.following(tail)
                bonus = beta + mark_bonus if ch in COMBINING else beta
                _add(following, prefix + ch, NEG_INF, reach, lm_score + alpha * next_logp[ch] + bonus,
                     (tail + ch)[len(tail) + 1 - keep :] if keep else "")
    return following


def _tail(lm: CharLM, text: str) -> str:
    return text[len(text) - lm.order + 1 :] if lm.order > 1 else ""


def _add(beam: dict[str, Entry], prefix: str, blank: float, char: float, lm_score: float, tail: str) -> None:
    entry = beam.get(prefix)
    if entry is None:
        beam[prefix] = [blank, char, lm_score, tail]
    else:
        entry[0] = _logsumexp(entry[0], blank)
        entry[1] = _logsumexp(entry[1], char)


def _best(beam: dict[str, Entry], width: int, margin: float = math.inf) -> list[Scored]:
    """The ``width`` best prefixes, best first, without those ``margin`` below the best."""
    scored = [(prefix, entry, _logsumexp(entry[0], entry[1])) for prefix, entry in beam.items()]
    if len(scored) > 1:
        scored.sort(key=lambda item: item[2] + item[1][2], reverse=True)
        floor = scored[0][2] + scored[0][1][2] - margin
        scored = [item for item in scored[:width] if item[2] + item[1][2] >= floor]
    return scored


def _steps_to_try(probs: np.ndarray, prune: float, chars: tuple[str, ...]) -> list[list[tuple[str | None, float]]]:
    """Per time step, the characters above ``prune`` there (``None``: the blank, first) and their log
    probabilities; without the steps of a blank run after its first: there every prefix only adds the
    same blank probability, which changes no ranking."""
    tried = probs > prune
    blank_only = tried[:, 0] & (tried.sum(axis=1) == 1)
    repeats = blank_only & np.concatenate([[False], blank_only[:-1]])
    steps, classes = np.nonzero(tried & ~repeats[:, None])
    logs = np.log(probs[steps, classes]).tolist()
    labels = (None, *chars)
    names = [labels[k] for k in classes.tolist()]
    bounds = [0, *(np.flatnonzero(np.diff(steps)) + 1).tolist(), len(names)]
    return [list(zip(names[a:b], logs[a:b], strict=True)) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]
