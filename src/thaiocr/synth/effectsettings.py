"""Settings of every synthetic-image variation: the effect chain's, the backgrounds' and the decorations'.

:class:`EffectSettings` holds one frozen section per variation: the ``probability`` that it fires
and the ranges its strengths are drawn from, each field checked against bounds when it is built.
:meth:`EffectSettings.from_dict` reads them from plain (YAML) data, rejecting unknown names with a
"did you mean", and :meth:`EffectSettings.to_dict` writes them back (into a dataset's manifest).

The schema lives apart from the image code that uses it: the CLI, recipes and dataset manifests
read and write settings through this module alone. :mod:`thaiocr.synth.effects` applies the chain's
sections, in the order :data:`thaiocr.synth.effects.CHAIN_ORDER` gives; :mod:`thaiocr.synth.backgrounds`
applies the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from thaiocr.errors import ConfigError, did_you_mean

# Every field carries the bounds a value must stay within; a range is [low, high] with low <= high.


def _chance(default: float) -> Any:
    return field(default=default, metadata={"within": (0.0, 1.0)})


def _span(low: float, high: float, within: tuple[float, float]) -> Any:
    return field(default=(low, high), metadata={"within": within})


def _check_value(name: str, value: Any, default: Any, within: tuple[float, float]) -> None:
    is_range = isinstance(default, tuple)
    kind = type(default[0]) if is_range else type(default)
    if is_range and not (isinstance(value, tuple) and len(value) == 2):
        raise ConfigError(f"{name}: expected [low, high], got {value!r}")
    for number in value if is_range else (value,):
        if isinstance(number, bool) or not isinstance(number, int if kind is int else int | float):
            raise ConfigError(f"{name}: expected {'an integer' if kind is int else 'a number'}, got {number!r}")
        if not within[0] <= number <= within[1]:
            raise ConfigError(f"{name}: {number!r} is outside [{within[0]}, {within[1]}]")
    if is_range and value[0] > value[1]:
        raise ConfigError(f"{name}: low {value[0]!r} is above high {value[1]!r}")


@dataclass(frozen=True)
class _Section:
    """One effect's settings: ``probability`` that it fires, then its parameter ranges."""

    probability: float = _chance(0.0)

    def __post_init__(self) -> None:
        for item in fields(self):
            _check_value(item.name, getattr(self, item.name), item.default, item.metadata["within"])


@dataclass(frozen=True)
class Warp(_Section):
    """Letter shapes bent by a smooth random distortion, for faces training never saw: the line cut
    into cells ``cell`` x its height wide and ``rows`` high, each grid point moved up to ``strength``
    x the height. Off unless a recipe turns it on."""

    probability: float = _chance(0.0)
    cell: tuple[float, float] = _span(0.3, 0.8, (0.05, 10.0))
    rows: tuple[int, int] = _span(2, 3, (1, 10))
    strength: tuple[float, float] = _span(0.02, 0.06, (0.0, 0.3))


@dataclass(frozen=True)
class Ink(_Section):
    """Strokes thicken (bleed) or thin (erosion) by up to a pixel each side, blended in by the ranges.

    Erosion is milder by default: a full pixel off each side erases a thin font's strokes.
    """

    probability: float = _chance(0.15)
    bleed_probability: float = _chance(0.5)  # the rest thins
    bleed: tuple[float, float] = _span(0.4, 1.0, (0.0, 1.0))
    erosion: tuple[float, float] = _span(0.2, 0.6, (0.0, 1.0))


@dataclass(frozen=True)
class Speckle(_Section):
    """Toner specks: ``density`` dots of ink per 10,000 px, each ``radius`` px, scattered over the line.

    Off unless a recipe turns it on (printed documents and photocopies have them; posters do not).
    """

    probability: float = _chance(0.0)
    density: tuple[float, float] = _span(1.0, 6.0, (0.0, 1000.0))
    radius: tuple[float, float] = _span(0.4, 1.2, (0.1, 10.0))


@dataclass(frozen=True)
class Rotation(_Section):
    probability: float = _chance(0.2)
    degrees: tuple[float, float] = _span(-2.0, 2.0, (-45.0, 45.0))


