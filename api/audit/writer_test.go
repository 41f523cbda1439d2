package audit_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/docsearch/docsearch/api/audit"
	"github.com/docsearch/docsearch/loadtest/stack/stacktest"
	"github.com/docsearch/docsearch/schema"
)

const (
	search  = "/docsearch.v1.SearchService/Search"
	explain = "/docsearch.v1.SearchService/Explain"
	get     = "/docsearch.v1.SearchService/GetDocument"
)

func ptr(v int64) *int64 { return &v }

// auditDB is a test database with the schema applied.
func auditDB(t *testing.T) stacktest.ClickHouse {
	t.Helper()
	ch := env.ClickHouse(t)
	if err := schema.Apply(context.Background(), nil, ch.Conn, schema.Options{Database: ch.Database}); err != nil {
		t.Fatal(err)
	}
	return ch
}

// running is a Writer whose Run goroutine the test stops.
type running struct {
	w      *audit.Writer
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
}

func newWriter(t *testing.T, ch stacktest.ClickHouse, opts audit.Options, log *slog.Logger) running {
	t.Helper()
	opts.Database = ch.Database
	reg := prometheus.NewRegistry()
	w, err := audit.NewWriter(ch.Conn, opts, log, reg)
	if err != nil {
		t.Fatal(err)
	}
	return running{w: w, reg: reg}
}

func (r *running) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- r.w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
}

// stop ends Run and returns its error.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30 s of its context ending")
		return nil
	}
}

func (r *running) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

