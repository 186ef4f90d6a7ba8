from pathlib import Path

import pytest

from thaiocr.config import ConfigError, build_config, load_config

REPO = Path(__file__).resolve().parents[1]
GUIDE_CONFIG = REPO / "configs" / "rec" / "numbers_config.yml"


def test_guide_config_loads_as_written():
    config = load_config(GUIDE_CONFIG)
    assert config.Global.epoch_num == 50
    assert config.Global.save_model_dir == Path("/opt/ml/model")
    assert config.Architecture.Backbone == {"name": "MobileNetV3", "scale": 0.5, "model_name": "large"}
    assert config.Optimizer.lr.learning_rate == 0.005
    assert config.preprocess.height == 32 and config.preprocess.max_width == 128
    assert config.Train.loader.batch_size_per_card == 32


def test_guide_config_file_is_the_guide_verbatim():
    guide = (REPO.parent / "shared" / "seed" / "manual-training-guide.md")
    if not guide.exists():
        pytest.skip("the guide is not beside this checkout")
    assert GUIDE_CONFIG.read_text(encoding="utf-8") in guide.read_text(encoding="utf-8")


def test_overrides_parse_yaml_values_and_resolve_paths_from_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(GUIDE_CONFIG, [
        "Global.epoch_num=3",
        "Global.character_dict_path=digits",
        "Train.dataset.data_dir=data/x",
        "Train.dataset.label_file_list=[data/x/a.txt, data/x/b.txt]",
        "Train.dataset.transforms.2.RecResizeImg.image_shape=[3, 32, 256]",
        "Eval.dataset.transforms.2.RecResizeImg.image_shape=[3, 32, 256]",
    ])
    assert config.Global.epoch_num == 3
    assert config.Global.character_dict_path == "digits"
    assert config.Train.dataset.data_dir == tmp_path / "data/x"
    assert config.Train.dataset.label_file_list == [tmp_path / "data/x/a.txt", tmp_path / "data/x/b.txt"]
    assert config.preprocess.max_width == 256


def test_train_and_eval_must_share_the_input_shape():
    with pytest.raises(ConfigError, match=r"Eval image_shape \[3, 32, 128\] differs from Train"):
        load_config(GUIDE_CONFIG, ["Train.dataset.transforms.2.RecResizeImg.image_shape=[3, 32, 256]"])


def test_relative_paths_in_the_file_resolve_against_the_file(tmp_path):
    cfg = tmp_path / "sub" / "r.yml"
    cfg.parent.mkdir()
    cfg.write_text("Global:\n  save_model_dir: out\n  character_dict_path: my_dict.txt\n", encoding="utf-8")
    config = load_config(cfg)
    assert config.Global.save_model_dir == tmp_path / "sub" / "out"
    assert config.Global.character_dict_path == str(tmp_path / "sub" / "my_dict.txt")


def test_unknown_key_says_did_you_mean(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown config key 'Global.epoch_nums'; did you mean 'epoch_num'"):
        build_config({"Global": {"epoch_nums": 3}}, source=tmp_path / "x.yml")
    with pytest.raises(ConfigError, match="did you mean 'Optimizer'"):
        build_config({"Optimiser": {}}, source=tmp_path / "x.yml")


def test_malformed_yaml_names_file_and_line(tmp_path):
    cfg = tmp_path / "bad.yml"
    cfg.write_text("Global:\n  epoch_num: 5\n  bad: [1, 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.yml:\d+:\d+: malformed YAML"):
        load_config(cfg)


def test_missing_and_non_utf8_config(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yml")
    cfg = tmp_path / "latin.yml"
    cfg.write_bytes("Global:\n  character_type: ไทย\n".encode("cp874"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(cfg)


def test_wrong_types_are_reported_with_their_key(tmp_path):
    with pytest.raises(ConfigError, match="Global.epoch_num: expected an integer"):
        build_config({"Global": {"epoch_num": "many"}}, source=tmp_path / "x.yml")
    with pytest.raises(ConfigError, match="Global.use_gpu: expected true or false"):
        build_config({"Global": {"use_gpu": "yes please"}}, source=tmp_path / "x.yml")


def test_yaml_exponent_strings_are_numbers(tmp_path):
    config = build_config({"Optimizer": {"lr": {"learning_rate": "1e-03"}}}, source=tmp_path / "x.yml")
    assert config.Optimizer.lr.learning_rate == pytest.approx(0.001)


def test_unknown_transform_and_bad_override(tmp_path):
    with pytest.raises(ConfigError, match="unknown transform 'RecResizeImage'; did you mean 'RecResizeImg'"):
        build_config({"Train": {"dataset": {"transforms": [{"RecResizeImage": None}]}}}, source=tmp_path / "x.yml")
    with pytest.raises(ConfigError, match="expected Key.sub=value"):
        load_config(GUIDE_CONFIG, ["Global.epoch_num"])


def test_eval_batch_step_accepts_both_forms(tmp_path):
    assert build_config({"Global": {"eval_batch_step": 50}}).Global.eval_every == (0, 50)
    assert build_config({"Global": {"eval_batch_step": [200, 50]}}).Global.eval_every == (200, 50)


def test_to_yaml_round_trips(tmp_path):
    config = load_config(GUIDE_CONFIG, ["Global.character_dict_path=digits"])
    saved = tmp_path / "config.yml"
    saved.write_text(config.to_yaml(), encoding="utf-8")
    assert load_config(saved) == config
