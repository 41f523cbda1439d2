package strategy

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/docsearch/docsearch/loadtest/stack/stacktest"
)

var env = stacktest.New()

func TestMain(m *testing.M) { os.Exit(env.Run(m)) }

// The caller's deadline reaches ClickHouse: a query that would run forever
// fails with the deadline, and the server stops it instead of running on.
func TestDeadlineReachesClickHouse(t *testing.T) {
	ch := env.ClickHouse(t)
	s, err := New(ch.Conn, Options{Database: ch.Database, TokenKey: []byte("k")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	endless := query{
		sql: `SELECT '' AS doc_id, toInt64(0) AS patient_id, '' AS doc_type, '' AS status, toInt64(0) AS organization_id,
			toInt64(0) AS author_id, now64(6) AS created_at, now64(6) AS updated_at, '' AS attributes_raw,
			[''] AS link_types, [''] AS link_target_ids
			FROM system.numbers WHERE sleepEachRow(0.05) = 1 /* docsearch-deadline-test */`,
		settings: map[string]any{"max_block_size": 1},
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_, err = s.run(ctx, endless)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("returned after %s, long past the 1 s deadline", took)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n uint64
		if err := ch.Conn.QueryRow(context.Background(),
			"SELECT count() FROM system.processes WHERE query LIKE '%docsearch-deadline-test%' AND query NOT LIKE '%system.processes%'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the query still runs in ClickHouse 10 s after its deadline")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
