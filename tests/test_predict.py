import io
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from thaiocr.charset import Charset
from thaiocr.checkpoint import make_payload, save_checkpoint
from thaiocr.config import ArchitectureConfig
from thaiocr.errors import ThaiOCRError
from thaiocr.export import export_onnx
from thaiocr.linecut import cut_line, join_readings
from thaiocr.model import build_model
from thaiocr.predict import Prediction, Recognizer, Reread, predict_label_file, stretch_width
from thaiocr.preprocess import Preprocess, open_image

CHARSET = Charset.from_chars(list("0123456789๐๑๒"))
PREPROCESS = Preprocess(32, 128)


@pytest.fixture(scope="module")
def images() -> list[Image.Image]:
    rng = np.random.default_rng(0)
    plain = [Image.new("RGB", size, (v, v, v)) for size, v in [((90, 30), 0), ((20, 30), 255), ((300, 30), 128)]]
    noisy = [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for w, h in [(64, 32), (45, 16)]]
    return plain + noisy


@pytest.fixture(scope="module")
def model(images):
    torch.manual_seed(0)
    arch = ArchitectureConfig(
        Backbone={"name": "MobileNetV3", "model_name": "small", "scale": 0.35},
        Neck={"name": "SequenceEncoder", "encoder_type": "rnn", "hidden_size": 16},
        Head={"name": "CTCHead"},
    )
    crnn = build_model(arch, CHARSET.num_classes)
    # An untrained model reads every image alike; batch-norm statistics taken from the images and
    # a sharper head make its (still meaningless) readings depend on the image.
    for module in crnn.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None
    with torch.no_grad():
        crnn(torch.from_numpy(PREPROCESS(images)))
        crnn.head.fc.weight.mul_(10)
    return crnn.eval()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, model):
    """A run folder in the trainer's layout: ``best_accuracy.pt`` and ``best_model/inference.onnx``."""
    folder = tmp_path_factory.mktemp("run")
    save_checkpoint(folder / "best_accuracy.pt", make_payload(model, CHARSET, PREPROCESS))
    export_onnx(model, CHARSET, PREPROCESS, folder / "best_model" / "inference.onnx")
    return folder


def texts(predictions: list[Prediction]) -> list[str]:
    return [p.text for p in predictions]


def test_onnx_folder_run_dir_and_checkpoint_read_alike(run_dir, images):
    sources = [run_dir / "best_model" / "inference.onnx", run_dir / "best_model", run_dir,
               run_dir / "best_accuracy.pt"]
    results = [Recognizer.from_path(source)(images, batch_size=2) for source in sources]
    assert all(texts(r) == texts(results[0]) for r in results)
    confidences = np.array([[p.confidence for p in r] for r in results])
    np.testing.assert_allclose(confidences, confidences[0:1].repeat(len(sources), 0), atol=1e-4)
    assert len(set(texts(results[0]))) > 1  # the images really read differently


def test_recognizer_from_parts_matches_the_exported_model(run_dir, model, images):
    in_memory = Recognizer.from_parts(model, CHARSET, PREPROCESS)
    assert texts(in_memory(images)) == texts(Recognizer.from_path(run_dir)(images))
    assert in_memory.charset == CHARSET and in_memory.preprocess == PREPROCESS


def test_results_keep_the_input_order(run_dir, images):
    recognizer = Recognizer.from_path(run_dir)
    fitting = [image for image in images if PREPROCESS.target_width(*image.size) <= PREPROCESS.max_width]
    forward = texts(recognizer(fitting, batch_size=2))  # widths all differ: the same batches either way
    backward = texts(recognizer(fitting[::-1], batch_size=2))
    assert backward == forward[::-1] and len(set(forward)) > 1
    with_pieces = texts(recognizer(images, batch_size=64))  # one wide image, cut: one batch either way
    assert texts(recognizer(images[::-1], batch_size=64)) == with_pieces[::-1]
    assert recognizer([]) == []


def test_batches_read_while_the_next_one_runs_read_as_each_alone(run_dir, images):
    recognizer = Recognizer.from_path(run_dir)
    recognizer.reread = None  # crowded lines of all batches are read again together
    batches = [[PREPROCESS.resize(image)] for image in images] + [[PREPROCESS.resize(i) for i in images[:3]]]
    assert list(recognizer.read_batches(batches)) == [recognizer.read_batch(batch) for batch in batches]
    assert list(recognizer.read_batches([])) == []


def test_crowded_lines_are_read_again_stretched_and_the_rest_once(run_dir, images):
    plain, rereading = Recognizer.from_path(run_dir), Recognizer.from_path(run_dir)
    plain.reread = None
    resized = [PREPROCESS.resize(image) for image in images]
    rereading.reread = Reread(frames_per_char=0.0)  # no line is that crowded
    assert [rereading.read_batch([line]) for line in resized] == [plain.read_batch([line]) for line in resized]
    rereading.reread = Reread(frames_per_char=1000.0, stretch=1.5)  # every line that reads a character is
    for line in resized:
        once = plain.read_batch([line])
        stretched = plain.read_batch([stretch_width(line, 1.5)])
        assert rereading.read_batch([line]) == (stretched if once[0][0] else once)


def test_stretching_a_line_widens_it_and_keeps_its_channels():
    line = np.zeros((32, 100, 3), dtype=np.uint8)
    line[:, :, 0] = 200
    wider = stretch_width(line, 1.15)
    assert wider.shape == (32, 115, 3) and wider.dtype == np.uint8 and (wider[:, :, 0] == 200).all()


