package schema_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/docsearch/docsearch/loadtest/stack/stacktest"
	"github.com/docsearch/docsearch/schema"
)

var env = stacktest.New()

func TestMain(m *testing.M) { os.Exit(env.Run(m)) }

func TestApplyIsIdempotentAndConcurrent(t *testing.T) {
	ch := env.ClickHouseNoSchema(t)
	ctx := context.Background()
	opts := ch.SchemaOptions()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs { // replicas starting together
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = schema.Apply(ctx, nil, ch.Conn, opts) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := schema.Apply(ctx, nil, ch.Conn, opts); err != nil {
		t.Fatalf("second apply: %v", err)
	}
	var tables []struct {
		Name string `ch:"name"`
	}
	if err := ch.Conn.Select(ctx, &tables, "SELECT name FROM system.tables WHERE database = ? ORDER BY name", ch.Database); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tb := range tables {
		got = append(got, tb.Name)
	}
	want := []string{"attributes", "audit", "document_keys", "documents", "documents_by_author_v2", "documents_by_author_v2_mv",
		"documents_by_org", "documents_by_org_mv", "patient_charts", "patient_periods", "patient_periods_mv", "schema_migrations"}
	if ch.Cluster != "" {
		for _, tb := range []string{"attributes", "audit", "document_keys", "documents", "documents_by_author_v2", "documents_by_org", "patient_charts", "patient_periods"} {
			want = append(want, tb+"_local")
		}
	}
	sort.Strings(want)
	if len(got) != len(want) {
		t.Fatalf("tables = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("tables = %v, want %v", got, want)
		}
	}
	var n uint64
	if err := ch.Conn.QueryRow(ctx, "SELECT count() FROM schema_migrations FINAL").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if int(n) != len(schema.Migrations(opts)) {
		t.Fatalf("history has %d rows, want %d", n, len(schema.Migrations(opts)))
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, db := range []string{"", "a-b", "x; DROP TABLE y", "a.b"} {
		if err := (schema.Options{Database: db}).Validate(); err == nil {
			t.Errorf("database %q accepted", db)
		}
	}
	if err := (schema.Options{Database: "docsearch_1"}).Validate(); err != nil {
		t.Error(err)
	}
}

// The version rule the indexer relies on: at one key the newer change wins,
// and a document's new state beats the deletion its own change wrote.
func TestVersionsThroughFinal(t *testing.T) {
	ch := env.ClickHouse(t)
	// On a cluster the INSERTs below go through Distributed tables: each
	// returns once the shard has the row.
	ctx := clickhouse.Context(context.Background(), clickhouse.WithSettings(clickhouse.Settings{"distributed_foreground_insert": 1}))
	if err := schema.Apply(ctx, nil, ch.Conn, ch.SchemaOptions()); err != nil {
		t.Fatal(err)
	}
	const id = "6f1c7d0e-2b1a-4c55-9a7e-3c2d1b0a9f88"
	t0 := time.Date(2024, 3, 1, 10, 15, 30, 123456000, time.UTC)
	insert := func(patient, author int64, version uint64, deleted uint8) {
		t.Helper()
		err := ch.Conn.Exec(ctx, `INSERT INTO documents (id, patient_id, created_at, doc_type, status,
			organization_id, author_id, updated_at, attributes, version, is_deleted)
			VALUES (?, ?, ?, 'lab_result', 'signed', 77, ?, ?, '{}', ?, ?)`,
			id, patient, t0, author, t0, version, deleted)
		if err != nil {
			t.Fatal(err)
		}
	}
	// lsn 10: created for patient 1, author 5. lsn 20: author changes to 6
	// (same main key: deletion and new state collide there). lsn 30: moves to
	// patient 2.
	insert(1, 5, schema.VersionLive(10), 0)
	insert(1, 5, schema.VersionMoved(20), 1)
	insert(1, 6, schema.VersionLive(20), 0)
	insert(1, 6, schema.VersionMoved(30), 1)
	insert(2, 6, schema.VersionLive(30), 0)

	count := func(q string) uint64 {
		t.Helper()
		var n uint64
		if err := ch.Conn.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count("SELECT count() FROM documents FINAL WHERE patient_id = 1"); n != 0 {
		t.Errorf("old patient still sees %d rows", n)
	}
	if n := count("SELECT count() FROM documents FINAL WHERE patient_id = 2 AND author_id = 6"); n != 1 {
		t.Errorf("new patient sees %d rows, want 1", n)
	}
	if n := count("SELECT count() FROM documents_by_author_v2 FINAL WHERE author_id = 5"); n != 0 {
		t.Errorf("old author still sees %d rows", n)
	}
	if n := count("SELECT count() FROM documents_by_author_v2 FINAL WHERE author_id = 6"); n != 1 {
		t.Errorf("new author sees %d rows, want 1", n)
	}
	if n := count("SELECT count() FROM documents_by_org FINAL WHERE organization_id = 77"); n != 1 {
		t.Errorf("clinic sees %d rows, want 1", n)
	}
	if n := count("SELECT count() FROM patient_periods FINAL WHERE patient_id = 2 AND period = 2024"); n != 1 {
		t.Errorf("patient 2 has %d period rows for 2024, want 1", n)
	}
}

func TestVersionHelpers(t *testing.T) {
	for _, lsn := range []uint64{0, 1, 24023128, 1 << 62} {
		if schema.VersionMoved(lsn) >= schema.VersionLive(lsn) {
			t.Errorf("lsn %d: moved %d must lose to live %d", lsn, schema.VersionMoved(lsn), schema.VersionLive(lsn))
		}
		if schema.VersionLive(lsn) >= schema.VersionMoved(lsn+1) {
			t.Errorf("lsn %d: live must lose to the next change's deletion", lsn)
		}
		if schema.LSN(schema.VersionLive(lsn)) != lsn || schema.LSN(schema.VersionMoved(lsn)) != lsn {
			t.Errorf("lsn %d does not round-trip", lsn)
		}
	}
}

// The cluster layouts: local tables under a _local name, a Distributed table
// under the plain name over each, views reading the local tables; with Keeper
// every statement ON CLUSTER and every engine Replicated. (A Keeper cluster is
// not run here: the embedded server has no distributed DDL queue.)
func TestClusterLayouts(t *testing.T) {
	all := func(opts schema.Options) string {
		var b strings.Builder
		for _, m := range schema.Migrations(opts) {
			for _, s := range m.Statements {
				b.WriteString(s + ";\n")
			}
		}
		return b.String()
	}
	single := all(schema.Options{Database: "db"})
	for _, bad := range []string{"_local", "Distributed", "ON CLUSTER", "Replicated", "{"} {
		if strings.Contains(single, bad) {
			t.Errorf("single-server DDL mentions %q", bad)
		}
	}
	plain := all(schema.Options{Database: "db", Cluster: "c1"})
	keeper := all(schema.Options{Database: "db", Cluster: "c1", Keeper: true})
	for _, want := range []string{
		"CREATE TABLE IF NOT EXISTS db.documents_local (",
		"CREATE TABLE IF NOT EXISTS db.documents AS db.documents_local\n\t\tENGINE = Distributed('c1', db, documents_local, cityHash64(patient_id))",
		"ENGINE = Distributed('c1', db, document_keys_local, cityHash64(id))",
		"ENGINE = Distributed('c1', db, patient_periods_local, cityHash64(patient_id))",
		"ENGINE = Distributed('c1', db, attributes_local, cityHash64(name))",
		"CREATE MATERIALIZED VIEW IF NOT EXISTS db.patient_periods_mv TO db.patient_periods_local AS",
		"SELECT * FROM db.documents_local",
		// Each server copies its own rows.
		"INSERT INTO db.documents_by_author_v2_local SELECT * FROM db.documents_by_author_local SETTINGS",
	} {
		if !strings.Contains(plain, want) {
			t.Errorf("cluster DDL lacks %q", want)
		}
	}
	if strings.Contains(plain, "ON CLUSTER") || strings.Contains(plain, "Replicated") {
		t.Error("cluster DDL without Keeper uses ON CLUSTER or Replicated engines")
	}
	for _, want := range []string{
		"CREATE TABLE IF NOT EXISTS db.documents_local ON CLUSTER 'c1' (",
		"ENGINE = ReplicatedReplacingMergeTree(version, is_deleted)",
		"ENGINE = ReplicatedSummingMergeTree(rows)",
		"CREATE MATERIALIZED VIEW IF NOT EXISTS db.documents_by_org_mv ON CLUSTER 'c1' TO db.documents_by_org_local AS",
		"CREATE TABLE IF NOT EXISTS db.documents ON CLUSTER 'c1' AS db.documents_local",
		// One copy for the cluster, through the Distributed tables.
		"INSERT INTO db.documents_by_author_v2 SELECT * FROM db.documents_by_author SETTINGS",
	} {
		if !strings.Contains(keeper, want) {
			t.Errorf("Keeper cluster DDL lacks %q", want)
		}
	}
	if n := strings.Count(keeper, "CREATE ") + strings.Count(keeper, "ALTER ") + strings.Count(keeper, "DROP "); n != strings.Count(keeper, "ON CLUSTER") {
		t.Errorf("%d statements, %d ON CLUSTER", n, strings.Count(keeper, "ON CLUSTER"))
	}
	for _, o := range []schema.Options{
		{Database: "db", Cluster: "c1"},                      // no Keeper and no Dial
		{Database: "db", Keeper: true},                       // Keeper without a cluster
		{Database: "db", Cluster: "c1'; DROP", Keeper: true}, // not a name
	} {
		if err := o.Validate(); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

// On a cluster every server has the whole layout, and the plain names are
// Distributed tables over the local ones.
func TestClusterEveryServerHasTheLayout(t *testing.T) {
	ch := env.ClickHouse(t)
	if ch.Cluster == "" {
		t.Skip("single server: run with DOCSEARCH_TEST_CLUSTER=2")
	}
	ctx := context.Background()
	for _, addr := range ch.Addrs {
		conn := stacktest.Connect(t, addr, ch.Database)
		var tables []struct {
			Name   string `ch:"name"`
			Engine string `ch:"engine"`
		}
		if err := conn.Select(ctx, &tables, "SELECT name, engine FROM system.tables WHERE database = ?", ch.Database); err != nil {
			t.Fatal(err)
		}
		engines := map[string]string{}
		for _, tb := range tables {
			engines[tb.Name] = tb.Engine
		}
		for _, tb := range []string{"documents", "document_keys", "patient_periods", "documents_by_author_v2", "documents_by_org", "attributes"} {
			if engines[tb] != "Distributed" || !strings.HasSuffix(engines[tb+"_local"], "MergeTree") {
				t.Errorf("%s: %s is %q, %s_local is %q", addr, tb, engines[tb], tb, engines[tb+"_local"])
			}
		}
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM schema_migrations FINAL").Scan(&n); err != nil || int(n) != len(schema.Migrations(ch.SchemaOptions())) {
			t.Errorf("%s: history has %d rows (%v)", addr, n, err)
		}
	}
}

// Compact leaves one part per partition of every searched table, on every
// server of a cluster, and changes no row; a second run has nothing to do.
func TestCompactMergesEachPartition(t *testing.T) {
	ch := env.ClickHouse(t)
	ctx := context.Background()
	opts := ch.SchemaOptions()
	if err := schema.Apply(ctx, nil, ch.Conn, opts); err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // three inserts, three parts in each partition they touch
		if err := ch.Conn.Exec(ctx, `INSERT INTO documents (id, patient_id, created_at, doc_type, status, organization_id, author_id, updated_at, version)
			SELECT generateUUIDv4(number), number, toDateTime64('2021-03-01', 6) + number + ?, 'visit', 'signed', 1, 2, now64(6), 1
			FROM numbers(20) SETTINGS distributed_foreground_insert = 1`, i*100); err != nil {
			t.Fatal(err)
		}
	}
	count := func() uint64 {
		var n uint64
		if err := ch.Conn.QueryRow(ctx, "SELECT count() FROM documents FINAL").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	local := ""
	if ch.Cluster != "" {
		local = "_local"
	}
	maxParts := func() uint64 {
		var most uint64
		for _, addr := range ch.Addrs {
			var n uint64
			if err := stacktest.Connect(t, addr, ch.Database).QueryRow(ctx, `SELECT max(c) FROM (SELECT count() AS c FROM system.parts
				WHERE database = ? AND active AND table IN (?, ?, ?) GROUP BY table, partition_id)`,
				ch.Database, "documents"+local, "documents_by_author_v2"+local, "patient_periods"+local).Scan(&n); err != nil {
				t.Fatal(err)
			}
			most = max(most, n)
		}
		return most
	}
	if maxParts() < 2 {
		t.Fatal("the inserts left one part per partition already: nothing to prove")
	}
	got, err := schema.Compact(ctx, nil, ch.Conn, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got.Partitions == 0 || got.Parts <= got.Partitions {
		t.Fatalf("Compact = %+v", got)
	}
	if n := maxParts(); n != 1 {
		t.Fatalf("%d parts in a partition after Compact", n)
	}
	if after := count(); after != before || before != 60 {
		t.Fatalf("%d documents before, %d after", before, after)
	}
	if again, err := schema.Compact(ctx, nil, ch.Conn, opts); err != nil || again.Partitions != 0 {
		t.Fatalf("second Compact = %+v, %v", again, err)
	}
}

// In the searched tables every granule starts its own compressed block, so
// reading a patient's few granules decompresses nothing else.
func TestSearchedTablesWriteOneBlockPerGranule(t *testing.T) {
	ch := env.ClickHouse(t)
	ctx := context.Background()
	if err := schema.Apply(ctx, nil, ch.Conn, ch.SchemaOptions()); err != nil {
		t.Fatal(err)
	}
	if err := ch.Conn.Exec(ctx, `INSERT INTO documents (id, patient_id, created_at, doc_type, status, organization_id, author_id, updated_at, attributes_raw, version)
		SELECT generateUUIDv4(number), intDiv(number, 7), toDateTime64('2022-03-01', 6) + number, 'visit', 'signed', number % 5, number % 11, now64(6),
			concat('{"note":"', randomPrintableASCII(100), '"}'), 1
		FROM numbers(200000) SETTINGS distributed_foreground_insert = 1`); err != nil { // enough for wide parts, as searched
		t.Fatal(err)
	}
	local := ""
	if ch.Cluster != "" {
		local = "_local"
	}
	for _, addr := range ch.Addrs {
		conn := stacktest.Connect(t, addr, ch.Database)
		for _, table := range []string{"documents", "documents_by_author_v2", "documents_by_org"} {
			var wide uint64
			if err := conn.QueryRow(ctx, "SELECT countIf(part_type = 'Wide') FROM system.parts WHERE database = currentDatabase() AND table = ? AND active",
				table+local).Scan(&wide); err != nil || wide == 0 {
				t.Fatalf("%s %s: %d wide parts (%v)", addr, table, wide, err)
			}
			var granules, shared uint64
			// The mark's second field is the granule's offset inside its
			// decompressed block: zero when the granule starts a block.
			if err := conn.QueryRow(ctx, `SELECT count(), countIf(`+"`patient_id.mark`.2 != 0 OR `created_at.mark`.2 != 0 OR `attributes_raw.mark`.2 != 0"+`)
				FROM mergeTreeIndex(currentDatabase(), ?, with_marks = true) WHERE rows_in_granule > 0 AND part_name IN (
				SELECT name FROM system.parts WHERE database = currentDatabase() AND table = ? AND active AND part_type = 'Wide')`, table+local, table+local).Scan(&granules, &shared); err != nil {
				t.Fatal(err)
			}
			if granules < 4 {
				t.Fatalf("%s %s: %d granules: too few to prove anything", addr, table, granules)
			}
			if shared != 0 {
				t.Errorf("%s %s: %d of %d granules share a compressed block with the one before", addr, table, shared, granules)
			}
		}
	}
}

// Migration 5 moves documents_by_author's rows, every version and deletion
// included, into documents_by_author_v2, which has no partitions, and drops
// the old table and its view; writes after it reach the new table, and a
// rerun of the migration (a crash before the drop, or after it but before the
// migration was recorded) changes nothing.
func TestAuthorTableMovesWithEveryRow(t *testing.T) {
	ch := env.ClickHouseNoSchema(t)
	ctx := clickhouse.Context(context.Background(), clickhouse.WithSettings(clickhouse.Settings{"distributed_foreground_insert": 1}))
	opts := ch.SchemaOptions()
	ch.ApplyMigrations(t, 4) // the schema as it was before migration 5
	insert := func(id string, patient, author int64, version uint64, deleted uint8) {
		t.Helper()
		at := time.Date(2016+int(patient%9), 3, 1, 10, 0, 0, 0, time.UTC)
		if err := ch.Conn.Exec(ctx, `INSERT INTO documents (id, patient_id, created_at, doc_type, status,
			organization_id, author_id, updated_at, attributes, version, is_deleted)
			VALUES (?, ?, ?, 'lab_result', 'signed', 77, ?, ?, '{}', ?, ?)`,
			id, patient, at, author, at, version, deleted); err != nil {
			t.Fatal(err)
		}
	}
	id := func(n int) string { return fmt.Sprintf("6f1c7d0e-2b1a-4c55-9a7e-%012d", n) }
	for n := range 40 { // authors 1-4, patients over nine years and both shards
		insert(id(n), int64(n), int64(1+n%4), schema.VersionLive(10), 0)
	}
	// Document 0 moves from author 1 to author 9: a deletion at the old key.
	insert(id(0), 0, 1, schema.VersionMoved(20), 1)
	insert(id(0), 0, 9, schema.VersionLive(20), 0)

	byAuthor := func() map[int64]uint64 {
		t.Helper()
		var rows []struct {
			Author int64  `ch:"author_id"`
			N      uint64 `ch:"n"`
		}
		if err := ch.Conn.Select(ctx, &rows, "SELECT author_id, count() AS n FROM documents_by_author_v2 FINAL GROUP BY author_id ORDER BY author_id"); err != nil {
			t.Fatal(err)
		}
		out := map[int64]uint64{}
		for _, r := range rows {
			out[r.Author] = r.N
		}
		return out
	}
	check := func(want string) {
		t.Helper()
		if got := fmt.Sprint(byAuthor()); got != want {
			t.Errorf("rows by author = %s, want %s", got, want)
		}
		for _, addr := range ch.Addrs {
			conn := stacktest.Connect(t, addr, ch.Database)
			var tables []struct {
				Name string `ch:"name"`
				Key  string `ch:"partition_key"`
			}
			if err := conn.Select(ctx, &tables, "SELECT name, partition_key FROM system.tables WHERE database = ? AND name LIKE 'documents_by_author%' ORDER BY name", ch.Database); err != nil {
				t.Fatal(err)
			}
			local := ""
			if ch.Cluster != "" {
				local = "_local"
			}
			want := "[{documents_by_author_v2 } {documents_by_author_v2_mv }]"
			if local != "" {
				want = "[{documents_by_author_v2 } {documents_by_author_v2_local } {documents_by_author_v2_mv }]"
			}
			if got := fmt.Sprint(tables); got != want {
				t.Errorf("%s: tables %s, want %s (none partitioned, the old ones gone)", addr, got, want)
			}
		}
	}
	// As if a first attempt died after its copy, before the old table was
	// dropped: Apply copies again, and the table folds the rows copied twice.
	for _, addr := range ch.Addrs {
		conn := stacktest.Connect(t, addr, ch.Database)
		for _, q := range schema.Migrations(opts)[4].Statements {
			if err := conn.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", addr, err)
			}
			if strings.Contains(q, "INSERT INTO") {
				break
			}
		}
	}
	if err := schema.Apply(ctx, nil, ch.Conn, opts); err != nil {
		t.Fatal(err)
	}
	check("map[1:9 2:10 3:10 4:10 9:1]")

	insert(id(100), 3, 4, schema.VersionLive(30), 0) // written after the move
	check("map[1:9 2:10 3:10 4:11 9:1]")

	// As if the process died after the migration's steps but before it was
	// recorded: the rerun finds the old table gone and copies nothing.
	for _, addr := range ch.Addrs {
		if err := stacktest.Connect(t, addr, ch.Database).Exec(ctx, "DELETE FROM schema_migrations WHERE version = 5"); err != nil {
			t.Fatal(err)
		}
	}
	if err := schema.Apply(ctx, nil, ch.Conn, opts); err != nil {
		t.Fatalf("rerun: %v", err)
	}
	check("map[1:9 2:10 3:10 4:11 9:1]")
}
