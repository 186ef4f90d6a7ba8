"""One inference path for exported (``.onnx``) and training (``.pt``) models.

preprocess (the shared ``Preprocess``; a line wider than the model's input cut into pieces by
``linecut``) -> run (ONNX Runtime or PyTorch) -> CTC decode (a beam search weighed by the character
language model ``charlm.gz`` beside the model where there is one, else greedy; cut pieces' readings
joined again). Only the middle step differs between the two kinds of model.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnxruntime as ort
from PIL import Image

from thaiocr.charlm import CharLM
from thaiocr.charset import Charset
from thaiocr.ctcbeam import BeamSettings, beam_decode
from thaiocr.data import read_labelled_images
from thaiocr.errors import ThaiOCRError
from thaiocr.evaluate import decode_samples
from thaiocr.fileio import atomic_write_text
from thaiocr.imageload import DEFAULT_MAX_PIXELS
from thaiocr.linecut import SQUEEZE_WITHIN_HEIGHTS, LinePieces, cut_line, join_readings
from thaiocr.modeldescription import ModelDescription
from thaiocr.onnxmodel import DICT_FILENAME, INPUT_NAME, OUTPUT_NAME, cpu_session
from thaiocr.preprocess import Preprocess, open_image
from thaiocr.runfolder import LM_NAME, MODEL_FOLDER, ONNX_NAME
from thaiocr.shipped import SHIPPED_ALIAS, is_shipped_name, shipped_model_dir

if TYPE_CHECKING:  # PyTorch is imported only to read a .pt checkpoint or an in-memory model
    from thaiocr.model import CRNN

CHECKPOINT_SUFFIXES = (".pt", ".pth")

# A batch ``[N, 3, H, W]`` float32 -> probabilities ``[N, T, C]``.
Backend = Callable[[np.ndarray], np.ndarray]
DECODERS = ("auto", "beam", "greedy")  # auto: beam where the model has a language model beside it


@dataclass(frozen=True)
class Prediction:
    text: str
    confidence: float


@dataclass(frozen=True)
class Reread:
    """When a line is read a second time, wider: its first (greedy) reading found fewer than
    ``frames_per_char`` output steps per character, so letters and their stacked marks were crowded
    into too few steps; the second reading stretches its pieces ``stretch`` times.

    Measured on the language model's tuning lines and the held-out sets (model card, "Reading
    crowded lines again"): 2.5 and 1.15 cut the CER on every set; stretching every line helps the
    crowded ones and hurts the rest.
    """

    frames_per_char: float = 2.5
    stretch: float = 1.15


class Recognizer:
    """Reads text lines from images with one model.

    ``Recognizer()`` loads the general printed-Thai model shipped in the package,
    ``Recognizer("shipped-small")`` its smaller, faster sibling; ``Recognizer(path)`` (or
    ``Recognizer.from_path(path)``) an ``.onnx`` file, a folder holding ``inference.onnx`` (or
    ``best_model/inference.onnx``) or a ``.pt`` checkpoint. ``num_threads`` (ONNX only) defaults to
    min(2, CPU count).

    ``decoder``: ``beam`` weighs the network's reading with the character language model
    (``charlm.gz``, made by ``thaiocr lm``) in the model's folder, ``greedy`` takes the likeliest
    class at each step (faster), ``auto`` the first where the folder has a language model.
    A prediction's confidence is the network's own: the mean probability of the greedy path.
    ``reread``: read crowded lines a second time, wider (:class:`Reread`); False reads each line once
    (faster). ``self.reread`` holds the settings (None: off).
    ``quantization`` says how an int8 export was made (``thaiocr export --int8``); None for float32.
    """

    def __init__(self, model: str | Path | None = None, num_threads: int | None = None,
                 decoder: str = "auto", reread: bool = True) -> None:
        path = named_model_path(model)
        self._backend, self._charset, self._preprocess, self.source, self.quantization = _load(path, num_threads)
        self.lm = _language_model(Path(self.source), self._charset, decoder)
        self.beam = BeamSettings()
        self.reread: Reread | None = Reread() if reread else None

    @property
    def charset(self) -> Charset:
        return self._charset

    @property
    def preprocess(self) -> Preprocess:
        return self._preprocess

    # --- construction -----------------------------------------------------------------------

    @classmethod
    def from_path(cls, path: str | Path, num_threads: int | None = None, decoder: str = "auto",
                  reread: bool = True) -> Recognizer:
        return cls(path, num_threads, decoder, reread)

    @classmethod
    def from_backend(cls, backend: Backend, charset: Charset, preprocess: Preprocess, source: str,
                     lm: CharLM | None = None) -> Recognizer:
        """A recogniser around any function from a preprocessed batch to probabilities (greedy
        decoding unless a language model is given)."""
        recognizer = cls.__new__(cls)
        recognizer._backend, recognizer._charset, recognizer._preprocess = backend, charset, preprocess
        recognizer.source, recognizer.lm, recognizer.beam = source, lm, BeamSettings()
        recognizer.quantization, recognizer.reread = None, Reread()
        return recognizer

    @property
    def decoder(self) -> str:
        return "greedy" if self.lm is None else "beam"

    @classmethod
    def from_parts(cls, model: CRNN, charset: Charset, preprocess: Preprocess) -> Recognizer:
        """Wrap an in-memory PyTorch model (e.g. the one being trained); its mode is left as found."""
        if model.num_classes != charset.num_classes:
            raise ThaiOCRError(
                f"model has {model.num_classes} outputs but the alphabet of {len(charset)} characters needs "
                f"{charset.num_classes}: model/dict mismatch"
            )
        return cls.from_backend(_torch_backend(model), charset, preprocess, source=f"{type(model).__name__} in memory")

    # --- reading ----------------------------------------------------------------------------

    def __call__(self, images: Sequence, batch_size: int = 32) -> list[Prediction]:
        """Read each image: a path, bytes, a PIL image or a decoded BGR ``uint8`` array (as cv2 gives).

        A line wider than the model's input at its height is cut at gaps into pieces that fit, and
        their readings joined (see :mod:`thaiocr.linecut`). Lines and pieces are batched together
        by width, so that little padding is computed; results keep input order.
        """
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        return self._read_lines([self._pieces(open_image(image)) for image in images], batch_size)

    def _pieces(self, image: Image.Image) -> LinePieces:
        """A line squeezed into the model's input when it is at most ``SQUEEZE_WITHIN_HEIGHTS`` times
        as wide as high, as training squeezes such lines, else cut at gaps into pieces that fit."""
        preprocess = self._preprocess
        squeezable = max(preprocess.max_width, SQUEEZE_WITHIN_HEIGHTS * preprocess.height)
        if preprocess.target_width(*image.size) <= squeezable:
            return LinePieces([preprocess.resize(image)], [])
        return cut_line(preprocess.scale(image), preprocess.max_width)

    def _read_lines(self, lines: list[LinePieces], batch_size: int, reread: bool = True) -> list[Prediction]:
        """Each line's reading, in order; its pieces run in batches of pieces of similar width."""
        pieces = [piece for line in lines for piece in line.pieces]
        order = sorted(range(len(pieces)), key=lambda i: pieces[i].shape[1])
        chunks = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
        return self._read_in_chunks(lines, chunks, reread)

    def _read_in_chunks(self, lines: list[LinePieces], chunks: list[list[int]], reread: bool = True,
                        ) -> list[Prediction]:
        """Each line's reading: the pieces (numbered across lines) run in ``chunks``, and a line is
        decoded as soon as its last piece is in, while the next chunk runs. Crowded lines (see
        :class:`Reread`) are read again, stretched, at the end."""
        settings = self.reread if reread else None
        pieces = [piece for line in lines for piece in line.pieces]
        line_of = [n for n, line in enumerate(lines) for _ in line.pieces]
        starts = list(itertools.accumulate((len(line.pieces) for line in lines), initial=0))
        outputs: list[np.ndarray] = [np.empty(0)] * len(pieces)
        missing = [len(line.pieces) for line in lines]
        predictions: list[Prediction] = [Prediction("", 0.0)] * len(lines)
        crowded: list[int] = []
        for chunk, probabilities in zip(chunks, self._run_ahead([[pieces[i] for i in c] for c in chunks]),
                                        strict=True):
            for i, probs in zip(chunk, probabilities, strict=True):
                outputs[i], n = probs, line_of[i]
                missing[n] -= 1
                if missing[n]:
                    continue
                line_outputs = outputs[starts[n] : starts[n + 1]]
                greedy = self._greedy(line_outputs)
                if settings is not None and _crowded(line_outputs, greedy, settings):
                    crowded.append(n)
                else:
                    predictions[n] = self._decode_line(line_outputs, lines[n].separators, greedy)
        if crowded and settings is not None:
            wider = [_stretched(lines[n], settings.stretch) for n in crowded]
            for n, prediction in zip(crowded, self._read_lines(wider, max(map(len, chunks)), reread=False),
                                     strict=True):
                predictions[n] = prediction
        return predictions

    def _run_ahead(self, batches: Sequence[list[np.ndarray]]) -> Iterator[list[np.ndarray]]:
        """Each batch's probabilities (see ``_run``), in order. While the caller decodes one batch, the
        next already runs in a worker thread: ONNX Runtime and PyTorch release the GIL as they compute,
        so the decoding (Python) partly hides behind them (bench/recognize_speed.py)."""
        if len(batches) < 2:
            yield from map(self._run, batches)
            return
        with ThreadPoolExecutor(max_workers=1) as worker:
            running = worker.submit(self._run, batches[0])
            for batch in batches[1:]:
                following = worker.submit(self._run, batch)
                yield running.result()
                running = following
            yield running.result()

    def _run(self, resized: list[np.ndarray]) -> list[np.ndarray]:
        """One model call; each line's probabilities without the steps that only saw padding."""
        probs = self._backend(self._preprocess.batch(resized))
        self._check_classes(probs)
        widest = max(image.shape[1] for image in resized)
        return [line[: min(len(line), math.ceil(len(line) * image.shape[1] / widest) + 1)]
                for line, image in zip(probs, resized, strict=True)]

    def _greedy(self, pieces: list[np.ndarray]) -> list[tuple[str, float]]:
        """Each piece's greedy reading and confidence."""
        return [self._charset.decode_greedy(probs[None])[0] for probs in pieces]

    def _decode_line(self, pieces: list[np.ndarray], separators: list[str],
                     greedy: list[tuple[str, float]]) -> Prediction:
        """The line's text (beam search where there is a language model, else ``greedy``'s) and confidence."""
        texts = [text for text, _ in greedy]
        if self.lm is not None:
            texts = self._beam_texts(self.lm, pieces, separators)
        return Prediction(*join_readings(texts, [confidence for _, confidence in greedy], separators))

    def _beam_texts(self, lm: CharLM, pieces: list[np.ndarray], separators: list[str]) -> list[str]:
        """Each piece read by the beam search, with the line's text so far as its history."""
        texts: list[str] = []
        history = ""
        for i, probs in enumerate(pieces):
            text = beam_decode(probs, self._charset.chars, lm, self.beam, history, i == len(pieces) - 1)
            texts.append(text)
            history = (history + text + (separators[i] if i < len(separators) else ""))[-lm.order :]
        return texts

    def _check_classes(self, probs: np.ndarray) -> None:
        if probs.ndim != 3 or probs.shape[2] != self._charset.num_classes:
            raise ThaiOCRError(f"{self.source}: model output has shape {tuple(probs.shape)}, expected "
                               f"[N, T, {self._charset.num_classes}]: model and dict do not match")

    def read_batch(self, resized: list[np.ndarray]) -> list[tuple[str, float]]:
        """Read lines already resized by ``self.preprocess.resize`` (one model call, a second for crowded
        lines; no cutting)."""
        return self.read_batches([resized])[0]

    def read_batches(self, batches: Sequence[list[np.ndarray]]) -> list[list[tuple[str, float]]]:
        """``read_batch`` of each batch, the next batch running while one is decoded; crowded lines of
        every batch are read again together at the end, as ``__call__`` does."""
        lines = [LinePieces([resized], []) for batch in batches for resized in batch]
        bounds = list(itertools.accumulate(map(len, batches), initial=0))
        chunks = [list(range(start, end)) for start, end in itertools.pairwise(bounds) if end > start]
        readings = [(p.text, p.confidence) for p in self._read_in_chunks(lines, chunks)]
        return [readings[start:end] for start, end in itertools.pairwise(bounds)]