def test_a_wide_line_is_read_in_pieces_batched_with_the_other_lines(model, images):
    rng = np.random.default_rng(1)
    wide = np.full((32, 520, 3), 255, dtype=np.uint8)
    for start in range(0, 500, 50):  # glyph-like patches of noise with blank gaps between them
        wide[4:28, start + 6 : start + 46] = rng.integers(0, 120, (24, 40, 3))
    fitting = [images[0], images[3]]
    calls: list[int] = []

    def recorded(batch: np.ndarray) -> np.ndarray:
        calls.append(len(batch))
        with torch.no_grad():
            return torch.softmax(model(torch.from_numpy(batch)), dim=2).numpy()

    recognizer = Recognizer.from_backend(recorded, CHARSET, PREPROCESS, "recorded")
    recognizer.reread = None  # an untrained model's crowded readings would be read again in another call
    predictions = recognizer([fitting[0], wide, fitting[1]])
    cut = cut_line(PREPROCESS.scale(open_image(wide)), PREPROCESS.max_width)
    assert len(cut.pieces) >= 4 and calls == [2 + len(cut.pieces)]  # every line and piece in one model call
    alone = recognizer.read_batch([PREPROCESS.resize(fitting[0]), *cut.pieces, PREPROCESS.resize(fitting[1])])
    pieces_text, pieces_confidence = zip(*alone[1:-1], strict=True)
    joined = join_readings(pieces_text, pieces_confidence, cut.separators)
    assert [(p.text, p.confidence) for p in predictions] == [alone[0], joined, alone[-1]]


def test_a_line_up_to_twelve_heights_is_squeezed_as_training_squeezes_it(model, images):
    calls: list[tuple[int, int]] = []

    def recorded(batch: np.ndarray) -> np.ndarray:
        calls.append((len(batch), batch.shape[3]))
        with torch.no_grad():
            return torch.softmax(model(torch.from_numpy(batch)), dim=2).numpy()

    recognizer = Recognizer.from_backend(recorded, CHARSET, PREPROCESS, "recorded")
    overflowing = images[0].resize((12 * 32, 32))  # three input widths of a 32 x 128 model, 12:1
    (prediction,) = recognizer([overflowing])
    assert calls == [(1, PREPROCESS.max_width)]  # one piece, squeezed to the input width
    assert (prediction.text, prediction.confidence) == recognizer.read_batch([PREPROCESS.resize(overflowing)])[0]
    recognizer([images[0].resize((12 * 32 + 40, 32))])
    assert calls[-1][0] >= 3  # longer: cut into pieces that fit


def test_paths_bytes_and_bgr_arrays_are_read_like_pil_images(tmp_path, run_dir, images):
    image = images[0]
    image.save(tmp_path / "line.png")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    bgr = np.asarray(image)[:, :, ::-1]
    recognizer = Recognizer.from_path(run_dir)
    assert len(set(texts(recognizer([image, tmp_path / "line.png", buffer.getvalue(), bgr])))) == 1


def test_metadata_gives_the_charset_and_preprocess(run_dir):
    recognizer = Recognizer.from_path(run_dir / "best_model")
    assert recognizer.charset == CHARSET and recognizer.preprocess == PREPROCESS


def test_dict_file_disagreeing_with_metadata_is_a_clear_error(tmp_path, run_dir):
    folder = tmp_path / "model"
    shutil.copytree(run_dir / "best_model", folder)
    (folder / "dict.txt").write_text("a\nb\n", encoding="utf-8")
    with pytest.raises(ThaiOCRError, match=r"model/dict mismatch: .*inference\.onnx.*dict\.txt"):
        Recognizer.from_path(folder)


def test_output_of_the_wrong_size_is_a_clear_error(model, images):
    def wrong_size(batch):
        return np.zeros((len(batch), 4, 3), np.float32)

    recognizer = Recognizer.from_backend(wrong_size, CHARSET, PREPROCESS, "fake")
    with pytest.raises(ThaiOCRError, match="model and dict do not match"):
        recognizer(images[:1])
    with pytest.raises(ThaiOCRError, match="model/dict mismatch"):
        Recognizer.from_parts(model, Charset.from_chars(list("ab")), PREPROCESS)


def test_missing_or_unknown_model_files_are_clear_errors(tmp_path):
    with pytest.raises(ThaiOCRError, match=r"nothing\.onnx: model not found"):
        Recognizer.from_path(tmp_path / "nothing.onnx")
    with pytest.raises(ThaiOCRError, match="no model found"):
        Recognizer.from_path(tmp_path)
    (tmp_path / "model.bin").write_bytes(b"")
    with pytest.raises(ThaiOCRError, match="expected an .onnx model"):
        Recognizer.from_path(tmp_path / "model.bin")


def test_predict_label_file_writes_one_line_per_image(tmp_path, run_dir, images):
    for i, image in enumerate(images[:3]):
        image.save(tmp_path / f"{i}.png")
    (tmp_path / "labels.txt").write_text("".join(f"{i}.png\t12\n" for i in range(3)), encoding="utf-8")
    recognizer = Recognizer.from_path(run_dir)
    count = predict_label_file(recognizer, tmp_path / "labels.txt", tmp_path / "out" / "pred.tsv")
    lines = (tmp_path / "out" / "pred.tsv").read_text(encoding="utf-8").splitlines()
    assert count == 3 and [line.split("\t")[0] for line in lines] == [f"{i}.png" for i in range(3)]  # as listed
    assert [line.split("\t")[1] for line in lines] == texts(recognizer([tmp_path / f"{i}.png" for i in range(3)]))
