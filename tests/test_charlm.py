"""The character language model and the beam search it weighs: probabilities, files, decoding,
and the Recognizer's and CLI's use of them."""

import gzip
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from thaiocr.charlm import END, CharLM, build_lm
from thaiocr.charset import Charset
from thaiocr.ctcbeam import BeamSettings, beam_decode
from thaiocr.errors import ThaiOCRError
from thaiocr.predict import Recognizer
from thaiocr.runfolder import LM_NAME

THAI = Charset.from_chars(list("ไดค้ีเกาน "))
SPELLED = ["ได้", "ไดเก", "ดีได้", "ได้ดี", "เกได้", "นาได้ ดี", "ไก่ได้"]


def lm_of(lines, order=4, min_count=1, charset=THAI):
    return build_lm([line for line in lines if not charset.unknown_chars(line)], charset, order, min_count)


def test_each_history_gives_a_distribution_over_the_alphabet_and_the_end():
    lm = lm_of(SPELLED * 3)
    for history in ["", "ไ", "ได", "ดีได้", "คคค", "ได้ ด"]:
        total = sum(math.exp(lm.logp(lm.start() + history, ch)) for ch in [*THAI.chars, END])
        assert total == pytest.approx(1.0, abs=1e-9)


def test_a_contexts_row_of_next_characters_gives_what_logp_gives():
    lm = lm_of(SPELLED)
    history = lm.start() + "ดีได"
    row = lm.following(history[len(history) - lm.order + 1 :])
    assert [row[ch] for ch in [*THAI.chars, END]] == [lm.logp(history, ch) for ch in [*THAI.chars, END]]
    assert lm.following(history[-(lm.order - 1) :]) is row  # one row per context, filled as it is asked


def test_a_spelling_seen_in_training_text_is_likelier_than_its_look_alike():
    lm = lm_of(SPELLED)
    assert lm.logp(lm.start() + "ไ", "ด") > lm.logp(lm.start() + "ไ", "ค") + 1.0


def test_left_out_rare_grams_back_off_to_shorter_histories():
    full, pruned = lm_of(SPELLED, min_count=1), lm_of(SPELLED, min_count=3)
    assert pruned.header["grams"] < full.header["grams"]
    assert pruned.logp(pruned.start() + "ได้ ด", "ี") < 0  # still a probability, from shorter histories


def test_saved_model_reads_back_the_same(tmp_path):
    lm = lm_of(SPELLED, min_count=2)
    loaded = CharLM.load(lm.save(tmp_path / LM_NAME), THAI)
    assert loaded.header == lm.header
    for history in ["", "ได", "เก", "ดี ได"]:
        for ch in [*THAI.chars, END]:
            assert loaded.logp(loaded.start() + history, ch) == pytest.approx(lm.logp(lm.start() + history, ch),
                                                                               abs=5e-3)


def test_a_model_of_another_alphabet_is_refused(tmp_path):
    path = lm_of(SPELLED).save(tmp_path / LM_NAME)
    with pytest.raises(ThaiOCRError, match="another alphabet"):
        CharLM.load(path, Charset.from_chars(list("0123456789")))


@pytest.mark.parametrize(("content", "message"), [
    (b"not gzip at all", "not a language model file"),
    (gzip.compress(b'{"format": "something else"}\n'), ":1: not a thaiocr language model"),
    (gzip.compress(b'{"format": "thaiocr-charlm", "version": 99}\n'), ":1: language model format version 99"),
    (gzip.compress(b'{"format": "thaiocr-charlm", "version": 1}\n'), ":1: language model header lacks order"),
    (gzip.compress(b'{"format": "thaiocr-charlm", "version": 1, "order": 2, "vocab_size": 3, '
                   b'"alphabet_sha256": "x", "grams": 2, "contexts": 0}\na\t-1.0\nab\tnot-a-number\n'),
     ":3: malformed language model row 'ab"),
])
def test_a_broken_file_is_named_with_its_problem(tmp_path, content, message):
    path = tmp_path / LM_NAME
    path.write_bytes(content)
    with pytest.raises(ThaiOCRError, match=message) as caught:
        CharLM.load(path)
    assert str(path) in str(caught.value)


# --- beam search ------------------------------------------------------------------------------------


def steps(*columns: dict[str, float]) -> np.ndarray:
    """``[T, C]`` probabilities from one ``{char or "" (blank): p}`` per step; the rest shared out."""
    probs = np.full((len(columns), THAI.num_classes), 1e-4, dtype=np.float32)
    for t, column in enumerate(columns):
        for ch, p in column.items():
            probs[t, 0 if ch == "" else THAI.chars.index(ch) + 1] = p
    return probs / probs.sum(axis=1, keepdims=True)


def greedy(probs: np.ndarray) -> str:
    return THAI.decode_greedy(probs[None])[0][0]


