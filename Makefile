# Two commands do all the set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench samples clean webclient

# The web client's only dependency: the official Socket.IO client from npm, copied to a served path.
WEB := server/static
WEB_BUNDLE := $(WEB)/vendor/socket.io.min.js

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml setup.py jarvis_diag/logs/_scan.c jarvis_diag/logs/_match.c jarvis_diag/_records.c
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

$(WEB_BUNDLE): $(WEB)/package.json $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(WEB)/vendor
	cp $(WEB)/node_modules/socket.io-client/dist/socket.io.min.js $(WEB_BUNDLE)

webclient: $(WEB_BUNDLE)

demo: $(STAMP) webclient
	$(VENV)/bin/jarvis-diag demo

lint: $(STAMP)
	$(VENV)/bin/ruff check jarvis_diag server tests benchmarks

# three test processes: most tests wait on servers, sockets and timers rather than compute
test: $(STAMP) webclient lint
	$(PY) -m pytest -q -n 3 --dist loadfile

# lnav is the reference the ingestion benchmark is compared with: installed when missing and
# the machine lets us (root with apt-get), else that comparison is skipped with a note
bench: $(STAMP)
	@command -v lnav >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lnav >/dev/null; } || true
	$(PY) benchmarks/run.py

samples: $(STAMP)
	$(VENV)/bin/jarvis-diag samples sample_logs --seed 7

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