@dataclass(frozen=True)
class Perspective(_Section):
    """Each corner moves up to ``shift`` x the image height along each axis."""

    probability: float = _chance(0.1)
    shift: tuple[float, float] = _span(0.02, 0.08, (0.0, 0.5))


@dataclass(frozen=True)
class Shadow(_Section):
    """A half-plane darkened by ``darkness``, behind a soft edge ``softness`` x the height wide."""

    probability: float = _chance(0.08)
    darkness: tuple[float, float] = _span(0.15, 0.45, (0.0, 1.0))
    softness: tuple[float, float] = _span(0.2, 1.5, (0.01, 100.0))


@dataclass(frozen=True)
class UnevenLight(_Section):
    """A smooth illumination falloff (gradient and vignette) darkening by up to ``strength``."""

    probability: float = _chance(0.25)
    strength: tuple[float, float] = _span(0.05, 0.3, (0.0, 1.0))


@dataclass(frozen=True)
class MotionBlur(_Section):
    probability: float = _chance(0.05)
    length: tuple[float, float] = _span(2.0, 5.0, (1.0, 15.0))  # pixels
    degrees: tuple[float, float] = _span(0.0, 180.0, (-360.0, 360.0))


@dataclass(frozen=True)
class Blur(_Section):
    probability: float = _chance(0.25)
    sigma: tuple[float, float] = _span(0.3, 1.0, (0.1, 5.0))  # pixels


@dataclass(frozen=True)
class Downscale(_Section):
    """Down by ``factor`` (area average), back up bilinearly: the detail of a smaller scan."""

    probability: float = _chance(0.15)
    factor: tuple[float, float] = _span(0.5, 0.9, (0.05, 1.0))


@dataclass(frozen=True)
class Tone(_Section):
    probability: float = _chance(0.4)
    brightness: tuple[float, float] = _span(0.85, 1.15, (0.0, 4.0))
    contrast: tuple[float, float] = _span(0.7, 1.2, (0.0, 4.0))
    gamma: tuple[float, float] = _span(0.75, 1.35, (0.1, 10.0))


@dataclass(frozen=True)
class Noise(_Section):
    """Gaussian luminance noise of ``sigma`` grey levels; sometimes salt and pepper on top."""

    probability: float = _chance(0.35)
    sigma: tuple[float, float] = _span(2.0, 10.0, (0.0, 64.0))
    salt_pepper_probability: float = _chance(0.1)
    salt_pepper: tuple[float, float] = _span(0.0005, 0.003, (0.0, 0.2))  # fraction of the pixels


@dataclass(frozen=True)
class Binarize(_Section):
    """A black-and-white scan: every pixel becomes ink or paper at a threshold ``level`` of the way
    from the darkest to the lightest pixel. Off unless a recipe turns it on."""

    probability: float = _chance(0.0)
    level: tuple[float, float] = _span(0.4, 0.6, (0.05, 0.95))


@dataclass(frozen=True)
class Jpeg(_Section):
    probability: float = _chance(0.3)
    quality: tuple[int, int] = _span(35, 90, (1, 95))


@dataclass(frozen=True)
class Paper(_Section):
    """Paper texture: ``blotches`` and ``grain`` are grey-level amplitudes, ``fibres`` a count."""

    probability: float = _chance(0.4)
    blotches: tuple[float, float] = _span(3.0, 12.0, (0.0, 64.0))
    grain: tuple[float, float] = _span(1.0, 5.0, (0.0, 64.0))
    fibres: tuple[int, int] = _span(0, 6, (0, 1000))


@dataclass(frozen=True)
class Gradient(_Section):
    """A colour gradient across the background, ``spread`` grey levels from end to end."""

    probability: float = _chance(0.25)
    spread: tuple[float, float] = _span(5.0, 30.0, (0.0, 255.0))


@dataclass(frozen=True)
class Underline(_Section):
    probability: float = _chance(0.03)
    thickness: tuple[int, int] = _span(1, 2, (1, 100))  # pixels
    gap: tuple[float, float] = _span(0.0, 0.15, (0.0, 2.0))  # below the ink, x the ink height


@dataclass(frozen=True)
class Rules(_Section):
    """Table rules: horizontal ones in the top and/or bottom margin, sometimes a vertical one too."""

    probability: float = _chance(0.06)
    thickness: tuple[int, int] = _span(1, 2, (1, 100))  # pixels
    vertical_probability: float = _chance(0.3)


