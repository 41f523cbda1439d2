package strategy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/index"
	"github.com/docsearch/docsearch/query/check"
	"github.com/docsearch/docsearch/schema"
)

// A scan reads the newest year first and older years only while its page is
// not full; every page is still complete and in order, and all its rounds
// together stay within max_rows_to_read.
func TestScanRounds(t *testing.T) {
	ch := env.ClickHouse(t)
	ctx := context.Background()
	if err := schema.Apply(ctx, nil, ch.Conn, ch.SchemaOptions()); err != nil {
		t.Fatal(err)
	}
	// 100 documents a year over 2016-2025: every tenth a lab result; a
	// referral in 2016 and 2019 only; an x-ray in 2025 and 2016.
	var changes []cdc.Change
	want := map[string][]cdc.Row{}
	lsn := uint64(0)
	for y := 2016; y <= 2025; y++ {
		for n := range 100 {
			lsn++
			id := fmt.Sprintf("00000000-0000-4000-8000-%012d", lsn)
			at := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(n*80) * time.Hour)
			typ := "visit"
			switch {
			case n%10 == 0:
				typ = "lab"
			case n == 5 && (y == 2016 || y == 2019):
				typ = "referral"
			case n == 7 && (y == 2016 || y == 2025):
				typ = "xray"
			}
			r := cdc.Row{ID: id, PatientID: int64(n), DocType: typ, Status: "signed", OrganizationID: 7, AuthorID: 3, CreatedAt: at, UpdatedAt: at}
			want[typ] = append(want[typ], r)
			changes = append(changes, cdc.Change{Kind: cdc.Create, ID: id, Version: lsn, Row: r})
		}
	}
	if _, err := index.NewWriter(ch.Conn, ch.Database, nil).Apply(ctx, changes); err != nil {
		t.Fatal(err)
	}
	filter := func(text string) *check.Checked { return mustCheck(t, text, nil) }
	reg := prometheus.NewRegistry()
	s, err := New(ch.Conn, Options{Database: ch.Database, TokenKey: []byte("k"), Metrics: NewMetrics(reg)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		filter, typ string
		size        int
		queries     int // population queries for the first page
	}{
		{"doc_type = 'lab'", "lab", 5, 1},                               // the newest year holds 10
		{"doc_type = 'lab'", "lab", 15, 2},                              // 10 in 2025, then two years for the 6 left
		{"doc_type = 'referral'", "referral", 1, 4},                     // nothing in 2025, 2024-2023, 2022-2019; 2019 fills it
		{"doc_type = 'xray'", "xray", 2, 3},                             // 2025 holds 1; 3 years for 2 more (none); then the rest
		{"doc_type = 'lab' AND created_at >= '2024-06-01'", "", 100, 1}, // two years: one query
		{"doc_type = 'lab' AND created_at < '2017-01-01'", "", 3, 1},
		{"doc_type = 'lab' AND created_at >= '2022-06-01'", "", 101, 2}, // 2025, then the rest down to 2022
	} {
		var w []string
		for _, r := range want[tc.typ] {
			w = append(w, r.ID)
		}
		if tc.typ == "" {
			for _, r := range want["lab"] {
				if (tc.size == 100 && !r.CreatedAt.Before(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC))) ||
					(tc.size == 3 && r.CreatedAt.Year() < 2017) ||
					(tc.size == 101 && !r.CreatedAt.Before(time.Date(2022, 6, 1, 0, 0, 0, 0, time.UTC))) {
					w = append(w, r.ID)
				}
			}
		}
		slices.Reverse(w) // newest first
		req := Request{Filter: filter(tc.filter), FilterText: tc.filter, PageSize: tc.size}
		before := queriesOf(t, reg, "population")
		var got []string
		for page := 0; ; page++ {
			pg, err := s.Search(ctx, req)
			if err != nil {
				t.Fatalf("%q: %v", tc.filter, err)
			}
			if pg.Strategy != "population_scan" {
				t.Fatalf("%q: strategy %s", tc.filter, pg.Strategy)
			}
			if page == 0 {
				if n := queriesOf(t, reg, "population") - before; n != tc.queries {
					t.Errorf("%q, pages of %d: the first page took %d queries, want %d", tc.filter, tc.size, n, tc.queries)
				}
			}
			if len(pg.Documents) != tc.size && pg.NextPageToken != "" {
				t.Fatalf("%q page %d: %d documents and more to come", tc.filter, page, len(pg.Documents))
			}
			for _, d := range pg.Documents {
				got = append(got, d.ID)
			}
			if req.PageToken = pg.NextPageToken; req.PageToken == "" {
				break
			}
		}
		if !slices.Equal(got, w) {
			t.Errorf("%q, pages of %d:\n got %v\nwant %v", tc.filter, tc.size, got, w)
		}
	}

	if ch.Cluster != "" {
		return // a Distributed query counts a shard's rows again where they are gathered: the numbers below are one server's
	}
	// 150 rows may be read: the newest year (100 rows) fills a page of 5
	// labs, which one query over all 1 000 rows could not do; a page of 15
	// needs a second year, and is refused although each round alone reads
	// 100 rows.
	small, err := New(ch.Conn, Options{Database: ch.Database, TokenKey: []byte("k"), MaxRowsToRead: 150}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if pg, err := small.Search(ctx, Request{Filter: filter("doc_type = 'lab'"), PageSize: 5}); err != nil || len(pg.Documents) != 5 {
		t.Fatalf("5 labs within 150 rows: %d documents, %v", len(pg.Documents), err)
	}
	if _, err := small.Search(ctx, Request{Filter: filter("doc_type = 'lab'"), PageSize: 15}); !errors.Is(err, ErrResourceExhausted) {
		t.Fatalf("15 labs within 150 rows: err = %v, want ErrResourceExhausted", err)
	}
}

func TestNextRound(t *testing.T) {
	for _, tc := range []struct{ last, years, found, need, want int }{
		{1, 1, 0, 6, 2}, // nothing yet: twice the last round
		{2, 3, 0, 6, 4},
		{1, 1, 10, 6, 1}, // 6 more at 10 a year: one year (1.5 * 0.6, rounded up)
		{1, 1, 2, 6, 5},  // 6 more at 2 a year: 4.5 years, rounded up
		{4, 7, 1, 100, 1050},
	} {
		if got := nextRound(tc.last, tc.years, tc.found, tc.need); got != tc.want {
			t.Errorf("nextRound(%d, %d, %d, %d) = %d, want %d", tc.last, tc.years, tc.found, tc.need, got, tc.want)
		}
	}
}
