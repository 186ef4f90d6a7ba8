"""Time each image effect alone and the full default chain on 48x320 RGB text lines, one core.

    .venv/bin/python bench/effects_speed.py [--lines 100] [--repeats 7]

Each figure is microseconds per line: the mean over ``--lines`` seeded lines of each line's best
of ``--repeats`` runs (the least disturbed by other processes on a shared machine). "alone" rows
force one effect on (probability 1, default ranges) and every other off; "none" is the cost of
the chain with everything off (the array conversions). The "expected" row adds the alone costs
weighted by the default probabilities, a check on the measured chain. The data engine's target,
1,000 lines/s on 2 cores with rendering and PNG writing, leaves 2,000 us per line per core; the
PNG row is a yardstick for comparing figures taken on machines of different speeds.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import time
from collections.abc import Callable
from dataclasses import fields, replace
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from thaiocr.synth.backgrounds import decorate, make_background
from thaiocr.synth.effects import CHAIN_ORDER, apply_effects
from thaiocr.synth.effectsettings import DEFAULT_EFFECTS, EffectSettings

SIZE = (320, 48)
PAPER, INK = (236, 232, 224), (30, 28, 32)
TEXT = "ราคาสินค้า ๑๒๓,๔๕๖ บาท ปี่ป้อน"
FONT = Path("/usr/share/fonts/truetype/tlwg/Garuda.ttf")
BUDGET_US = 2000  # 1,000 lines/s on 2 cores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    lines = [_line(random.Random(i)) for i in range(args.lines)]
    best = _timer(lines, args.repeats)

    print(f"{'step':34s} {'us/line':>8s}   (load average {os.getloadavg()[0]:.1f})")
    none = _everything_off()
    baseline = best(lambda rng, line: apply_effects(line, PAPER, rng, none))
    _row("none (conversions only)", baseline)
    expected = baseline
    for name in CHAIN_ORDER:
        alone = replace(none, **{name: replace(getattr(none, name), probability=1.0)})
        cost = best(lambda rng, line, alone=alone: apply_effects(line, PAPER, rng, alone))
        _row(f"{name} alone", cost)
        expected += getattr(DEFAULT_EFFECTS, name).probability * (cost - baseline)
    _row("default chain, expected from the rows", expected)
    chain = best(lambda rng, line: apply_effects(line, PAPER, rng))
    _row("default chain, measured", chain)
    print(f"{'':34s} {chain / BUDGET_US:8.0%} of the {BUDGET_US} us per line per core")

    print()
    for name, settings in _background_settings().items():
        cost = best(lambda rng, line, settings=settings: make_background(SIZE, PAPER, rng, settings))
        _row(f"background: {name}", cost)
    box = (4, 8, 316, 40)
    _row("decorate, default (no neighbour)", best(lambda rng, line: decorate(line, box, INK, rng)))
    _row("yardstick: PNG save, compress_level=1", best(lambda rng, line: _png(line)))


def _line(rng: random.Random) -> Image.Image:
    """A text line on a default background, as the renderer would hand it to the effects."""
    image = make_background(SIZE, PAPER, rng)
    draw = ImageDraw.Draw(image)
    if FONT.exists():
        draw.text((4, 6), TEXT, font=ImageFont.truetype(str(FONT), 26), fill=INK)
    else:  # bars standing in for glyphs
        for x in range(6, SIZE[0] - 12, 14):
            draw.rectangle((x, 14, x + rng.randint(3, 9), 34), fill=INK)
    return image


Step = Callable[[random.Random, Image.Image], object]


def _timer(lines: list[Image.Image], repeats: int) -> Callable[[Step], float]:
    """Mean over the lines of each line's fastest of ``repeats`` runs: pauses from other processes drop out.

    Each step gets a fresh copy of its line, in the cache as a just-rendered line would be.
    """

    def best(step: Step) -> float:
        fastest = [float("inf")] * len(lines)
        for _ in range(repeats):
            for i, line in enumerate(lines):
                rng, image = random.Random(1000 + i), line.copy()
                start = time.perf_counter()
                step(rng, image)
                fastest[i] = min(fastest[i], time.perf_counter() - start)
        return sum(fastest) / len(lines) * 1e6

    return best


def _everything_off() -> EffectSettings:
    return replace(
        DEFAULT_EFFECTS,
        **{item.name: replace(getattr(DEFAULT_EFFECTS, item.name), probability=0.0) for item in fields(EffectSettings)},
    )


def _background_settings() -> dict[str, EffectSettings]:
    off = _everything_off()
    return {
        "flat": off,
        "gradient": replace(off, gradient=replace(off.gradient, probability=1.0)),
        "paper": replace(off, paper=replace(off.paper, probability=1.0)),
        "default mix": DEFAULT_EFFECTS,
    }


def _png(image: Image.Image) -> None:
    image.save(io.BytesIO(), format="PNG", compress_level=1)


def _row(name: str, micros: float) -> None:
    print(f"{name:34s} {micros:8.1f}")


if __name__ == "__main__":
    main()
