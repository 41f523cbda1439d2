// Package stacktest gives integration tests the real components: one embedded
// ClickHouse server, one Kafka broker and the local PostgreSQL per test binary,
// started on first use, and a database or topic of its own for every test,
// dropped when the test ends. Tests use it from TestMain:
//
//	var env = stacktest.New()
//
//	func TestMain(m *testing.M) { os.Exit(env.Run(m)) }
//
// Addresses in the environment reuse running servers instead:
// DOCSEARCH_TEST_CLICKHOUSE (native host:port), DOCSEARCH_TEST_KAFKA (bootstrap
// host:port), DOCSEARCH_TEST_POSTGRES (a DSN). There are no mocks here.
//
// DOCSEARCH_TEST_CLUSTER=N (N >= 2) runs the same tests on a local cluster of N
// embedded servers, one shard each (see ClickHouse for what changes).
package stacktest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"

	"github.com/docsearch/docsearch/loadtest/stack"
	"github.com/docsearch/docsearch/schema"
)

// Env holds the components of one test binary.
type Env struct {
	binOnce  sync.Once
	bin, lib string
	binErr   error

	chOnce  sync.Once
	chAddr  string
	chErr   error
	ch      *stack.ClickHouse
	cluster *stack.Cluster

	kOnce sync.Once
	kAddr string
	kErr  error
	k     *stack.Kafka

	pgOnce sync.Once
	pgDSN  string
	pgErr  error

	tmp string
	// closing: servers exiting from now on were stopped, not crashed.
	closing atomic.Bool
}

// New returns an Env that starts nothing until a test asks.
func New() *Env { return &Env{} }

// Run runs the tests and then stops whatever was started.
func (e *Env) Run(m *testing.M) int {
	code := m.Run()
	e.Close()
	return code
}

// Close stops the servers this Env started.
func (e *Env) Close() {
	e.closing.Store(true)
	if e.ch != nil {
		_ = e.ch.Stop()
	}
	if e.cluster != nil {
		_ = e.cluster.Stop()
	}
	if e.k != nil {
		e.k.Stop()
	}
	if e.tmp != "" {
		_ = os.RemoveAll(e.tmp)
	}
}

func (e *Env) tempDir() (string, error) {
	if e.tmp == "" {
		d, err := os.MkdirTemp("", "docsearch-test-")
		if err != nil {
			return "", err
		}
		e.tmp = d
	}
	return e.tmp, nil
}

// ClickHouseAddr is the native address of the test server, started on first use.
func (e *Env) ClickHouseAddr(t testing.TB) string {
	t.Helper()
	e.chOnce.Do(func() {
		if a := os.Getenv("DOCSEARCH_TEST_CLICKHOUSE"); a != "" {
			e.chAddr = a
			return
		}
		if n := os.Getenv(ClusterEnv); n != "" {
			e.chAddr, e.chErr = e.startCluster(n)
			return
		}
		e.chAddr, e.chErr = e.startClickHouse()
	})
	if e.chErr != nil {
		t.Fatalf("embedded clickhouse: %v", e.chErr)
	}
	return e.chAddr
}

func (e *Env) startClickHouse() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, lib, err := e.launcher(ctx)
	if err != nil {
		return "", err
	}
	cfg := stack.ClickHouseConfig{Binary: bin, Lib: lib, DataDir: filepath.Join(e.tmp, "clickhouse")}
	if cfg.Stderr, err = serverLog(); err != nil {
		return "", err
	}
	ch, err := stack.StartClickHouse(ctx, nil, cfg)
	if err != nil {
		return "", err
	}
	e.ch = ch
	e.watch(ch)
	return ch.Addr, nil
}

// ClusterEnv names the variable that runs tests on a local cluster: its value
// is the number of shards.
const ClusterEnv = "DOCSEARCH_TEST_CLUSTER"

// ClusterName is the test cluster's name in remote_servers.
const ClusterName = stack.DefaultClusterName

