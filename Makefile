# Two entry points: `make demo` and `make test`. Both create or reuse .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.tsdyn-installed

.PHONY: demo test lint venv clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# torch first (the local CPU build on these machines), then the package with its dev extra.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/tsdyn forecast --out runs/demo --overwrite
	$(BIN)/tsdyn summarize --out runs/demo-summary --overwrite

test: $(STAMP)
	$(BIN)/ruff check tsdyn tests benchmarks examples
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check tsdyn tests benchmarks examples
	$(BIN)/ruff format --check tsdyn tests benchmarks examples

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
