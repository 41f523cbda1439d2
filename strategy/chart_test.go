package strategy

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/index"
	"github.com/docsearch/docsearch/loadtest/stack/stacktest"
	"github.com/docsearch/docsearch/query/check"
	"github.com/docsearch/docsearch/query/eval"
	"github.com/docsearch/docsearch/schema"
	"github.com/docsearch/docsearch/strategy/cache"
)

// chartTypes are the attributes chartChanges writes, as the registry would
// learn them (visit_date declared).
var chartTypes = check.Fixed{
	"icd10":      {Kind: check.String, Array: true},
	"bp":         {Kind: check.Number},
	"scores":     {Kind: check.Number, Array: true},
	"smoker":     {Kind: check.Bool},
	"note":       {Kind: check.String},
	"visit_date": {Kind: check.Date},
}

// chartChanges are three patients' documents over seven years, some updated,
// moved to another year or deleted, in batches as the indexer writes them.
func chartChanges(r *rand.Rand) [][]cdc.Change {
	types := []string{"therapist_exam", "cardiologist_exam", "lab_result", "referral", "sick_leave"}
	statuses := []string{"draft", "signed", "final", "cancelled"}
	codes := []string{"I10", "E11.9", "J06.9", "I25.1", "I21.0"}
	var batches [][]cdc.Change
	var ids []string
	lsn := uint64(1000)
	doc := func(n int, patient int64) cdc.Row {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
		at := time.Date(2019+r.IntN(7), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), 0, r.IntN(60), r.IntN(1e6)*1000, time.UTC)
		if n%9 == 0 && n > 1 { // the same instant as another document: ids break the tie
			at = time.Date(2024, 5, 5, 5, 5, 5, 0, time.UTC)
		}
		attrs := map[string]cdc.Value{"note": cdc.StringValue(fmt.Sprintf("n%d", r.IntN(5)))}
		switch r.IntN(3) {
		case 0:
			attrs["icd10"] = cdc.StringValue(codes[r.IntN(len(codes))])
		case 1:
			attrs["icd10"] = cdc.ArrayValue(cdc.StringValue(codes[r.IntN(len(codes))]), cdc.StringValue(codes[r.IntN(len(codes))]))
		}
		switch r.IntN(4) {
		case 0:
			attrs["bp"] = cdc.IntValue(int64(100 + r.IntN(100)))
		case 1:
			attrs["bp"] = cdc.DecimalValue(fmt.Sprintf("%d.%d", 100+r.IntN(100), r.IntN(10)))
		case 2:
			attrs["bp"] = cdc.StringValue("180") // a conflict: matches no number
		}
		if r.IntN(2) == 0 {
			attrs["smoker"] = cdc.BoolValue(r.IntN(2) == 0)
		}
		switch r.IntN(3) {
		case 0:
			attrs["scores"] = cdc.ArrayValue(cdc.IntValue(int64(r.IntN(10))), cdc.IntValue(int64(r.IntN(10))))
		case 1:
			attrs["scores"] = cdc.ArrayValue(cdc.IntValue(int64(r.IntN(10))), cdc.DecimalValue("2.5"))
		}
		if r.IntN(3) == 0 {
			attrs["visit_date"] = cdc.StringValue(at.Format("2006-01-02"))
		}
		row := cdc.Row{ID: id, PatientID: patient, DocType: types[r.IntN(len(types))], Status: statuses[r.IntN(len(statuses))],
			OrganizationID: int64(1 + r.IntN(4)), AuthorID: int64(1 + r.IntN(6)), CreatedAt: at, UpdatedAt: at.Add(time.Hour),
			Attributes: attrs}
		if len(ids) > 0 && r.IntN(4) == 0 {
			row.Links = []cdc.Link{{Type: []string{"result_of", "ordered_by"}[r.IntN(2)], Target: ids[r.IntN(len(ids))]}}
		}
		return row
	}
	n := 0
	for range 4 {
		var b []cdc.Change
		for range 40 {
			n++
			lsn++
			row := doc(n, int64(1+r.IntN(3)))
			ids = append(ids, row.ID)
			b = append(b, cdc.Change{Kind: cdc.Create, ID: row.ID, Version: lsn, Row: row})
		}
		batches = append(batches, b)
	}
	var b []cdc.Change
	for i := range 30 {
		lsn++
		id := ids[r.IntN(len(ids))]
		var num int
		fmt.Sscanf(id[len(id)-12:], "%d", &num)
		switch i % 3 {
		case 0:
			b = append(b, cdc.Change{Kind: cdc.Delete, ID: id, Version: lsn, Row: cdc.Row{ID: id, Missing: cdc.AllColumns &^ cdc.ColID}})
		default: // a new version, maybe of another year or patient
			row := doc(num, int64(1+r.IntN(3)))
			b = append(b, cdc.Change{Kind: cdc.Update, ID: id, Version: lsn, Row: row})
		}
	}
	return append(batches, b)
}

