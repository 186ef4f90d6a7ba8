"""The package's public face: names load on first use, so importing thaiocr stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import thaiocr


def test_the_public_names_are_the_modules_own() -> None:
    from thaiocr.charset import Charset
    from thaiocr.config import load_config
    from thaiocr.page import PageReader
    from thaiocr.predict import Recognizer

    assert (thaiocr.Recognizer, thaiocr.PageReader, thaiocr.load_config, thaiocr.Charset) == (
        Recognizer, PageReader, load_config, Charset)
    assert set(thaiocr.__all__) <= set(dir(thaiocr))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Recogniser'"):
        _ = thaiocr.Recogniser


def test_import_and_help_load_neither_torch_nor_onnxruntime_nor_boto3() -> None:
    probe = ("import sys, thaiocr, thaiocr.cli\n"
             "try:\n    thaiocr.cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('torch', 'onnxruntime', 'boto3') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
