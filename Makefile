# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Each bootstraps .venv from python3 and makes sure Graphviz's `dot` program is installed.
# `make test` = ruff check, ruff format --check, pytest, and the docs build with warnings as errors.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EXTRAS := dev,demo,docs

.PHONY: demo test lint strip docs bench oracle screenshots setup dot chromium clean

demo: setup
	$(BIN)/tinygrad-act demo --out demo-out

test: lint chromium
	$(BIN)/python -m pytest -q
	$(MAKE) docs

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python tools/notebooks.py --check docs/notebooks

# Strip the outputs of the notebooks before committing them (`make lint` fails while they have any).
strip:
	$(BIN)/python tools/notebooks.py docs/notebooks

docs: setup
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html

# PyTorch, the oracle some tests compare against (they skip without it): the pinned CPU build.
# A bare `pip install torch` on Linux downloads a multi-GB CUDA build instead.
oracle: setup
	$(BIN)/pip install -q 'torch==2.13.0'

# Headless-Chromium screenshots of the demo page and the derivatives docs page (400 and 1280 px).
screenshots: demo docs
	$(BIN)/python docs/screenshots.py --demo demo-out --docs docs/_build/html --out screenshots

bench: setup
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

setup: $(STAMP) dot

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[$(EXTRAS)]'
	touch $(STAMP)

# Graphviz's Python package only wraps the `dot` program; install the program itself.
dot:
	@if command -v dot >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Graphviz (dot) with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null; \
	else \
		echo "Graphviz's dot program is missing. Install it with one of:"; \
		echo "  sudo apt-get install graphviz   (Debian/Ubuntu)"; \
		echo "  brew install graphviz           (macOS)"; \
		exit 1; \
	fi

# The browser tests drive Debian's Chromium (Playwright only drives it; it downloads no browser).
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Chromium with apt-get (for the browser tests)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "Chromium is missing: the browser tests will skip. Install it with:"; \
		echo "  sudo apt-get install chromium   (Debian/Ubuntu)"; \
	fi

clean:
	rm -rf $(VENV) demo-out docs/_build docs/_generated screenshots .pytest_cache .ruff_cache
