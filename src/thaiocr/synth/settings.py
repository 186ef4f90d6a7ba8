"""What a recipe's ``synth`` section may say, checked when the recipe is loaded.

:func:`check_synth_section` refuses a misspelled effect, text source, look key or print style
before anything is rendered or any corpus read, so ``thaiocr train``, ``thaiocr data check`` and
``thaiocr cloud check`` refuse the same recipe with the same message (a cloud job would otherwise
fail inside its container). The print styles live here because a look names one;
:mod:`thaiocr.synth.render` prints with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from thaiocr.errors import ConfigError, ThaiOCRError, did_you_mean
from thaiocr.synth.effectsettings import EffectSettings
from thaiocr.synth.textsource import SourceSpec, check_spec


@dataclass(frozen=True)
class PrintStyle:
    """How a line is printed: the grey levels its ink and paper are drawn from (before a tint of up to
    ``tint`` levels per channel), how often it is light on dark, and how often its spaces are set wide.

    A *column gap* widens one space by ``column_gap`` ink heights, as a receipt or form pads an item
    to its price; *justified* lines widen every space by ``justified`` ink heights, as a justified
    paragraph does. The label keeps a single space either way: a wide blank is still one space.
    """

    ink: tuple[int, int] = (0, 80)
    paper: tuple[int, int] = (175, 255)
    tint: int = 25
    inverted_probability: float = 0.15
    column_gap_probability: float = 0.0
    column_gap: tuple[float, float] = (1.0, 12.0)
    justified_probability: float = 0.0
    justified: tuple[float, float] = (0.1, 0.6)


# "free": signs, labels, screens and posters in any colour; "document": dark, nearly neutral ink on
# white or grey paper, as letters, forms, books and receipts are printed.
PRINT_STYLES = {
    "free": PrintStyle(),
    "document": PrintStyle(ink=(0, 60), paper=(200, 255), tint=6, inverted_probability=0.0,
                           column_gap_probability=0.15, justified_probability=0.15),
}

LOOK_KEYS = ("weight", "print", "source", "effects")


def check_synth_section(source: SourceSpec, effects: Mapping | None, looks: Any, where: str) -> None:
    """Raise :class:`ConfigError` naming the key (``where`` prefixes it) of the first bad setting."""
    check_source(source, f"{where}.source")
    EffectSettings.from_dict(effects, where=f"{where}.effects")
    for name, settings in look_sections(looks, where).items():
        here = f"{where}.looks.{name}"
        settings = look_settings(settings, here)
        look_weight(settings, here)
        print_style(settings, here)
        if "source" in settings:
            check_source(settings["source"], f"{here}.source")
        if "effects" in settings:
            EffectSettings.from_dict(settings["effects"], where=f"{here}.effects")


def check_source(spec: SourceSpec, where: str) -> None:
    try:
        check_spec(spec)
    except ThaiOCRError as error:
        raise ConfigError(f"{where}: {error}") from error


def look_sections(looks: Any, where: str) -> dict[str, Any]:
    """A section's looks by name (none when it names none)."""
    if not looks:
        return {}
    if not isinstance(looks, Mapping):
        raise ConfigError(f"{where}.looks: expected a mapping of look names to settings, got {looks!r}")
    return {str(name): settings for name, settings in looks.items()}


def look_settings(settings: Any, where: str) -> dict[str, Any]:
    """One look's settings as a mapping of known keys (``None`` is a look with every default)."""
    if settings is None:
        return {}
    if not isinstance(settings, Mapping):
        raise ConfigError(f"{where}: expected a mapping with {', '.join(LOOK_KEYS)}, got {settings!r}")
    for key in settings:
        if key not in LOOK_KEYS:
            raise ConfigError(f"{where}: unknown key {key!r}{did_you_mean(str(key), LOOK_KEYS)}")
    return dict(settings)


def look_weight(settings: Mapping[str, Any], where: str) -> float:
    weight = settings.get("weight", 1)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
        raise ConfigError(f"{where}.weight: expected a positive number, got {weight!r}")
    return float(weight)


def print_style(settings: Mapping[str, Any], where: str) -> tuple[str, PrintStyle]:
    """The look's print style, by name and settings."""
    name = settings.get("print", "free")
    if name not in PRINT_STYLES:
        raise ConfigError(f"{where}.print: unknown style {name!r}{did_you_mean(str(name), PRINT_STYLES)}")
    return name, PRINT_STYLES[name]
