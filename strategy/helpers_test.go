package strategy

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/docsearch/docsearch/loadtest/stack/stacktest"
	"github.com/docsearch/docsearch/query/check"
	"github.com/docsearch/docsearch/query/parser"
	"github.com/docsearch/docsearch/strategy/cache"
)

// mustCheck parses and checks a filter against reg (nil: common fields only).
func mustCheck(t testing.TB, text string, reg check.Registry) *check.Checked {
	t.Helper()
	f, err := parser.Parse(text, parser.Options{})
	if err != nil {
		t.Fatalf("parsing %q: %v", text, err)
	}
	c, err := check.Check(f, reg, check.Options{})
	if err != nil {
		t.Fatalf("checking %q: %v", text, err)
	}
	return c
}

// cachedSearcher is a Searcher over ch with a patient cache of maxBytes that
// is always in step, its metrics in reg.
func cachedSearcher(t testing.TB, ch stacktest.ClickHouse, maxBytes int64) (s *Searcher, c *cache.Cache, reg *prometheus.Registry) {
	t.Helper()
	c = cache.New(cache.Options{MaxBytes: maxBytes, MaxLag: time.Hour})
	c.Start()
	c.Synced(time.Now())
	reg = prometheus.NewRegistry()
	s, err := New(ch.Conn, Options{Database: ch.Database, TokenKey: []byte("k"), Metrics: NewMetrics(reg), Cache: c}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, c, reg
}
