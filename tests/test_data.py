import io
import json
import logging
import os
import signal
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tqdm import tqdm

from thaiocr.batches import (
    Batch,
    PooledWidthBatches,
    RecDataset,
    WidthBucketSampler,
    _load_in_processes,
    collate,
    load_split,
    make_loader,
)
from thaiocr.charset import Charset
from thaiocr.config import DatasetConfig, build_config
from thaiocr.data import DataError, DataReport, Sample, check_data, scan_split
from thaiocr.kernel.recipe import LoaderConfig
from thaiocr.labels import Problem
from thaiocr.preprocess import Preprocess

DIGITS = Charset.builtin("digits")
PRE = Preprocess(height=32, max_width=128)


# --- helpers ------------------------------------------------------------------------------------


def make_png(path: Path, width: int = 40, height: int = 32, color: str = "white") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), color).save(path)
    return path


def make_png_with_bad_pixels(path: Path) -> Path:
    """A PNG whose chunks and checksums are valid but whose pixel data does not decompress."""
    buffer = io.BytesIO()
    Image.new("RGB", (40, 32), "white").save(buffer, "PNG")
    data = buffer.getvalue()
    start = data.index(b"IDAT")
    length = int.from_bytes(data[start - 4 : start], "big")
    chunk = b"IDAT" + b"\x00" * length
    path.write_bytes(data[:start] + chunk + zlib.crc32(chunk).to_bytes(4, "big") + data[start + 4 + length + 4 :])
    return path


def write_labels(path: Path, lines: list[str], newline: str = "\n") -> Path:
    path.write_bytes("".join(line + newline for line in lines).encode("utf-8"))
    return path


def dataset_config(data_dir: Path, *label_files: Path, **options) -> DatasetConfig:
    return DatasetConfig(data_dir=data_dir, label_file_list=list(label_files), **options)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    make_png(folder / "good.png")
    (folder / "garbage.png").write_bytes(b"this is not a png at all")
    make_png(tmp_path / "outside.png")
    return folder


def scan_lines(data_dir: Path, lines: list[str], max_text_length: int = 10, **options) -> DataReport:
    labels = write_labels(data_dir / "train.txt", lines)
    return scan_split(dataset_config(data_dir, labels), DIGITS, max_text_length, **options)


# --- scanning -----------------------------------------------------------------------------------


def test_good_lines_become_samples_with_counts_and_coverage(data_dir: Path) -> None:
    make_png(data_dir / "sub" / "b.png")
    report = scan_lines(data_dir, ["good.png\t123", "sub/b.png\t๑๒ ๓"])
    labels = data_dir / "train.txt"
    assert report.ok and report.n_lines == 2
    assert report.samples == [
        Sample(data_dir / "good.png", "123", labels, 1),
        Sample(data_dir / "sub" / "b.png", "๑๒ ๓", labels, 2),
    ]
    assert report.char_counts[" "] == 1 and report.char_counts["1"] == 1
    used, total, missing = report.coverage(DIGITS)
    assert (used, total) == (7, len(DIGITS)) and "0" in missing and "1" not in missing


@pytest.mark.parametrize(
    ("line", "kind", "fragment"),
    [
        ("nothere.png\t12", "missing_image", "'nothere.png' not found"),
        ("garbage.png\t12", "corrupt_image", "'garbage.png' cannot be read"),
        ("good.png\t", "empty_label", "empty label"),
        ("good.png\t  ", "empty_label", "empty label"),
        ("good.png\t1\t2", "tab_or_line_break", "label '1\\t2' holds a tab or line break"),
        ("good.png\tx๑", "unknown_chars", "label 'x๑' has characters outside the alphabet: 'x' (U+0078)"),
        ("good.png\t12345678901", "too_long", "11 code points, more than max_text_length 10"),
        ("../outside.png\t1", "path_escapes", "outside data_dir"),
        ("sub/../../outside.png\t1", "path_escapes", "outside data_dir"),
        ("/etc/passwd\t1", "path_escapes", "is absolute"),
        ("good.png 12", "no_delimiter", "no delimiter '\\t'"),
        ("\t12", "missing_image", "no image path"),
    ],
)
def test_each_bad_line_is_reported_with_file_and_line(
    data_dir: Path, line: str, kind: str, fragment: str
) -> None:
    report = scan_lines(data_dir, ["good.png\t1", line, "good.png\t2"])
    assert [s.line for s in report.samples] == [1, 3]
    [problem] = report.problems
    assert (problem.kind, problem.line) == (kind, 2)
    assert str(problem).startswith(f"{data_dir / 'train.txt'}:2: ")
    assert fragment in problem.message


