package strategy

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/index"
	"github.com/docsearch/docsearch/query/check"
	"github.com/docsearch/docsearch/schema"
	"github.com/docsearch/docsearch/strategy/cache"
)

// notify applies the writer's notifications to c through their JSON, as
// the follower does.
func notify(t *testing.T, c *cache.Cache, notes []index.Notification) {
	t.Helper()
	for _, n := range notes {
		body, err := json.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		note, err := cache.ParseNote(body)
		if err != nil {
			t.Fatal(err)
		}
		c.Apply(note)
	}
}

// Population searches through the cache answer what ClickHouse answers at
// every step of a random stream of changes (new documents, moves between
// clinics, authors, patients and dates, status changes, deletes), given the
// indexer's own notifications; and repeated searches between changes read
// nothing from ClickHouse.
func TestPopulationSearchThroughCache(t *testing.T) {
	ch := env.ClickHouse(t)
	ctx := context.Background()
	if err := schema.Apply(ctx, nil, ch.Conn, ch.SchemaOptions()); err != nil {
		t.Fatal(err)
	}
	w := index.NewWriter(ch.Conn, ch.Database, nil)
	r := rand.New(rand.NewPCG(7, 8))
	var lsn uint64 = 100
	rows := map[string]cdc.Row{}
	random := func(id string) cdc.Row {
		at := time.Date(2022+r.IntN(3), time.Month(1+r.IntN(12)), 1+r.IntN(28), 9, r.IntN(60), 0, 0, time.UTC)
		row := cdc.Row{ID: id, PatientID: int64(1 + r.IntN(4)), DocType: []string{"visit", "referral"}[r.IntN(2)],
			Status: []string{"signed", "draft"}[r.IntN(2)], OrganizationID: int64(77 + r.IntN(2)), AuthorID: int64(3 + r.IntN(3)),
			CreatedAt: at, UpdatedAt: at}
		if r.IntN(3) == 0 {
			row.Links = []cdc.Link{{Type: "result_of", Target: "00000000-0000-4000-8000-000000000000"}}
		}
		if r.IntN(4) > 0 {
			row.Attributes = map[string]cdc.Value{"smoker": cdc.BoolValue(r.IntN(2) == 0), "bp": cdc.IntValue(int64(120 + r.IntN(60)))}
		}
		return row
	}
	apply := func(changes ...cdc.Change) []index.Notification {
		t.Helper()
		res, err := w.Apply(ctx, changes)
		if err != nil || res.Applied != len(changes) {
			t.Fatalf("apply = %+v, %v", res, err)
		}
		return res.Notifications
	}
	var initial []cdc.Change
	for i := range 30 {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		rows[id] = random(id)
		lsn++
		initial = append(initial, cdc.Change{Kind: cdc.Create, ID: id, Version: lsn, Row: rows[id]})
	}
	apply(initial...)

	reg := prometheus.NewRegistry()
	c := cache.New(cache.Options{PopulationBytes: 1 << 20, MaxLag: time.Hour, Metrics: cache.NewMetrics(reg)})
	c.Start()
	c.Synced(time.Now())
	cached, err := New(ch.Conn, Options{Database: ch.Database, TokenKey: []byte("k"), Metrics: NewMetrics(reg), Population: c}, nil)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := New(ch.Conn, Options{Database: ch.Database, TokenKey: []byte("k")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Each rules out some saved documents by their columns; the last two
	// cannot judge one by its links or attributes, which notifications do not
	// carry.
	filters := [][2]string{
		{"population_by_org", "organization_id = 77 AND doc_type = 'visit'"},
		{"population_by_author", "author_id IN (3, 4) AND NOT status = 'draft'"},
		{"population_scan", "status = 'signed' AND created_at >= '2023-06-01'"},
		{"population_scan", "has_link('result_of') OR doc_type = 'referral' AND status = 'draft'"},
		{"population_scan", "smoker = true AND bp > 150"},
	}
	types := check.Fixed{"smoker": {Kind: check.Bool}, "bp": {Kind: check.Number}}
	pages := func(s *Searcher, strategy, filter string) [][]string {
		t.Helper()
		var out [][]string
		for tok := ""; ; {
			p, err := s.Search(ctx, Request{Filter: mustCheck(t, filter, types), PageSize: 4, PageToken: tok})
			if err != nil {
				t.Fatal(err)
			}
			if p.Strategy != strategy {
				t.Fatalf("%s ran %s, want %s", filter, p.Strategy, strategy)
			}
			var ids []string
			for _, d := range p.Documents {
				ids = append(ids, d.ID)
			}
			out = append(out, ids)
			if tok = p.NextPageToken; tok == "" {
				return out
			}
		}
	}
	compare := func(step int) {
		t.Helper()
		for _, sf := range filters {
			strategy, f := sf[0], sf[1]
			want := pages(plain, strategy, f)
			if got := pages(cached, strategy, f); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("step %d, %s: through the cache %v, ClickHouse %v", step, f, got, want)
			}
		}
	}
	compare(0)
	before := queries(t, reg)
	compare(0)
	if ran := queries(t, reg) - before; ran != 0 {
		t.Fatalf("repeated population searches ran %d queries", ran)
	}
	plan, err := cached.Explain(ctx, Request{Filter: mustCheck(t, filters[0][1], types), PageSize: 4})
	if err != nil || !slices.Contains(plan.Notes, "the population cache holds this page now: ClickHouse would not be asked") {
		t.Fatalf("Explain of a cached page: %v %v", plan.Notes, err)
	}

	for step := 1; step <= 40; step++ {
		ids := slices.Sorted(func(yield func(string) bool) {
			for id := range rows {
				if !yield(id) {
					return
				}
			}
		})
		id := ids[r.IntN(len(ids))]
		lsn++
		var ch cdc.Change
		switch k := r.IntN(6); {
		case k == 0:
			id = fmt.Sprintf("00000000-0000-4000-8000-%012d", 100+step)
			rows[id] = random(id)
			ch = cdc.Change{Kind: cdc.Create, ID: id, Version: lsn, Row: rows[id]}
		case k == 1:
			ch = cdc.Change{Kind: cdc.Delete, ID: id, Version: lsn, Row: cdc.Row{ID: id}}
			delete(rows, id)
		case k == 2: // only the status
			row := rows[id]
			row.Status = []string{"signed", "draft", "cancelled"}[r.IntN(3)]
			rows[id] = row
			ch = cdc.Change{Kind: cdc.Update, ID: id, Version: lsn, Row: row}
		default: // anything, the key included
			rows[id] = random(id)
			ch = cdc.Change{Kind: cdc.Update, ID: id, Version: lsn, Row: rows[id]}
		}
		notify(t, c, apply(ch))
		compare(step)
	}
	// A document outside the links filter's result gains a link: the
	// notification does not say, so only an undecided verdict drops the page.
	compare(41) // every page cached
	gained := false
	for id, row := range rows {
		if len(row.Links) > 0 || row.DocType == "referral" && row.Status == "draft" {
			continue
		}
		row.Links = []cdc.Link{{Type: "result_of", Target: "00000000-0000-4000-8000-000000000000"}}
		rows[id] = row
		lsn++
		notify(t, c, apply(cdc.Change{Kind: cdc.Update, ID: id, Version: lsn, Row: row}))
		compare(42)
		gained = true
		break
	}
	if !gained {
		t.Fatal("no document outside the links filter's result")
	}
	hits := counterValue(t, reg, "docsearch_population_cache_lookups_total", "result", "hit")
	if hits == 0 {
		t.Fatal("no population search was answered from the cache")
	}
	t.Logf("population cache hits: %.0f", hits)
}
