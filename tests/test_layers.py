"""The folders' import rules (README, "Layout"): read from the source, so a new import that breaks
one fails here rather than in a review."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "src" / "thaiocr"
# The helpers every room may use: errors, atomic files, run-folder names, the alphabet, the input
# contract, image decoding, ONNX sessions, the shipped models, and the version.
SHARED = {"thaiocr", "thaiocr.errors", "thaiocr.fileio", "thaiocr.runfolder", "thaiocr.charset",
          "thaiocr.preprocess", "thaiocr.imageload", "thaiocr.onnxmodel", "thaiocr.shipped"}
MAY_IMPORT = {  # folder -> the thaiocr modules (besides its own and SHARED) it may import
    "kernel": set(),
    "det": {"thaiocr.kernel"},
    "synth": {"thaiocr.det.labels"},  # synthetic pages are written in the detector's label format
}


def imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def allowed(name: str, folder: str) -> bool:
    prefixes = {f"thaiocr.{folder}", *MAY_IMPORT[folder]}
    return name in SHARED or any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("folder", sorted(MAY_IMPORT))
def test_a_folder_imports_only_what_its_rules_allow(folder):
    wrong = {f"{path.name} imports {name}"
             for path in (PACKAGE / folder).glob("*.py")
             for name in imports(path) if name.startswith("thaiocr") and not allowed(name, folder)}
    assert not wrong


def test_synthesis_is_torch_free():
    assert not {path.name for path in (PACKAGE / "synth").glob("*.py") if any(
        name == "torch" or name.startswith("torch.") for name in imports(path))}


def test_recognition_never_imports_detection():
    assert not {path.name for path in PACKAGE.glob("*.py") if path.name not in {"page.py", "clihandlers.py"}
                and any(name.startswith("thaiocr.det") for name in imports(path))}