def test_symlink_out_of_data_dir_escapes(data_dir: Path, tmp_path: Path) -> None:
    (data_dir / "link.png").symlink_to(tmp_path / "outside.png")
    [problem] = scan_lines(data_dir, ["link.png\t1"]).problems
    assert problem.kind == "path_escapes" and str(tmp_path / "outside.png") in problem.message


def test_check_images_levels(data_dir: Path) -> None:
    make_png_with_bad_pixels(data_dir / "bad_pixels.png")
    lines = ["garbage.png\t1", "bad_pixels.png\t2"]
    assert scan_lines(data_dir, lines, check_images="exists").ok
    assert [p.line for p in scan_lines(data_dir, lines, check_images="open").problems] == [1]
    decoded = scan_lines(data_dir, lines, check_images="decode").problems
    assert [(p.line, p.kind) for p in decoded] == [(1, "corrupt_image"), (2, "corrupt_image")]


def test_label_file_not_utf8_is_unusable_and_names_first_bad_line(data_dir: Path) -> None:
    labels = data_dir / "train.txt"
    labels.write_bytes(b"good.png\t1\n" + "good.png\t๑๒\n".encode("cp874") + b"good.png\t3\n")
    report = scan_split(dataset_config(data_dir, labels), DIGITS, 10)
    assert report.samples == []
    [problem] = report.problems
    assert (problem.kind, problem.line) == ("bad_encoding", 2)
    assert str(problem).startswith(f"{labels}:2: label file is not UTF-8")
    assert "none of its lines were used" in problem.message


def test_missing_label_file_is_a_problem_and_other_files_still_count(data_dir: Path) -> None:
    good = write_labels(data_dir / "good.txt", ["good.png\t1"])
    missing = data_dir / "missing.txt"
    report = scan_split(dataset_config(data_dir, good, missing), DIGITS, 10)
    assert len(report.samples) == 1
    [problem] = report.problems
    assert problem == Problem(missing, 0, "missing_label_file", "label file not found")
    assert str(problem) == f"{missing}: label file not found"


def test_empty_label_file_is_not_ok(data_dir: Path) -> None:
    report = scan_lines(data_dir, [""])
    assert (report.n_lines, report.problems, report.ok) == (0, [], False)


def test_no_label_files_raises(data_dir: Path) -> None:
    with pytest.raises(DataError, match="label_file_list is empty"):
        scan_split(dataset_config(data_dir), DIGITS, 10)


def test_only_line_endings_are_stripped_and_split_is_on_first_delimiter(data_dir: Path) -> None:
    labels = write_labels(data_dir / "train.txt", ["good.png 1 2 ", "", "good.png 3"], newline="\r\n")
    report = scan_split(dataset_config(data_dir, labels, delimiter=" "), DIGITS, 10)
    assert [(s.text, s.line) for s in report.samples] == [("1 2 ", 1), ("3", 3)]


def test_labels_are_normalised_before_validation(data_dir: Path) -> None:
    labels = write_labels(data_dir / "train.txt", ["good.png\tก\u0e4d\u0e32"])
    report = scan_split(dataset_config(data_dir, labels), Charset.from_chars(["ก", "\u0e33"]), 10)
    assert report.ok and report.samples[0].text == "ก\u0e33"


