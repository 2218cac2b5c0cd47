# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test install index bench bench-quick bench-deps eval clean

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

# Figures for BENCHMARKS.md, in one run (about 30 minutes on 2 cores; the 1M part needs ~8 GB of disk).
# Run from the project root: a `benchmarks` package from site-packages would shadow ours elsewhere.
bench: $(STAMP) bench-deps
	$(PY) -m benchmarks.latency
	$(PY) -m benchmarks.build --repeat 2 --full
	$(PY) -m benchmarks.scale --n 1000000 --stories 3000 --nprobe 16,32,64,128

# Faster figures: everything but the whole-Reuters build and the 1M index.
bench-quick: $(STAMP) bench-deps
	$(PY) -m benchmarks.latency --rounds 3 --cold-runs 3
	$(PY) -m benchmarks.build
	$(PY) -m benchmarks.scale --n 100000 --stories 1000

# wrk is the load generator (Debian package); without root the load part is skipped with a message.
bench-deps:
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk) || echo "wrk missing: apt-get install wrk"

clean:
	rm -rf var .pytest_cache