func (r *running) series(t *testing.T, name string) int {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric())
		}
	}
	return 0
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20 s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func count(t *testing.T, ch stacktest.ClickHouse) uint64 {
	t.Helper()
	var n uint64
	if err := ch.Conn.QueryRow(context.Background(), "SELECT count() FROM "+ch.Database+"."+auditTable(ch)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// calls are the records of the write and find tests: every method, outcome
// and kind of caller, across two months (two partitions).
func calls() []audit.Record {
	at := func(day, minute int) time.Time { return time.Date(2025, 3, day, 10, minute, 0, 123456000, time.UTC) }
	return []audit.Record{
		{Time: time.Date(2025, 2, 28, 23, 59, 59, 999999000, time.UTC), RequestID: "r00", Caller: "o'brien\\ \t", AuthMethod: "jwt",
			Method: get, Duration: time.Millisecond, Code: "NotFound"},
		{Time: at(1, 0), RequestID: "r01", Caller: "dr.house", AuthMethod: "jwt", Method: search, PatientID: ptr(1048576),
			Filter: "icd10 = 'I21.0'", Strategy: "patient", Rows: 3, Duration: 1234567 * time.Nanosecond, Code: "OK"},
		{Time: at(1, 1), RequestID: "r02", Caller: "dr.house", AuthMethod: "jwt", Method: get,
			Rows: 1, Duration: 800 * time.Microsecond, Code: "OK"},
		{Time: at(1, 2), RequestID: "r03", Caller: "research-etl", AuthMethod: "mtls", Method: search, Population: true,
			Filter: "doc_type = 'referral' AND author_id IN (5, 6)", Strategy: "population_by_author", Rows: 100,
			Duration: 52 * time.Millisecond, Code: "OK"},
		{Time: at(2, 0), RequestID: "r04", Caller: "", AuthMethod: "", Method: search, PatientID: ptr(7),
			Filter: "status = 'signed'", Duration: 40 * time.Microsecond, Code: "Unauthenticated"},
		{Time: at(2, 5), RequestID: "r05", Caller: "nurse.joy", AuthMethod: "jwt", Method: search, PatientID: ptr(1048576),
			Filter: "", Duration: 90 * time.Microsecond, Code: "PermissionDenied"},
		{Time: at(3, 0), RequestID: "r06", Caller: "research-etl", AuthMethod: "mtls", Method: explain, Population: true,
			Filter: "author_id = 77 AND doc_type = 'lab'", Strategy: "population_by_author", Duration: 3 * time.Millisecond, Code: "OK"},
		{Time: time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC), RequestID: "r07", Caller: "research-etl", AuthMethod: "mtls",
			Method: search, Population: true, Filter: "icd10 = ", Duration: 10 * time.Microsecond, Code: "InvalidArgument"},
		{Time: time.Date(2025, 4, 2, 0, 0, 0, 0, time.UTC), RequestID: "r08", Caller: "research-etl", AuthMethod: "mtls",
			Method: search, Population: true, Filter: "", Duration: 2 * time.Second, Code: "ResourceExhausted"},
	}
}

// stored is what Find returns for r: its shape filled in.
func stored(r audit.Record) audit.Record {
	if r.Method != get {
		r.Shape = audit.Shape(r.Filter)
	}
	return r
}

func writeCalls(t *testing.T, ch stacktest.ClickHouse) running {
	t.Helper()
	r := newWriter(t, ch, audit.Options{FlushEvery: 20 * time.Millisecond, BatchSize: 3}, nil)
	r.start(t)
	for _, c := range calls() {
		if err := r.w.Record(c); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "records written", func() bool { return count(t, ch) == uint64(len(calls())) })
	return r
}

// Records written asynchronously land with every field as given.
func TestWriteAndFind(t *testing.T) {
	ch := auditDB(t)
	r := writeCalls(t, ch)
	ctx := context.Background()
	all := calls()
	byID := map[string]audit.Record{}
	for _, c := range all {
		byID[c.RequestID] = stored(c)
	}
	want := func(ids ...string) []audit.Record {
		out := []audit.Record{}
		for _, id := range ids {
			out = append(out, byID[id])
		}
		return out
	}
	for _, tc := range []struct {
		name string
		q    audit.Query
		want []audit.Record
	}{
		{"all", audit.Query{}, want("r08", "r07", "r06", "r05", "r04", "r03", "r02", "r01", "r00")},
		{"patient", audit.Query{Patient: ptr(1048576)}, want("r05", "r01")},
		{"other patient", audit.Query{Patient: ptr(7)}, want("r04")},
		{"no such patient", audit.Query{Patient: ptr(99)}, want()},
		{"caller", audit.Query{Caller: "research-etl"}, want("r08", "r07", "r06", "r03")},
		{"caller with quote", audit.Query{Caller: "o'brien\\ \t"}, want("r00")},
		{"caller prefix", audit.Query{Caller: "o'brien"}, want()},
		{"since", audit.Query{Since: time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)}, want("r08", "r07", "r06")},
		{"until (exclusive)", audit.Query{Until: byID["r03"].Time}, want("r02", "r01", "r00")},
		{"range", audit.Query{Since: byID["r03"].Time, Until: time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)}, want("r06", "r05", "r04", "r03")},
		{"caller and range", audit.Query{Caller: "research-etl", Since: time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC),
			Until: time.Date(2025, 4, 2, 0, 0, 0, 0, time.UTC)}, want("r07", "r06")},
		{"patient and caller", audit.Query{Patient: ptr(1048576), Caller: "dr.house"}, want("r01")},
		{"limit", audit.Query{Limit: 2}, want("r08", "r07")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := audit.Find(ctx, ch.Conn, ch.Database, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Find(%+v) =\n%s\nwant\n%s", tc.q, dump(got), dump(tc.want))
			}
		})
	}
	if _, err := audit.Find(ctx, ch.Conn, ch.Database, audit.Query{Limit: -1}); err == nil {
		t.Fatal("negative limit accepted")
	}
	if _, err := audit.Find(ctx, ch.Conn, "x; DROP TABLE y", audit.Query{}); err == nil {
		t.Fatal("bad database name accepted")
	}

	if n := r.metric(t, "docsearch_audit_written_total"); n != float64(len(all)) {
		t.Fatalf("written_total = %v, want %d", n, len(all))
	}
	// The population metric: by caller and shape, literals left out.
	for _, m := range []struct {
		shape string
		want  float64
	}{
		{"author_id IN (?), doc_type = ?", 1}, {"author_id = ?, doc_type = ?", 1}, {"invalid", 1}, {"all", 1},
	} {
		if got := r.metric(t, "docsearch_audit_population_queries_total", "caller", "research-etl", "shape", m.shape); got != m.want {
			t.Errorf("population_queries_total{research-etl, %q} = %v, want %v", m.shape, got, m.want)
		}
	}
	if got := r.series(t, "docsearch_audit_population_queries_total"); got != 4 {
		t.Errorf("population series = %d, want 4 (patient searches and GetDocument are not population queries)", got)
	}
}