def test_ratio_list_takes_a_fixed_sample_in_file_order(data_dir: Path) -> None:
    first = write_labels(data_dir / "a.txt", [f"good.png\t{i}" for i in range(20)])
    second = write_labels(data_dir / "b.txt", ["good.png\t1", "good.png\t2"])
    config = dataset_config(data_dir, first, second, ratio_list=[0.5, 1.0])
    picked = [[(s.source.name, s.line) for s in scan_split(config, DIGITS, 10).samples] for _ in range(2)]
    assert picked[0] == picked[1]
    first_lines = [line for name, line in picked[0] if name == "a.txt"]
    assert len(first_lines) == 10 and first_lines == sorted(first_lines)
    assert [line for name, line in picked[0] if name == "b.txt"] == [1, 2]
    with pytest.raises(DataError, match="2 values for 1 label files"):
        scan_split(dataset_config(data_dir, first, ratio_list=[0.5, 0.5]), DIGITS, 10)


def test_summary_lists_first_20_problems_and_report_is_json_ready(data_dir: Path) -> None:
    report = scan_lines(data_dir, ["good.png\t1"] + [f"gone{i}.png\t1" for i in range(25)])
    summary = report.summary()
    assert summary.startswith("Train: 26 lines, 1 good samples, 25 problems (missing_image 25)")
    assert "alphabet coverage: 1 of 26" in summary
    assert f"{data_dir / 'train.txt'}:21: image 'gone19.png'" in summary
    assert "gone20.png" not in summary and summary.endswith("... and 5 more")
    data = json.loads(json.dumps(report.to_dict()))
    assert data["n_problems"] == 25 and data["problems"][0]["line"] == 2
    assert data["coverage"]["used"] == 1


# --- load_split and the policy ------------------------------------------------------------------


def test_strict_policy_raises_with_summary_and_hint(data_dir: Path) -> None:
    labels = write_labels(data_dir / "train.txt", ["good.png\t1", "nothere.png\t2"])
    with pytest.raises(DataError) as caught:
        load_split(dataset_config(data_dir, labels), DIGITS, 10, PRE, split="Eval")
    message = str(caught.value)
    assert message.startswith("Eval: 2 lines, 1 good samples, 1 problem")
    assert f"{labels}:2: image 'nothere.png' not found" in message
    assert "set Eval.dataset.on_bad_data: skip" in message


