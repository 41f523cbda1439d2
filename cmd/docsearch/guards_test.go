package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/docsearch/docsearch/api/auth"
	"github.com/docsearch/docsearch/api/limit"
)

// Local mode (make run) is not rate limited, so load tests can run against
// it; named callers get the default limits and their own.
func TestGuardsLimitNamedCallersOnly(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	cfg := guardConfig{rate: "1", burst: "1", maxConcurrent: "1", auditMode: "off", auditBuffer: "10"}
	g, err := cfg.build(log, "127.0.0.1:7070", "docsearch", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if g.Limit != nil {
		t.Fatal("local mode has a rate limit")
	}
	bad := cfg
	bad.rate = "abc"
	if _, err := bad.build(log, "127.0.0.1:7070", "docsearch", nil, nil); err == nil {
		t.Fatal("--rate abc accepted in local mode")
	}

	path := filepath.Join(t.TempDir(), "callers.json")
	if err := os.WriteFile(path, []byte(`{"callers": [{"name": "chart", "scopes": ["search:patient"], "api_key_sha256": ["`+auth.HashAPIKey("k")+`"]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.callers = path
	if g, err = cfg.build(log, "127.0.0.1:7070", "docsearch", nil, nil); err != nil {
		t.Fatal(err)
	}
	if g.Limit == nil {
		t.Fatal("named callers are not limited")
	}
	release, err := g.Limit.Acquire(context.Background(), "chart")
	if err != nil {
		t.Fatal(err)
	}
	release()
	if _, err := g.Limit.Acquire(context.Background(), "chart"); !errors.Is(err, limit.ErrRateLimited) {
		t.Fatalf("second call within a second at --rate 1 --burst 1: %v", err)
	}
}
