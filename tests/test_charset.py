from pathlib import Path

import numpy as np
import pytest

from thaiocr.charset import (
    THAI_CODE_POINTS,
    Charset,
    CharsetError,
    builtin_dict_chars,
    load_charset,
    normalize_text,
    write_builtin_dicts,
)

RESOURCES = Path(__file__).resolve().parents[1] / "src" / "thaiocr" / "resources"


def test_thai_block_has_87_code_points():
    assert len(THAI_CODE_POINTS) == 87
    assert THAI_CODE_POINTS[0] == "ก" and THAI_CODE_POINTS[-1] == "\u0e5b"
    assert "\u0e3b" not in THAI_CODE_POINTS and "\u0e3e" not in THAI_CODE_POINTS


def test_shipped_dict_files_are_what_the_code_generates(tmp_path):
    for path in write_builtin_dicts(tmp_path):
        assert path.read_bytes() == (RESOURCES / path.name).read_bytes(), path.name


def test_digits_dict_has_both_zeros_punctuation_and_space():
    chars = builtin_dict_chars("digits")
    for ch in "0123456789๐๑๒๓๔๕๖๗๘๙,./-: ":
        assert ch in chars
    assert len(chars) == 26


def test_full_dict_is_thai_plus_printable_ascii():
    charset = load_charset("thai_full")
    assert len(charset) == 87 + 95
    assert charset.num_classes == len(charset) + 1


def test_dict_file_lines_are_single_code_points(tmp_path):
    path = tmp_path / "d.txt"
    path.write_text("ก\nขค\n", encoding="utf-8")
    with pytest.raises(CharsetError, match=r"d\.txt:2: .*2 code points"):
        Charset.from_dict_file(path)


def test_dict_file_duplicate_and_encoding_errors_name_the_line(tmp_path):
    dup = tmp_path / "dup.txt"
    dup.write_text("ก\nข\nก\n", encoding="utf-8")
    with pytest.raises(CharsetError, match=r"dup\.txt:3: .*twice"):
        Charset.from_dict_file(dup)
    bad = tmp_path / "bad.txt"
    bad.write_bytes("ก\n".encode() + "ข\n".encode("cp874"))
    with pytest.raises(CharsetError, match=r"bad\.txt:2: .*not UTF-8"):
        Charset.from_dict_file(bad)


def test_space_line_is_kept_and_use_space_char_does_not_duplicate(tmp_path):
    path = tmp_path / "d.txt"
    path.write_text("1\n \n2\n", encoding="utf-8")
    assert Charset.from_dict_file(path).chars == ("1", " ", "2")
    assert Charset.from_dict_file(path, use_space_char=True).chars == ("1", " ", "2")
    path.write_text("1\n2\n", encoding="utf-8")
    assert Charset.from_dict_file(path, use_space_char=True).chars == ("1", "2", " ")


# --- normalisation, rule by rule -------------------------------------------------------------------


def test_nikhahit_plus_sara_aa_becomes_sara_am():
    assert normalize_text("\u0e19\u0e4d\u0e32") == "\u0e19\u0e33"  # นํา -> นำ


def test_decomposed_sara_am_with_tone_mark_between():
    # น + nikhahit + mai tho + sara aa  ->  น + mai tho + sara am  (น้ำ)
    assert normalize_text("\u0e19\u0e4d\u0e49\u0e32") == "\u0e19\u0e49\u0e33"


def test_tone_mark_moves_after_upper_vowel():
    assert normalize_text("\u0e01\u0e48\u0e35") == "\u0e01\u0e35\u0e48"  # ก่ี -> กี่


def test_tone_mark_moves_after_lower_vowel():
    assert normalize_text("\u0e1b\u0e49\u0e39") == "\u0e1b\u0e39\u0e49"  # ปู้ -> ปู้


def test_repeated_marks_collapse():
    assert normalize_text("\u0e01\u0e48\u0e48") == "\u0e01\u0e48"
    assert normalize_text("\u0e01\u0e34\u0e34") == "\u0e01\u0e34"


def test_normalisation_keeps_canonical_text_and_non_thai():
    for text in ["กี่", "น้ำ", "ทำ", "สวัสดี ครับ", "081-234-5678", "๑๒/๐๓/๒๕๖๗", "Hello ไทย"]:
        assert normalize_text(text) == text


def test_normalisation_does_not_decompose_sara_am():
    assert normalize_text("\u0e33") == "\u0e33"


# --- encoding and decoding ---------------------------------------------------------------------------


def test_encode_is_one_based_and_rejects_unknown_characters():
    charset = Charset.from_chars(["0", "1", "๐"])
    assert charset.encode("10๐") == [2, 1, 3]
    with pytest.raises(CharsetError, match="'x'"):
        charset.encode("1x")


def _one_hot(ids: list[int], num_classes: int) -> np.ndarray:
    probs = np.full((len(ids), num_classes), 0.01, dtype=np.float32)
    probs[np.arange(len(ids)), ids] = 0.9
    return probs


def test_greedy_decode_collapses_repeats_and_drops_blanks():
    charset = Charset.from_chars(["1", "2"])
    probs = np.stack([_one_hot([1, 1, 0, 1, 2, 2, 0], 3), _one_hot([0, 0, 0, 0, 0, 0, 0], 3)])
    (text, conf), (empty, _) = charset.decode_greedy(probs)
    assert text == "112"
    assert conf == pytest.approx(0.9)
    assert empty == ""


def test_greedy_decode_reads_a_run_of_spaces_as_one_and_trims_the_ends():
    charset = Charset.from_chars(["1", "2"], use_space_char=True)
    space = charset.encode(" ")[0]
    ids = [space, 0, 1, space, 0, space, 0, space, 2, 0, space]
    [(text, _)] = charset.decode_greedy(_one_hot(ids, charset.num_classes)[None])
    assert text == "1 2"


def test_greedy_decode_rejects_an_output_that_does_not_match_the_dict():
    charset = Charset.from_chars(["1", "2"])
    with pytest.raises(CharsetError, match="model and dict do not match"):
        charset.decode_greedy(np.zeros((1, 5, 7), dtype=np.float32))