def test_skip_policy_keeps_good_samples_and_warns(data_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    labels = write_labels(data_dir / "train.txt", ["good.png\t1", "nothere.png\t2", "good.png\t3"])
    with caplog.at_level(logging.WARNING, logger="thaiocr.data"):
        dataset = load_split(dataset_config(data_dir, labels, on_bad_data="skip"), DIGITS, 10, PRE)
    assert [s.text for s in dataset.samples] == ["1", "3"]
    assert "Train: 1 problem;" in caplog.text and f"{labels}:2:" in caplog.text


@pytest.mark.parametrize("policy", ["strict", "skip"])
def test_no_good_samples_is_always_an_error(data_dir: Path, policy: str) -> None:
    labels = write_labels(data_dir / "train.txt", ["", "nothere.png\t1"][: 1 if policy == "strict" else 2])
    with pytest.raises(DataError, match="Train has no usable samples"):
        load_split(dataset_config(data_dir, labels, on_bad_data=policy), DIGITS, 10, PRE)


# --- RecDataset, collate, make_loader -----------------------------------------------------------


def make_dataset(data_dir: Path, texts: list[str]) -> RecDataset:
    make_png(data_dir / "red.png", width=64, height=16, color="red")
    samples = [Sample(data_dir / "red.png", text, data_dir / "train.txt", i + 1) for i, text in enumerate(texts)]
    return RecDataset(samples, PRE)


def test_dataset_yields_resized_bgr_images_and_preload_matches(data_dir: Path) -> None:
    dataset = make_dataset(data_dir, ["1", "2", "3"])
    image, text = dataset[1]
    assert text == "2" and image.dtype == np.uint8 and image.shape == (32, 128, 3)
    assert image[0, 0].tolist() == [0, 0, 255]
    lazy = [dataset[i][0] for i in range(len(dataset))]
    for workers in (0, 2):
        dataset.preload(workers=workers, progress=False)
        assert dataset.preloaded
        assert all(np.array_equal(a, dataset[i][0]) for i, a in enumerate(lazy))


@pytest.mark.parametrize("workers", [0, 2])
def test_image_failing_at_load_names_file_and_line(data_dir: Path, workers: int) -> None:
    bad = make_png_with_bad_pixels(data_dir / "bad_pixels.png")
    dataset = make_dataset(data_dir, ["1"])
    dataset.samples.append(Sample(bad, "2", data_dir / "train.txt", 7))
    with pytest.raises(DataError, match=r"train\.txt:7: .*bad_pixels\.png"):
        dataset.preload(workers=workers, progress=False)


def test_collate_pads_images_and_concatenates_targets(data_dir: Path) -> None:
    narrow = PRE.resize(Image.new("RGB", (32, 32), "white"))
    batch = collate([(narrow, "12"), make_dataset(data_dir, ["๓4๕"])[0]], PRE, DIGITS)
    assert isinstance(batch, Batch)
    assert batch.images.dtype == torch.float32 and batch.images.shape == (2, 3, 32, 128)
    assert batch.images[0, :, :, 32:].abs().sum() == 0
    assert batch.targets.dtype == torch.int64 and batch.targets.tolist() == DIGITS.encode("12๓4๕")
    assert batch.target_lengths.tolist() == [2, 3] and batch.texts == ["12", "๓4๕"]


def loader_texts(loader) -> list[list[str]]:
    return [batch.texts for batch in loader]


def test_make_loader_is_reproducible_with_a_seed(data_dir: Path) -> None:
    dataset = make_dataset(data_dir, [str(i) for i in range(8)])
    config = LoaderConfig(shuffle=True, batch_size_per_card=3, drop_last=True, num_workers=2)
    assert make_loader(dataset, config, DIGITS, PRE, seed=1).num_workers == min(2, (os.cpu_count() or 1) - 1)
    dataset.preload(progress=False)
    first = make_loader(dataset, config, DIGITS, PRE, seed=1)
    assert first.num_workers == 0
    order = loader_texts(first)
    assert [len(b) for b in order] == [3, 3]
    assert loader_texts(make_loader(dataset, config, DIGITS, PRE, seed=1)) == order
    assert loader_texts(make_loader(dataset, config, DIGITS, PRE, seed=1, epoch_seed_offset=1)) != order


def test_an_unshuffled_preloaded_set_is_batched_from_narrowest_to_widest(data_dir: Path) -> None:
    widths = {"w64": 64, "w16": 16, "w48": 48, "w32": 32, "w16b": 16}
    samples = []
    for line, (name, width) in enumerate(widths.items(), start=1):
        make_png(data_dir / f"{name}.png", width=width, height=16, color="red")
        samples.append(Sample(data_dir / f"{name}.png", str(line), data_dir / "eval.txt", line))
    dataset = RecDataset(samples, PRE)
    dataset.preload(progress=False)
    config = LoaderConfig(shuffle=False, batch_size_per_card=2, drop_last=False)
    assert loader_texts(make_loader(dataset, config, DIGITS, PRE, seed=0)) == [["2", "5"], ["4", "3"], ["1"]]


def test_drop_last_keeps_a_partial_batch_smaller_than_one_batch(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dataset = make_dataset(data_dir, ["1", "2"])
    config = LoaderConfig(batch_size_per_card=32, drop_last=True)
    with caplog.at_level(logging.WARNING, logger="thaiocr.data"):
        batches = loader_texts(make_loader(dataset, config, DIGITS, PRE, seed=0))
    assert batches == [["1", "2"]] and "fewer than one batch of 32" in caplog.text


# --- check_data ---------------------------------------------------------------------------------


def test_check_data_scans_train_and_eval(tmp_path: Path, data_dir: Path) -> None:
    write_labels(data_dir / "train.txt", ["good.png\t12"])
    write_labels(data_dir / "eval.txt", ["good.png\t123456"])
    raw = {
        "Global": {"character_dict_path": "digits", "max_text_length": 5},
        "Train": {"dataset": {"data_dir": "data", "label_file_list": ["data/train.txt"]}},
        "Eval": {"dataset": {"data_dir": "data", "label_file_list": ["data/eval.txt"]}},
    }
    train, evaluation = check_data(build_config(raw, source=tmp_path / "x.yml"))
    assert (train.split, train.ok, len(train.samples)) == ("Train", True, 1)
    assert evaluation.split == "Eval"
    assert [(p.kind, p.line) for p in evaluation.problems] == [("too_long", 1)]


def test_width_bucket_sampler_covers_every_sample_once_in_similar_width_batches():
    widths = [(i * 37) % 250 + 4 for i in range(1000)]

    def batches(seed: int) -> list[list[int]]:
        generator = torch.Generator()
        generator.manual_seed(seed)
        return list(WidthBucketSampler(widths, 10, drop_last=False, generator=generator))

    first = batches(0)
    assert sorted(i for batch in first for i in batch) == list(range(1000))
    assert len(first) == len(WidthBucketSampler(widths, 10, False, torch.Generator())) == 100
    spread = sum(max(widths[i] for i in b) - min(widths[i] for i in b) for b in first) / len(first)
    assert spread < 20  # random batches of 10 would spread over ~200 pixels
    assert first == batches(0) and first != batches(1)


def test_width_bucket_sampler_drop_last_drops_only_the_partial_batch():
    generator = torch.Generator()
    sampler = WidthBucketSampler([5] * 25, 10, drop_last=True, generator=generator)
    assert len(sampler) == 2
    assert [len(b) for b in sampler] == [10, 10]


class RenderedLines:
    """Lines of known widths that are made on demand, like a stream rendered while training."""

    preloaded = False

    def __init__(self, widths: list[int]) -> None:
        self.widths = widths

    def __len__(self) -> int:
        return len(self.widths)

    def __getitem__(self, index: int) -> tuple[np.ndarray, str]:
        return np.zeros((32, self.widths[index], 3), np.uint8), str(index)


def test_a_stream_is_batched_by_width_within_pools_reproducibly():
    widths = [(i * 37) % 120 + 4 for i in range(300)]
    stream = RenderedLines(widths)
    config = LoaderConfig(shuffle=True, batch_size_per_card=10, drop_last=True, num_workers=0)

    def batches(seed: int) -> list[Batch]:
        return list(make_loader(stream, config, DIGITS, PRE, seed=seed))

    loader = make_loader(stream, config, DIGITS, PRE, seed=0)
    assert isinstance(loader, PooledWidthBatches) and len(loader) == 30
    first = batches(0)
    assert len(first) == 30 and sorted(int(t) for b in first for t in b.texts) == list(range(300))
    padded = sum(b.images.shape[3] for b in first) / len(first)
    assert padded < 90  # random batches of 10 are padded to ~113 of these widths
    assert [b.images.shape for b in first] == [b.images.shape for b in batches(0)]
    assert [b.texts for b in first] == [b.texts for b in batches(0)]
    assert [b.images.shape for b in first] != [b.images.shape for b in batches(1)]


def test_a_stream_with_drop_last_drops_only_the_partial_batch():
    config = LoaderConfig(shuffle=True, batch_size_per_card=10, drop_last=True, num_workers=0)
    loader = make_loader(RenderedLines([8] * 95), config, DIGITS, PRE, seed=0)
    assert len(loader) == 9 and [len(b.texts) for b in loader] == [10] * 9
    kept = make_loader(RenderedLines([8] * 95), LoaderConfig(shuffle=True, batch_size_per_card=10, drop_last=False),
                       DIGITS, PRE, seed=0)
    assert len(kept) == 10 and sorted(len(b.texts) for b in kept) == [5] + [10] * 9


def sigterm_is_default(_: object) -> np.ndarray:
    return np.array([signal.getsignal(signal.SIGTERM) == signal.SIG_DFL])


def test_preload_workers_end_on_sigterm_even_where_the_parent_handles_it():
    """A cloud job handles SIGTERM; forked preload workers must not inherit that, or the pool's
    terminate (SIGTERM) makes a worker raise instead of exit and the pool can hang."""

    def handler(signum: int, frame: object) -> None:
        raise RuntimeError("stopped")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        seen = _load_in_processes([None] * 4, sigterm_is_default, 2, tqdm(disable=True))
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert [bool(flag[0]) for flag in seen] == [True] * 4