@dataclass(frozen=True)
class Intruders(_Section):
    """A slice of a neighbouring line at the top or bottom edge, ``height`` x the image height."""

    probability: float = _chance(0.1)
    height: tuple[float, float] = _span(0.05, 0.3, (0.0, 1.0))


@dataclass(frozen=True)
class EffectSettings:
    """Every synthetic-image variation: the effect chain (in its order), backgrounds, decorations."""

    warp: Warp = field(default_factory=Warp)
    ink: Ink = field(default_factory=Ink)
    speckle: Speckle = field(default_factory=Speckle)
    rotation: Rotation = field(default_factory=Rotation)
    perspective: Perspective = field(default_factory=Perspective)
    shadow: Shadow = field(default_factory=Shadow)
    uneven_light: UnevenLight = field(default_factory=UnevenLight)
    motion_blur: MotionBlur = field(default_factory=MotionBlur)
    blur: Blur = field(default_factory=Blur)
    downscale: Downscale = field(default_factory=Downscale)
    tone: Tone = field(default_factory=Tone)
    noise: Noise = field(default_factory=Noise)
    binarize: Binarize = field(default_factory=Binarize)
    jpeg: Jpeg = field(default_factory=Jpeg)
    paper: Paper = field(default_factory=Paper)
    gradient: Gradient = field(default_factory=Gradient)
    underline: Underline = field(default_factory=Underline)
    rules: Rules = field(default_factory=Rules)
    intruders: Intruders = field(default_factory=Intruders)

    @classmethod
    def from_dict(cls, data: Mapping | None, where: str = "effects") -> EffectSettings:
        """Settings from plain data (as read from YAML); what it leaves out keeps its default.

        ``{"jpeg": {"probability": 0}, "blur": {"sigma": [0.5, 2]}}`` turns JPEG off and widens
        the blur. A single number for a range fixes the value. ``where`` prefixes error messages.
        """
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: expected a mapping of effect names, got {data!r}")
        defaults = cls()
        names = [item.name for item in fields(cls)]
        sections = {}
        for name, raw in data.items():
            if name not in names:
                raise ConfigError(f"{where}: unknown effect {name!r}{did_you_mean(str(name), names)}")
            sections[name] = _section_from_dict(getattr(defaults, name), raw, f"{where}.{name}")
        return cls(**sections)

    @classmethod
    def disabled(cls) -> EffectSettings:
        """Every effect, background and decoration off: plain text on a flat colour (clean test lines)."""
        return cls.from_dict({item.name: {"probability": 0.0} for item in fields(cls)})

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain, JSON- and YAML-ready data that :meth:`from_dict` turns back into these settings."""
        return {item.name: _section_to_dict(getattr(self, item.name)) for item in fields(self)}


DEFAULT_EFFECTS = EffectSettings()


def _section_to_dict(section: _Section) -> dict[str, Any]:
    return {key: list(value) if isinstance(value, tuple) else value for key, value in vars(section).items()}


def _section_from_dict(default: _Section, raw: Any, where: str) -> _Section:
    if raw is None:
        return default
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a mapping of settings, got {raw!r}")
    keys = [item.name for item in fields(default)]
    changes = {}
    for key, value in raw.items():
        if key not in keys:
            raise ConfigError(f"{where}: unknown key {key!r}{did_you_mean(str(key), keys)}")
        changes[key] = _coerce(value, getattr(default, key))
    try:
        return replace(default, **changes)
    except ConfigError as exc:
        raise ConfigError(f"{where}.{exc}") from None


def _coerce(value: Any, default: Any) -> Any:
    """YAML shapes to field shapes: a list or a single number to a range, numeric text to a number."""
    if isinstance(default, tuple):
        items = value if isinstance(value, list | tuple) else [value, value]
        return tuple(_coerce(item, default[0]) for item in items)
    # YAML 1.1 reads "1e-3" (no dot) as text; integer settings stay as given so validation can say so.
    if isinstance(default, float) and isinstance(value, int | str) and not isinstance(value, bool):
        try:
            return float(value)
        except ValueError:
            return value
    return value
