package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/docsearch/docsearch/api/audit"
	"github.com/docsearch/docsearch/schema"
)

// auditFixture is a test database holding four audited calls.
func auditFixture(t *testing.T) (addr, db string) {
	t.Helper()
	ch := env.ClickHouse(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := schema.Apply(ctx, nil, ch.Conn, schema.Options{Database: ch.Database}); err != nil {
		t.Fatal(err)
	}
	w, err := audit.NewWriter(ch.Conn, audit.Options{Database: ch.Database, FlushEvery: time.Hour, FailClosed: true}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := int64(1048576)
	for _, r := range []audit.Record{
		{Time: time.Date(2025, 3, 1, 10, 0, 0, 123456000, time.UTC), RequestID: "r1", Caller: "dr.house", AuthMethod: "jwt",
			Method: "/docsearch.v1.SearchService/Search", PatientID: &p, Filter: "icd10 = 'I21.0'", Strategy: "patient",
			Rows: 3, Duration: 1500 * time.Microsecond, Code: "OK"},
		{Time: time.Date(2025, 3, 2, 10, 0, 0, 0, time.UTC), RequestID: "r2", Caller: "research-etl", AuthMethod: "mtls",
			Method: "/docsearch.v1.SearchService/Search", Population: true, Filter: "doc_type = 'referral' AND author_id = 5",
			Strategy: "population_by_author", Rows: 100, Duration: 40 * time.Millisecond, Code: "OK"},
		{Time: time.Date(2025, 3, 3, 10, 0, 0, 0, time.UTC), RequestID: "r3", Caller: "research-etl", AuthMethod: "mtls",
			Method: "/docsearch.v1.SearchService/Explain", Population: true, Filter: "author_id = 9 AND doc_type = 'lab'",
			Strategy: "population_by_author", Duration: time.Millisecond, Code: "OK"},
		{Time: time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC), RequestID: "r4", Method: "/docsearch.v1.SearchService/Search",
			PatientID: &p, Filter: "status = 'signed'", Duration: 20 * time.Microsecond, Code: "Unauthenticated"},
	} {
		if err := w.Record(r); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	if err := w.Run(ctx); err != nil { // writes the buffer on its way out
		t.Fatal(err)
	}
	return ch.Addr, ch.Database
}

func TestAuditCommand(t *testing.T) {
	addr, db := auditFixture(t)
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := runAudit(context.Background(), slog.New(slog.DiscardHandler),
			append([]string{"--clickhouse", addr, "--clickhouse-database", db}, args...), &out)
		return out.String(), err
	}
	ids := func(out string) []string {
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if line == "" {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("not JSON lines: %v\n%s", err, out)
			}
			got = append(got, m["request_id"].(string))
		}
		return got
	}

	out, err := run("--patient", "1048576", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("--patient: want 2 lines, got\n%s", out)
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &first); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"time": "2025-03-01T10:00:00.123456Z", "request_id": "r1", "caller": "dr.house", "auth_method": "jwt",
		"method": "/docsearch.v1.SearchService/Search", "patient_id": 1048576.0, "population": false,
		"filter": "icd10 = 'I21.0'", "shape": "icd10 = ?", "strategy": "patient", "rows": 3.0,
		"duration_ns": 1.5e6, "code": "OK",
	}
	if !reflect.DeepEqual(first, want) {
		t.Fatalf("record r1 as JSON =\n%v\nwant\n%v", first, want)
	}
	if got := ids(out); !reflect.DeepEqual(got, []string{"r4", "r1"}) {
		t.Fatalf("--patient: %v", got)
	}

	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--caller", "research-etl"}, []string{"r3", "r2"}},
		{[]string{"--since", "2025-03-02", "--until", "2025-03-04"}, []string{"r3", "r2"}},
		{[]string{"--since", "2025-03-03T10:00:00Z"}, []string{"r4", "r3"}},
		{[]string{"--limit", "1"}, []string{"r4"}},
		{[]string{"--caller", "nobody"}, nil},
	} {
		out, err := run(append(tc.args, "--output", "json")...)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got := ids(out); !reflect.DeepEqual(got, tc.want) {
			t.Fatalf("%v: %v, want %v", tc.args, got, tc.want)
		}
	}

	// Every flag also comes from the environment.
	t.Setenv("DOCSEARCH_CALLER", "dr.house")
	out, err = run("--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(out); !reflect.DeepEqual(got, []string{"r1"}) {
		t.Fatalf("DOCSEARCH_CALLER=dr.house: %v", got)
	}
	t.Setenv("DOCSEARCH_CALLER", "")

	out, err = run("--limit", "2")
	if err != nil {
		t.Fatal(err)
	}
	table := strings.Split(strings.TrimSpace(out), "\n")
	if len(table) != 3 || !strings.HasPrefix(table[0], "TIME") || !strings.Contains(table[0], "PATIENT") {
		t.Fatalf("table:\n%s", out)
	}
	for _, s := range []string{"2025-03-04T10:00:00Z", "r4", "Search", "1048576", "Unauthenticated", `"status = 'signed'"`, "20µs"} {
		if !strings.Contains(table[1], s) {
			t.Fatalf("table row lacks %q:\n%s", s, out)
		}
	}

	// Mistakes are errors, with nothing printed as a result.
	for _, args := range [][]string{
		{"--since", "yesterday"}, {"--output", "xml"}, {"--limit", "0"}, {"--patient", "x"},
		{"--since", "2025-03-04", "--until", "2025-03-01"}, {"stray"},
	} {
		out, err := run(args...)
		if err == nil || out != "" {
			t.Fatalf("%v: err %v, output %q", args, err, out)
		}
	}
}

