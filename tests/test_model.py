import dataclasses

import pytest
import torch

from thaiocr.charset import Charset
from thaiocr.checkpoint import (
    CheckpointError,
    load_checkpoint,
    make_payload,
    model_from_checkpoint,
    save_checkpoint,
)
from thaiocr.config import ArchitectureConfig, ConfigError
from thaiocr.kernel.blocks import count_parameters, make_divisible
from thaiocr.model import CRNN, build_model, check_input_height
from thaiocr.preprocess import Preprocess

NUM_CLASSES = 7


def tiny_arch(**head: object) -> ArchitectureConfig:
    return ArchitectureConfig(
        Backbone={"name": "MobileNetV3", "model_name": "small", "scale": 0.35},
        Neck={"name": "SequenceEncoder", "encoder_type": "rnn", "hidden_size": 16},
        Head={"name": "CTCHead", **head},
    )


@pytest.fixture(scope="module")
def tiny() -> CRNN:
    torch.manual_seed(0)
    return build_model(tiny_arch(), NUM_CLASSES).eval()


# --- shapes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("height", [32, 48])
@pytest.mark.parametrize("width", [32, 100, 128, 256])
def test_output_has_a_time_step_per_four_pixels(tiny, height, width):
    with torch.no_grad():
        logits = tiny(torch.randn(2, 3, height, width))
    assert logits.shape == (2, width // 4, NUM_CLASSES)


def vgg_arch(**backbone: object) -> ArchitectureConfig:
    return dataclasses.replace(tiny_arch(), Backbone={"name": "VGG", "width": 4, **backbone})


@pytest.mark.parametrize(("stem_stride", "height", "width", "steps"),
                         [(1, 32, 100, 25), (1, 32, 480, 120), (3, 48, 720, 120), (3, 48, 100, 17)])
def test_vgg_has_a_time_step_per_two_stem_strides(stem_stride, height, width, steps):
    model = build_model(vgg_arch(stem_stride=stem_stride), NUM_CLASSES).eval()
    with torch.no_grad():
        logits = model(torch.randn(1, 3, height, width))
    assert logits.shape == (1, steps, NUM_CLASSES)


def test_vgg_stem_stride_changes_only_the_first_convolution():
    plain = build_model(vgg_arch(), NUM_CLASSES).state_dict()
    strided = build_model(vgg_arch(stem_stride=3), NUM_CLASSES).state_dict()
    assert list(plain) == list(strided)
    changed = [name for name in plain if plain[name].shape != strided[name].shape]
    assert changed == ["backbone.features.0.0.weight"]
    assert strided["backbone.features.0.0.weight"].shape[-2:] == (5, 5)


def test_a_line_too_low_for_the_backbone_is_a_config_error_naming_the_smallest_height():
    model = build_model(vgg_arch(stem_stride=3), NUM_CLASSES)
    check_input_height(model, 48)
    with pytest.raises(ConfigError, match="a 32 px high input leaves no feature row .*smallest height it takes is 46"):
        check_input_height(model, 32)
    assert model.training


def test_guide_backbone_large_gives_one_feature_row_at_height_32():
    arch = dataclasses.replace(tiny_arch(), Backbone={"name": "MobileNetV3", "model_name": "large", "scale": 0.5})
    model = build_model(arch, NUM_CLASSES).eval()
    with torch.no_grad():
        features = model.backbone(torch.randn(1, 3, 32, 64))
    assert features.shape == (1, model.backbone.out_channels, 1, 16)
    assert model.backbone.out_channels == 480  # 960 * 0.5, as PaddleOCR


def test_channels_last_gives_the_same_logits(tiny):
    x = torch.randn(2, 3, 32, 64)
    with torch.no_grad():
        expected = tiny(x)
        fast = build_model(tiny_arch(), NUM_CLASSES).eval()
        fast.load_state_dict(tiny.state_dict())
        fast = fast.to(memory_format=torch.channels_last)
        actual = fast(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-4)


def test_reshape_neck_passes_backbone_channels_to_the_head():
    arch = dataclasses.replace(tiny_arch(), Neck={"name": "SequenceEncoder", "encoder_type": "reshape"})
    model = build_model(arch, NUM_CLASSES)
    assert model.neck.out_channels == model.backbone.out_channels
    assert model(torch.randn(1, 3, 32, 40)).shape == (1, 10, NUM_CLASSES)


def test_mid_channels_adds_a_bottleneck():
    model = build_model(tiny_arch(mid_channels=12), NUM_CLASSES)
    assert [m.out_features for m in model.head.fc] == [12, NUM_CLASSES]


def test_make_divisible_rounds_to_multiples_of_eight():
    assert [make_divisible(v) for v in (16 * 0.35, 960 * 0.5, 72 * 0.35, 3)] == [8, 480, 24, 8]


def test_count_parameters(tiny):
    assert count_parameters(tiny) == sum(p.numel() for p in tiny.parameters())


# --- the builder's errors -----------------------------------------------------------------------


def test_unknown_backbone_lists_valid_names():
    arch = dataclasses.replace(tiny_arch(), Backbone={"name": "ResNet34"})
    with pytest.raises(ConfigError, match=r"Architecture\.Backbone: unknown name 'ResNet34'.*MobileNetV3"):
        build_model(arch, NUM_CLASSES)


def test_unknown_argument_names_the_section_and_suggests():
    arch = dataclasses.replace(tiny_arch(), Backbone={"name": "MobileNetV3", "scal": 0.5})
    with pytest.raises(ConfigError, match=r"Architecture\.Backbone: unknown argument 'scal'.*did you mean 'scale'"):
        build_model(arch, NUM_CLASSES)


@pytest.mark.parametrize(
    ("section", "spec", "message"),
    [
        ("Backbone", {"name": "MobileNetV3", "model_name": "huge"}, "model_name must be one of"),
        ("Backbone", {"name": "MobileNetV3", "scale": "big"}, "scale: expected float"),
        ("Backbone", {"name": "VGG", "stem_stride": 0}, "stem_stride must be positive"),
        ("Neck", {"name": "SequenceEncoder", "encoder_type": "svtr"}, "encoder_type must be one of"),
        ("Neck", {"name": "SequenceEncoder", "hidden_size": 9.5}, "hidden_size: expected int"),
        ("Neck", {"name": "SequenceEncoder", "in_channels": 96}, "is derived"),
        ("Head", {"name": "CTCHead", "fc_decay": -1}, "fc_decay must not be negative"),
        ("Head", {"fc_decay": 0.1}, "expected a mapping with a 'name'"),
    ],
)
def test_bad_arguments_are_config_errors(section, spec, message):
    arch = dataclasses.replace(tiny_arch(), **{section: spec})
    with pytest.raises(ConfigError, match=rf"Architecture\.{section}.*{message}"):
        build_model(arch, NUM_CLASSES)


def test_fc_decay_given_as_yaml_string_is_a_number_and_sets_the_head_group():
    model = build_model(tiny_arch(fc_decay="1e-05"), NUM_CLASSES)
    assert model.head.fc_decay == pytest.approx(1e-5)
    body, head = model.param_groups(0.5)
    assert body["weight_decay"] == 0.5 and head["weight_decay"] == pytest.approx(1e-5)
    assert {id(p) for p in head["params"]} == {id(p) for p in model.head.parameters()}
    assert len(body["params"]) + len(head["params"]) == len(list(model.parameters()))
    torch.optim.Adam(model.param_groups(0.5))  # a valid optimizer spec


def test_without_fc_decay_one_group_has_the_base_decay(tiny):
    (group,) = tiny.param_groups(0.25)
    assert group["weight_decay"] == 0.25 and len(group["params"]) == len(list(tiny.parameters()))


# --- checkpoints --------------------------------------------------------------------------------


@pytest.fixture()
def payload(tiny) -> dict:
    return make_payload(tiny, Charset.from_chars(list("abcdef")), Preprocess(32, 64), config={"Global": {}})


def test_checkpoint_round_trip_rebuilds_the_same_model(tmp_path, tiny, payload):
    save_checkpoint(tmp_path / "m.pt", {**payload, "step": 3, "rng": torch.get_rng_state()})
    loaded = load_checkpoint(tmp_path / "m.pt")
    assert loaded["step"] == 3 and loaded["format"] == "thaiocr-checkpoint/1"
    model, charset, preprocess = model_from_checkpoint(loaded)
    assert not model.training and charset.chars == tuple("abcdef") and preprocess == Preprocess(32, 64)
    x = torch.randn(1, 3, 32, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), tiny(x))


def test_failed_write_keeps_the_old_checkpoint(tmp_path, payload):
    path = tmp_path / "latest.pt"
    save_checkpoint(path, payload)
    before = path.read_bytes()
    with pytest.raises(Exception):  # noqa: B017 - whatever pickling raises
        save_checkpoint(path, {**payload, "bad": lambda: None})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["latest.pt"]


def test_truncated_checkpoint_is_a_clear_error(tmp_path, payload):
    path = tmp_path / "m.pt"
    save_checkpoint(path, payload)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match=r"m\.pt: not a readable checkpoint"):
        load_checkpoint(path)


def test_missing_and_foreign_checkpoints_are_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match=r"nope\.pt: checkpoint not found"):
        load_checkpoint(tmp_path / "nope.pt")
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match=r"other\.pt: not a thaiocr checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_weights_that_do_not_fit_the_alphabet_are_a_clear_error(payload):
    with pytest.raises(CheckpointError, match="do not fit"):
        model_from_checkpoint({**payload, "chars": list("abc")})

