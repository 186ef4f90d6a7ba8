import random
import re

import pytest

from thaiocr.charset import ARABIC_DIGITS, THAI_DIGITS, builtin_dict_chars
from thaiocr.errors import ThaiOCRError
from thaiocr.textsource import SAMPLE_KINDS, sample_kind_text, sample_number_text, thai_id_check_digit

DIGIT_CHARS = set(builtin_dict_chars("digits"))
TO_ARABIC = str.maketrans(THAI_DIGITS, ARABIC_DIGITS)
# The shape of each kind once Thai digits are mapped to Arabic ones.
KIND_PATTERNS = {
    "single": r"\d",
    "digits": r"\d{1,17}",
    "phone": r"0\d{1,2}([- ]?)\d{3}\1\d{3,4}",
    "date": r"\d{1,2}([/.-])\d{1,2}\1(\d{2}|\d{4})|\d{4}-\d{2}-\d{2}",
    "amount": r"(\d{1,3}(,\d{3})*|\d+)(\.\d{2})?",
    "national_id": r"\d-\d{4}-\d{5}-\d{2}-\d",
    "time": r"\d{2}([:.])\d{2}(\1\d{2})?",
}


# --- text samplers ------------------------------------------------------------------------------


def test_every_kind_is_tested():
    assert set(KIND_PATTERNS) == set(SAMPLE_KINDS)


@pytest.mark.parametrize("kind", SAMPLE_KINDS)
def test_each_kind_writes_only_digit_dict_chars_in_its_format(kind):
    rng = random.Random(kind)
    texts = [sample_kind_text(kind, rng) for _ in range(300)]
    for text in texts:
        assert set(text) <= DIGIT_CHARS, text
        assert 1 <= len(text) <= 25, text
        assert re.fullmatch(KIND_PATTERNS[kind], text.translate(TO_ARABIC), re.ASCII), text
    assert any(set(text) & set(THAI_DIGITS) for text in texts)
    assert any(set(text) & set(ARABIC_DIGITS) for text in texts)


def test_national_ids_have_17_chars_and_a_valid_check_digit():
    rng = random.Random(1)
    for _ in range(200):
        text = sample_kind_text("national_id", rng).translate(TO_ARABIC)
        digits = text.replace("-", "")
        assert len(text) == 17 and len(digits) == 13
        assert thai_id_check_digit(digits[:12]) == digits[12]


def test_thai_id_check_digit_worked_example():
    # 1*13 + 2*12 + ... + 2*2 = 352 = 32 * 11, so the check digit is (11 - 0) mod 10 = 1
    assert thai_id_check_digit("123456789012") == "1"


def test_mixed_samples_stay_in_the_dict_and_include_single_digits():
    rng = random.Random(0)
    texts = [sample_number_text(rng) for _ in range(1000)]
    assert all(set(text) <= DIGIT_CHARS and 1 <= len(text) <= 25 for text in texts)
    assert sum(len(text) == 1 for text in texts) >= 20


def test_unknown_kind_lists_the_kinds():
    with pytest.raises(ThaiOCRError, match="national_id"):
        sample_kind_text("roman", random.Random(0))
