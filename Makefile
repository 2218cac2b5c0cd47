# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test install index bench eval clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first and pinned: unpinned, pip pulls multi-GB CUDA builds.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[build,test]"
	touch $(STAMP)

install: $(STAMP)

index: $(STAMP)
	$(VENV)/bin/qa build

run: index
	$(VENV)/bin/qa serve --host 127.0.0.1 --port 8000

test: $(STAMP)
	$(PY) -m pytest -q

eval: $(STAMP)
	$(VENV)/bin/qa eval tests/questions/seeds.jsonl
	$(VENV)/bin/qa eval tests/questions/seeds_heldout.jsonl
	$(VENV)/bin/qa eval tests/questions/unanswerable.jsonl
	$(VENV)/bin/qa eval tests/questions/unanswerable_heldout.jsonl
	$(VENV)/bin/qa eval --squad ../shared/data/squad-v1.1-dev/dev-v1.1.json --limit 1000

bench: $(STAMP)
	$(PY) benchmarks/fusion_squad.py 200

clean:
	rm -rf var .pytest_cache