func dump(rs []audit.Record) string {
	var b strings.Builder
	for _, r := range rs {
		p := "nil"
		if r.PatientID != nil {
			p = fmt.Sprint(*r.PatientID)
		}
		fmt.Fprintf(&b, "  %s %s %q %q %q patient=%s pop=%v filter=%q shape=%q %q rows=%d %s %s\n", r.Time.Format(time.RFC3339Nano),
			r.RequestID, r.Caller, r.AuthMethod, r.Method, p, r.Population, r.Filter, r.Shape, r.Strategy, r.Rows, r.Duration, r.Code)
	}
	return b.String()
}

// The population report counts by caller and shape, within the time range.
func TestPopulationReport(t *testing.T) {
	ch := auditDB(t)
	writeCalls(t, ch)
	ctx := context.Background()
	rep, err := audit.PopulationReport(ctx, ch.Conn, ch.Database, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	c := calls()
	want := []audit.ReportRow{
		{Caller: "research-etl", Shape: "all", Count: 1, Rows: 0, LastSeen: c[8].Time},
		{Caller: "research-etl", Shape: "author_id = ?, doc_type = ?", Count: 1, Rows: 0, LastSeen: c[6].Time},
		{Caller: "research-etl", Shape: "author_id IN (?), doc_type = ?", Count: 1, Rows: 100, LastSeen: c[3].Time},
		{Caller: "research-etl", Shape: "invalid", Count: 1, Rows: 0, LastSeen: c[7].Time},
	}
	if !reflect.DeepEqual(rep, want) {
		t.Fatalf("report =\n%+v\nwant\n%+v", rep, want)
	}

	// Same shape with other literals, another caller, and a range.
	r := newWriter(t, ch, audit.Options{FlushEvery: 20 * time.Millisecond}, nil)
	r.start(t)
	more := []audit.Record{
		{Time: time.Date(2025, 3, 20, 0, 0, 0, 0, time.UTC), RequestID: "m1", Caller: "research-etl", Method: search, Population: true,
			Filter: "doc_type = 'sick_leave' AND author_id IN (9)", Rows: 7, Code: "OK"},
		{Time: time.Date(2025, 3, 21, 0, 0, 0, 0, time.UTC), RequestID: "m2", Caller: "analyst", Method: search, Population: true,
			Filter: "doc_type = 'x' AND author_id IN (1, 2, 3)", Rows: 2, Code: "OK"},
		{Time: time.Date(2025, 3, 22, 0, 0, 0, 0, time.UTC), RequestID: "m3", Caller: "analyst", Method: search, PatientID: ptr(3),
			Filter: "doc_type = 'x'", Rows: 2, Code: "OK"},
		{Time: time.Date(2025, 3, 23, 0, 0, 0, 0, time.UTC), RequestID: "m4", Caller: "", Method: search, Population: true,
			Filter: "doc_type = 'x'", Code: "Unauthenticated"},
	}
	for _, m := range more {
		if err := r.w.Record(m); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "more records written", func() bool { return count(t, ch) == uint64(len(c)+len(more)) })
	rep, err = audit.PopulationReport(ctx, ch.Conn, ch.Database, time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC), time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	want = []audit.ReportRow{
		{Caller: "", Shape: "doc_type = ?", Count: 1, LastSeen: more[3].Time},
		{Caller: "analyst", Shape: "author_id IN (?), doc_type = ?", Count: 1, Rows: 2, LastSeen: more[1].Time},
		{Caller: "research-etl", Shape: "author_id = ?, doc_type = ?", Count: 1, LastSeen: c[6].Time},
		{Caller: "research-etl", Shape: "author_id IN (?), doc_type = ?", Count: 1, Rows: 7, LastSeen: more[0].Time},
	}
	if !reflect.DeepEqual(rep, want) {
		t.Fatalf("report in March from the 2nd =\n%+v\nwant\n%+v", rep, want)
	}
	if got := r.metric(t, "docsearch_audit_population_queries_total", "caller", "unknown", "shape", "doc_type = ?"); got != 1 {
		t.Fatalf("population_queries_total{unknown} = %v, want 1", got)
	}
}

// The population metric keeps a bounded number of series: shapes and callers
// beyond the caps count as "other".
func TestPopulationMetricBounded(t *testing.T) {
	ch := auditDB(t)
	r := newWriter(t, ch, audit.Options{FlushEvery: 20 * time.Millisecond, MaxShapes: 2, MaxCallers: 2}, nil)
	r.start(t)
	recs := []struct{ caller, filter string }{
		{"a", "x = 1"}, {"a", "y = 1"}, {"a", "z = 1"}, {"a", "x = 2"}, {"b", "z = 1"}, {"c", "x = 3"},
	}
	for i, c := range recs {
		if err := r.w.Record(audit.Record{RequestID: fmt.Sprint(i), Caller: c.caller, Method: search, Population: true, Filter: c.filter, Code: "OK"}); err != nil {
			t.Fatal(err)
		}
		// One at a time, so that which shapes come first is fixed.
		waitFor(t, "record written", func() bool { return count(t, ch) == uint64(i+1) })
	}
	for _, m := range []struct {
		caller, shape string
		want          float64
	}{
		{"a", "x = ?", 2}, {"a", "y = ?", 1}, {"a", "other", 1}, {"b", "other", 1}, {"other", "x = ?", 1},
	} {
		if got := r.metric(t, "docsearch_audit_population_queries_total", "caller", m.caller, "shape", m.shape); got != m.want {
			t.Errorf("population_queries_total{%s, %q} = %v, want %v", m.caller, m.shape, got, m.want)
		}
	}
	if got := r.series(t, "docsearch_audit_population_queries_total"); got != 5 {
		t.Errorf("population series = %d, want 5", got)
	}
}

// Fail-open: a record that finds the buffer full is counted and logged (who,
// what, never the filter's literals), and the call goes on.
func TestBufferFullFailOpen(t *testing.T) {
	ch := auditDB(t)
	var logs stacktest.Output
	r := newWriter(t, ch, audit.Options{Buffer: 2, FlushEvery: time.Hour}, slog.New(slog.NewTextHandler(&logs, nil)))
	for i := range 3 {
		err := r.w.Record(audit.Record{RequestID: fmt.Sprintf("req-%d", i), Caller: "dr.house", Method: search,
			PatientID: ptr(42), Filter: "icd10 = 'SECRET-DX'", Code: "OK"})
		if err != nil {
			t.Fatalf("record %d: %v (fail-open must not refuse)", i, err)
		}
	}
	if err := r.w.Admit(); err != nil {
		t.Fatalf("Admit in fail-open mode = %v", err)
	}
	if got := r.metric(t, "docsearch_audit_buffer_full_total"); got != 1 {
		t.Fatalf("buffer_full_total = %v, want 1", got)
	}
	if got := r.metric(t, "docsearch_audit_lost_total", "reason", "buffer_full"); got != 1 {
		t.Fatalf("lost_total{buffer_full} = %v, want 1", got)
	}
	if got := r.metric(t, "docsearch_audit_buffered"); got != 2 {
		t.Fatalf("buffered = %v, want 2", got)
	}
	l := logs.String()
	if !strings.Contains(l, "audit record lost") || !strings.Contains(l, "request_id=req-2") || !strings.Contains(l, "patient_id=42") {
		t.Fatalf("lost record not logged with its request id and patient:\n%s", l)
	}
	if strings.Contains(l, "SECRET") {
		t.Fatalf("the log holds a filter literal:\n%s", l)
	}
	// The two buffered records are written on shutdown, though the flush
	// interval is an hour.
	r.start(t)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	got, err := audit.Find(context.Background(), ch.Conn, ch.Database, audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].RequestID != "req-1" || got[1].RequestID != "req-0" {
		t.Fatalf("after shutdown: %s", dump(got))
	}
	// After Run has returned, a record is lost, counted and logged.
	if err := r.w.Record(audit.Record{RequestID: "late", Method: get, Code: "OK"}); err != nil {
		t.Fatal(err)
	}
	if got := r.metric(t, "docsearch_audit_lost_total", "reason", "closed"); got != 1 {
		t.Fatalf("lost_total{closed} = %v, want 1", got)
	}
}

// Fail-closed: a full buffer refuses the record, so the server refuses the call.
func TestBufferFullFailClosed(t *testing.T) {
	ch := auditDB(t)
	var logs stacktest.Output
	r := newWriter(t, ch, audit.Options{Buffer: 2, FlushEvery: time.Hour, FailClosed: true}, slog.New(slog.NewTextHandler(&logs, nil)))
	for i := range 2 {
		if err := r.w.Record(audit.Record{RequestID: fmt.Sprint(i), Method: get, Code: "OK"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.w.Admit(); !errors.Is(err, audit.ErrBufferFull) {
		t.Fatalf("Admit = %v, want ErrBufferFull", err)
	}
	for range 2 {
		if err := r.w.Record(audit.Record{RequestID: "x", Method: get, Code: "OK"}); !errors.Is(err, audit.ErrBufferFull) {
			t.Fatalf("Record with a full buffer = %v, want ErrBufferFull", err)
		}
	}
	if got := r.metric(t, "docsearch_audit_buffer_full_total"); got != 2 {
		t.Fatalf("buffer_full_total = %v, want 2", got)
	}
	if got := r.metric(t, "docsearch_audit_lost_total", "reason", "buffer_full"); got != 0 {
		t.Fatalf("lost_total = %v, want 0: a refused call is not a lost record", got)
	}
	if l := logs.String(); strings.Count(l, "audit record refused") != 1 {
		t.Fatalf("want one (rate-limited) log line about refusals:\n%s", l)
	}
	r.start(t)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if n := count(t, ch); n != 2 {
		t.Fatalf("%d records after shutdown, want 2", n)
	}
	if err := r.w.Record(audit.Record{RequestID: "late", Method: get}); !errors.Is(err, audit.ErrClosed) {
		t.Fatalf("Record after Run = %v, want ErrClosed", err)
	}
	if err := r.w.Admit(); !errors.Is(err, audit.ErrClosed) {
		t.Fatalf("Admit after Run = %v, want ErrClosed", err)
	}
}

// While ClickHouse refuses inserts (the table is gone), records stay in the
// buffer and are retried; in fail-closed mode new calls are refused once the
// buffer is full; when the table is back every record lands once.
func TestRetriesFailedInserts(t *testing.T) {
	ch := auditDB(t)
	if ch.Cluster != "" {
		t.Skip("drops and recreates the table on one server; a cluster's pool spans several")
	}
	ctx := context.Background()
	r := newWriter(t, ch, audit.Options{Buffer: 3, BatchSize: 2, FlushEvery: 10 * time.Millisecond,
		RetryMax: 50 * time.Millisecond, FailClosed: true}, nil)
	r.start(t)
	if err := ch.Conn.Exec(ctx, "DROP TABLE "+ch.Database+"."+auditTable(ch)+" SYNC"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := r.w.Record(audit.Record{RequestID: fmt.Sprint(i), Caller: "c", Method: get, Code: "OK"}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "failed inserts", func() bool { return r.metric(t, "docsearch_audit_insert_errors_total") >= 3 })
	if err := r.w.Record(audit.Record{RequestID: "refused", Method: get}); !errors.Is(err, audit.ErrBufferFull) {
		t.Fatalf("Record while inserts fail and the buffer is full = %v, want ErrBufferFull", err)
	}
	for _, m := range schema.Migrations(ch.SchemaOptions()) {
		if m.Name == "audit trail" {
			for _, q := range m.Statements {
				if err := ch.Conn.Exec(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	waitFor(t, "buffered records written", func() bool { return count(t, ch) == 3 })
	if err := r.w.Record(audit.Record{RequestID: "3", Caller: "c", Method: get, Code: "OK"}); err != nil {
		t.Fatalf("Record after recovery: %v", err)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	got, err := audit.Find(ctx, ch.Conn, ch.Database, audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, g := range got {
		ids = append(ids, g.RequestID)
	}
	sort.Strings(ids)
	if strings.Join(ids, ",") != "0,1,2,3" {
		t.Fatalf("records = %v, want 0, 1, 2, 3 once each", ids)
	}
	if r.metric(t, "docsearch_audit_written_total") != 4 {
		t.Fatalf("written_total = %v, want 4", r.metric(t, "docsearch_audit_written_total"))
	}
}

// Run gives up after ShutdownTimeout when ClickHouse still refuses, and says
// how many records it could not write.
func TestShutdownGivesUp(t *testing.T) {
	ch := auditDB(t)
	if ch.Cluster != "" {
		t.Skip("drops and recreates the table on one server; a cluster's pool spans several")
	}
	r := newWriter(t, ch, audit.Options{FlushEvery: time.Hour, ShutdownTimeout: 300 * time.Millisecond}, nil)
	if err := ch.Conn.Exec(context.Background(), "DROP TABLE "+ch.Database+"."+auditTable(ch)+" SYNC"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := r.w.Record(audit.Record{RequestID: fmt.Sprint(i), Method: get}); err != nil {
			t.Fatal(err)
		}
	}
	r.start(t)
	start := time.Now()
	err := r.stop(t)
	if err == nil || !strings.Contains(err.Error(), "3 records not written") {
		t.Fatalf("Run = %v, want an error counting 3 records", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("shutdown took %s with a 300 ms limit", took)
	}
	if got := r.metric(t, "docsearch_audit_lost_total", "reason", "shutdown"); got != 3 {
		t.Fatalf("lost_total{shutdown} = %v, want 3", got)
	}
}

// auditTable is where the writer inserts: on a cluster, the local table of
// the server the test talks to.
func auditTable(ch stacktest.ClickHouse) string {
	if ch.Cluster != "" {
		return "audit_local"
	}
	return "audit"
}

// The table keeps deduplication tokens, so the writer's retry of a batch
// whose insert did succeed stores it once.
func TestRetriedBatchStoredOnce(t *testing.T) {
	ch := auditDB(t)
	for range 2 {
		ctx := clickhouse.Context(context.Background(), clickhouse.WithSettings(clickhouse.Settings{"insert_deduplication_token": "tok-1"}))
		b, err := ch.Conn.PrepareBatch(ctx, "INSERT INTO "+ch.Database+"."+auditTable(ch)+" (time, request_id, method)")
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"a", "b"} {
			if err := b.Append(time.Now(), id, get); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, ch); n != 2 {
		t.Fatalf("%d rows after inserting the same batch twice, want 2", n)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []audit.Options{
		{}, {Database: "a-b"}, {Database: "d", Buffer: -1}, {Database: "d", FlushEvery: -time.Second}, {Database: "d", MaxShapes: -1},
	} {
		if err := o.Validate(); err == nil {
			t.Errorf("%+v accepted", o)
		}
		if _, err := audit.NewWriter(nil, o, nil, nil); err == nil {
			t.Errorf("NewWriter(%+v) accepted", o)
		}
	}
	if err := (audit.Options{Database: "docsearch"}).Validate(); err != nil {
		t.Error(err)
	}
}

// Record takes a long filter cut, with its length, and never blocks.
func TestLongFilterCut(t *testing.T) {
	ch := auditDB(t)
	r := newWriter(t, ch, audit.Options{FlushEvery: 20 * time.Millisecond}, nil)
	r.start(t)
	long := "doc_type = '" + strings.Repeat("é", audit.MaxFilterBytes) + "'"
	if err := r.w.Record(audit.Record{RequestID: "long", Method: search, Filter: long, Code: "InvalidArgument"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "record written", func() bool { return count(t, ch) == 1 })
	got, err := audit.Find(context.Background(), ch.Conn, ch.Database, audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	suffix := fmt.Sprintf("...(%d bytes)", len(long))
	if f := got[0].Filter; !strings.HasSuffix(f, suffix) || len(f) > audit.MaxFilterBytes+len(suffix) || !strings.HasPrefix(long, strings.TrimSuffix(f, suffix)) {
		t.Fatalf("stored filter: %d bytes ending %q", len(f), f[len(f)-30:])
	}
	if got[0].Shape != "invalid" {
		t.Fatalf("shape of an over-long filter = %q", got[0].Shape)
	}
}

// Many goroutines record at once (as gRPC handlers do); every record lands
// exactly once.
func TestConcurrentRecords(t *testing.T) {
	ch := auditDB(t)
	r := newWriter(t, ch, audit.Options{BatchSize: 100, FlushEvery: 20 * time.Millisecond, FailClosed: true}, nil)
	r.start(t)
	const workers, each = 8, 250
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				errs <- r.w.Record(audit.Record{RequestID: fmt.Sprintf("%d-%d", g, i), Caller: fmt.Sprint("c", g), Method: get, Code: "OK"})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	var n, distinct uint64
	if err := ch.Conn.QueryRow(context.Background(), "SELECT count(), uniqExact(request_id) FROM "+ch.Database+".audit").Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != workers*each || distinct != workers*each {
		t.Fatalf("%d rows, %d distinct, want %d", n, distinct, workers*each)
	}
}

// Record is what a search pays for its audit: a lock and an append.
func BenchmarkRecord(b *testing.B) {
	w, err := audit.NewWriter(nil, audit.Options{Database: "d", Buffer: b.N + 1}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	r := audit.Record{RequestID: "0123456789abcdef", Caller: "dr.house", AuthMethod: "jwt", Method: search,
		PatientID: ptr(1048576), Filter: "icd10 = 'I21.0' AND status = 'signed'", Strategy: "patient", Rows: 10, Code: "OK"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := w.Record(r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