def _crowded(pieces: list[np.ndarray], greedy: list[tuple[str, float]], reread: Reread) -> bool:
    """Whether the line's greedy reading has fewer than ``reread.frames_per_char`` steps per character."""
    characters = sum(len(text) for text, _ in greedy)
    return characters > 0 and sum(len(probs) for probs in pieces) < reread.frames_per_char * characters


def _stretched(line: LinePieces, factor: float) -> LinePieces:
    return LinePieces([stretch_width(piece, factor) for piece in line.pieces], line.separators)


def stretch_width(resized: np.ndarray, factor: float) -> np.ndarray:
    """A resized line (``[H, W, 3]`` uint8) made ``factor`` times as wide; the channel order is kept."""
    height, width = resized.shape[:2]
    image = Image.fromarray(resized).resize((max(1, round(width * factor)), height), Image.Resampling.BILINEAR)
    return np.asarray(image)


def _language_model(source: Path, charset: Charset, decoder: str) -> CharLM | None:
    """The language model beside the model file, as ``decoder`` asks for it."""
    if decoder not in DECODERS:
        raise ThaiOCRError(f"unknown decoder {decoder!r}: choose from {', '.join(DECODERS)}")
    path = source.parent / LM_NAME
    if decoder == "greedy" or (decoder == "auto" and not path.is_file()):
        return None
    if not path.is_file():
        raise ThaiOCRError(f"{path}: no language model beside the model for the beam decoder "
                           "(make one with `thaiocr lm`, or use the greedy decoder)")
    stat = path.stat()
    return _load_language_model(path.resolve(), stat.st_mtime_ns, stat.st_size, charset)


