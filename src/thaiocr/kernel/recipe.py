"""Recipe machinery shared by recognition and detection recipes (PaddleOCR-style YAML).

Reading the YAML, ``-o Key.sub=value`` overrides, path resolution, conversion of plain data into
typed, frozen section dataclasses (unknown keys refused with a "did you mean"), the sections both
kinds of recipe have (Optimizer, loader), and :func:`recipe_class`, which makes a recipe class out of
its sections in PaddleOCR's order. Relative paths in a file resolve against the file's folder, those
given as overrides against the current directory. No torch here.

A section class may define ``after_conversion(kwargs, data, resolve) -> kwargs`` for values that
are names or paths by their content (a built-in alphabet, a shipped model).
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, make_dataclass
from pathlib import Path
from typing import Any, Union

import yaml

from thaiocr.errors import ConfigError, did_you_mean

# Field names are the YAML keys. Fields marked PATH are resolved against the recipe file's folder.
PATH = {"path": True}


# --- sections both recipes have -----------------------------------------------------------------


@dataclass(frozen=True)
class LrConfig:
    name: str = "Cosine"
    learning_rate: float = 0.001
    warmup_epoch: float = 0.0


@dataclass(frozen=True)
class RegularizerConfig:
    name: str = "L2"
    factor: float = 0.0


@dataclass(frozen=True)
class OptimizerConfig:
    name: str = "Adam"
    beta1: float = 0.9
    beta2: float = 0.999
    lr: LrConfig = field(default_factory=LrConfig)
    regularizer: RegularizerConfig | None = None
    clip_norm: float | None = None


@dataclass(frozen=True)
class LoaderConfig:
    shuffle: bool = False
    batch_size_per_card: int = 32
    drop_last: bool = False
    num_workers: int = 0


def eval_every(eval_batch_step: int | list[int]) -> tuple[int, int]:
    """``(start_step, every_n_steps)`` from either form of ``Global.eval_batch_step``: PaddleOCR
    allows an int (every N steps) or ``[start, every]``."""
    if isinstance(eval_batch_step, int):
        return 0, eval_batch_step
    if len(eval_batch_step) != 2:
        raise ConfigError(f"Global.eval_batch_step must be N or [start, N], got {eval_batch_step}")
    return eval_batch_step[0], eval_batch_step[1]


# --- recipes ------------------------------------------------------------------------------------


class Recipe:
    """What a recipe class made by :func:`recipe_class` does besides holding its sections."""

    def to_dict(self) -> dict:
        """The resolved recipe as plain YAML-ready data (paths as strings)."""
        names = [f.name for f in dataclasses.fields(self) if f.name != "source"]  # type: ignore[arg-type]
        return plain_data({name: getattr(self, name) for name in names})

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), allow_unicode=True, sort_keys=False)


def recipe_class(name: str, sections: Mapping[str, type], methods: type[Recipe] = Recipe) -> type:
    """A frozen dataclass with a field per section, in the order given (PaddleOCR's: Global,
    Architecture, Loss, Optimizer, PostProcess, Metric, Train), then ``Eval`` (of Train's type, or
    None) and ``source`` (the file it was read from; not compared). ``methods`` adds behaviour."""
    fields: list[tuple[str, Any, Any]] = [(key, cls, field(default_factory=cls)) for key, cls in sections.items()]
    fields.append(("Eval", sections["Train"] | None, field(default=None)))
    fields.append(("source", Path | None, field(default=None, compare=False)))
    made = make_dataclass(name, fields, bases=(methods,), frozen=True)
    made.__module__ = methods.__module__
    return made


def read_recipe(path: Path, overrides: list[str] | None) -> tuple[dict, set[str]]:
    """A recipe file as plain data with ``Key.sub=value`` overrides applied, and the keys they set."""
    raw = read_yaml_mapping(path)
    return raw, {apply_override(raw, item) for item in overrides or []}


def convert_recipe(cls: type, raw: Any, source: Path | None, overridden: set[str] | None) -> Any:
    """Plain data -> ``cls``; ``source`` anchors relative paths, ``overridden`` keys resolve against
    the current directory."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source or 'config'}: the top level must be a mapping of sections")
    resolver = PathResolver(source.parent if source else Path.cwd(), overridden or set())
    return convert_section(cls, {**raw, "source": source}, "", resolver)


# --- reading and overrides ----------------------------------------------------------------------


def read_yaml_mapping(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: config file is not UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: malformed YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections (Global, Architecture, ...)")
    return data


def apply_override(raw: dict, item: str) -> str:
    """Set ``A.b.c=value`` (value parsed as YAML) in ``raw``; returns the dotted key."""
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {item!r}: expected Key.sub=value")
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError:
        raise ConfigError(f"override {item!r}: value is not valid YAML") from None
    parts = key.strip().split(".")
    node: Any = raw
    for depth, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            node = node[_list_index(node, part, parts[: depth + 1])]
            continue
        if not isinstance(node.get(part), dict | list):
            node[part] = {}
        node = node[part]
    last = parts[-1]
    if isinstance(node, list):
        node[_list_index(node, last, parts)] = parsed
    else:
        node[last] = parsed
    return key.strip()


def _list_index(node: list, part: str, parts: list[str]) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"override {'.'.join(parts)}: {part!r} is not an index of a {len(node)}-item list")
    return int(part)


# --- conversion ---------------------------------------------------------------------------------


@dataclass
class PathResolver:
    base: Path
    overridden: set[str]

    def __call__(self, value: str, key: str) -> Path:
        p = Path(value).expanduser()
        if p.is_absolute():
            return p
        from_cli = any(key == o or key.startswith((o + ".", o + "[")) for o in self.overridden)
        return (Path.cwd() if from_cli else self.base) / p


def convert_section(cls: type, data: Any, where: str, resolve: PathResolver) -> Any:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        here = f"{where}.{key}" if where else str(key)
        if key not in fields:
            raise ConfigError(f"unknown config key {here!r}{did_you_mean(str(key), fields)}")
        if key == "source":
            kwargs[key] = value
            continue
        is_path = fields[key].metadata.get("path", False)
        kwargs[key] = _coerce(hints[key], value, here, resolve, is_path)
    finish = getattr(cls, "after_conversion", None)
    return cls(**(finish(kwargs, data, resolve) if finish else kwargs))


def _coerce(hint: Any, value: Any, where: str, resolve: PathResolver, is_path: bool) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _coerce(option, value, where, resolve, is_path)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[-1])
    if dataclasses.is_dataclass(hint):
        return convert_section(hint, value, where, resolve)
    if origin is list:
        items = value if isinstance(value, list) else None
        if items is None:
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_coerce(args[0], v, f"{where}[{i}]", resolve, is_path) for i, v in enumerate(items)]
    if hint is Path:
        if not isinstance(value, str | Path) or str(value) == "":
            raise ConfigError(f"{where}: expected a path, got {value!r}")
        return resolve(str(value), where) if is_path else Path(value)
    if hint is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return copy.deepcopy(value)
    return _scalar(hint, value, where)


def _scalar(hint: type, value: Any, where: str) -> Any:
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if hint is float:
        # YAML 1.1 reads "1e-05" (no dot) as a string; PaddleOCR configs are full of those.
        try:
            if not isinstance(value, bool):
                return float(value)
        except (TypeError, ValueError):
            pass
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if hint is str:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{where}: expected text, got {value!r}")
    raise ConfigError(f"{where}: unsupported value {value!r}")


def plain_data(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: plain_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: plain_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_data(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
