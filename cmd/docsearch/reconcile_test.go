package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/index/reconcile"
	"github.com/docsearch/docsearch/loadtest/gen"
	"github.com/docsearch/docsearch/loadtest/stack"
)

// PostgreSQL goes down under a continuous `reconcile --repair`: the runs fail
// and are counted, the command keeps going, and once PostgreSQL is back the
// drift made meanwhile is repaired without restarting anything.
func TestReconcileSurvivesPostgresOutage(t *testing.T) {
	ctx := context.Background()
	parent, err := os.MkdirTemp("", "docsearch-pg-fault-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(parent) })
	if err := os.Chmod(parent, 0o755); err != nil { // the postgres user enters it
		t.Fatal(err)
	}
	pgs, err := stack.StartPostgresServer(ctx, nil, stack.PostgresServerConfig{DataDir: filepath.Join(parent, "data")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pgs.Stop(context.Background()) })

	seedPostgres(t, pgs.DSN, func(c *gen.Config) {
		c.Seed, c.Documents, c.Patients, c.Clinics, c.Authors = 5, 400, 40, 5, 20
	})

	ch := env.ClickHouse(t)
	metrics := freeAddr(t)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- runReconcile(runCtx, slog.New(slog.DiscardHandler), []string{"--pg", pgs.DSN, "--clickhouse", ch.Addr,
			"--clickhouse-database", ch.Database, "--every", "200ms", "--repair", "--buckets", "4", "--reconcile-metrics", metrics}, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("reconcile: %v", err)
		}
	})
	clean := func(within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			pg, err := pgx.Connect(ctx, pgs.DSN)
			if err == nil {
				rep, cerr := reconcile.Compare(ctx, nil, pg, ch.Conn, reconcile.Options{Database: ch.Database, Buckets: 4})
				pg.Close(ctx)
				if cerr == nil && rep.Clean() && rep.IndexedRows == rep.PostgresRows && rep.PostgresRows > 0 {
					return
				}
				err = cerr
			}
			if time.Now().After(deadline) {
				t.Fatalf("index not equal to postgresql after %s (last error %v)", within, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	clean(60 * time.Second) // the first runs index everything

	if err := pgs.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	before := metric(t, metrics, "docsearch_reconcile_failures_total")
	deadline := time.Now().Add(30 * time.Second)
	for metric(t, metrics, "docsearch_reconcile_failures_total") < before+2 {
		if time.Now().After(deadline) {
			t.Fatal("no failed run counted while postgresql was down")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := pgs.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// Drift while the reconciler's connection is the one that died.
	pg, err := pgx.Connect(ctx, pgs.DSN)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := pg.Exec(ctx, "UPDATE documents SET status = 'amended', updated_at = now() WHERE id IN (SELECT id FROM documents ORDER BY id LIMIT 7)")
	pg.Close(ctx)
	if err != nil || tag.RowsAffected() != 7 {
		t.Fatalf("drift: %v %v", tag, err)
	}
	clean(60 * time.Second)
}

// metricsText reads a /metrics endpoint.
func metricsText(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// metric reads one sample, named with its labels, from a /metrics endpoint.
func metric(t *testing.T, addr, name string) float64 {
	t.Helper()
	body := metricsText(t, addr)
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("%s not in metrics:\n%s", name, body)
	return 0
}

// seedPostgres writes the documents (creates only) of a small generated EMR,
// shaped by set, into the PostgreSQL at dsn.
func seedPostgres(t *testing.T, dsn string, set func(*gen.Config)) {
	t.Helper()
	ctx := context.Background()
	sink, err := gen.NewPostgresSink(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close(ctx)
	cfg := gen.DefaultConfig()
	set(&cfg)
	g, err := gen.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var creates []cdc.Change
	for c := range g.Events() {
		if c.Kind == cdc.Create {
			creates = append(creates, c)
		}
	}
	if err := sink.Write(ctx, creates); err != nil {
		t.Fatal(err)
	}
}
