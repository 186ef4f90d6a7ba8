"""The benchmark scripts run end to end on tiny sets (their figures are only meaningful at full size)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_bench(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_heldout_prints_a_row_per_set_and_family(tmp_path):
    out = run_bench("heldout.py", "--model", "shipped-small", "--lines", "6", "--data", str(tmp_path),
                    "--no-tesseract", "--by-family")  # fmt: skip
    rows = [line.split() for line in out.splitlines()[1:]]
    sets = ["clean", "degraded", "seen-fonts", "scan", "receipt", "long"]
    assert [row[0] for row in rows if not row[0][0].isupper()] == sets
    assert all(row[2] == "6" for row in rows if row[0] in sets)
    assert any(row[0] == "Sawasdee" for row in rows)
    receipt = next(i for i, row in enumerate(rows) if row[0] == "receipt")
    assert [row[0] for row in rows[receipt + 1 : receipt + 3]] == ["TlwgTypewriter", "long"]  # its one family


def test_heldout_runs_the_sets_asked_for_and_keeps_them(tmp_path):
    args = ["--model", "shipped-small", "--lines", "3", "--data", str(tmp_path), "--no-tesseract"]
    out = run_bench("heldout.py", *args, "--sets", "long,scan")
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["long", "scan"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["long", "scan"]
    written = {path: path.stat().st_mtime_ns for path in tmp_path.glob("*/thai_data/val/*.png")}
    assert len(written) == 6
    run_bench("heldout.py", *args, "--sets", "scan,long")
    assert {path: path.stat().st_mtime_ns for path in tmp_path.glob("*/thai_data/val/*.png")} == written


def test_recognize_speed_reports_both_rates(tmp_path):
    out = run_bench("recognize_speed.py", "--model", "shipped-small", "--lines", "8", "--batch-size", "4",
                    "--rounds", "1", "--data", str(tmp_path))  # fmt: skip
    assert "8 lines, batch 4" in out
    assert float(out.split("end to end:")[1].split()[0]) > 0
    assert float(out.split("model only:")[1].split()[0]) > 0


@pytest.mark.slow  # ~20 s: a server, 64 synthesised lines, a short soak
def test_the_serve_soak_mixes_hostile_requests_without_a_5xx():
    out = run_bench("serve_load.py", "--model", "shipped-small", "--soak", "--seconds", "4", "--concurrency", "8")
    assert "5xx answers: 0; connection errors: 0" in out
    for kind in ("amplification", "pixel_bomb", "nested_json", "random_bytes"):
        assert kind in out
