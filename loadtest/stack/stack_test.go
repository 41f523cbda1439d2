package stack_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"

	"github.com/docsearch/docsearch/loadtest/stack"
	"github.com/docsearch/docsearch/loadtest/stack/stacktest"
)

var env = stacktest.New()

func TestMain(m *testing.M) { os.Exit(env.Run(m)) }

// The engine features the schema relies on work through clickhouse-go/v2:
// batch inserts into ReplacingMergeTree(version, is_deleted) and FINAL.
func TestClickHouseReplacingMergeTree(t *testing.T) {
	ch := env.ClickHouse(t)
	ctx := context.Background()
	err := ch.Conn.Exec(ctx, `CREATE TABLE docs (
		id UUID, patient_id UInt64, version UInt64, is_deleted UInt8, status String
	) ENGINE = ReplacingMergeTree(version, is_deleted) ORDER BY (patient_id, id)`)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{"6f1c7d0e-2b1a-4c55-9a7e-3c2d1b0a9f88", "0b6e2f4c-1d3a-4e5f-8a9b-7c6d5e4f3a2b"}
	rows := []struct {
		id      string
		version uint64
		deleted uint8
		status  string
	}{
		{ids[0], 10, 0, "draft"},
		{ids[0], 30, 0, "signed"},
		{ids[0], 20, 0, "amended"}, // older version arriving late must lose
		{ids[1], 11, 0, "draft"},
		{ids[1], 12, 1, "draft"}, // deleted
	}
	for _, r := range rows { // one part per row, as separate indexer batches would make
		b, err := ch.Conn.PrepareBatch(ctx, "INSERT INTO docs")
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Append(r.id, uint64(7), r.version, r.deleted, r.status); err != nil {
			t.Fatal(err)
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	res, err := ch.Conn.Query(ctx, "SELECT toString(id), status FROM docs FINAL ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	for res.Next() {
		var id, status string
		if err := res.Scan(&id, &status); err != nil {
			t.Fatal(err)
		}
		got = append(got, id+"="+status)
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	want := ids[0] + "=signed"
	if len(got) != 1 || got[0] != want {
		t.Fatalf("FINAL rows = %v, want [%s]", got, want)
	}
}

// A consumer group reads what a producer wrote and resumes after its commit.
func TestKafkaConsumerGroup(t *testing.T) {
	addr := env.KafkaAddr(t)
	topic := env.Topic(t, 3)
	group := stacktest.Name(t, "g")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: topic, RequiredAcks: kafka.RequireAll, Balancer: &kafka.Hash{}}
	defer w.Close()
	var msgs []kafka.Message
	for i := range 20 {
		msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprint("k", i)), Value: []byte(fmt.Sprint(i))})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}

	read := func(n int) map[string]bool {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: topic, GroupID: group, StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
		defer r.Close()
		seen := map[string]bool{}
		for len(seen) < n {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				t.Fatalf("fetching after %d messages: %v", len(seen), err)
			}
			seen[string(m.Value)] = true
			if err := r.CommitMessages(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		return seen
	}
	if got := read(20); len(got) != 20 {
		t.Fatalf("read %d distinct messages, want 20", len(got))
	}
	// Committed offsets hold: a new reader in the group sees only new messages.
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("late"), Value: []byte("late")}); err != nil {
		t.Fatal(err)
	}
	got := read(1)
	if !got["late"] || len(got) != 1 {
		t.Fatalf("after commit the group read %v, want only the new message", got)
	}
}

func TestPostgres(t *testing.T) {
	dsn := env.Postgres(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE documents (id uuid PRIMARY KEY, attributes jsonb NOT NULL DEFAULT '{}')`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO documents VALUES ('6f1c7d0e-2b1a-4c55-9a7e-3c2d1b0a9f88', '{"icd10": "I21.0"}')`); err != nil {
		t.Fatal(err)
	}
	var icd string
	if err := conn.QueryRow(ctx, `SELECT attributes->>'icd10' FROM documents WHERE attributes @> '{"icd10": "I21.0"}'`).Scan(&icd); err != nil {
		t.Fatal(err)
	}
	if icd != "I21.0" {
		t.Fatalf("icd10 = %q", icd)
	}
}

// A taken port is a clear error at once, not a server that never answers.
func TestClickHousePortTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	_, err = stack.StartClickHouse(context.Background(), nil, stack.ClickHouseConfig{
		Binary: "/nonexistent/chembed", Lib: "/nonexistent/libchdb.so", DataDir: t.TempDir(), TCPPort: port,
	})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("port %d on 127.0.0.1 is taken", port)) {
		t.Fatalf("err = %v, want a taken-port error", err)
	}
}

func TestKafkaPortTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	_, err = stack.StartKafka(nil, stack.KafkaConfig{Port: port})
	if err == nil || !strings.Contains(err.Error(), "is taken") {
		t.Fatalf("err = %v, want a taken-port error", err)
	}
}

// A failed fetch says why, and leaves nothing that looks like a fetched library.
func TestLibchdbFetchFailure(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("PATH", t.TempDir()) // no npm
	_, err := stack.DefaultLibchdb().Ensure(context.Background(), nil, cache)
	if !errors.Is(err, stack.ErrFetch) || !strings.Contains(err.Error(), "npm is not installed") {
		t.Fatalf("err = %v, want ErrFetch naming npm", err)
	}
	if m, _ := filepath.Glob(filepath.Join(cache, "libchdb", "*", "libchdb.so*")); len(m) != 0 {
		t.Fatalf("failed fetch left %v", m)
	}
}

