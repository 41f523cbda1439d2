package strategy

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/index"
	"github.com/docsearch/docsearch/loadtest/stack/stacktest"
	"github.com/docsearch/docsearch/query/check"
	"github.com/docsearch/docsearch/schema"
)

// A filtered search cannot know from the periods' row counts how many rows
// will match, so its first round reads far more than a page's worth: a
// typical patient is read in one query, and only a patient with many rows is
// read in rounds. Either way every page is complete and in order.
func TestFilteredPatientSearchRounds(t *testing.T) {
	ch := env.ClickHouse(t)
	ctx := context.Background()
	if err := schema.Apply(ctx, nil, ch.Conn, ch.SchemaOptions()); err != nil {
		t.Fatal(err)
	}
	// Patient 1: 3 documents a year over ten years, the first of each a lab
	// result. Patient 2: 200 a year over three years, lab results only in
	// the oldest year.
	var changes []cdc.Change
	want := map[int64][]string{}
	lsn := uint64(0)
	add := func(patient int64, year, n int, lab bool) {
		lsn++
		id := fmt.Sprintf("00000000-0000-4000-8000-%06d%06d", patient, lsn)
		at := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Hour)
		typ := "visit"
		if lab {
			typ = "lab"
			want[patient] = append(want[patient], id)
		}
		changes = append(changes, cdc.Change{Kind: cdc.Create, ID: id, Version: lsn, Row: cdc.Row{
			ID: id, PatientID: patient, DocType: typ, Status: "signed", OrganizationID: 7, AuthorID: 3, CreatedAt: at, UpdatedAt: at}})
	}
	for y := 2016; y <= 2025; y++ {
		for n := range 3 {
			add(1, y, n, n == 0)
		}
	}
	for y := 2023; y <= 2025; y++ {
		for n := range 200 {
			add(2, y, n, y == 2023 && n%10 == 0)
		}
	}
	if _, err := index.NewWriter(ch.Conn, ch.Database, nil).Apply(ctx, changes); err != nil {
		t.Fatal(err)
	}
	filter := mustCheck(t, "doc_type = 'lab'", nil)
	// Charts off: the periods come from patient_periods. Charts of at most
	// 10 rows: both patients have more, and the periods come from their
	// stored charts.
	for _, charts := range []int{-1, 10} {
		filteredRounds(t, ch, filter, want, charts)
	}
}

func filteredRounds(t *testing.T, ch stacktest.ClickHouse, filter *check.Checked, want map[int64][]string, charts int) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	s, err := New(ch.Conn, Options{Database: ch.Database, TokenKey: []byte("k"), Metrics: NewMetrics(reg), ChartRows: charts}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		patient int64
		size    int
		queries int // page queries for the first page
	}{
		{1, 5, 1}, // 30 rows: fewer than 6*20, one round
		{2, 5, 2}, // the newest year alone holds 200 >= 120 rows, and no lab result
	} {
		p := tc.patient
		before := queriesOf(t, reg, "patient")
		var got []string
		for tok, page := "", 0; ; page++ {
			pg, err := s.Search(ctx, Request{PatientID: &p, Filter: filter, PageSize: tc.size, PageToken: tok})
			if err != nil {
				t.Fatal(err)
			}
			if page == 0 {
				if n := queriesOf(t, reg, "patient") - before; n != tc.queries {
					t.Errorf("charts %d, patient %d: the first page took %d page queries, want %d", charts, p, n, tc.queries)
				}
			}
			if len(pg.Documents) != tc.size && pg.NextPageToken != "" {
				t.Fatalf("patient %d page %d: %d documents and more to come", p, page, len(pg.Documents))
			}
			for _, d := range pg.Documents {
				got = append(got, d.ID)
			}
			if tok = pg.NextPageToken; tok == "" {
				break
			}
		}
		w := slices.Clone(want[p])
		slices.Reverse(w) // newest first
		if !slices.Equal(got, w) {
			t.Errorf("charts %d, patient %d: got %v, want %v", charts, p, got, w)
		}
	}
	if n := queriesOf(t, reg, "periods"); (n == 0) != (charts > 0) {
		t.Errorf("charts %d: %d periods lookups", charts, n)
	}
}

// The periods are summed over the parts of patient_periods, periods of
// deletions alone (zero rows) left out, newest first.
func TestPeriodsSumTheParts(t *testing.T) {
	ch := env.ClickHouse(t)
	ctx := context.Background()
	if err := schema.Apply(ctx, nil, ch.Conn, ch.SchemaOptions()); err != nil {
		t.Fatal(err)
	}
	if ch.Cluster == "" { // on one server the rows stay in their parts
		if err := ch.Conn.Exec(ctx, "SYSTEM STOP MERGES "+ch.Database+".patient_periods"); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []string{"(5, 2020, 1)", "(5, 2024, 2)", "(6, 2024, 7)", "(5, 2018, 0)", "(5, 2024, 1)"} {
		if err := ch.Conn.Exec(ctx, "INSERT INTO "+ch.Database+".patient_periods VALUES "+v); err != nil {
			t.Fatal(err)
		}
	}
	s, err := New(ch.Conn, Options{Database: ch.Database, TokenKey: []byte("k")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := s.periods(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ps) != "[{2024 3} {2020 1}]" {
		t.Fatalf("periods = %v, want [{2024 3} {2020 1}]", ps)
	}
}

// A population search read in a table's key order runs on one thread; a
// scan keeps the server's threads.
func TestKeyedPopulationThreads(t *testing.T) {
	s, err := New(nil, Options{Database: "db", TokenKey: []byte("k")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for text, want := range map[string]any{
		"author_id = 5": 1,
		"organization_id = 77 AND doc_type = 'visit'": 1,
		"doc_type = 'visit'":                          nil,
	} {
		plan, q, _, err := s.populationPlan(Request{Filter: mustCheck(t, text, nil), FilterText: text, PageSize: 10}, 10, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := q.settings["max_threads"]; got != want {
			t.Errorf("%s (%s): max_threads %v, want %v", text, plan.Strategy, got, want)
		}
	}
}
