# docsearch: `make run` starts everything on this machine, `make test` tests it
# against the real components. Both install what is missing first.

GO       ?= go
BIN      := $(CURDIR)/.bin
DATA     ?= $(CURDIR)/.data
BUF      := $(BIN)/buf
# Tests use the launcher built here instead of building their own.
export DOCSEARCH_CHEMBED := $(BIN)/chembed

BUF_VERSION                ?= v1.75.0
PROTOC_GEN_GO_VERSION      ?= v1.36.12
PROTOC_GEN_GO_GRPC_VERSION ?= v1.6.2

.PHONY: all build setup run run-cluster test test-cluster test-short vet proto lint tools clean

all: build

build:
	$(GO) build -o $(BIN)/docsearch ./cmd/docsearch
	$(GO) build -o $(BIN)/chembed ./cmd/chembed

# Fetches libchdb into the cache once, installs and starts PostgreSQL if missing.
setup: build
	$(BIN)/docsearch setup

run: setup
	$(BIN)/docsearch up --data $(DATA)

# The same on a local cluster of SHARDS embedded servers (ports 9000, 9001, ...),
# the tables laid out for it (docs/scaling.md).
SHARDS ?= 2
run-cluster: setup
	$(BIN)/docsearch up --data $(DATA) --cluster-shards $(SHARDS)

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }

test: setup vet lint
	$(GO) test -race -count=1 -timeout 30m ./...

# The schema, search, indexer and stack tests again on a two-shard local cluster
# (5-10 min). Not part of `test` yet: the tests that SIGKILL an indexer or a
# backfill mid-insert sometimes crash an embedded server of the cluster
# (docs/scaling.md, "Not done").
CLUSTER_PACKAGES := ./schema/... ./strategy/... ./api/... ./index/... ./loadtest/stack/...
test-cluster: setup
	DOCSEARCH_TEST_CLUSTER=2 $(GO) test -race -count=1 -timeout 30m $(CLUSTER_PACKAGES)

test-short: build vet
	$(GO) test -short -count=1 ./...

tools: $(BUF) $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc

$(BUF):
	GOBIN=$(BIN) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
$(BIN)/protoc-gen-go:
	GOBIN=$(BIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(BIN)/protoc-gen-go-grpc:
	GOBIN=$(BIN) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)

# Regenerates the committed gRPC code; `lint` also fails when it is stale.
proto: tools
	$(BUF) generate --template api/buf.gen.yaml

lint: tools
	$(BUF) lint
	$(BUF) format -d --exit-code
	@tmp=$$(mktemp -d) && $(BUF) generate --template api/buf.gen.yaml -o $$tmp && \
	  for f in $$tmp/api/docsearch/v1/*.go; do \
	    cmp -s $$f api/docsearch/v1/$$(basename $$f) || { echo "stale generated code: $$(basename $$f) (make proto)"; rm -rf $$tmp; exit 1; }; \
	  done; rm -rf $$tmp

clean:
	rm -rf $(BIN)
