# Two entry points for newcomers: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# One stamp per install, so `make demo` and `make test` share one venv in either order:
# the demo installs only the package (+ speedups); the tests add the dev extra.
CREATED := $(VENV)/.created
DEMO_STAMP := $(VENV)/.demo-installed
STAMP := $(VENV)/.installed
NOX_STAMP := $(VENV)/.nox-installed

.PHONY: demo test test-all lint typecheck unit bench clean

$(CREATED):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	touch $(CREATED)

$(DEMO_STAMP): pyproject.toml $(CREATED)
	$(PY) -m pip install --quiet -e '.[speedups]'
	touch $(DEMO_STAMP)

$(STAMP): pyproject.toml $(CREATED)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(NOX_STAMP): $(CREATED)
	$(PY) -m pip install --quiet 'nox>=2026.10.20'  # the version noxfile.py is tested with
	touch $(NOX_STAMP)

demo: $(DEMO_STAMP)
	$(PY) -m qoder_async demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy --strict

unit: $(STAMP)
	$(PY) -m pytest -q

test: lint typecheck unit

# The suite on every CPython 3.11-3.13 found here, at the lowest declared dependency
# versions, and from the built sdist (see noxfile.py).
test-all: $(NOX_STAMP)
	$(VENV)/bin/nox

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .nox build dist *.egg-info .mypy_cache .ruff_cache
