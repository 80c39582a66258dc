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

# Quiet setup: one progress line per step, pip's errors in full. Dropped: pip's "Location '...' is ignored"
# lines (the machine's pip config names local wheel folders that may not exist) and setuptools' build-time
# UserWarnings for the editable install; pip's exit status is kept.
PIP := $(BIN)/pip install --quiet --disable-pip-version-check
QUIET_PIP = status=$$(mktemp); { $(1) 2>&1 || echo $$? > $$status; } | grep -v "^WARNING: Location '.*' is ignored"; \
	code=$$(cat $$status); rm -f $$status; exit $${code:-0}

$(STAMP): setup.cfg pyproject.toml
	@echo "setup: creating $(VENV) with $(PYTHON)"
	@$(PYTHON) -m venv $(VENV)
	@echo "setup: pip"
	@$(call QUIET_PIP,$(PIP) --upgrade pip)
	@echo "setup: torch 2.14.1, torchvision 0.29.1"
	@$(call QUIET_PIP,$(PIP) torch==2.14.1 torchvision==0.29.1)
	@echo "setup: eopose and its dependencies (render, publish, test extras)"
	@$(call QUIET_PIP,PYTHONWARNINGS=ignore::UserWarning $(PIP) -e ".[render,publish,test]")
	@touch $(STAMP)
	@echo "setup: done ($(VENV))"

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
