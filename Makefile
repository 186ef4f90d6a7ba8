# The README's two commands: `make demo` and `make test`. Both set everything up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# torch first, pinned: this exact version is the local CPU wheel; anything looser pulls a CUDA build.
TORCH  := torch==2.13.0
# The PP-OCRv4 text detector (ONNX) inside this wheel is one of page OCR's two detectors; only the
# model file is used, so none of the wheel's own dependencies (OpenCV, shapely, ...) are installed.
DETECTOR := rapidocr-onnxruntime==1.4.4
# The PP-OCRv6 small text detector (ONNX, Apache-2.0) inside this wheel is page OCR's third; the same
# way: only the model file is read, the wheel is installed without its dependencies.
DETECTOR_V6 := rapidocr==3.10.*
# What the page benchmark (bench/page_bench.py) needs from Debian: LibreOffice typesets its pages,
# Tesseract is the peer it measures against.
BENCH_DEBS := libreoffice-writer-nogui tesseract-ocr tesseract-ocr-tha

.PHONY: setup fonts web-fonts demo test test-slow lint bench bench-setup page-bench clean

setup: $(STAMP) fonts web-fonts

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check $(TORCH)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,serve,cloud]'
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps $(DETECTOR) '$(DETECTOR_V6)'
	touch $(STAMP)

fonts:
	@bash scripts/ensure-fonts.sh

# More Thai type designs (17 OFL families from the npm registry) into the virtualenv, once.
web-fonts: $(STAMP)
	@bash scripts/fetch-web-fonts.sh $(VENV)/share/fonts/thaiocr $(BIN)/python

demo: setup
	$(BIN)/thaiocr demo

test: setup lint
	$(BIN)/pytest -q

test-slow: setup
	$(BIN)/pytest -q -m slow

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts

# The benchmarks that need no trained model; onnx_parity, heldout and finetune_gain take one (see bench/).
bench: setup
	$(BIN)/python bench/synth_speed.py
	$(BIN)/python bench/effects_speed.py
	$(BIN)/python bench/time_to_accuracy.py

# LibreOffice and Tesseract for the page benchmark (apt-get as root; otherwise the command to run).
bench-setup: setup
	@if command -v soffice >/dev/null && command -v tesseract >/dev/null && \
	    tesseract --list-langs 2>/dev/null | grep -qx tha; then exit 0; fi; \
	if [ "$$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing $(BENCH_DEBS)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -qq --no-install-recommends $(BENCH_DEBS) >/dev/null; \
	else echo "Install them with: sudo apt-get install -y $(BENCH_DEBS)" >&2; exit 1; fi

# Page OCR on LibreOffice-typeset Thai documents against Tesseract (docs/page_benchmark.md).
page-bench: bench-setup
	$(BIN)/python bench/page_bench.py
	$(BIN)/python bench/page_ocr.py --speed

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
