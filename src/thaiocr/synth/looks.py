"""Looks: shares of a synthetic training mix, each printed its own way.

A recipe's ``synth`` section may name looks, each a weighted share of the lines with its own print
style (:data:`thaiocr.synth.settings.PRINT_STYLES`), text source and effects; what a look leaves out it takes
from the section itself::

    synth:
      source: {words: 2, phrases: 3}          # the looks' default text
      looks:
        documents: {weight: 3, print: document, source: {prose: 3, receipts: 1}, effects: {...}}
        posters: {weight: 1}                  # today's lines: any face, any colour, default effects

A ``document`` look draws only upright faces of body-text weights (:func:`thaiocr.synth.fonts.is_text_face`):
real documents are set in those, while the ``free`` look draws every face. Without looks, the
section is one free look, and its lines are exactly those of the settings before looks existed.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from thaiocr.charset import Charset
from thaiocr.errors import ConfigError
from thaiocr.synth.effectsettings import EffectSettings
from thaiocr.synth.fonts import FontInfo, is_text_face
from thaiocr.synth.lines import FontPicker
from thaiocr.synth.settings import PrintStyle, look_sections, look_settings, look_weight, print_style
from thaiocr.synth.textsource import SourceSpec, TextSource


@dataclass(frozen=True)
class Look:
    """One share of the mix: its fonts, text, effects and print style."""

    name: str
    weight: float
    fonts: FontPicker
    source: TextSource
    effects: EffectSettings
    style: PrintStyle


def build_looks(
    looks: Mapping[str, Any] | None, fonts: Sequence[FontInfo], source: SourceSpec, effects: Mapping | None,
    charset: Charset | None, max_length: int, where: str,
) -> list[Look]:
    """The looks a ``synth`` section names (``where`` prefixes errors), or its one free look."""
    if not fonts:
        raise ConfigError(f"{where}: no fonts left for this split; hold out fewer fonts")
    named = look_sections(looks, where)
    if not named:
        return [_look("default", {}, fonts, source, effects, charset, max_length, where)]
    return [_look(name, settings, fonts, source, effects, charset, max_length, f"{where}.looks.{name}")
            for name, settings in named.items()]


def _look(
    name: str, settings: Any, fonts: Sequence[FontInfo], source: SourceSpec, effects: Mapping | None,
    charset: Charset | None, max_length: int, where: str,
) -> Look:
    settings = look_settings(settings, where)
    style_name, style = print_style(settings, where)
    faces = [font for font in fonts if is_text_face(font)] if style_name == "document" else list(fonts)
    if not faces:
        raise ConfigError(f"{where}: no font of the split suits the {style_name!r} print style")
    return Look(
        name=name,
        weight=look_weight(settings, where),
        fonts=FontPicker(faces),
        source=TextSource(settings.get("source", source), charset, max_length),
        effects=EffectSettings.from_dict(settings.get("effects", effects), where=f"{where}.effects"),
        style=style,
    )


def choose_look(rng: random.Random, looks: Sequence[Look]) -> Look:
    """A look by weight; a single look draws nothing, so the lines of look-less recipes stay as they were."""
    if len(looks) == 1:
        return looks[0]
    return rng.choices(looks, weights=[look.weight for look in looks])[0]
