# Two commands do all the set-up on a fresh machine:
#   make demo   installs into .venv and runs the whole DVC pipeline on the bundled demo data
#   make test   installs into .venv and runs the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
# the stages call the `wrcr` console script, which lives in the venv
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: setup demo test lint bench

setup: $(VENV)/.installed

# constraints.txt pins the whole dependency tree; torch==2.13.0 is the CPU build
$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	touch $@

demo: setup
	dvc repro

test: setup
	$(PY) -m pytest

lint: setup
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .

bench: setup
	$(PY) benchmarks/loss_speed.py
	$(PY) benchmarks/extract_speed.py
