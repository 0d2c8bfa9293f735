# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Each bootstraps .venv from python3 and makes sure Graphviz's `dot` program is installed.
# `make test` = ruff check, ruff format --check, pytest, and the docs build with warnings as errors;
# it installs what its tests need: Chromium (the browser tests) and PyTorch (the oracle), pinned.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EXTRAS := dev,demo,docs,lab,widgets,assignments
NOTEBOOKS := docs/notebooks $(wildcard docs/assignments/source/*)  # kept without outputs in git

.PHONY: demo test lint strip docs bench bench-check bench-baseline oracle screenshots lab lab-screenshots setup dot chromium valgrind clean

demo: setup
	$(BIN)/tinygrad-act demo --out demo-out

test: lint chromium oracle
	$(BIN)/python -m pytest -q
	$(MAKE) docs

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python tools/notebooks.py --check $(NOTEBOOKS)

# Strip the outputs of the notebooks before committing them (`make lint` fails while they have any).
strip:
	$(BIN)/python tools/notebooks.py $(NOTEBOOKS)

docs: setup
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html

# PyTorch, the oracle many tests compare against: the pinned version, CPU build. On Linux a bare
# `pip install torch==2.13.0` from the default index is a multi-GB CUDA build, so PyTorch's own CPU
# index is tried first (it serves 2.13.0+cpu); where it cannot be reached, the default index.
TORCH := torch==2.13.0
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu
HAS_TORCH = $(BIN)/python -c "import importlib.util as u, sys; sys.exit(u.find_spec('torch') is None)"

oracle: setup
	@if $(HAS_TORCH); then :; \
	elif echo "Installing PyTorch (the tests' oracle) from PyTorch's CPU index"; \
		$(BIN)/pip install -q --timeout 15 --retries 1 --index-url $(TORCH_CPU_INDEX) '$(TORCH)'; then :; \
	else \
		echo "PyTorch's CPU index cannot be reached: installing $(TORCH) from the default index"; \
		$(BIN)/pip install -q '$(TORCH)'; \
	fi

# Headless-Chromium screenshots of the demo page and the derivatives docs page (400 and 1280 px).
screenshots: demo docs
	$(BIN)/python docs/screenshots.py --demo demo-out --docs docs/_build/html --out screenshots

# The live lab in the browser: http://127.0.0.1:8000/ (Ctrl-C stops it).
lab: setup
	$(BIN)/tinygrad-act lab

# The lab's screenshots in the docs (docs/_static/lab-*.png), made by its browser test.
lab-screenshots: setup chromium
	LAB_SCREENSHOTS=docs/_static $(BIN)/python -m pytest -q tests/test_lab_browser.py

bench: setup
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

# The guard of the hot paths (a few minutes; not part of `make test`): instruction counts of W1,
# W4 at batch 64 and W5 under callgrind, each over its peer's in the same run, against the ratios
# stored in benchmarks/icount_baseline.json. Fails when one grew by more than 5%.
bench-check: setup valgrind
	$(BIN)/python benchmarks/icount.py

# Store the current counts as the baseline, on purpose: commit the file with the change that moved them.
bench-baseline: setup valgrind
	$(BIN)/python benchmarks/icount.py --update

setup: $(STAMP) dot

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[$(EXTRAS)]'
	touch $(STAMP)

# The system programs below install themselves with apt-get when run as root on Debian/Ubuntu.
CAN_APT = [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1
APT_INSTALL = apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq

# Graphviz's Python package only wraps the `dot` program; install the program itself.
dot:
	@if command -v dot >/dev/null 2>&1; then :; \
	elif $(CAN_APT); then \
		echo "Installing Graphviz (dot) with apt-get"; \
		$(APT_INSTALL) graphviz >/dev/null; \
	else \
		echo "Graphviz's dot program is missing. Install it with one of:"; \
		echo "  sudo apt-get install graphviz   (Debian/Ubuntu)"; \
		echo "  brew install graphviz           (macOS)"; \
		exit 1; \
	fi

# The browser tests drive Debian's Chromium (Playwright only drives it; it downloads no browser).
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif $(CAN_APT); then \
		echo "Installing Chromium with apt-get (for the browser tests)"; \
		$(APT_INSTALL) chromium >/dev/null; \
	else \
		echo "Chromium is missing: the browser tests will skip. Install it with:"; \
		echo "  sudo apt-get install chromium   (Debian/Ubuntu)"; \
	fi

valgrind:
	@if command -v valgrind >/dev/null 2>&1; then :; \
	elif $(CAN_APT); then \
		echo "Installing valgrind with apt-get"; \
		$(APT_INSTALL) valgrind >/dev/null; \
	else \
		echo "valgrind is missing. Install it with one of:"; \
		echo "  sudo apt-get install valgrind   (Debian/Ubuntu)"; \
		echo "  brew install valgrind           (macOS, Intel only)"; \
		exit 1; \
	fi

clean:
	rm -rf $(VENV) demo-out docs/_build docs/_generated screenshots .pytest_cache .ruff_cache
