import pickle
import random
import re
from collections import Counter
from pathlib import Path

import pytest

from thaiocr.charset import (
    ARABIC_DIGITS,
    COMBINING,
    SARA_AM,
    THAI_DIGITS,
    Charset,
    builtin_dict_chars,
    is_combining,
    normalize_text,
)
from thaiocr.errors import ThaiOCRError
from thaiocr.synth.corpora import LEADING_VOWELS, THAI_CONSONANTS, clip_text, has_orphan_mark, pythainlp_lines
from thaiocr.synth.numberlines import SAMPLE_KINDS, sample_kind_text, sample_number_text, thai_id_check_digit
from thaiocr.synth.textsource import TEXT_SOURCES, WORDS_FILE, TextSource, coverage_samples_needed, is_abbreviation

DIGIT_CHARS = set(builtin_dict_chars("digits"))
TO_ARABIC = str.maketrans(THAI_DIGITS, ARABIC_DIGITS)
# The shape of each kind once Thai digits are mapped to Arabic ones.
KIND_PATTERNS = {
    "single": r"\d",
    "digits": r"\d{1,17}|\d{1,4}( \d{1,4}){1,3}",
    "phone": r"0\d{1,2}([- ]?)\d{3}\1\d{3,4}",
    "date": r"\d{1,2}([/.-])\d{1,2}\1(\d{2}|\d{4})|\d{4}-\d{2}-\d{2}",
    "amount": r"(\d{1,3}(,\d{3})*|\d+)(\.\d{2})?",
    "national_id": r"\d([- ])\d{4}\1\d{5}\1\d{2}\1\d",
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
        digits = text.replace("-", "").replace(" ", "")
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


# --- text sources -------------------------------------------------------------------------------

THAI_FULL = Charset.builtin("thai_full", use_space_char=True)
RARE = "ฃฅฦ๏๚๛๎ฯๆ"
ATTACHED = set(COMBINING) | {SARA_AM}
LONG_LINES = [
    "สวัสดีครับ นี่คือบรรทัดแรกที่ยาวมากๆ เพื่อทดสอบการตัดข้อความให้สั้นลง",
    "ที่นี่มีน้ำใจไม่ตรีที่นั่นก็ยังไม่มีใครรู้เรื่องนี้เลยสักคนเดียวแม้แต่คนเดียว",
    "ผู้ใหญ่ลี้ตีกลองประชุมชาวบ้านทั้งหลายเชิญมาให้พร้อมกันในวันนี้",
    "English words and ASCII: (100%) @home #tag",
]


def write_corpus(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.fixture
def corpus_file(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus.txt", LONG_LINES)


def source_spec(name: str, corpus: Path) -> dict:
    return {name: {"path": str(corpus)} if name == "corpus" else {}}


def draw_run(source: TextSource, seed: int, count: int) -> list[str]:
    """Sample ``i`` from its own rng, as the parallel synth workers draw them."""
    return [source.sample(random.Random(f"{seed}/{i}"), i) for i in range(count)]


@pytest.mark.parametrize("max_length", [25, 40])
@pytest.mark.parametrize("name", sorted(TEXT_SOURCES))
def test_every_source_is_deterministic_normalised_and_within_limits(name, max_length, corpus_file):
    source = TextSource(source_spec(name, corpus_file), THAI_FULL, max_length)
    texts = draw_run(source, 0, 300)
    assert texts == draw_run(TextSource(source_spec(name, corpus_file), THAI_FULL, max_length), 0, 300)
    assert texts != draw_run(source, 1, 300)
    for text in texts:
        assert 1 <= len(text) <= max_length, text
        assert normalize_text(text) == text
        assert not THAI_FULL.unknown_chars(text), text
        assert not has_orphan_mark(text), text
        assert text == text.strip(), text


def test_labels_are_normalised(tmp_path):
    # nikhahit + sara aa becomes sara am; a tone mark typed before an upper vowel moves after it
    corpus = write_corpus(tmp_path / "raw.txt", ["น\u0e49\u0e4d\u0e32", "ก\u0e48\u0e35"])
    source = TextSource({"corpus": {"path": str(corpus)}}, THAI_FULL)
    assert set(draw_run(source, 0, 50)) == {"น\u0e49\u0e33", "ก\u0e35\u0e48"}


def test_clip_text_cuts_at_spaces_or_cluster_boundaries():
    assert clip_text("abcde fgh", 8) == "abcde"
    assert clip_text("ab cdefgh", 8) == "ab cdefg"  # the space would keep less than half the limit
    assert clip_text("ที่นี่", 5) == "ที่"
    assert clip_text("ที่นี่", 2) == ""  # ท with its two marks does not fit
    assert clip_text("น้ำใจ", 2) == ""  # sara am stays with its consonant
    assert clip_text("ไปเก", 3) == "ไป"  # a leading vowel stays with the consonant after it


def test_clip_text_never_separates_a_mark_from_its_base():
    rng = random.Random(3)
    words = pythainlp_lines(WORDS_FILE)
    for _ in range(3000):
        text = rng.choice(("", " ")).join(rng.choice(words) for _ in range(6))
        limit = rng.randint(1, 40)
        clipped = clip_text(text, limit)
        assert text.startswith(clipped) and len(clipped) <= limit
        assert clipped == clipped.strip()
        if len(clipped) < len(text):
            assert text[len(clipped)] not in ATTACHED, (text, limit)
            assert clipped[-1:] not in LEADING_VOWELS, (text, limit)
        if not has_orphan_mark(text):
            assert not has_orphan_mark(clipped)


def test_corpus_lines_are_cut_safely_and_empty_lines_skipped(tmp_path):
    corpus = write_corpus(tmp_path / "c.txt", ["", *LONG_LINES, "   ", "\tสั้น  มาก\t"])
    texts = draw_run(TextSource({"corpus": {"path": str(corpus)}}, THAI_FULL, max_length=12), 0, 400)
    lines = [*LONG_LINES, "สั้น มาก"]  # whitespace runs become one space
    assert "สั้น มาก" in texts
    for text in texts:
        line = next(line for line in lines if line.startswith(text))
        assert len(text) == len(line) or line[len(text)] not in ATTACHED, text


def test_non_utf8_corpus_names_file_and_line(tmp_path):
    corpus = tmp_path / "latin1.txt"
    corpus.write_bytes("สวัสดี\nok\n".encode() + "caf\xe9\n".encode("latin-1"))
    with pytest.raises(ThaiOCRError, match=r"latin1\.txt:3: corpus file is not UTF-8"):
        TextSource({"corpus": {"path": str(corpus)}})


def test_missing_corpus_file_is_a_clear_error(tmp_path):
    with pytest.raises(ThaiOCRError, match=r"nowhere\.txt: cannot read corpus file"):
        TextSource({"corpus": {"path": str(tmp_path / "nowhere.txt")}})
    with pytest.raises(ThaiOCRError, match="needs the option 'path'"):
        TextSource("corpus")


@pytest.mark.parametrize(("dict_name", "max_length", "min_count"), [("thai_full", 40, 3), ("digits", 25, 2)])
def test_coverage_shows_every_dict_character_enough_times(dict_name, max_length, min_count):
    charset = Charset.builtin(dict_name, use_space_char=True)
    source = TextSource("coverage", charset, max_length)
    count = coverage_samples_needed(charset, min_count, max_length)
    texts = draw_run(source, 7, count)
    seen = Counter("".join(texts))
    assert {ch: seen[ch] for ch in charset.chars if seen[ch] < min_count} == {}
    if dict_name == "thai_full":
        assert all(seen[ch] >= min_count for ch in RARE)
    for text in texts:
        assert 1 <= len(text) <= max_length and normalize_text(text) == text, text
        for previous, ch in zip(text, text[1:], strict=False):
            assert not is_combining(ch) or previous in THAI_CONSONANTS, text
        assert not is_combining(text[0]), text
    # a sample depends only on (seed, index): drawing in another order gives the same texts
    assert [source.sample(random.Random(f"7/{i}"), i) for i in reversed(range(count))] == texts[::-1]


def _starts_with_attached_abbreviation(token: str, abbreviations: set[str]) -> bool:
    """``token`` is an abbreviation ending in a full stop and a Thai letter right after it: จ.เชียงใหม่"""
    starts = THAI_CONSONANTS | LEADING_VOWELS
    return any(
        token.startswith(word) and word.endswith(".") and token[len(word) : len(word) + 1] in starts
        for word in abbreviations
    )


def test_abbreviation_lines_start_with_one_attached_or_spaced():
    abbreviations = {word for word in pythainlp_lines(WORDS_FILE) if is_abbreviation(word)}
    spaced = draw_run(TextSource({"abbreviations": {"space_probability": 1.0}}, THAI_FULL), 0, 200)
    assert all(text.split(" ")[0] in abbreviations for text in spaced)
    attached = draw_run(TextSource({"abbreviations": {"space_probability": 0.0}}, THAI_FULL), 0, 200)
    glued = [text for text in attached if _starts_with_attached_abbreviation(text.split(" ")[0], abbreviations)]
    assert len(glued) > 0.9 * len(attached), attached[:5]
    assert is_abbreviation("ก.ย") and is_abbreviation("จ.") and not is_abbreviation("3.5") and not is_abbreviation("จ")
    with pytest.raises(ThaiOCRError, match="abbreviations: max_words must be at least 1"):
        TextSource({"abbreviations": {"max_words": 0}})


def test_coverage_needs_a_charset():
    with pytest.raises(ThaiOCRError, match="coverage: needs a charset"):
        TextSource("coverage")


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ThaiOCRError, match=r"did you mean 'words'\?.*valid: abbreviations, corpus, coverage, mixed"):
        TextSource("wrds")
    with pytest.raises(ThaiOCRError, match="did you mean 'max_words'"):
        TextSource({"phrases": {"max_wrds": 3}})
    with pytest.raises(ThaiOCRError, match="did you mean 'phone'"):
        TextSource({"numbers": {"kinds": ["phon"]}})
    with pytest.raises(ThaiOCRError, match="weight must be a positive number"):
        TextSource({"words": 0})


def test_out_of_alphabet_samples_are_redrawn_never_edited(tmp_path):
    banned = set("กฃ@%")
    charset = Charset.from_chars([ch for ch in THAI_FULL.chars if ch not in banned])
    for name in ("words", "phrases", "wiki", "mixed"):
        texts = draw_run(TextSource(name, charset), 0, 300)
        assert not banned & set("".join(texts)), name
    corpus = write_corpus(tmp_path / "c.txt", ["ขอบคุณ", "กินข้าว", "100%", "สวัสดี"])
    texts = draw_run(TextSource({"corpus": {"path": str(corpus)}}, charset), 0, 100)
    assert set(texts) == {"ขอบคุณ", "สวัสดี"}


def test_an_alphabet_no_sample_can_fit_is_an_error():
    with pytest.raises(ThaiOCRError, match="words_th.txt: none of its"):
        TextSource("words", Charset.builtin("digits"))
    arabic_only = Charset.from_chars(list(ARABIC_DIGITS))
    singles = draw_run(TextSource({"numbers": {"kinds": ["single"]}}, arabic_only), 0, 100)
    assert set("".join(singles)) <= set(ARABIC_DIGITS)  # Thai-digit draws were redrawn
    with pytest.raises(ThaiOCRError, match="text source 'numbers' made no usable label"):
        TextSource({"numbers": {"kinds": ["date"]}}, arabic_only).sample(random.Random(0))


def test_mix_picks_sources_by_weight():
    source = TextSource({"words": 3, "numbers": 1}, THAI_FULL)
    rng = random.Random(0)
    labels = Counter(source.draw(rng)[0] for _ in range(4000))
    assert 0.72 < labels["words"] / 4000 < 0.78
    same = TextSource("words:3,numbers:1", THAI_FULL)
    assert draw_run(same, 5, 100) == draw_run(source, 5, 100)


def test_one_source_can_appear_twice_under_two_labels(tmp_path):
    first = write_corpus(tmp_path / "a.txt", ["หนึ่ง"])
    second = write_corpus(tmp_path / "b.txt", ["สอง"])
    spec = {"a": {"source": "corpus", "path": str(first)}, "b": {"source": "corpus", "path": str(second), "weight": 2}}
    draws = {TextSource(spec).draw(random.Random(i)) for i in range(50)}
    assert draws == {("a", "หนึ่ง"), ("b", "สอง")}


def test_a_source_pickles_as_its_spec(corpus_file):
    source = TextSource({"corpus": {"path": str(corpus_file)}, "coverage": 1}, THAI_FULL, 30)
    assert draw_run(pickle.loads(pickle.dumps(source)), 2, 50) == draw_run(source, 2, 50)


def test_prose_fills_long_lines_mostly_with_the_common_words():
    texts = draw_run(TextSource("prose", THAI_FULL, 40), 0, 300)
    lengths = sorted(len(text) for text in texts)
    assert lengths[len(lengths) // 2] >= 25  # running text: most lines fill much of the limit
    common = ("ที่", "จะ", "เป็น", "ไป", "ก็", "ได้", "ไม่", "มี")
    uniform = draw_run(TextSource("phrases", THAI_FULL, 40), 0, 300)  # words of a word list, drawn evenly
    def with_common(lines: list[str]) -> int:
        return sum(any(word in line for word in common) for line in lines)
    assert with_common(texts) > 1.5 * with_common(uniform)


def test_receipt_lines_hold_prices_rules_and_codes():
    texts = draw_run(TextSource("receipts", THAI_FULL, 40), 0, 400)
    rules = [text for text in texts if set(text) <= set("-=* ")]
    priced = [text for text in texts if re.search(r"\d\.\d\d$|\d,\d\d\d", text)]
    coded = [text for text in texts if re.search(r"[A-Z]+\d{3}", text)]
    assert rules and priced and coded
    assert len(rules) < len(texts) / 4 and all(len(set(rule.replace(" ", ""))) == 1 for rule in rules)
    assert all("  " not in text for text in texts)  # one space between columns: labels hold no runs


def test_receipt_lines_hold_banners_masked_cards_blank_fields_and_attached_quantities():
    texts = draw_run(TextSource("receipts", THAI_FULL, 40), 0, 600)
    banners = [text for text in texts if re.fullmatch(r"([-=*])\1{2,} ?[^-=* ]+ ?\1{3,}", text)]
    cards = [text for text in texts if re.search(r"(x{4}|X{4}|\*{4})[- ]?\d{4} ", text)]
    fields = [text for text in texts if re.search(r"[\u0e01-\u0e4c]\.{4,}|[\u0e01-\u0e4c] \.{4,}$", text)]
    quantities = [text for text in texts if re.search(r"@\d+ x\d+ ", text)]
    assert banners and cards and fields and quantities
