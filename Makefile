# alibi: the two commands a newcomer needs are `make demo` and `make test`.
# Everything else here is for maintainers. Targets install what they need on a
# fresh Debian machine (apt-get for chromium/wabt/binaryen, npm ci for JS).

SHELL      := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO         ?= go
PORT       ?= 8080
BUILD      := build
SITE       := $(BUILD)/site
WASMEXEC   := $(CURDIR)/tools/wasmexec/go_js_wasm_exec
GOJS       := GOOS=js GOARCH=wasm
# Portable packages that must also pass under GOOS=js GOARCH=wasm in Node.
WASM_PKGS  := ./engine/... ./tokenizer/... ./internal/onig/... ./internal/jsonscan/... ./wasm/...
FUZZTIME   ?= 10s

.PHONY: all demo test test-go test-wasm test-js test-e2e test-edge lint site cli deps build-deps test-deps \
        npm-deps npm bench bench-go bench-wasm bench-browser fuzz dist clean model goldens \
        edge edge-dev edge-deploy

all: cli site

## ---- the two README commands ------------------------------------------------

# Build the demo folder (with the bundled default model) and serve it.
demo: build-deps site
	@echo "serving $(SITE) on http://127.0.0.1:$(PORT)/"
	$(GO) run ./cmd/alibi serve --dir $(SITE) --addr 127.0.0.1:$(PORT)

# The whole test suite: lint, Go natively, Go under js/wasm (Node), JS unit
# tests, and browser end-to-end tests in headless Chromium.
test: deps lint test-go test-wasm test-js site test-e2e test-edge
	@echo "make test: all suites passed"

## ---- dependencies ----------------------------------------------------------

deps: build-deps test-deps

# wabt assembles the SIMD kernels; binaryen's wasm-opt shrinks alibi.wasm.
build-deps:
	@missing=""; \
	command -v wat2wasm >/dev/null || missing="$$missing wabt"; \
	command -v wasm-opt >/dev/null || missing="$$missing binaryen"; \
	if [ -n "$$missing" ]; then \
	  echo "apt-get install:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# chromium for the browser tests; numpy for the llama.cpp goldens check
# (e2e/wllama-goldens compares llama.cpp with the numpy references live).
test-deps: npm-deps
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	/usr/bin/python3 -c 'import numpy' 2>/dev/null || missing="$$missing python3-numpy"; \
	if [ -n "$$missing" ]; then \
	  echo "apt-get install:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

npm-deps: node_modules/.alibi-npm-ci
node_modules/.alibi-npm-ci: package-lock.json
	npm ci --no-audit --no-fund
	touch $@

## ---- test suites -----------------------------------------------------------

lint:
	@bad=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); \
	if [ -n "$$bad" ]; then echo "gofmt needed:"; echo "$$bad"; exit 1; fi
	$(GO) vet ./...
	$(GOJS) $(GO) vet ./...
	@if $(GOJS) $(GO) list -f '{{join .Imports "\n"}}' ./engine/... ./tokenizer/... | grep -qx 'syscall/js'; then \
	  echo "engine/ and tokenizer/ must not import syscall/js"; exit 1; fi

test-go:
	ALIBI_FULL=1 $(GO) test ./...

# Under js/wasm the runner in tools/wasmexec supplies the SIMD kernels, so the
# SIMD path is what these tests exercise (ALIBI_SIMD=0 forces pure Go;
# ALIBI_THREADS=2 runs Go on a shared memory with a kernel thread, and all the
# numerics goldens again). -count=1: the test cache does not see ALIBI_THREADS.
test-wasm: build-deps
	$(GOJS) $(GO) test -exec=$(WASMEXEC) $(WASM_PKGS)
	ALIBI_SIMD=0 $(GOJS) $(GO) test -exec=$(WASMEXEC) ./engine/kernels/...
	ALIBI_FMA=1 $(GOJS) $(GO) test -exec=$(WASMEXEC) ./engine/... ./wasm/...
	ALIBI_THREADS=2 $(GOJS) $(GO) test -count=1 -exec=$(WASMEXEC) ./engine/... ./wasm/...

test-js: npm-deps
	node --test web/test/ engine/kernels/simd/

test-e2e: test-deps site cli
	ALIBI_SITE=$(CURDIR)/$(SITE) $(GO) test -count=1 -run TestBuiltSite ./tools/package/npmpkg
	ALIBI_FULL=1 ALIBI_SITE=$(CURDIR)/$(SITE) ALIBI_BIN=$(CURDIR)/$(BUILD)/alibi node --test --test-concurrency=1 e2e/

# The Cloudflare Worker under workerd (and wrangler for the R2 variant).
test-edge: test-deps site cli
	ALIBI_FULL=1 ALIBI_BIN=$(CURDIR)/$(BUILD)/alibi SITE=$(CURDIR)/$(SITE) $(MAKE) -C edge test

## ---- builds ----------------------------------------------------------------

cli:
	$(GO) build -o $(BUILD)/alibi ./cmd/alibi

site: build-deps
	$(GO) run ./cmd/build-wasm -o $(SITE)

# The npm package alibi-wasm (folder and tarball): see docs/npm.md.
npm: site
	tools/package/build.sh $(BUILD)/npm

dist: build-deps
	rm -rf dist
	$(GO) run ./cmd/build-wasm -o dist/site
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w" -o dist/alibi ./cmd/alibi
	tar -C dist -czf dist/alibi-site.tar.gz site
	@ls -l dist

## ---- maintainer targets ----------------------------------------------------

bench: bench-go bench-wasm

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./engine/... ./tokenizer/...

bench-wasm: build-deps
	$(GOJS) $(GO) test -exec=$(WASMEXEC) -run '^$$' -bench . -benchmem ./engine/... ./tokenizer/...

bench-browser: test-deps site cli
	ALIBI_SITE=$(CURDIR)/$(SITE) ALIBI_BIN=$(CURDIR)/$(BUILD)/alibi node e2e/bench/browser-bench.mjs

# Short, bounded runs of every fuzz target (FUZZTIME each).
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

# Retrain the bundled default model (takes about half an hour on 2 cores).
model:
	tools/train/run.sh

# Regenerate the numerics goldens (numpy reference and llama.cpp via wllama).
goldens: test-deps
	tools/reference/regen.sh --wllama

edge: build-deps
	$(MAKE) -C edge build

edge-dev: edge
	$(MAKE) -C edge dev PORT=$${PORT:-8787}

edge-deploy: edge
	$(MAKE) -C edge deploy

clean:
	rm -rf $(BUILD) dist e2e/output
