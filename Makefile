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

.PHONY: setup fonts web-fonts demo test test-slow lint bench clean

setup: $(STAMP) fonts web-fonts

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check $(TORCH)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,serve,cloud]'
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps $(DETECTOR)
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

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