@functools.lru_cache(maxsize=4)
def _load_language_model(path: Path, _mtime_ns: int, _size: int, charset: Charset) -> CharLM:
    """One load per file and version (a second or two for a shipped model's): recognisers of the
    same model, such as the server's line and page readers, share it."""
    return CharLM.load(path, charset)


def named_model_path(model: str | Path | None) -> Path:
    """None or a shipped name (``shipped``, ``shipped-small``): that shipped model; else the path given."""
    if model is None or is_shipped_name(model):
        return shipped_model_path(str(model or SHIPPED_ALIAS))
    return Path(model)


def shipped_model_path(name: str = SHIPPED_ALIAS) -> Path:
    """A model inside the package (see its MODEL_CARD.md): by default the general printed-Thai one."""
    path = shipped_model_dir(name) / ONNX_NAME
    if not path.is_file():
        raise ThaiOCRError(f"{path}: this installation has no shipped model; name one with --model")
    return path


Loaded = tuple[Backend, Charset, Preprocess, str, dict | None]  # ..., source, how an int8 export was made


def _load(path: Path, num_threads: int | None) -> Loaded:
    if path.is_dir():
        path = _onnx_in_folder(path)
    if not path.is_file():
        raise ThaiOCRError(f"{path}: model not found")
    if path.suffix.lower() in CHECKPOINT_SUFFIXES:
        return _load_checkpoint(path)
    if path.suffix.lower() == ".onnx":
        return _load_onnx(path, num_threads or min(2, os.cpu_count() or 1))
    raise ThaiOCRError(f"{path}: expected an .onnx model, a model folder or a .pt checkpoint")


