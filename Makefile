# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Each bootstraps .venv from python3 and makes sure Graphviz's `dot` program is installed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EXTRAS := dev,demo,docs

.PHONY: demo test lint strip docs bench setup dot clean

demo: setup
	$(BIN)/tinygrad-act demo --out demo-out

test: lint
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

clean:
	rm -rf $(VENV) demo-out docs/_build docs/_generated .pytest_cache .ruff_cache
