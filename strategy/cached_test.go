package strategy

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/index"
	"github.com/docsearch/docsearch/schema"
)

// queries counts the ClickHouse queries a Searcher ran, from its metrics.
func queries(t *testing.T, reg *prometheus.Registry) int { return queriesOf(t, reg, "") }

// queriesOf counts the queries of one kind (periods, patient, ...); "" counts
// them all.
func queriesOf(t *testing.T, reg *prometheus.Registry, kind string) int {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range fams {
		if f.GetName() != "docsearch_clickhouse_query_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" && (kind == "" || l.GetValue() == kind) {
					n += int(m.GetHistogram().GetSampleCount())
				}
			}
		}
	}
	return n
}

// With a cache, a repeated patient search reads nothing from ClickHouse and
// answers the same pages; a change reaches it only through its patient's
// notification (here Invalidate, which the follower calls), and then the
// search reads the new state, a new period included.
func TestPatientSearchThroughCache(t *testing.T) {
	ch := env.ClickHouse(t)
	ctx := context.Background()
	if err := schema.Apply(ctx, nil, ch.Conn, ch.SchemaOptions()); err != nil {
		t.Fatal(err)
	}
	w := index.NewWriter(ch.Conn, ch.Database, nil)
	doc := func(patient int64, n int, year int, lsn uint64) cdc.Change {
		id := fmt.Sprintf("00000000-0000-4000-8000-%06d%06d", patient, n)
		at := time.Date(year, 3, 1, 9, 0, n, 0, time.UTC)
		return cdc.Change{Kind: cdc.Create, ID: id, Version: lsn, Row: cdc.Row{
			ID: id, PatientID: patient, DocType: "visit", Status: "signed", OrganizationID: 7, AuthorID: 3, CreatedAt: at, UpdatedAt: at}}
	}
	var changes []cdc.Change
	for i := range 5 {
		changes = append(changes, doc(1, i, 2021+i%2, uint64(100+i)), doc(2, i, 2022, uint64(200+i)))
	}
	if _, err := w.Apply(ctx, changes); err != nil {
		t.Fatal(err)
	}
	s, c, reg := cachedSearcher(t, ch, 1<<20)
	one := int64(1)
	ids := func(p Page) []string {
		var out []string
		for _, d := range p.Documents {
			out = append(out, d.ID)
		}
		return out
	}
	search := func(token string) Page {
		t.Helper()
		p, err := s.Search(ctx, Request{PatientID: &one, PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Every page, twice: the second pass reads nothing.
	var first [][]string
	for tok, pass := "", 0; pass < 2; pass++ {
		before := queries(t, reg)
		for i := 0; ; i++ {
			p := search(tok)
			if pass == 0 {
				first = append(first, ids(p))
			} else if fmt.Sprint(ids(p)) != fmt.Sprint(first[i]) {
				t.Fatalf("page %d from the cache = %v, from ClickHouse %v", i, ids(p), first[i])
			}
			if tok = p.NextPageToken; tok == "" {
				break
			}
		}
		ran := queries(t, reg) - before
		if pass == 0 && ran == 0 || pass == 1 && ran != 0 {
			t.Fatalf("pass %d ran %d queries", pass, ran)
		}
	}
	if fmt.Sprint(first) != "[[00000000-0000-4000-8000-000001000003 00000000-0000-4000-8000-000001000001] [00000000-0000-4000-8000-000001000004 00000000-0000-4000-8000-000001000002] [00000000-0000-4000-8000-000001000000]]" {
		t.Fatalf("pages %v", first)
	}

	plan, err := s.Explain(ctx, Request{PatientID: &one, PageSize: 2})
	if err != nil || !strings.Contains(strings.Join(plan.Notes, "\n"), "ClickHouse would not be asked") {
		t.Fatalf("Explain of a cached page: %v %v", plan.Notes, err)
	}

	// A document in a new period: unseen until the notification.
	if _, err := w.Apply(ctx, []cdc.Change{doc(1, 9, 2025, 300)}); err != nil {
		t.Fatal(err)
	}
	if got := ids(search("")); got[0] == "00000000-0000-4000-8000-000001000009" {
		t.Fatal("the cache was not used: the new document showed without a notification")
	}
	c.Invalidate(2) // another patient's notification changes nothing
	if got := ids(search("")); got[0] == "00000000-0000-4000-8000-000001000009" {
		t.Fatal("another patient's notification dropped patient 1's entries")
	}
	c.Invalidate(1)
	if got := ids(search("")); got[0] != "00000000-0000-4000-8000-000001000009" {
		t.Fatalf("after the notification the newest is %s, want the new document", got[0])
	}
}
