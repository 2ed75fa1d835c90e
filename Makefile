# Quickstart: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test lint typecheck unit browser bench serve install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/digest demo

# axe-core, the accessibility checker the browser tests inject into every page.
AXE := tests/browser/axe/node_modules/.installed
$(AXE): tests/browser/axe/package.json tests/browser/axe/package-lock.json
	npm ci --prefix tests/browser/axe --no-audit --no-fund --loglevel=error
	@touch $@

# Lighthouse, which tests/browser/test_lighthouse.py runs against Debian's Chromium (issue 13).
LIGHTHOUSE := tests/browser/lighthouse/node_modules/.installed
$(LIGHTHOUSE): tests/browser/lighthouse/package.json tests/browser/lighthouse/package-lock.json
	npm ci --prefix tests/browser/lighthouse --no-audit --no-fund --loglevel=error
	@touch $@

# Everything CI runs: lint, types, and the whole suite (SQLite and PostgreSQL, real Chromium).
test: $(STAMP) $(AXE) $(LIGHTHOUSE)
	@bash scripts/ensure-test-deps.sh
	$(MAKE) --no-print-directory lint
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# bench/render.py compares against the official npm `mjml`, installed into bench/node_modules.
bench/node_modules/.installed: bench/package.json
	npm install --prefix bench --no-audit --no-fund --loglevel=error
	@touch $@

bench: $(STAMP) bench/node_modules/.installed
	@for script in bench/*.py; do [ -e "$$script" ] || continue; echo "== $$script"; $(BIN)/python "$$script" || exit 1; done

serve: $(STAMP)
	$(BIN)/digest serve

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
