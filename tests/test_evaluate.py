from pathlib import Path

import pytest

from thaiocr.evaluate import align, breakdown, compare_lines, compute_metrics, edit_distance


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [("", "", 0), ("abc", "abc", 0), ("abc", "", 3), ("", "ab", 2), ("kitten", "sitting", 3), ("๑๒๓", "๑๓", 1)],
)
def test_edit_distance(a, b, distance):
    assert edit_distance(a, b) == distance
    assert edit_distance(b, a) == distance


@pytest.mark.parametrize(("truth", "prediction"), [("", ""), ("abc", ""), ("", "ab"), ("kitten", "sitting"),
                                                   ("๑๒๓", "๑๓"), ("ab", "ba"), ("1234", "1x34y")])
def test_align_spells_both_strings_with_as_many_edits_as_the_distance(truth, prediction):
    pairs = align(truth, prediction)
    assert "".join(t for t, _ in pairs) == truth and "".join(p for _, p in pairs) == prediction
    assert all(t or p for t, p in pairs)
    assert sum(t != p for t, p in pairs) == edit_distance(truth, prediction)


def test_align_prefers_a_substitution_to_a_deletion_and_an_insertion():
    assert align("123", "183") == [("1", "1"), ("2", "8"), ("3", "3")]


def test_metrics_on_known_lines():
    metrics = compute_metrics(["123", "45", ""], ["123", "456", "78"])
    assert metrics.n == 3
    assert metrics.line_acc == pytest.approx(1 / 3)
    assert metrics.cer == pytest.approx(3 / 8)
    assert metrics.ned == pytest.approx((0 + 1 / 3 + 1) / 3)


def test_metrics_normalise_both_sides():
    decomposed = "\u0e19\u0e4d\u0e49\u0e32"  # น้ำ typed with nikhahit + sara aa
    metrics = compute_metrics([decomposed], ["น้ำ"])
    assert metrics.line_acc == 1.0 and metrics.cer == 0.0


def test_no_lines_gives_zeroes():
    assert compute_metrics([], []).n == 0


def test_breakdown_groups_lines_by_their_image():
    images = [Path("a.png"), Path("b.png"), Path("c.png")]
    results = compare_lines(["1", "2", "x"], ["1", "2", "3"], images)
    groups = breakdown(results, {images[0]: "Loma", images[1]: "Kinnari", images[2]: "Kinnari"})
    assert groups["Loma"].line_acc == 1.0
    assert groups["Kinnari"].n == 2 and groups["Kinnari"].line_acc == 0.5
