"""Fine-tuning: start a run from the weights of a trained checkpoint (``Global.pretrained_model``).

Unlike resuming (``latest.pt``, ``Global.checkpoints``), only weights travel: the optimizer, the
learning-rate schedule and the step counters start afresh. The recipe's architecture must produce
the same tensors as the checkpoint's, except the rows of the CTC head's output layer, which follow
the alphabet: rows are matched by character (the blank, row 0, always), so a recipe may drop, add
or reorder characters. A new character's row starts as the mean of the trained characters' rows;
its logit is then the mean of theirs, never above the best of them, so the greedy reading of every
line whose characters are all kept is unchanged at step 0 (a random row could outbid trained ones).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from thaiocr.charset import Charset
from thaiocr.checkpoint import load_checkpoint
from thaiocr.errors import ThaiOCRError
from thaiocr.model import CRNN
from thaiocr.modeldescription import ModelDescription
from thaiocr.paddleweights import PPOCRV4_ARCHITECTURE, PPOCRV4_INPUT, is_paddle_export, read_paddle_recogniser
from thaiocr.preprocess import Preprocess
from thaiocr.runfolder import CHECKPOINT_NAMES, ONNX_NAME

CHECKPOINT_SUFFIXES = (".pt", ".pth")
SHOWN = 10  # characters listed per group in the report


@dataclass(frozen=True)
class TransferReport:
    """What ``load_pretrained`` copied, for the trainer to print."""

    source: Path
    copied: int  # tensors copied as they are
    total: int  # tensors in the model
    remapped: tuple[str, ...]  # the output layer's tensors, remapped by character
    kept: tuple[str, ...]
    new: tuple[str, ...]  # characters of the recipe the checkpoint lacks, in dict order
    dropped: tuple[str, ...]  # characters of the checkpoint the recipe lacks, in its dict order
    steps: int | None  # the source run's step count, when the checkpoint records it
    notes: tuple[str, ...] = ()

    def summary(self) -> str:
        trained = f" (trained {self.steps} steps)" if self.steps is not None else ""
        remapped = f", remapped {' and '.join(self.remapped)} by character" if self.remapped else ""
        lines = [f"Fine-tuning from {self.source}{trained}: copied {self.copied} of {self.total} tensors "
                 f"as they are{remapped}."]
        if self.remapped:
            lines.append(f"  alphabet: {len(self.kept)} characters kept, {len(self.new)} new{_listing(self.new)}, "
                         f"{len(self.dropped)} dropped{_listing(self.dropped)}")
            if self.new:
                lines.append("  new characters start from the mean of the trained characters' output rows")
        else:
            lines.append(f"  alphabet: unchanged ({len(self.kept)} characters)")
        lines += [f"  note: {note}" for note in self.notes]
        lines.append("  Optimizer, learning-rate schedule and step count start afresh.")
        return "\n".join(lines)


def _listing(chars: Sequence[str]) -> str:
    if not chars:
        return ""
    more = " …" if len(chars) > SHOWN else ""
    return ": " + " ".join(repr(ch) for ch in chars[:SHOWN]) + more


# --- finding and reading the checkpoint ---------------------------------------------------------


def resolve_pretrained(path: str | Path) -> Path:
    """The checkpoint file ``path`` names: a ``.pt`` file, a folder holding one, a PaddleOCR-style
    path without its suffix (``.../best_accuracy``), or a PaddleOCR recogniser exported to ONNX
    (thaiocr.paddleweights). thaiocr's own ONNX exports and PaddlePaddle files are refused."""
    path = Path(path)
    if path.is_dir():
        return _checkpoint_in_folder(path)
    if not path.exists():
        with_suffix = [path.with_name(path.name + s) for s in CHECKPOINT_SUFFIXES]
        found = next((p for p in with_suffix if p.is_file()), None)
        if found is None:
            raise ThaiOCRError(f"pretrained model {path} not found")
        return found
    suffix = path.suffix.lower()
    if suffix == ".onnx" and is_paddle_export(path):
        return path
    if suffix == ".onnx":
        raise ThaiOCRError(f"pretrained model {path} is an exported ONNX model, which cannot be fine-tuned "
                           f"(it holds no training weights): use a .pt checkpoint{_hint_beside(path.parent)}")
    if suffix in (".pdparams", ".pdopt", ".pdmodel", ".pdiparams"):
        raise ThaiOCRError(f"pretrained model {path} is a PaddlePaddle file; thaiocr fine-tunes from its own "
                           ".pt checkpoints only")
    return path


