# Two commands do all the set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench samples clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/jarvis-diag demo

lint: $(STAMP)
	$(VENV)/bin/ruff check jarvis_diag server tests benchmarks

test: $(STAMP) lint
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/run.py

samples: $(STAMP)
	$(VENV)/bin/jarvis-diag samples sample_logs --seed 7

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
