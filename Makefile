# The README's quick start: `make demo` and `make test`, each setting up what it needs on a machine with
# Python 3.10+ and make: a virtualenv in .venv with the project installed as the README says.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
FILES := scenarios/*.yaml scenarios/common/*.yaml examples/*.yaml examples/common/*.yaml

.PHONY: install demo test lint

install: $(INSTALLED)

$(INSTALLED): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

demo: $(INSTALLED)
	$(BIN)/python -m examples.demo

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/locust-scenario validate $(FILES)

test: lint
	$(BIN)/pytest
