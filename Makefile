# Arverne — two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test install lint typecheck imports pytest clean

$(STAMP): pyproject.toml package.json package-lock.json
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@# The console's front-end libraries (Leaflet, Chart.js, axe-core) from npm, never committed.
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --loglevel=error && npm run --silent vendor; \
	else echo "warning: npm not found: the web console's map and charts will be missing (install Node.js 20)"; fi
	@touch $(STAMP)

install: $(STAMP)

## Set up the embedded database and the demo world, then serve http://127.0.0.1:8000
demo: install
	$(BIN)/arverne demo

## Linters, type checks, import contracts and the whole test suite
test: install lint typecheck imports pytest

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: install
	$(BIN)/mypy

imports: install
	$(BIN)/lint-imports

pytest: install
	$(BIN)/pytest

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache test-artifacts