def _checkpoint_in_folder(folder: Path) -> Path:
    for name in CHECKPOINT_NAMES:
        if (folder / name).is_file():
            return folder / name
    found = sorted(p for p in folder.iterdir() if p.suffix.lower() in CHECKPOINT_SUFFIXES and p.is_file())
    if len(found) == 1:
        return found[0]
    if found:
        names = ", ".join(p.name for p in found)
        raise ThaiOCRError(f"pretrained model folder {folder} holds several checkpoints ({names}): name one")
    what = "only an exported ONNX model, which cannot be fine-tuned" if (folder / ONNX_NAME).exists() \
        else "no .pt checkpoint"
    raise ThaiOCRError(f"pretrained model folder {folder} holds {what}: use a .pt checkpoint{_hint_beside(folder)}")


def _hint_beside(folder: Path) -> str:
    """Point at the run's checkpoint when the user named its ``best_model/`` (or a file in it)."""
    for candidate in (folder.parent / name for name in CHECKPOINT_NAMES):
        if candidate.is_file():
            return f", e.g. {candidate}"
    return ""


# --- transferring the weights -------------------------------------------------------------------


def load_pretrained(model: CRNN, charset: Charset, path: str | Path,
                    preprocess: Preprocess | None = None) -> TransferReport:
    """Copy the weights of the checkpoint ``path`` names into ``model`` (built for ``charset``).

    Raises ``ThaiOCRError`` when the file cannot be used or the architectures differ; with the
    recipe's ``preprocess``, the report notes a change of input height.
    """
    source = resolve_pretrained(path)
    weights = _read_weights(source)
    target = model.state_dict()
    output = output_layer_keys(model)
    check_compatible(weights.state, target, output, source, weights.architecture, model.architecture)
    source_chars = weights.chars
    state = dict(weights.state)
    _check_output_rows(state[output[1]], source_chars, source)
    remapped: tuple[str, ...] = ()
    if source_chars != charset.chars:
        for key in output:
            state[key] = remap_rows(state[key], source_chars, charset.chars)
        remapped = output
    model.load_state_dict(state)
    known = set(source_chars)
    return TransferReport(
        source=source,
        copied=len(target) - len(remapped),
        total=len(target),
        remapped=remapped,
        kept=tuple(ch for ch in charset.chars if ch in known),
        new=tuple(ch for ch in charset.chars if ch not in known),
        dropped=tuple(ch for ch in source_chars if ch not in charset),
        steps=weights.steps,
        notes=_geometry_notes(weights.preprocess, preprocess),
    )


@dataclass(frozen=True)
class _Weights:
    """What a run starts from: a thaiocr checkpoint's or a paddle2onnx export's weights."""

    state: dict[str, torch.Tensor]
    chars: tuple[str, ...]
    architecture: dict
    preprocess: Preprocess
    steps: int | None = None


def _read_weights(source: Path) -> _Weights:
    if source.suffix.lower() == ".onnx":
        state, chars = read_paddle_recogniser(source)
        return _Weights(state, chars, PPOCRV4_ARCHITECTURE, PPOCRV4_INPUT)
    payload = load_checkpoint(source)
    described = ModelDescription.from_checkpoint(payload)
    return _Weights(dict(payload["model"]), described.charset.chars, described.architecture, described.preprocess,
                    (payload.get("state") or {}).get("global_step"))


