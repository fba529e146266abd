# tritonize — see README.md. `make demo` and `make test` work on a fresh machine.
SHELL := /bin/bash
PY ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
PIP := $(VPY) -m pip
# No NVIDIA driver → CPU-only torch (2.13.0 CPU build) + triton 3.7.1 for the interpreter.
HAS_GPU := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo 1)
ifeq ($(HAS_GPU),1)
TORCH_REQ ?= torch triton
else
TORCH_REQ ?= torch==2.13.0 triton==3.7.1
endif

.PHONY: setup setup-llm setup-nvim setup-vscode test test-py test-vscode demo lint bench gpu-test vsix clean

$(VENV)/.core: pyproject.toml
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH_REQ) numpy
	$(PIP) install -q -e '.[dev,bench]'
	touch $@

## setup: the project venv with torch/triton, the server and the test tools
setup: $(VENV)/.core

$(VENV)/.llm: $(VENV)/.core
	$(PIP) install -q transformers tokenizers safetensors accelerate gguf
	# llama-cpp-python builds from source on a machine without a wheel (~7 min on 2 cores; pip caches it)
	CMAKE_ARGS="$${CMAKE_ARGS:--DGGML_NATIVE=OFF}" $(PIP) install -q 'llama-cpp-python[server]'
	touch $@

## setup-llm: the model runtimes (transformers, llama.cpp and its OpenAI-compatible server)
setup-llm: $(VENV)/.llm

## setup-nvim: Debian's Neovim for the headless editor test
setup-nvim:
	command -v nvim >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq neovim >/dev/null)

## setup-vscode: the extension's node modules
vscode-client/node_modules/.stamp: vscode-client/package.json vscode-client/package-lock.json
	cd vscode-client && npm ci --no-audit --no-fund --loglevel=error
	touch $@
setup-vscode: vscode-client/node_modules/.stamp

## test: everything that runs without a GPU (Python suite incl. LSP + Neovim, extension build + tests)
test: setup setup-llm setup-nvim setup-vscode test-py test-vscode

test-py:
	$(VPY) -m pytest -m "not gpu" -p no:cacheprovider $(PYTEST_ARGS)

test-vscode: setup-vscode
	cd vscode-client && npm run -s compile && npm run -s lint && npm test

## demo: convert an example module with the built-in generators and print the kernel + report
demo: setup
	$(VENV)/bin/tritonize convert examples/fused_activation.py::FusedGeluScale --generators template,inductor --no-cache

lint: setup
	$(VENV)/bin/ruff check server tests

## bench: our problem set through the pipeline (times only on a GPU) + server latency benchmarks
ifeq ($(HAS_GPU),1)
BENCH_SET ?= benchmarks/problems
else
# The problem set is GPU-sized (256 MB+ of traffic); under the CPU interpreter it would take hours and
# time nothing. Without a GPU, `make bench` runs the small set (correctness only) and the LSP latency.
BENCH_SET ?= tests/data/bench_small
endif
bench: setup
	@[ "$(HAS_GPU)" = 1 ] || echo "make bench: no GPU here: running $(BENCH_SET) for correctness only (timings need a GPU)"
	$(VENV)/bin/tritonize bench $(BENCH_SET) --generators template,inductor --resume --results-dir .bench \
		--markdown .bench/report.md --json-out .bench/results.json
	$(VPY) benchmarks/lsp_latency.py

## gpu-test: on a GPU machine (no venv: uses python3 with torch) — GPU tests + benchmarks in one go
gpu-test:
	bash scripts/gpu-test.sh

## vsix: package the VS Code extension
vsix: setup-vscode
	cd vscode-client && npm run -s compile && npx --no-install vsce package --no-dependencies --allow-missing-repository -o ../tritonize.vsix

clean:
	rm -rf $(VENV) vscode-client/node_modules vscode-client/out .bench