// fakeNPM puts on PATH an npm whose `pack` writes a tarball holding
// package/libchdb.so with the given content, and counts its calls.
func fakeNPM(t *testing.T, content string) (sha string, calls func() int) {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "src", "package")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "libchdb.so"), []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
	tgz := filepath.Join(dir, "lib.tgz")
	if out, err := exec.Command("tar", "-czf", tgz, "-C", filepath.Join(dir, "src"), "package").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	b, err := os.ReadFile(tgz)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	count := filepath.Join(dir, "calls")
	script := fmt.Sprintf("#!/bin/sh\necho x >> %s\nwhile [ $# -gt 0 ]; do if [ \"$1\" = --pack-destination ]; then cp %s \"$2/chdb.tgz\"; fi; shift; done\n", count, tgz)
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "npm"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	return hex.EncodeToString(sum[:]), func() int {
		b, _ := os.ReadFile(count)
		return strings.Count(string(b), "x")
	}
}

func TestLibchdbFetchVerifiesAndCaches(t *testing.T) {
	sha, calls := fakeNPM(t, "engine")
	l := stack.Libchdb{Package: "@chdb/lib", Version: "1.0", SHA256: sha}
	cache := t.TempDir()
	for range 2 {
		p, err := l.Ensure(context.Background(), nil, cache)
		if err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(p); err != nil || string(b) != "engine" {
			t.Fatalf("libchdb.so = %q, %v", b, err)
		}
	}
	if n := calls(); n != 1 {
		t.Fatalf("npm pack ran %d times, want 1 (cached after the first)", n)
	}
}

func TestLibchdbChecksumMismatch(t *testing.T) {
	fakeNPM(t, "tampered")
	l := stack.Libchdb{Package: "@chdb/lib", Version: "1.0", SHA256: strings.Repeat("0", 64)}
	cache := t.TempDir()
	_, err := l.Ensure(context.Background(), nil, cache)
	if !errors.Is(err, stack.ErrFetch) || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Fatalf("err = %v, want a checksum mismatch", err)
	}
	if m, _ := filepath.Glob(filepath.Join(cache, "libchdb", "*", "libchdb.so*")); len(m) != 0 {
		t.Fatalf("rejected tarball left %v", m)
	}
}

// The launcher stops on SIGTERM and a restart keeps the tables of the first run.
func TestClickHouseRestartKeepsData(t *testing.T) {
	bin, lib := env.Launcher(t)
	dir := t.TempDir()
	cfg := stack.ClickHouseConfig{Binary: bin, Lib: lib, DataDir: dir}
	ctx := context.Background()
	ch, err := stack.StartClickHouse(ctx, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	httpExec(t, ch.HTTPAddr, "CREATE DATABASE docsearch ENGINE = Atomic")
	httpExec(t, ch.HTTPAddr, "CREATE TABLE docsearch.kept (a UInt64) ENGINE = MergeTree ORDER BY a")
	httpExec(t, ch.HTTPAddr, "INSERT INTO docsearch.kept VALUES (1), (2), (3)")
	if err := ch.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch.Exited():
	default:
		t.Fatal("server still running after Stop")
	}
	ch2, err := stack.StartClickHouse(ctx, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ch2.Stop()
	if got := httpExec(t, ch2.HTTPAddr, "SELECT sum(a) FROM docsearch.kept"); got != "6" {
		t.Fatalf("after restart sum = %q, want 6", got)
	}
}

// Three servers started as a cluster each list all three shards, and a
// Distributed table over them splits rows by the sharding key and reads them
// back from every shard.
func TestClusterOfThree(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three servers")
	}
	bin, lib := env.Launcher(t)
	c, err := stack.StartCluster(context.Background(), nil, stack.ClusterConfig{Binary: bin, Lib: lib, DataDir: t.TempDir(), Shards: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	for _, s := range c.Servers {
		if got := httpExec(t, s.HTTPAddr, "SELECT count() FROM system.clusters WHERE cluster = '"+stack.DefaultClusterName+"'"); got != "3" {
			t.Fatalf("%s lists %s servers in the cluster, want 3", s.Addr, got)
		}
		httpExec(t, s.HTTPAddr, "CREATE DATABASE c ENGINE = Atomic")
		httpExec(t, s.HTTPAddr, "CREATE TABLE c.t_local (p Int64) ENGINE = MergeTree ORDER BY p")
	}
	first := c.Servers[0].HTTPAddr
	httpExec(t, first, "CREATE TABLE c.t AS c.t_local ENGINE = Distributed("+stack.DefaultClusterName+", c, t_local, cityHash64(p))")
	httpExec(t, first, "INSERT INTO c.t SELECT number FROM numbers(300) SETTINGS distributed_foreground_insert = 1")
	if got := httpExec(t, first, "SELECT count(), uniqExact(_shard_num), min(c) > 50 FROM (SELECT _shard_num, count() AS c FROM c.t GROUP BY _shard_num) FORMAT CSV"); got != "3,3,1" {
		t.Fatalf("rows per shard: %q, want 3 shards each with more than 50 rows", got)
	}
}
