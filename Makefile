# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test install install-ray index reader bench bench-quick bench-deps eval clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first and pinned: unpinned, pip pulls multi-GB CUDA builds.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[build,test,ray]"
	touch $(STAMP)

install: $(STAMP)

# Ray for `qa build --ray` (make install already includes it; this is the one step for an existing venv).
install-ray: $(STAMP)
	$(PY) -m pip install -q -e ".[ray]"

index: $(STAMP)
	$(VENV)/bin/qa build

PORT ?= 8000
HOST ?= 127.0.0.1
run: index
	$(VENV)/bin/qa serve --host $(HOST) --port $(PORT)

# The browser tests drive Debian's chromium and the load test runs wrk; as root this installs both, otherwise those
# tests skip and say how. QA_REQUIRE_ALL=1 (set by .ci/run) makes any skip a failure.
test: $(STAMP)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null && command -v wrk >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq chromium chromium-driver wrk >/dev/null; } || \
	  echo "browser or load tests will skip: apt-get install -y chromium chromium-driver wrk"
	$(PY) -m pytest -q

# The reader shipped in qa/models/reader, made again from ../shared/data on the CPU (~85 min of training on 2 cores):
# fine-tune on SQuAD's training split, export to int8 ONNX, then fit the answer decision (qa/decide.py) and its
# thresholds on SQuAD's tuning split, perturbed questions, news questions and the multi-source tuning sets
# (training/decide.py, ~8 min).
reader: $(STAMP)
	$(PY) -m pip install -q -e ".[train]"
	$(PY) -m training.reader
	$(PY) -m training.export
	$(PY) -m training.decide

eval: $(STAMP)
	$(VENV)/bin/qa eval tests/questions/seeds.jsonl
	$(VENV)/bin/qa eval tests/questions/seeds_heldout.jsonl
	$(VENV)/bin/qa eval tests/questions/unanswerable.jsonl
	$(VENV)/bin/qa eval tests/questions/unanswerable_heldout.jsonl
	$(PY) -m benchmarks.reuters_index
	$(VENV)/bin/qa eval tests/questions/reuters_heldout.jsonl --index var/bench/reuters-2000/index
	$(VENV)/bin/qa eval --squad ../shared/data/squad-v1.1-dev/dev-v1.1.json --split eval
	$(PY) -m benchmarks.reader

# The speed and scale figures of BENCHMARKS.md, in one run (about 45 minutes on 2 cores; the 1M part needs ~8 GB of
# disk). README's "Serving and speed" names the benchmarks this leaves out and how each is run.
# Run from the project root: a `benchmarks` package from site-packages would shadow ours elsewhere.
bench: $(STAMP) bench-deps
	$(PY) -m benchmarks.latency
	$(PY) -m benchmarks.build --repeat 2 --full
	$(PY) -m benchmarks.scale --n 1000000 --stories 3000 --nprobe 32,64 --lexical-units 5
	$(PY) -m benchmarks.live

# Faster figures: everything but the whole-Reuters build and the 1M index.
bench-quick: $(STAMP) bench-deps
	$(PY) -m benchmarks.latency --rounds 3 --cold-runs 3
	$(PY) -m benchmarks.build
	$(PY) -m benchmarks.scale --n 100000 --stories 1000
	$(PY) -m benchmarks.live --stories 2000 --segments 20

# wrk is the load generator (Debian package); without root the load part is skipped with a message.
bench-deps:
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk) || echo "wrk missing: apt-get install wrk"

clean:
	rm -rf var .pytest_cache