// chartFixture writes chartChanges drawn from r and returns two searchers
// over them: mem with a cache (and charts), its metrics in reg, and plain
// without charts, stored or in memory. stored says whether the writer
// stores the patients' charts, or leaves markers as a bulk writer does (the
// charts are then read from documents).
func chartFixture(t *testing.T, r *rand.Rand, stored bool) (ch stacktest.ClickHouse, c *cache.Cache, reg *prometheus.Registry, mem, plain *Searcher) {
	t.Helper()
	ch = env.ClickHouse(t)
	ctx := context.Background()
	if err := schema.Apply(ctx, nil, ch.Conn, ch.SchemaOptions()); err != nil {
		t.Fatal(err)
	}
	w := index.NewWriter(ch.Conn, ch.Database, nil)
	if !stored {
		w.WithChartRows(0)
	}
	for _, b := range chartChanges(r) {
		if _, err := w.Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	mem, c, reg = cachedSearcher(t, ch, 64<<20)
	var err error
	if plain, err = New(ch.Conn, Options{Database: ch.Database, TokenKey: []byte("k"), ChartRows: -1}, nil); err != nil {
		t.Fatal(err)
	}
	return ch, c, reg, mem, plain
}

// Every patient search answered from a chart in memory gives the pages
// ClickHouse gives, for random filters and page sizes, page after page;
// once a patient's chart is kept, further searches of that patient ask
// ClickHouse nothing.
func TestChartAnswersAsClickHouse(t *testing.T) {
	t.Run("stored", func(t *testing.T) { chartAnswersAsClickHouse(t, true) })
	t.Run("read from documents", func(t *testing.T) { chartAnswersAsClickHouse(t, false) })
}

func chartAnswersAsClickHouse(t *testing.T, stored bool) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 9))
	ch, c, reg, mem, plain := chartFixture(t, r, stored)

	// Filters drawn from the stored documents.
	var docs []eval.Document
	for _, p := range []int64{1, 2, 3} {
		page, err := plain.Search(ctx, Request{PatientID: &p, PageSize: MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page.Documents {
			attrs, err := cdc.ParseAttributes(d.AttributesJSON)
			if err != nil {
				t.Fatal(err)
			}
			docs = append(docs, eval.Document{ID: d.ID, PatientID: d.PatientID, OrganizationID: d.OrganizationID,
				AuthorID: d.AuthorID, DocType: d.DocType, Status: d.Status, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
				Attributes: attrs})
		}
	}
	types := map[string]eval.AttrType{}
	for name, ty := range chartTypes {
		k := map[check.Kind]eval.Kind{check.String: eval.String, check.Number: eval.Number, check.Bool: eval.Bool, check.Date: eval.Date}[ty.Kind]
		types[name] = eval.AttrType{Kind: k, Array: ty.Array}
	}
	gs := eval.SchemaFromDocs(docs, types, 8)

	pages := func(s *Searcher, req Request) [][]string {
		t.Helper()
		var out [][]string
		for {
			p, err := s.Search(ctx, req)
			if err != nil {
				t.Fatalf("%q: %v", req.FilterText, err)
			}
			var ids []string
			for _, d := range p.Documents {
				ids = append(ids, d.ID)
			}
			out = append(out, ids)
			if p.NextPageToken == "" {
				return out
			}
			req.PageToken = p.NextPageToken
		}
	}
	dated := 0
	for i := range 100 {
		text := eval.Generate(r, gs, 1+r.IntN(3))
		if i%10 == 0 {
			text = "" // the whole list too
		}
		if strings.Contains(text, "visit_date") {
			dated++
		}
		checked := mustCheck(t, text, chartTypes)
		p := int64(1 + r.IntN(3))
		req := Request{PatientID: &p, Filter: checked, FilterText: text, PageSize: []int{2, 7, 100}[r.IntN(3)]}
		want, got := pages(plain, req), pages(mem, req)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("patient %d, %q, pages of %d:\nthrough the chart %v\nfrom ClickHouse    %v", p, text, req.PageSize, got, want)
		}
	}
	answered := counterValue(t, reg, "docsearch_patient_chart_searches_total", "outcome", chartAnswered)
	if answered < 60 {
		t.Fatalf("only %v searches answered from charts", answered)
	}
	if dated < 10 {
		t.Fatalf("only %d filters named the date attribute", dated)
	}
	// A stored chart is the patient's one query; without, the periods and
	// the chart are read.
	if n := queriesOf(t, reg, "periods") + queriesOf(t, reg, "chart"); (n == 0) != stored {
		t.Fatalf("stored %v: %d periods lookups and charts read from documents", stored, n)
	}

	// A kept chart answers a new filter with no query at all.
	one := int64(1)
	before := queries(t, reg)
	for _, text := range []string{"doc_type = 'lab_result'", "bp > 150 OR smoker = true", "NOT icd10 IN ('I10')",
		"visit_date >= '2023-06-01' AND NOT visit_date = '2024-01-02'"} {
		if _, err := mem.Search(ctx, Request{PatientID: &one, Filter: mustCheck(t, text, chartTypes), FilterText: text, PageSize: 5}); err != nil {
			t.Fatal(err)
		}
	}
	if ran := queries(t, reg) - before; ran != 0 {
		t.Fatalf("searches of a kept chart ran %d queries", ran)
	}
	plan, err := mem.Explain(ctx, Request{PatientID: &one, PageSize: 5})
	if err != nil || !slices.ContainsFunc(plan.Notes, func(n string) bool {
		return n == "the patient's chart is in memory: the filter runs there and ClickHouse would not be asked"
	}) {
		t.Fatalf("Explain of a kept chart: %q %v", plan.Notes, err)
	}

	// A patient above ChartRows is searched page by page, with the same answers.
	reg2 := prometheus.NewRegistry()
	small, err := New(ch.Conn, Options{Database: ch.Database, TokenKey: []byte("k"), Metrics: NewMetrics(reg2), Cache: c, ChartRows: 5}, nil)
	if err != nil {
		t.Fatal(err)
	}
	req := Request{PatientID: &one, PageSize: 4}
	if got, want := pages(small, req), pages(plain, req); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("above ChartRows: %v, want %v", got, want)
	}
	if n := counterValue(t, reg2, "docsearch_patient_chart_searches_total", "outcome", chartLarge); n == 0 {
		t.Fatal("a patient above ChartRows was not counted as large")
	}
}

