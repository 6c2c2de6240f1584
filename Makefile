# groundrag: two commands for a new user.
#   make demo   set everything up, ingest the docs, answer with citations
#   make test   set everything up and run the tests
#
# Everything installs into ./.venv; models are provisioned offline into
# ./.rag-home (the `rag` command alone defaults to your per-user cache folder).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# torch is pinned in the same install command: an unpinned torch can pull a
# multi-GB CUDA build on a machine without a GPU.
TORCH  ?= torch==2.13.0
EXTRAS ?= engine,cpu,server,ui,dev,scale
# Extra pytest options for `make test` (CI passes --durations).
PYTEST_ARGS ?=
# `make test` runs the suite in this many pytest-xdist workers, one test file per worker
# (module fixtures such as a vLLM server stay in one process), the longest files first
# (tests/file_seconds.json); much of its time is spent waiting on servers and subprocesses.
# Tests marked `serial` run alone afterwards.
# Each worker loads its own models, so keep it small (2 suits a 2-core machine).
TEST_WORKERS ?= 2
# llama-cpp-python is built by scripts/llama_cpp/install.sh for the CPU it runs on
# (GGML_NATIVE=OFF plus the SIMD levels /proc/cpuinfo reports; AMX only with
# LLAMA_AMX=1 or auto). Override with LLAMA_CMAKE_ARGS="..." or LLAMA_AMX; see docs/models.md.
# Keep models and collections of the demo and the tests inside the checkout.
export RAG_HOME ?= $(CURDIR)/.rag-home

.PHONY: help setup models test test-fast eval-ci demo bench clean

help:
	@echo "make demo    set up, ingest the docs, answer a question, serve the API"
	@echo "make test    set up and run the test suite"
	@echo "make bench   run the benchmark programs"

$(STAMP): pyproject.toml scripts/llama_cpp/install.sh rag/generate/cpu_features.py
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH)" -e ".[$(EXTRAS)]"
	bash scripts/llama_cpp/install.sh $(VENV)
	touch $(STAMP)

setup: $(STAMP)

models: setup
	$(BIN)/rag models pull

# DEMO_SERVE=0 stops after the answer; otherwise the API is served until Ctrl-C.
DEMO_SERVE ?= 1
DEMO_QUESTION ?= What happens to a collection if ingestion is killed halfway?

demo: models
	$(BIN)/rag doctor
	$(BIN)/rag ingest README.md docs --collection demo
	$(BIN)/rag search "$(DEMO_QUESTION)" --collection demo --k 3
	$(BIN)/rag ask "$(DEMO_QUESTION)" --collection demo
	@if [ "$(DEMO_SERVE)" != "0" ]; then \
		echo "Serving the API on http://127.0.0.1:8000 (docs at /docs) and the web UI on http://127.0.0.1:8501; Ctrl-C to stop"; \
		$(BIN)/rag serve --port 8000 & api=$$!; \
		trap 'kill $$api 2>/dev/null' EXIT INT TERM; \
		$(BIN)/rag ui --api-url http://127.0.0.1:8000 --port 8501; \
	fi

test: setup
	$(BIN)/rag models pull all-MiniLM-L6-v2 smollm2-135m qwen2.5-coder-1.5b-instruct-q4_k_m
	bash scripts/vllm/setup.sh
	bash scripts/ensure_chromium.sh
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder -m "not serial" $(PYTEST_ARGS) \
		|| [ $$? -eq 5 ]  # 5: PYTEST_ARGS selected no test here, only in the other run
	$(BIN)/python -m pytest -q -m serial $(PYTEST_ARGS) || [ $$? -eq 5 ]

# The batch evaluations CI runs after the tests (answers on SQuAD 2.0, prompt-injection
# resistance): each fails when a metric leaves its gate.
eval-ci: setup
	$(BIN)/rag models pull
	rm -rf .eval-runs/ci .eval-runs/injection
	$(BIN)/rag eval run eval/specs/ci.toml --out .eval-runs/ci
	$(BIN)/rag eval run eval/specs/injection.toml --out .eval-runs/injection

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

bench: setup
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) .pytest_cache
