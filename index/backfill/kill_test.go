package backfill_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/jackc/pgx/v5"

	"github.com/docsearch/docsearch/index"
	"github.com/docsearch/docsearch/index/backfill"
	"github.com/docsearch/docsearch/index/reconcile"
	"github.com/docsearch/docsearch/loadtest/stack/stacktest"
	"github.com/docsearch/docsearch/schema/registry"
)

const childEnv = "DOCSEARCH_TEST_BACKFILL_CHILD"

type childConfig struct {
	DSN, ClickHouse, Database, RunID string
	BatchSize                        int
}

// runChild is a backfill in a process of its own, so a test can SIGKILL it.
func runChild() int {
	var c childConfig
	if err := json.Unmarshal([]byte(os.Getenv(childEnv)), &c); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx := context.Background()
	pg, err := pgx.Connect(ctx, c.DSN)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ch, err := clickhouse.Open(&clickhouse.Options{Addr: []string{c.ClickHouse}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	reg := registry.New(ch, c.Database, nil)
	if err := reg.Load(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	opts := backfill.Options{Database: c.Database, RunID: c.RunID, BatchSize: c.BatchSize, Settle: -1,
		Progress: func(p backfill.Progress) { fmt.Printf("progress %d\n", p.Rows) }}
	if _, err := backfill.Run(ctx, nil, pg, ch, index.NewWriter(ch, c.Database, reg), opts); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// A backfill killed with SIGKILL in the middle of a batch and started again
// continues where its record says and ends with the index equal to
// PostgreSQL, every document once.
func TestKilledMidBatchAndRestarted(t *testing.T) {
	const docs = 4000
	s := setup(t, docs)
	cfg, _ := json.Marshal(childConfig{DSN: s.dsn, ClickHouse: s.ch.Addr, Database: s.ch.Database, RunID: "k1", BatchSize: 200})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	out := &stacktest.Output{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), childEnv+"="+string(cfg))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for strings.Count(out.String(), "progress ") < 3 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("child made no progress in 60 s:\n%s", out)
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(40 * time.Millisecond) // inside a later batch
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	ctx := context.Background()
	p, err := backfill.Run(ctx, nil, s.pg, s.ch.Conn, s.writer, backfill.Options{Database: s.ch.Database, RunID: "k1", BatchSize: 200, Settle: -1})
	if err != nil {
		t.Fatal(err)
	}
	if p.Read >= docs || p.Rows != docs {
		t.Fatalf("the restart read %d rows (run total %d): it should resume, not start over", p.Read, p.Rows)
	}
	var rows, ids uint64
	if err := s.ch.Conn.QueryRow(ctx, "SELECT count(), uniqExact(id) FROM documents FINAL").Scan(&rows, &ids); err != nil {
		t.Fatal(err)
	}
	if rows != docs || ids != docs {
		t.Fatalf("index holds %d rows for %d ids, want %d each", rows, ids, docs)
	}
	rep, err := reconcile.Compare(ctx, nil, s.pg, s.ch.Conn, reconcile.Options{Database: s.ch.Database, Buckets: 8})
	if err != nil || !rep.Clean() {
		t.Fatalf("reconcile after the restart: %+v, %v", rep, err)
	}
	t.Logf("killed after %s; the restart read %d of %d rows", strings.TrimSpace(lastLine(out.String())), p.Read, docs)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