def output_layer_keys(model: CRNN) -> tuple[str, str]:
    """State-dict keys of the head's last Linear (after ``mid_channels``' bottleneck, when there is one)."""
    names = [name for name, module in model.head.named_modules() if isinstance(module, nn.Linear)]
    if not names:
        raise ThaiOCRError("the model's head has no Linear output layer to fine-tune")
    return f"head.{names[-1]}.weight", f"head.{names[-1]}.bias"


def check_compatible(source: dict[str, torch.Tensor], target: dict[str, torch.Tensor], output: Iterable[str],
                     path: Path, source_arch: dict, target_arch: dict) -> None:
    """Raise, naming the first tensor that differs, unless only the output layer's row count differs."""
    problem = first_difference(source, target, set(output))
    if problem is None:
        return
    differences = architecture_differences(source_arch, target_arch)
    because = f" (Architecture differs: {'; '.join(differences)})" if differences else ""
    raise ThaiOCRError(f"pretrained model {path} does not fit the recipe's architecture: {problem}{because}. "
                       "Only the CTC head's output size (the alphabet) may differ.")


def first_difference(source: dict[str, torch.Tensor], target: dict[str, torch.Tensor], output: set[str]
                     ) -> str | None:
    """The first tensor, in the model's order, that the checkpoint lacks or shapes differently."""
    for key, tensor in target.items():
        if key not in source:
            return f"tensor {key!r} is in the recipe's model but not in the checkpoint"
        rows = 1 if key in output else 0  # the output layer has a row per class: only its row count may differ
        if source[key].shape[rows:] != tensor.shape[rows:]:
            return f"tensor {key!r} has shape {tuple(source[key].shape)} in the checkpoint, " \
                   f"{tuple(tensor.shape)} in the recipe's model"
    extra = next((key for key in source if key not in target), None)
    return None if extra is None else f"tensor {extra!r} is in the checkpoint but not in the recipe's model"


def architecture_differences(source: dict, target: dict, prefix: str = "") -> list[str]:
    """``Section.key: <checkpoint value> in the checkpoint, <recipe value> in the recipe`` lines."""
    lines = []
    for key in sorted(set(source) | set(target), key=str):
        here = f"{prefix}{key}"
        mine, theirs = source.get(key), target.get(key)
        if isinstance(mine, dict) and isinstance(theirs, dict):
            lines += architecture_differences(mine, theirs, here + ".")
        elif mine != theirs:
            lines.append(f"{here}: {mine!r} in the checkpoint, {theirs!r} in the recipe")
    return lines


def _check_output_rows(bias: torch.Tensor, chars: Sequence[str], path: Path) -> None:
    if bias.shape[0] != len(chars) + 1:
        raise ThaiOCRError(f"pretrained model {path} is inconsistent: its output layer has {bias.shape[0]} classes "
                           f"but its alphabet of {len(chars)} characters needs {len(chars) + 1}")


def remap_rows(rows: torch.Tensor, source_chars: Sequence[str], target_chars: Sequence[str]) -> torch.Tensor:
    """Output-layer rows (weight or bias, class 0 the blank) rearranged for ``target_chars``.

    Shared characters keep their trained row; a new character gets the mean of the trained
    characters' rows (the blank left out: it is the class that wins most frames).
    """
    index = {ch: i + 1 for i, ch in enumerate(source_chars)}
    fill = rows[1:].mean(dim=0)
    picked = [rows[0]] + [rows[index[ch]] if ch in index else fill for ch in target_chars]
    return torch.stack(picked).contiguous()


def _geometry_notes(source: Preprocess, recipe: Preprocess | None) -> tuple[str, ...]:
    """The trained filters saw lines of one height; a change works but transfers less, so say so."""
    if recipe is None or source.height == recipe.height:
        return ()
    return (f"the checkpoint was trained on {source.height}-pixel-high lines, the recipe uses {recipe.height}",)
