"""Fine-tuning from a trained checkpoint: weights copied, the output layer remapped by character, clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from thaiocr.charset import Charset, load_charset
from thaiocr.checkpoint import load_checkpoint, make_payload, model_from_checkpoint, save_checkpoint
from thaiocr.cli import main
from thaiocr.config import Config, load_config
from thaiocr.data import read_labelled_images
from thaiocr.errors import ThaiOCRError
from thaiocr.finetune import load_pretrained, resolve_pretrained
from thaiocr.model import CRNN, build_model
from thaiocr.predict import Recognizer
from thaiocr.preprocess import Preprocess

NEW_CHARS = ("ก", "ข", "A")


# --- helpers ------------------------------------------------------------------------------------


def recipe(tiny_run, *overrides: str) -> Config:
    """The tiny run's own recipe, with ``Key=value`` overrides."""
    return load_config(tiny_run.run_dir / "config.yml", list(overrides))


def fresh_model(config: Config) -> tuple[CRNN, Charset]:
    charset = load_charset(config.Global.character_dict_path, config.Global.use_space_char)
    return build_model(config.Architecture, charset.num_classes), charset


def readings(model: CRNN, charset: Charset, config: Config, labels: Path) -> list[str]:
    """Greedy readings of every image of a label file."""
    paths = [sample.image_path for sample in read_labelled_images(labels)]
    return [p.text for p in Recognizer.from_parts(model, charset, config.preprocess)(paths)]


def source_model(tiny_run) -> tuple[CRNN, Charset]:
    model, charset, _ = model_from_checkpoint(load_checkpoint(tiny_run.run_dir / "best_accuracy.pt"))
    return model, charset


def write_dict(path: Path, chars: list[str]) -> Path:
    path.write_text("".join(ch + "\n" for ch in chars), encoding="utf-8")
    return path


def output_rows(model: CRNN, charset: Charset, key: str) -> dict[str, torch.Tensor]:
    """The output layer's rows by character (``""`` for the blank)."""
    rows = model.state_dict()[key]
    return {"": rows[0], **{ch: rows[i + 1] for i, ch in enumerate(charset.chars)}}


# --- the same alphabet --------------------------------------------------------------------------


def test_same_alphabet_copies_every_tensor_and_keeps_the_readings(tiny_run) -> None:
    config = recipe(tiny_run)
    model, charset = fresh_model(config)
    report = load_pretrained(model, charset, tiny_run.run_dir / "best_accuracy.pt", config.preprocess)
    source, source_charset = source_model(tiny_run)
    assert report.copied == report.total == len(source.state_dict()) and report.remapped == ()
    assert (report.new, report.dropped) == ((), ())
    assert all(torch.equal(v, source.state_dict()[k]) for k, v in model.state_dict().items())
    expected = readings(source, source_charset, config, tiny_run.val_labels)
    assert readings(model, charset, config, tiny_run.val_labels) == expected
    assert "alphabet: unchanged (26 characters)" in report.summary()


def test_a_change_of_input_height_is_noted(tiny_run) -> None:
    model, charset = fresh_model(recipe(tiny_run))
    report = load_pretrained(model, charset, tiny_run.run_dir / "best_accuracy.pt", Preprocess(48, 96))
    assert "note: the checkpoint was trained on 32-pixel-high lines, the recipe uses 48" in report.summary()


# --- another alphabet ---------------------------------------------------------------------------


def test_another_alphabet_copies_shared_rows_by_character(tiny_run, tmp_path) -> None:
    source, source_charset = source_model(tiny_run)
    dropped = ("๙", "/", ":")  # in the source dict's order
    kept = [ch for ch in source_charset.chars if ch not in dropped][::-1]  # reversed: mapping by index would fail
    dict_path = write_dict(tmp_path / "my_dict.txt", [*kept[:5], *NEW_CHARS, *kept[5:]])
    config = recipe(tiny_run, f"Global.character_dict_path={dict_path}")
    model, charset = fresh_model(config)
    report = load_pretrained(model, charset, tiny_run.run_dir / "best_accuracy.pt")

    assert report.remapped == ("head.fc.weight", "head.fc.bias")
    assert report.copied == report.total - 2
    assert (report.new, report.dropped, len(report.kept)) == (NEW_CHARS, dropped, len(kept))
    for key in report.remapped:
        mine, theirs = output_rows(model, charset, key), output_rows(source, source_charset, key)
        for ch in ["", *kept]:
            assert torch.equal(mine[ch], theirs[ch]), f"{key} row of {ch!r} not copied"
        mean = torch.stack([theirs[ch] for ch in source_charset.chars]).mean(dim=0)
        for ch in NEW_CHARS:
            assert torch.allclose(mine[ch], mean)
    body = {k: v for k, v in model.state_dict().items() if not k.startswith("head.fc.")}
    assert all(torch.equal(v, source.state_dict()[k]) for k, v in body.items())

    summary = report.summary()
    assert "remapped head.fc.weight and head.fc.bias by character" in summary
    assert f"{len(kept)} characters kept, 3 new: 'ก' 'ข' 'A', 3 dropped: '๙' '/' ':'" in summary


