# The two set-up commands of the README: `make run` and `make test`.
# PYTHON: a Python 3.11 (or newer) interpreter; found on PATH when not given.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# `make dist` builds the application bundle (PyInstaller) and its archive in dist/;
# `make dist-check` builds it again in a clean environment and runs the bundled executable (CI).
DIST_ENV := build/dist-env

.PHONY: run test lint bench clean dist dist-check

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "make: no python3.11 on PATH; run make PYTHON=/path/to/python3.11" >&2; exit 2; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
		{ echo "make: $(PYTHON) is older than Python 3.11" >&2; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/isodesk $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check isodesk tests benchmarks packaging
	$(BIN)/lint-imports
	$(BIN)/mypy

test: lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -n auto $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/engine.py --json
	$(BIN)/python benchmarks/desk.py --json
	$(BIN)/python benchmarks/gui.py --json --seconds 30

dist: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dist]"
	$(BIN)/python -m build --wheel --no-isolation --outdir dist .
	$(BIN)/python packaging/build.py

dist-check: $(STAMP)
	rm -rf $(DIST_ENV)
	$(PYTHON) -m venv $(DIST_ENV)
	$(DIST_ENV)/bin/python -m pip install --quiet ".[dist]"
	$(DIST_ENV)/bin/python packaging/build.py --build-dir build/pyinstaller-clean
	ISODESK_BUNDLE_ARCHIVE="$$($(DIST_ENV)/bin/python packaging/build.py --archive-path)" \
		$(BIN)/python -m pytest -q -p no:xdist -c pyproject.toml --rootdir . packaging/test_bundle.py

clean:
	rm -rf $(VENV) dist build
