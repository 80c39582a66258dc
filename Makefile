# The README's two commands: `make demo` (main job on the offline embedded default) and `make test`.
# Each sets up .venv itself on a fresh machine (Python 3.11; PyPI only; torch/torchvision from the
# local wheel store where the machine has one, else PyPI).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.eopose-installed
DEMO := out/demo

.PHONY: setup test demo clean-demo

setup: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install --quiet -e ".[render,publish,test]"
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

demo: $(STAMP)
	$(BIN)/eopose-dataset info $(DEMO)/vases || true

clean-demo:
	rm -rf $(DEMO)