def test_new_characters_leave_the_readings_unchanged_at_step_0(tiny_run, tmp_path) -> None:
    """Rows started from the mean never outbid the trained rows, wherever their logits sit.

    Softmax ignores a shift of all logits, so a trained head's can sit anywhere; here all are
    below zero, where a freshly initialised row (logits near zero) would win every frame. The
    source is untrained: unlike the tiny run's, which reads blanks only, it reads many lines.
    """
    config = recipe(tiny_run)
    torch.manual_seed(0)
    source, source_charset = fresh_model(config)
    with torch.no_grad():
        source.head.fc.bias -= 5.0
    checkpoint = tmp_path / "source.pt"
    save_checkpoint(checkpoint, make_payload(source, source_charset, config.preprocess))
    expected = readings(source, source_charset, config, tiny_run.val_labels)
    assert sum(map(bool, expected)) >= len(expected) // 4, "the untrained model should read many lines"
    dict_path = write_dict(tmp_path / "my_dict.txt", [*NEW_CHARS, *source_charset.chars])
    config = recipe(tiny_run, f"Global.character_dict_path={dict_path}")
    model, charset = fresh_model(config)
    load_pretrained(model, charset, checkpoint)
    assert readings(model, charset, config, tiny_run.val_labels) == expected


def test_with_mid_channels_only_the_last_linear_is_remapped(tiny_run, tmp_path) -> None:
    config = recipe(tiny_run, "Architecture.Head.mid_channels=12")
    source, source_charset = fresh_model(config)
    checkpoint = tmp_path / "mid.pt"
    save_checkpoint(checkpoint, make_payload(source, source_charset, config.preprocess))
    dict_path = write_dict(tmp_path / "my_dict.txt", ["A", "0", "1"])
    target_config = recipe(tiny_run, "Architecture.Head.mid_channels=12", f"Global.character_dict_path={dict_path}")
    model, charset = fresh_model(target_config)
    report = load_pretrained(model, charset, checkpoint)
    assert report.remapped == ("head.fc.1.weight", "head.fc.1.bias")
    assert torch.equal(model.head.fc[0].weight, source.head.fc[0].weight)
    assert torch.equal(model.head.fc[1].weight[2], source.head.fc[1].weight[1])  # '0'
    assert model.head.fc[1].weight.shape == (4, 12)


# --- refusals -----------------------------------------------------------------------------------


def test_an_architecture_mismatch_names_the_first_differing_tensor(tiny_run) -> None:
    config = recipe(tiny_run, "Architecture.Neck.hidden_size=24")
    model, charset = fresh_model(config)
    with pytest.raises(ThaiOCRError) as caught:
        load_pretrained(model, charset, tiny_run.run_dir / "best_accuracy.pt")
    message = str(caught.value)
    assert "tensor 'neck.rnn.weight_ih_l0' has shape (64, 200) in the checkpoint, (96, 200) in the recipe's model" \
        in message
    assert "Neck.hidden_size: 16 in the checkpoint, 24 in the recipe" in message


def test_a_backbone_of_another_width_is_refused(tiny_run) -> None:
    config = recipe(tiny_run, "Architecture.Backbone.scale=0.5")
    model, charset = fresh_model(config)
    with pytest.raises(ThaiOCRError, match=r"tensor 'backbone\.features\.[\w.]+\.weight' has shape .*"
                                           r"Backbone\.scale: 0\.35 in the checkpoint, 0\.5 in the recipe"):
        load_pretrained(model, charset, tiny_run.run_dir / "best_accuracy.pt")


def test_an_onnx_model_cannot_be_fine_tuned(tiny_run) -> None:
    best = tiny_run.run_dir / "best_accuracy.pt"
    for path in (tiny_run.best_model / "inference.onnx", tiny_run.best_model):
        with pytest.raises(ThaiOCRError) as caught:
            resolve_pretrained(path)
        assert "ONNX model, which cannot be fine-tuned" in str(caught.value)
        assert f"e.g. {best}" in str(caught.value)


def test_a_missing_model_is_reported(tmp_path) -> None:
    with pytest.raises(ThaiOCRError, match=r"pretrained model .*nowhere\.pt not found"):
        resolve_pretrained(tmp_path / "nowhere.pt")


def test_a_run_folder_or_a_paddleocr_style_path_finds_the_checkpoint(tiny_run) -> None:
    best = tiny_run.run_dir / "best_accuracy.pt"
    assert resolve_pretrained(tiny_run.run_dir) == best
    assert resolve_pretrained(tiny_run.run_dir / "best_accuracy") == best


# --- the command line ---------------------------------------------------------------------------


def test_train_pretrained_fine_tunes_with_a_larger_alphabet_then_resumes(
    tiny_run, tmp_path, make_train_argv, capsys
) -> None:
    source = tiny_run.run_dir / "best_accuracy.pt"
    trained = load_checkpoint(source)
    chars = [*NEW_CHARS, *trained["chars"]]
    dict_path = write_dict(tmp_path / "my_dict.txt", chars)
    run = tmp_path / "fine_tuned"
    argv = make_train_argv(tiny_run.data_dir, run, "-o", f"Global.character_dict_path={dict_path}",
                           "--pretrained", str(source))
    assert main([*argv, "-o", "Global.epoch_num=1"]) == 0
    err = capsys.readouterr().err
    assert f"Fine-tuning from {source} (trained {trained['state']['global_step']} steps)" in err
    assert "26 characters kept, 3 new: 'ก' 'ข' 'A', 0 dropped" in err
    payload = load_checkpoint(run / "latest.pt")
    assert payload["chars"] == chars
    assert payload["state"]["global_step"] == tiny_run.steps_per_epoch  # counters start afresh
    assert payload["config"]["Global"]["pretrained_model"] == str(source)

    # The run's own latest.pt takes precedence over the pretrained weights, as in PaddleOCR.
    assert main([*argv, "-o", "Global.epoch_num=2"]) == 0
    err = capsys.readouterr().err
    assert "Resuming from" in err and f"Not loading Global.pretrained_model {source}" in err
    assert "Fine-tuning from" not in err
