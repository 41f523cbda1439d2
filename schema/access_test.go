package schema_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/docsearch/docsearch/loadtest/stack"
	"github.com/docsearch/docsearch/schema"
)

// The search user reads docsearch's tables and nothing else: no writes, no
// DDL, no other database, no limit above its cap, no "break" overflow mode.
func TestSearchUserIsReadOnlyAndCapped(t *testing.T) {
	dir := t.TempDir()
	access := schema.SearchAccess{Database: "docs", Password: "s3cret", MaxMemory: 1 << 30}
	users, err := access.UsersXML(true)
	if err != nil {
		t.Fatal(err)
	}
	usersPath := filepath.Join(dir, "users.xml")
	config, err := schema.EmbeddedConfigXML(usersPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(usersPath, users, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.xml"), config, 0o600); err != nil {
		t.Fatal(err)
	}
	bin, lib := env.Launcher(t)
	ctx := context.Background()
	srv, err := stack.StartClickHouse(ctx, nil, stack.ClickHouseConfig{Binary: bin, Lib: lib,
		DataDir: filepath.Join(dir, "data"), ConfigFile: filepath.Join(dir, "config.xml")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })

	admin, err := clickhouse.Open(&clickhouse.Options{Addr: []string{srv.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := schema.Apply(ctx, nil, admin, schema.Options{Database: "docs"}); err != nil {
		t.Fatal(err)
	}
	if err := admin.Exec(ctx, "CREATE DATABASE other"); err != nil {
		t.Fatal(err)
	}
	if err := admin.Exec(ctx, "CREATE TABLE other.secrets (x UInt8) ENGINE = MergeTree ORDER BY x"); err != nil {
		t.Fatal(err)
	}

	reader, err := clickhouse.Open(&clickhouse.Options{Addr: []string{srv.Addr}, Auth: clickhouse.Auth{Username: "docsearch_search", Password: "s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()

	// What the strategies send must pass.
	var n uint64
	sctx := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{
		"max_memory_usage": int64(1 << 30), "timeout_overflow_mode": "throw", "read_overflow_mode": "throw",
		"max_execution_time": 31, "max_rows_to_read": 200_000_000, "max_threads": 1,
		"do_not_merge_across_partitions_select_final": 1,
	}))
	if err := reader.QueryRow(sctx, "SELECT count() FROM docs.documents FINAL").Scan(&n); err != nil {
		t.Fatalf("a search's settings were refused: %v", err)
	}

	for _, c := range []struct {
		name, query string
		settings    clickhouse.Settings
		want        string
	}{
		{"insert", "INSERT INTO docs.document_keys (id) VALUES (generateUUIDv4())", nil, "Not enough privileges"},
		{"drop", "DROP TABLE docs.documents", nil, ""},
		{"alter", "ALTER TABLE docs.documents DELETE WHERE 1", nil, ""},
		{"other database", "SELECT count() FROM other.secrets", nil, "Not enough privileges"},
		{"partial results", "SELECT count() FROM docs.documents", clickhouse.Settings{"read_overflow_mode": "break"}, "should not be changed"},
		{"memory above cap", "SELECT count() FROM docs.documents", clickhouse.Settings{"max_memory_usage": int64(2 << 30)}, "greater than"},
		{"unlimited rows", "SELECT count() FROM docs.documents", clickhouse.Settings{"max_rows_to_read": 0}, "less than"},
		{"writable again", "SELECT count() FROM docs.documents", clickhouse.Settings{"readonly": 0}, ""},
	} {
		qctx := ctx
		if c.settings != nil {
			qctx = clickhouse.Context(ctx, clickhouse.WithSettings(c.settings))
		}
		err := reader.Exec(qctx, c.query)
		if err == nil {
			t.Errorf("%s: allowed", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
