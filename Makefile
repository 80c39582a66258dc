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

# Offline embedded default: procedural vases -> NOCS keypoints -> short CPU training -> evaluation report.
# Every step resumes or skips finished work, so an interrupted `make demo` can simply be run again.
demo: $(STAMP)
	$(BIN)/render-pairs --category vases --source procedural --num-quads 96 --resolution 128 --samples 16 \
		--workers 2 --out $(DEMO)/vases --preview
	$(BIN)/build-keypoint-cache $(DEMO)/vases --method nocs --preview
	$(BIN)/eval-correspondences $(DEMO)/vases --method nocs
	$(BIN)/train-eopose --data $(DEMO)/vases --config demo --out $(DEMO)/run \
		$(if $(wildcard $(DEMO)/run/checkpoints/last.pt),--resume,)
	$(BIN)/eval-eopose --checkpoint $(DEMO)/run/checkpoints/final.pt --data $(DEMO)/vases --out $(DEMO)/report
	@echo "demo done: open $(DEMO)/report/report.html"

clean-demo:
	rm -rf $(DEMO)