func (e *Env) startCluster(n string) (string, error) {
	shards, err := strconv.Atoi(n)
	if err != nil || shards < 2 {
		return "", fmt.Errorf("%s=%q: want a number of shards, 2 or more", ClusterEnv, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, lib, err := e.launcher(ctx)
	if err != nil {
		return "", err
	}
	cfg := stack.ClusterConfig{Binary: bin, Lib: lib, DataDir: filepath.Join(e.tmp, "cluster"), Name: ClusterName, Shards: shards}
	if cfg.Stderr, err = serverLog(); err != nil {
		return "", err
	}
	c, err := stack.StartCluster(ctx, nil, cfg)
	if err != nil {
		return "", err
	}
	e.cluster = c
	for _, sv := range c.Servers {
		e.watch(sv)
	}
	return c.Servers[0].Addr, nil
}

// CrashFileEnv names a file to which a server that dies during the tests
// is reported, with the package's directory: .ci/gotest reruns a package that
// failed only if its embedded server died under it (chDB is not a hardened
// server; it has died now and then when a client vanished mid-query).
const CrashFileEnv = "DOCSEARCH_TEST_CRASH_FILE"

// watch reports a shared server that exits before Close.
func (e *Env) watch(ch *stack.ClickHouse) {
	go func() {
		<-ch.Exited()
		if e.closing.Load() {
			return
		}
		dir, _ := os.Getwd()
		fmt.Fprintf(os.Stderr, "stacktest: the embedded clickhouse at %s died during the tests of %s\n", ch.Addr, dir)
		if f := os.Getenv(CrashFileEnv); f != "" {
			if w, err := os.OpenFile(f, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
				fmt.Fprintln(w, dir)
				_ = w.Close()
			}
		}
	}()
}

// serverLog opens DOCSEARCH_TEST_CLICKHOUSE_LOG for the servers' logs, to
// look into a crash; nil when unset.
func serverLog() (io.Writer, error) {
	f := os.Getenv("DOCSEARCH_TEST_CLICKHOUSE_LOG")
	if f == "" {
		return nil, nil
	}
	w, err := os.Create(f)
	if err != nil {
		return nil, fmt.Errorf("server log: %w", err)
	}
	return w, nil
}

// Launcher returns the chembed binary and libchdb, for tests that run servers
// of their own (restarts, clusters).
func (e *Env) Launcher(t testing.TB) (binary, lib string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, lib, err := e.launcher(ctx)
	if err != nil {
		t.Fatalf("embedded clickhouse: %v", err)
	}
	return bin, lib
}

func (e *Env) launcher(ctx context.Context) (binary, lib string, err error) {
	e.binOnce.Do(func() {
		var cache, dir string
		if cache, e.binErr = stack.DefaultCacheDir(); e.binErr != nil {
			return
		}
		if e.lib, e.binErr = stack.DefaultLibchdb().Ensure(ctx, nil, cache); e.binErr != nil {
			return
		}
		if dir, e.binErr = e.tempDir(); e.binErr != nil {
			return
		}
		e.bin, e.binErr = chembed(ctx, dir)
	})
	return e.bin, e.lib, e.binErr
}

// chembed finds the launcher: DOCSEARCH_CHEMBED, or a fresh build of cmd/chembed.
func chembed(ctx context.Context, dir string) (string, error) {
	if p := os.Getenv("DOCSEARCH_CHEMBED"); p != "" {
		return p, nil
	}
	out := filepath.Join(dir, "chembed")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "github.com/docsearch/docsearch/cmd/chembed")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building chembed: %w: %s", err, b)
	}
	return out, nil
}

// ClickHouse is a database of the test's own on the test server, or on every
// server of the test cluster.
type ClickHouse struct {
	// Addr is the native address of the server Conn reaches (on a cluster,
	// the first shard's).
	Addr string
	// Database is the test's database, dropped when the test ends.
	Database string
	// Conn is a connection pool whose default database is Database.
	Conn driver.Conn
	// Cluster is the test cluster's name; empty on a single server.
	Cluster string
	// Addrs are the native addresses of every server of the cluster, in
	// shard order; on a single server, Addr alone.
	Addrs []string
}

// SchemaOptions lay out Database for the test's server or cluster.
func (c ClickHouse) SchemaOptions() schema.Options {
	o := schema.Options{Database: c.Database, Cluster: c.Cluster}
	if c.Cluster != "" {
		o.Dial = func(ctx context.Context, addr string) (schema.NodeConn, error) {
			return open(ctx, addr, "default")
		}
	}
	return o
}