def test_the_language_model_settles_a_letter_the_network_is_torn_over():
    probs = steps({"ไ": 0.9}, {"": 0.9}, {"ค": 0.55, "ด": 0.44}, {"้": 0.9}, {"": 0.9})
    assert greedy(probs) == "ไค้"
    assert beam_decode(probs, THAI.chars, lm_of(SPELLED)) == "ได้"


def test_without_the_language_models_weight_the_beam_reads_what_the_network_is_sure_of():
    probs = steps({"ไ": 0.9}, {"": 0.9}, {"ค": 0.95}, {"ค": 0.9}, {"": 0.9}, {"ค": 0.9}, {"้": 0.9})
    assert beam_decode(probs, THAI.chars, lm_of(SPELLED), BeamSettings(alpha=0.0)) == greedy(probs) == "ไคค้"


def test_a_half_seen_stacked_mark_is_kept_a_half_seen_letter_is_not():
    """The mark bonus: a tone mark the network gives 0.4 beside a blank's 0.6 is read; a letter is not."""
    mark = steps({"ไ": 0.9}, {"": 0.9}, {"ด": 0.9}, {"": 0.6, "้": 0.4}, {"": 0.9})
    letter = steps({"ไ": 0.9}, {"": 0.9}, {"ด": 0.9}, {"": 0.6, "ค": 0.4}, {"": 0.9})
    lm, no_lm = lm_of(SPELLED), BeamSettings(alpha=0.0)
    assert beam_decode(mark, THAI.chars, lm, no_lm) == "ได้"
    assert beam_decode(mark, THAI.chars, lm, BeamSettings(alpha=0.0, mark_bonus=0.0)) == greedy(mark) == "ได"
    assert beam_decode(letter, THAI.chars, lm, no_lm) == greedy(letter) == "ได"


def test_spaces_read_as_one_and_none_leads_or_trails():
    probs = steps({" ": 0.9}, {"ด": 0.9}, {"ี": 0.9}, {" ": 0.9}, {"": 0.9}, {" ": 0.9}, {"ไ": 0.9},
                  {"ด": 0.9}, {"้": 0.9}, {" ": 0.9})
    assert beam_decode(probs, THAI.chars, lm_of(SPELLED)) == greedy(probs) == "ดี ได้"


def test_the_line_read_so_far_is_the_next_pieces_history():
    probs = steps({"ค": 0.55, "ด": 0.44}, {"้": 0.9})
    lm = lm_of(SPELLED)
    assert beam_decode(probs, THAI.chars, lm, history="ไ") == "ด้"


# --- the Recognizer and the CLI ---------------------------------------------------------------------


@pytest.fixture
def model_folder(tiny_run, tmp_path):
    return shutil.copytree(tiny_run.best_model, tmp_path / "best_model")


def test_a_folder_with_a_language_model_reads_with_the_beam(model_folder, tiny_run, run_cli):
    assert Recognizer(model_folder).decoder == "greedy"
    code, out, _ = run_cli("lm", "-c", tiny_run.run_dir / "config.yml", "--lines", 500, "--quiet",
                           "--out", model_folder / LM_NAME)
    assert code == 0 and "64 labelled lines" in out  # the tiny recipe trains on label files
    assert Recognizer(model_folder).decoder == "beam"
    assert Recognizer(model_folder, decoder="greedy").decoder == "greedy"
    code, out, _ = run_cli("eval", "--model", model_folder, "--labels", tiny_run.val_labels, "--decoder", "beam")
    assert code == 0 and "CER" in out


def test_a_synthetic_recipe_counts_the_lines_its_training_draws(run_cli, tmp_path):
    recipe = Path(__file__).parents[1] / "configs" / "rec" / "thai_general.yml"
    code, out, _ = run_cli("lm", "-c", recipe, "--lines", 300, "--quiet", "--out", tmp_path / LM_NAME)
    assert code == 0 and "300 synthetic and 0 labelled lines" in out
    lm = CharLM.load(tmp_path / LM_NAME, Charset.builtin("thai_full"))
    assert lm.header["recipe"] == "thai_general.yml" and lm.order == 6


def test_the_beam_decoder_without_a_language_model_says_what_is_missing(model_folder):
    with pytest.raises(ThaiOCRError, match=f"{LM_NAME}: no language model beside the model"):
        Recognizer(model_folder, decoder="beam")
    with pytest.raises(ThaiOCRError, match="unknown decoder 'fast'"):
        Recognizer(model_folder, decoder="fast")


def test_a_language_model_of_another_alphabet_beside_a_model_is_refused(model_folder):
    lm_of(SPELLED).save(model_folder / LM_NAME)
    with pytest.raises(ThaiOCRError, match="another alphabet"):
        Recognizer(model_folder)


@pytest.mark.parametrize("name", ["shipped", "shipped-small"])
def test_the_shipped_models_read_with_their_language_model(name):
    assert Recognizer(name).decoder == "beam"
