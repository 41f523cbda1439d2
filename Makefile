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

# .ci/gotest reruns once a package whose embedded ClickHouse died under it (and
# only such a package), printing the crash; any other failure fails.
test: setup vet lint
	.ci/gotest -race -count=1 -timeout 30m -- ./...
	DOCSEARCH_TEST_CLUSTER=2 .ci/gotest -race -count=1 -timeout 30m -skip '$(CLUSTER_SKIP)' -- $(CLUSTER_PACKAGES)

# The schema, search, indexer and stack tests again on a two-shard local cluster
# of embedded servers, test bodies unchanged (about 4 min). `test` skips there the
# two tests that SIGKILL a child mid-insert: on a cluster they have now and then
# crashed an embedded server (code 236; chDB is not a hardened server), which
# fails every later test of the package. They run on one server in `test`, and
# on the cluster in `test-cluster`.
CLUSTER_PACKAGES := ./schema/... ./strategy/... ./api/... ./index/... ./loadtest/stack/...
CLUSTER_SKIP     := ^TestKilledMidBatchAndRestarted$$
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

# Load tests. `k6` installs k6 (a Go program) into .bin; `k6-smoke` runs the
# smoke profile of loadtest/k6/search.js against a running docsearch
# (`make run` and a loaded data set; docs/k6.md). It starts nothing itself.
K6_VERSION     ?= v1.8.1
K6             := $(BIN)/k6
DOCSEARCH_ADDR ?= 127.0.0.1:7070

.PHONY: bench k6 k6-smoke

k6: $(K6)
$(K6):
	GOBIN=$(BIN) $(GO) install go.k6.io/k6@$(K6_VERSION)

k6-smoke: $(K6)
	$(K6) run -e PROFILE=smoke -e DOCSEARCH_ADDR=$(DOCSEARCH_ADDR) loadtest/k6/search.js

# `make bench`: BENCH_DOCS documents end to end on a stack of its own (other
# ports, data under BENCH_DIR/stack, wiped first): generated into PostgreSQL
# database BENCH_DB (recreated), backfilled into docsearch, reconciled, then
# `docsearch bench` against docsearch and both PostgreSQL baselines under a
# steady update stream. The report goes to BENCH_DIR/results-<time>-<docs>.txt.
BENCH_DOCS  ?= 10000000
BENCH_DIR   ?= $(DATA)/bench
BENCH_DB    ?= docsearch_bench
BENCH_PG    ?= postgres://docsearch:docsearch@127.0.0.1:5432
BENCH_FLAGS ?= --concurrency 8 --duration 10s --freshness-rate 50
# Ports below the kernel's ephemeral range, away from `make run`'s.
BENCH_GRPC  ?= 127.0.0.1:27070
BENCH_CH    ?= 127.0.0.1:29000
BENCH_KAFKA ?= 127.0.0.1:29092

bench: setup
	@set -e; dir=$(BENCH_DIR); mkdir -p $$dir; \
	out=$$dir/results-$$(date -u +%Y%m%dT%H%M%SZ)-$(BENCH_DOCS).txt; log=$$dir/up.log; \
	pg="$(BENCH_PG)/$(BENCH_DB)?sslmode=disable"; ds=$(BIN)/docsearch; \
	load() { cut -d' ' -f1-3 /proc/loadavg; }; \
	step() { t0=$$(date +%s); "$$@" >$$dir/step.out || { cat $$dir/step.out; return 1; }; \
	  cat $$dir/step.out | tee -a $$out; echo "bench: $$2 took $$(( $$(date +%s) - t0 )) s, load $$(load)" | tee -a $$out; }; \
	echo "make bench BENCH_DOCS=$(BENCH_DOCS): $$(nproc) cores, commit $$(git rev-parse --short HEAD 2>/dev/null), load $$(load)" | tee $$out; \
	rm -rf $$dir/stack; \
	$$ds up --data $$dir/stack --grpc $(BENCH_GRPC) --clickhouse $(BENCH_CH) --kafka $(BENCH_KAFKA) \
	  --clickhouse-http 127.0.0.1:28123 --metrics 127.0.0.1:29464 >$$log 2>&1 & up=$$!; \
	trap 'kill $$up 2>/dev/null; wait $$up 2>/dev/null || true' EXIT; trap 'exit 130' INT TERM; \
	echo "bench: stack pid $$up, log $$log"; i=0; \
	until grep -q "docsearch is up" $$log; do st=$$(ps -o stat= -p $$up || true); \
	  i=$$((i+1)); if [ $$i -gt 120 ] || [ -z "$$st" ] || [ "$${st#Z}" != "$$st" ]; then \
	    tail -3 $$log; echo "bench: the stack did not start, see $$log"; exit 1; fi; sleep 1; done; \
	psql -q "$(BENCH_PG)/postgres?sslmode=disable" -c "DROP DATABASE IF EXISTS $(BENCH_DB) WITH (FORCE)" -c "CREATE DATABASE $(BENCH_DB)"; \
	step $$ds gen --documents $(BENCH_DOCS) --to-postgres "$$pg"; \
	step $$ds backfill --pg "$$pg" --clickhouse $(BENCH_CH); \
	step $$ds reconcile --pg "$$pg" --clickhouse $(BENCH_CH); \
	t0=$$(date +%s); $$ds bench --addr $(BENCH_GRPC) --kafka $(BENCH_KAFKA) --pg "$$pg" --documents $(BENCH_DOCS) \
	  --results $$out $(BENCH_FLAGS); \
	echo "bench: bench took $$(( $$(date +%s) - t0 )) s, load $$(load)" | tee -a $$out; \
	echo "bench: report in $$out"