def _load_checkpoint(path: Path) -> Loaded:
    import torch

    from thaiocr.checkpoint import load_checkpoint, model_from_checkpoint

    model, charset, preprocess = model_from_checkpoint(load_checkpoint(path))
    model = model.to(memory_format=torch.channels_last)  # faster convolutions on the CPU
    return _torch_backend(model), charset, preprocess, str(path), None


def _load_onnx(path: Path, num_threads: int) -> Loaded:
    session = cpu_session(path, num_threads)
    description = ModelDescription.from_onnx_metadata(session.get_modelmeta().custom_metadata_map, path)
    charset, preprocess = description.charset, description.preprocess
    _check_dict_beside(charset, path)
    _check_output_size(session, charset, path)

    def run(batch: np.ndarray) -> np.ndarray:
        return session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0]

    return run, charset, preprocess, str(path), description.quantization


def predict_label_file(
    recognizer: Recognizer, labels: Path, out: Path, batch_size: int = 32, max_pixels: int = DEFAULT_MAX_PIXELS
) -> int:
    """Write ``image path<TAB>prediction`` for every line of a label file, each path as the file
    lists it, so the output is itself a label file beside it; an unreadable image stops with
    ``labels.txt:N``. Returns the number of lines written."""
    samples = read_labelled_images(Path(labels))
    predictions = recognizer(decode_samples(samples, recognizer.preprocess, max_pixels), batch_size=batch_size)
    lines = [f"{_as_listed(s.image_path, Path(labels))}\t{p.text}\n" for s, p in zip(samples, predictions, strict=True)]
    atomic_write_text(Path(out), "".join(lines))
    return len(lines)