func TestReportPopulationCommand(t *testing.T) {
	addr, db := auditFixture(t)
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := runReport(context.Background(), slog.New(slog.DiscardHandler),
			append([]string{"population", "--clickhouse", addr, "--clickhouse-database", db}, args...), &out)
		return out.String(), err
	}
	out, err := run("--since", "2025-01-01", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON lines: %v\n%s", err, out)
		}
		rows = append(rows, m)
	}
	want := []map[string]any{
		{"caller": "research-etl", "shape": "author_id = ?, doc_type = ?", "count": 2.0, "rows": 100.0, "last_seen": "2025-03-03T10:00:00Z"},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("report =\n%v\nwant\n%v", rows, want)
	}
	out, err = run("--since", "2025-01-01")
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "CALLER") ||
		!strings.Contains(lines[1], "research-etl") || !strings.Contains(lines[1], "author_id = ?, doc_type = ?") {
		t.Fatalf("table:\n%s", out)
	}
	// The default range is the last 24 hours: nothing from 2025.
	if out, err = run(); err != nil || strings.Count(out, "\n") != 1 {
		t.Fatalf("default range: err %v\n%s", err, out)
	}
	if err := runReport(context.Background(), nil, []string{"callers"}, io.Discard); err == nil {
		t.Fatal("unknown report accepted")
	}
}

func TestParseWhen(t *testing.T) {
	now := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"", time.Time{}},
		{"2025-03-01", time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)},
		{"2025-03-01T10:00:00.5+01:00", time.Date(2025, 3, 1, 9, 0, 0, 500000000, time.UTC)},
		{"90m", now.Add(-90 * time.Minute)},
		{"24h", now.Add(-24 * time.Hour)},
		{"7d", now.Add(-7 * 24 * time.Hour)},
	} {
		got, err := parseWhen(tc.in, now)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("parseWhen(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"yesterday", "-5h", "1.5d", "2025-13-01"} {
		if _, err := parseWhen(in, now); err == nil {
			t.Errorf("parseWhen(%q) accepted", in)
		}
	}
}