// ApplyMigrations runs the statements of the first n migrations on every
// server, as schema.Apply did at that version: for a test that starts from an
// older schema and then applies the rest.
func (c ClickHouse) ApplyMigrations(t testing.TB, n int) {
	t.Helper()
	ctx := context.Background()
	for _, addr := range c.Addrs {
		conn := Connect(t, addr, c.Database)
		for _, m := range schema.Migrations(c.SchemaOptions())[:n] {
			for _, q := range m.Statements {
				if err := conn.Exec(ctx, q); err != nil {
					t.Fatalf("%s: migration %d: %v", addr, m.Version, err)
				}
			}
		}
	}
}

// ClickHouse creates a database for t and connects to it. On a test cluster
// the database exists on every server and already holds the cluster layout
// (schema.Apply with SchemaOptions): tests written for one server apply the
// schema without a cluster name, and Apply then finds the history complete and
// changes nothing. Everything else (the indexer, searches, the tests' own
// queries) runs through the Distributed tables, under the same names.
func (e *Env) ClickHouse(t testing.TB) ClickHouse {
	t.Helper()
	ch := e.ClickHouseNoSchema(t)
	if ch.Cluster != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := schema.Apply(ctx, nil, ch.Conn, ch.SchemaOptions()); err != nil {
			t.Fatalf("applying the cluster schema: %v", err)
		}
	}
	return ch
}

// ClickHouseNoSchema creates an empty database for t, on every server of a
// test cluster, and connects to it.
func (e *Env) ClickHouseNoSchema(t testing.TB) ClickHouse {
	t.Helper()
	addr := e.ClickHouseAddr(t)
	addrs, cluster := []string{addr}, ""
	if e.cluster != nil {
		addrs, cluster = e.cluster.Addrs(), e.cluster.Name
	}
	db := Name(t, "t")
	ctx := context.Background()
	for _, a := range addrs {
		admin := connect(t, a, "default")
		if err := admin.Exec(ctx, "CREATE DATABASE "+db+" ENGINE = Atomic"); err != nil {
			t.Fatalf("creating database %s on %s: %v", db, a, err)
		}
		t.Cleanup(func() {
			if err := admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db+" SYNC"); err != nil {
				t.Errorf("dropping database %s on %s: %v", db, a, err)
			}
			_ = admin.Close()
		})
	}
	conn := connect(t, addr, db)
	t.Cleanup(func() { _ = conn.Close() })
	return ClickHouse{Addr: addr, Database: db, Conn: conn, Cluster: cluster, Addrs: addrs}
}

// Connect opens a pool to one server (of the cluster) with db as its default
// database, closed when the test ends.
func Connect(t testing.TB, addr, db string) driver.Conn {
	t.Helper()
	c := connect(t, addr, db)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func connect(t testing.TB, addr, db string) driver.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := open(ctx, addr, db)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

func open(ctx context.Context, addr, db string) (driver.Conn, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr: []string{addr},
		Auth: clickhouse.Auth{Database: db},
	})
	if err != nil {
		return nil, fmt.Errorf("connecting to clickhouse at %s: %w", addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("pinging clickhouse at %s: %w", addr, err)
	}
	return conn, nil
}

// KafkaAddr is the bootstrap address of the test broker, started on first use.
func (e *Env) KafkaAddr(t testing.TB) string {
	t.Helper()
	e.kOnce.Do(func() {
		if a := os.Getenv("DOCSEARCH_TEST_KAFKA"); a != "" {
			e.kAddr = a
			return
		}
		k, err := stack.StartKafka(nil, stack.KafkaConfig{})
		if err != nil {
			e.kErr = err
			return
		}
		e.k, e.kAddr = k, k.Addr
	})
	if e.kErr != nil {
		t.Fatalf("embedded kafka: %v", e.kErr)
	}
	return e.kAddr
}

// Topic creates a topic for t with the given partitions and deletes it when
// the test ends.
func (e *Env) Topic(t testing.TB, partitions int) string {
	t.Helper()
	addr := e.KafkaAddr(t)
	name := strings.ReplaceAll(Name(t, "t"), "_", "-")
	conn, err := controller(addr)
	if err != nil {
		t.Fatalf("kafka controller at %s: %v", addr, err)
	}
	defer conn.Close()
	if err := conn.CreateTopics(kafka.TopicConfig{Topic: name, NumPartitions: partitions, ReplicationFactor: 1}); err != nil {
		t.Fatalf("creating topic %s: %v", name, err)
	}
	// Creation is asynchronous: wait until metadata shows every partition.
	deadline := time.Now().Add(30 * time.Second)
	for {
		parts, err := conn.ReadPartitions(name)
		if err == nil && len(parts) == partitions {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %s never showed %d partitions: %v", name, partitions, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() {
		c, err := controller(addr)
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.DeleteTopics(name)
	})
	return name
}