def _as_listed(image: Path, labels: Path) -> Path:
    """An image path as the label file wrote it (relative to the file's folder, unless absolute)."""
    try:
        return image.relative_to(labels.parent)
    except ValueError:
        return image


def _torch_backend(model: CRNN) -> Backend:
    import torch

    from thaiocr.kernel.blocks import inference_mode

    def run(batch: np.ndarray) -> np.ndarray:
        device = next(model.parameters()).device
        with inference_mode(model):
            logits = model(torch.from_numpy(batch).to(device))
            return torch.softmax(logits.float(), dim=2).cpu().numpy()

    return run


def _onnx_in_folder(folder: Path) -> Path:
    candidates = [folder / ONNX_NAME, folder / MODEL_FOLDER / ONNX_NAME]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ThaiOCRError(f"{folder}: no model found (looked for {', '.join(str(c) for c in candidates)})")


def _check_dict_beside(charset: Charset, onnx_path: Path) -> None:
    """A dict.txt beside an export must hold the alphabet in its metadata."""
    dict_path = onnx_path.parent / DICT_FILENAME
    if dict_path.is_file():
        beside = Charset.from_dict_file(dict_path)
        if beside.chars != charset.chars:
            raise ThaiOCRError(
                f"model/dict mismatch: {onnx_path} was exported with {len(charset)} characters "
                f"(sha256 {charset.sha256}) but {dict_path} holds {len(beside)} (sha256 {beside.sha256}); "
                "use the dict.txt exported with this model"
            )


def _check_output_size(session: ort.InferenceSession, charset: Charset, onnx_path: Path) -> None:
    classes = session.get_outputs()[0].shape[-1]
    if isinstance(classes, int) and classes != charset.num_classes:
        raise ThaiOCRError(
            f"model/dict mismatch: {onnx_path} outputs {classes} classes but its alphabet needs "
            f"{charset.num_classes}"
        )