// counterValue is the value of one counter with label name=value.
func counterValue(t *testing.T, reg *prometheus.Registry, family, name, value string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != family {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == name && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// A chart whose stored attributes text does not parse answers no filter
// that must read them: the search is answered by ClickHouse, from the
// attributes column, not failed. A filter the columns settle, which leaves
// the text unparsed, is still answered from the chart. So for a chart read
// from documents and for a stored one.
func TestUnparsableChartFallsBack(t *testing.T) {
	ch := env.ClickHouse(t)
	ctx := context.Background()
	if err := schema.Apply(ctx, nil, ch.Conn, ch.SchemaOptions()); err != nil {
		t.Fatal(err)
	}
	// Synchronous, so that on a cluster the row is on its shard at once.
	sync := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_distributed_sync": 1}))
	if err := ch.Conn.Exec(sync, "INSERT INTO "+ch.Database+".documents (id, patient_id, created_at, doc_type, status, organization_id, author_id, updated_at, attributes, attributes_raw, link_types, link_targets, version, is_deleted, source_ts)"+
		" VALUES ('00000000-0000-4000-8000-000000000001', 9, '2024-01-01 00:00:00', 'visit', 'signed', 1, 1, '2024-01-01 00:00:00', '{}', 'not json', [], [], 1, 0, '2024-01-01 00:00:00')"); err != nil {
		t.Fatal(err)
	}
	nine := int64(9)
	search := func(s *Searcher, text string) {
		t.Helper()
		p, err := s.Search(ctx, Request{PatientID: &nine, Filter: mustCheck(t, text, chartTypes), FilterText: text, PageSize: 10})
		if err != nil || len(p.Documents) != 1 {
			t.Fatalf("%q: %d documents, %v", text, len(p.Documents), err)
		}
	}
	for _, stored := range []bool{false, true} {
		if stored {
			if _, err := index.BuildCharts(ctx, ch.Conn, ch.Database, index.DefaultChartRows); err != nil {
				t.Fatal(err)
			}
		}
		s, _, reg := cachedSearcher(t, ch, 1<<20)
		search(s, "doc_type = 'visit' AND NOT icd10 = 'I10'")
		if n := counterValue(t, reg, "docsearch_patient_chart_searches_total", "outcome", chartUndecided); n != 1 {
			t.Fatalf("stored %v: undecided = %v, want 1", stored, n)
		}
		search(s, "doc_type = 'visit'")
		if n := counterValue(t, reg, "docsearch_patient_chart_searches_total", "outcome", chartAnswered); n != 1 {
			t.Fatalf("stored %v: answered = %v, want 1", stored, n)
		}
		if n := queriesOf(t, reg, "chart"); (n == 0) != stored {
			t.Fatalf("stored %v: %d charts read from documents", stored, n)
		}
	}
}

// Without a stored chart, a first unfiltered page reads the whole chart when
// it holds at most smallChartPages pages, so the rest of the visit is
// answered from memory; a larger chart's first page reads only the page.
func TestSmallChartReadOnTheFirstPage(t *testing.T) {
	ctx := context.Background()
	_, _, reg, mem, plain := chartFixture(t, rand.New(rand.NewPCG(3, 9)), false)
	for _, tc := range []struct {
		patient int64
		pages   int // the chart's size in pages of the first search
		chart   bool
	}{
		{1, smallChartPages, true},
		{2, 3 * smallChartPages, false},
	} {
		p := tc.patient
		ps, err := plain.periods(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		var rows int // the periods' count, which the decision reads
		for _, pp := range ps {
			rows += int(pp.Rows)
		}
		size := (rows+tc.pages-1)/tc.pages - 1 // the chart holds at most tc.pages pages of size+1
		req := Request{PatientID: &p, PageSize: size}
		before := queriesOf(t, reg, "chart")
		got, err := mem.Search(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		want, err := plain.Search(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got.Documents) != fmt.Sprint(want.Documents) || got.NextPageToken == "" {
			t.Fatalf("patient %d, page of %d: %v (next %q), want %v", p, size, got.Documents, got.NextPageToken, want.Documents)
		}
		if read := queriesOf(t, reg, "chart") - before; (read == 1) != tc.chart {
			t.Errorf("patient %d: %d rows in pages of %d read the chart %d times, want chart %v", p, rows, size, read, tc.chart)
		}
	}
	if n := counterValue(t, reg, "docsearch_patient_chart_searches_total", "outcome", chartCold); n != 1 {
		t.Errorf("%v first pages counted cold, want 1", n)
	}
}

// chartSize counts at least what a chart takes once a filter has parsed
// every document's attributes, so the cache's budget holds. Attributes as
// the generator writes them.
func TestChartSizeHolds(t *testing.T) {
	texts := []string{
		`{"bp_systolic":152,"ecg_rhythm":"sinus_rhythm","icd10":"I10"}`,
		`{"abnormal":false,"panels":["BMP","CMP"],"test_code":"LOINC:2160-0","unit":"umol/L","value":77.5}`,
		`{"bp_diastolic":94,"bp_systolic":153,"complaints":["fever"],"icd10":"I10","smoker":true}`,
		`{"dose":10.0,"doses_per_day":1,"drug_code":"C10AA05"}`,
		`{"icd10":"Z00.0","target_specialty":"radiology"}`,
		`{"abnormal":true,"panels":["LIPID"],"test_code":"LOINC:2571-8","unit":"mmol/L","value":1.92}`,
		`{}`,
	}
	const n = 20000
	at := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
	// measure builds a parsed chart and returns the heap it holds.
	measure := func() (took int64, c chart) {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		rows := make([]row, n)
		for i := range rows {
			rows[i] = row{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), PatientID: 1, DocType: strings.Clone("lab_result"),
				Status: strings.Clone("signed"), CreatedAt: at, UpdatedAt: at, AttributesRaw: strings.Clone(texts[i%len(texts)]),
				LinkTypes: []string{}, LinkTargets: []string{}}
		}
		c = newChart(rows)
		rows = nil
		for i := range c.docs {
			if _, ok := c.docs[i].doc.Lazy(); !ok {
				t.Fatalf("%q does not parse", c.docs[i].row.AttributesRaw)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(c)
		return int64(after.HeapAlloc) - int64(before.HeapAlloc), c
	}
	// The least of three: another goroutine's allocations can only add.
	took, c := measure()
	for range 2 {
		if tk, _ := measure(); tk < took {
			took = tk
		}
	}
	counted := int64(chartSize(c))
	if counted < took || counted > took*3/2 {
		t.Fatalf("a chart of %d documents took %d bytes parsed, chartSize counts %d: want at least that, and at most half more", n, took, counted)
	}
	t.Logf("a chart of %d documents took %d bytes parsed, chartSize counts %d (%.2fx)", n, took, counted, float64(counted)/float64(took))
}