func controller(addr string) (*kafka.Conn, error) {
	conn, err := kafka.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	b, err := conn.Controller()
	if err != nil {
		return nil, err
	}
	return kafka.Dial("tcp", net.JoinHostPort(b.Host, strconv.Itoa(b.Port)))
}

// PostgresDSN is the DSN of the local server, made ready on first use.
func (e *Env) PostgresDSN(t testing.TB) string {
	t.Helper()
	e.pgOnce.Do(func() {
		if d := os.Getenv("DOCSEARCH_TEST_POSTGRES"); d != "" {
			e.pgDSN = d
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		e.pgDSN = stack.DefaultPostgresDSN
		e.pgErr = stack.EnsurePostgres(ctx, slog.New(slog.DiscardHandler), stack.PostgresConfig{DSN: e.pgDSN})
	})
	if e.pgErr != nil {
		t.Fatalf("postgresql: %v", e.pgErr)
	}
	return e.pgDSN
}

// Postgres creates a database for t and returns its DSN; it is dropped when the
// test ends.
func (e *Env) Postgres(t testing.TB) string {
	t.Helper()
	dsn := e.PostgresDSN(t)
	db := Name(t, "t")
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connecting to postgresql: %v", err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatalf("creating database %s: %v", db, err)
	}
	t.Cleanup(func() {
		defer admin.Close(context.Background())
		// PostgreSQL 15 refuses to end an autovacuum worker for a role that
		// is not a superuser; the worker finishes soon, so try again.
		var err error
		for range 50 {
			if _, err = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("dropping database %s: %v", db, err)
	})
	return withDatabase(dsn, db)
}

// withDatabase swaps the database of a URL or key=value DSN.
func withDatabase(dsn, db string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path = "/" + db
		return u.String()
	}
	return dsn + " dbname=" + db
}

// Name makes a unique identifier for t that is safe as a database or topic name.
func Name(t testing.TB, prefix string) string {
	n := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, strings.ToLower(t.Name()))
	if len(n) > 40 {
		n = n[:40]
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return prefix + "_" + strings.Trim(n, "_") + "_" + hex.EncodeToString(b[:])
}

// OwnClickHouse starts a server for t alone, on data of its own, with an
// empty database, and stops it when t ends. Tests that kill clients mid-query
// use it: the embedded engine occasionally dies when that happens (a real
// server does not), and a crash here cannot take other tests' server down.
// A server that dies during t is started again on the same data and ports,
// and t's log says so: the test goes on, now also across a server crash.
func (e *Env) OwnClickHouse(t testing.TB) ClickHouse {
	t.Helper()
	bin, lib := e.Launcher(t)
	cfg := stack.ClickHouseConfig{Binary: bin, Lib: lib, DataDir: t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ch, err := stack.StartClickHouse(ctx, nil, cfg)
	if err != nil {
		t.Fatalf("own clickhouse: %v", err)
	}
	// The restart takes the same ports, so connections find it again.
	for addr, port := range map[string]*int{ch.Addr: &cfg.TCPPort, ch.HTTPAddr: &cfg.HTTPPort} {
		_, p, _ := net.SplitHostPort(addr)
		*port, _ = strconv.Atoi(p)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	cur := ch
	go func() {
		defer close(done)
		for {
			mu.Lock()
			exited := cur.Exited()
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-exited:
			}
			t.Logf("the embedded clickhouse at %s died during the test; starting it again on the same data", ch.Addr)
			for {
				next, err := stack.StartClickHouse(context.Background(), nil, cfg)
				if err == nil {
					mu.Lock()
					cur = next
					mu.Unlock()
					break
				}
				select {
				case <-stop:
					return
				case <-time.After(time.Second):
				}
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		_ = cur.Stop()
	})
	db := Name(t, "t")
	admin := connect(t, ch.Addr, "default")
	defer admin.Close()
	if err := admin.Exec(ctx, "CREATE DATABASE "+db+" ENGINE = Atomic"); err != nil {
		t.Fatalf("creating database %s: %v", db, err)
	}
	conn := connect(t, ch.Addr, db)
	t.Cleanup(func() { _ = conn.Close() })
	return ClickHouse{Addr: ch.Addr, Database: db, Conn: conn, Addrs: []string{ch.Addr}}
}
