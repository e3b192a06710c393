# Two entry points, both idempotent: `make demo` (set up, run the main job) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test setup system-deps site lab

demo: setup system-deps
	$(BIN)/autograder run-solutions
	$(BIN)/autograder grade

test: setup system-deps
	$(BIN)/python -m pytest

setup: $(VENV)/.installed

# Re-installs only when the dependency list or the package metadata changes.
$(VENV)/.installed: requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required, found " + sys.version.split()[0])'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

system-deps:
	@bash scripts/install-system-deps.sh

# The reader's edition: execute every lesson, write the static site into build/site/, then check
# every page in headless Chromium (screenshots land in build/site/).
site: setup system-deps
	$(BIN)/python -m reader.build --out build/site
	$(BIN)/python -m reader.browser build/site

lab: setup
	$(BIN)/autograder lab
