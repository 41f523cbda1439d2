package strategy

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/query/compile"
)

// DefaultChartRows is Options.ChartRows when it is zero.
const DefaultChartRows = 2000

// chartDoc is one document of a patient's chart: the row a page returns and
// what a filter reads of it.
type chartDoc struct {
	row row
	doc compile.Doc
}

// Chart outcomes, the label of docsearch_patient_chart_searches_total.
const (
	chartAnswered  = "answered"  // from the chart in memory
	chartUndecided = "undecided" // a value memory does not decide exactly
	chartLarge     = "large"     // more rows than ChartRows
	chartCold      = "cold"      // a first page reads less than the chart
	chartDamaged   = "damaged"   // a stored chart that does not decode: documents are read
)

// smallChartPages is the size, in pages, up to which a first unfiltered page
// reads the whole chart rather than the page: a visit's later searches of
// the patient are then answered from memory, for a first page that costs
// little more.
const smallChartPages = 4

// chartQuery reads all of a patient's live documents from partitions ps, in
// result order.
func (s *Searcher) chartQuery(patient int64, ps []period) query {
	return query{kind: "chart",
		sql: "SELECT " + payloadColumns + " FROM " + s.opts.Database + ".documents FINAL" +
			" WHERE _partition_id IN {s_parts:Array(String)} AND patient_id = {s_patient:Int64}" +
			" ORDER BY created_at DESC, toString(id) DESC",
		params:   map[string]string{"s_patient": strconv.FormatInt(patient, 10), "s_parts": partitionList(ps)},
		settings: s.patientSettings()}
}

// chartPlan decides whether a patient search runs over the patient's chart:
// outcome is "" when it does (m and q are then set; kept says the chart is
// in the cache now), else why not. all are the patient's periods; ps those
// the cursor leaves.
func (s *Searcher) chartPlan(req Request, size int, all, ps []period) (m *compile.Matcher, q query, kept bool, outcome string) {
	if s.opts.Cache == nil || s.opts.ChartRows < 0 || len(all) == 0 {
		return nil, query{}, false, "off"
	}
	var total uint64
	for _, p := range all {
		total += p.Rows
	}
	if total > uint64(s.opts.ChartRows) {
		return nil, query{}, false, chartLarge
	}
	m, err := compile.Match(req.Filter)
	if err != nil {
		return nil, query{}, false, "invalid" // ClickHouse's path reports a bad tree
	}
	q = s.chartQuery(*req.PatientID, all)
	if _, kept = s.opts.Cache.Get(*req.PatientID, q.key()); !kept && total > uint64(smallChartPages*(size+1)) &&
		len(rounds(ps, firstRoundRows(req.Filter, size+1))) > 1 {
		return nil, query{}, false, chartCold
	}
	return m, q, kept, ""
}

// fromChart answers a patient search from the patient's chart, its every
// live document kept in the cache, when that is cheaper than asking
// ClickHouse: a chart is read once for a patient and then serves every
// filter and page until a change notification drops it. ok is false when
// the search must go to ClickHouse instead: no cache, a patient with more
// than ChartRows rows, a value that memory would not compare exactly as
// ClickHouse does, a chart whose attributes do not parse, or a first
// unfiltered page that needs less than the whole chart, of more than
// smallChartPages pages, while the chart is not kept yet.
func (s *Searcher) fromChart(ctx context.Context, req Request, size int, after *cursor, all, ps []period) (Page, bool, error) {
	m, q, _, outcome := s.chartPlan(req, size, all, ps)
	switch outcome {
	case "":
	case chartLarge, chartCold:
		s.metrics.chart.WithLabelValues(outcome).Inc()
		return Page{}, false, nil
	default:
		return Page{}, false, nil
	}
	got, err := cached(ctx, s, *req.PatientID, q, chartsSize, readChart(*req.PatientID))
	if err != nil {
		return Page{}, false, fmt.Errorf("reading the patient's chart: %w", err)
	}
	page, ok := s.chartPage(req, size, after, got[0], m)
	return page, ok, nil
}

// chartPage answers a patient search over c; ok is false when a value is
// not decided in memory, or the attributes a filter reads do not parse, and
// the search must go to ClickHouse.
func (s *Searcher) chartPage(req Request, size int, after *cursor, c chart, m *compile.Matcher) (Page, bool) {
	var rows []row
	for i := range c.docs {
		d := &c.docs[i]
		if after != nil && !after.before(d.row) {
			continue
		}
		matched, decided := m.Match(&d.doc)
		if !decided {
			s.metrics.chart.WithLabelValues(chartUndecided).Inc()
			return Page{}, false
		}
		if matched {
			rows = append(rows, d.row)
			if len(rows) > size {
				break
			}
		}
	}
	s.metrics.chart.WithLabelValues(chartAnswered).Inc()
	page := s.finish(req, rows, size)
	page.Strategy = "patient"
	return page, true
}

// before reports whether r comes after the cursor in result order (newest
// first, then id descending), as cursorCondition says in SQL.
func (c *cursor) before(r row) bool {
	at, rat := c.CreatedAt.UnixMicro(), r.CreatedAt.UnixMicro()
	return rat < at || rat == at && r.ID < c.ID
}

// chart is a patient's every live document, in result order, with what
// filters read of them. A document's attributes are parsed on the first
// predicate that reads them (compile.Doc.Lazy), once for every caller: an
// unfiltered page, or a filter the columns settle, leaves them as text
// (parsing every document took more than reading a stored chart). Text that
// does not parse leaves the document undecided, and the search goes to
// ClickHouse, which reads the attributes column instead.
type chart struct {
	docs []chartDoc
}

// lazyAttrs parses one document's attributes once.
type lazyAttrs struct {
	raw   string
	once  sync.Once
	attrs map[string]cdc.Value
	ok    bool
}

func (l *lazyAttrs) get() (map[string]cdc.Value, bool) {
	l.once.Do(func() {
		a, err := cdc.ParseAttributes(l.raw)
		l.attrs, l.ok = a, err == nil
	})
	return l.attrs, l.ok
}

func newChart(rows []row) chart {
	docs := make([]chartDoc, len(rows))
	for i, r := range rows {
		d := compile.Doc{ID: r.ID, PatientID: r.PatientID, OrganizationID: r.OrganizationID,
			AuthorID: r.AuthorID, DocType: r.DocType, Status: r.Status, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
			LinkTypes: r.LinkTypes, LinkTargets: r.LinkTargets}
		if r.AttributesRaw != "" {
			d.Lazy = (&lazyAttrs{raw: r.AttributesRaw}).get
		}
		docs[i] = chartDoc{row: r, doc: d}
	}
	return chart{docs: docs}
}

// readChart reads a chart's rows.
func readChart(patient int64) func(context.Context, *Searcher, query) ([]chart, error) {
	return func(ctx context.Context, s *Searcher, q query) ([]chart, error) {
		rows, err := patientRows(patient)(ctx, s, q)
		if err != nil {
			return nil, err
		}
		return []chart{newChart(rows)}, nil
	}
}

// parsedAttributes is how many times their text a document's attributes take
// once parsed: 9.5 over 20 000 generated documents, 11.4 over
// TestChartSizeHolds's.
const parsedAttributes = 12

// chartSize estimates a chart's bytes: its rows, and every document's
// attributes as parsed, which a filter may do at any time after the chart
// is stored. A chart never filtered takes less than counted.
func chartSize(c chart) int {
	n := 0
	for i := range c.docs {
		n += rowSize(&c.docs[i].row) + parsedAttributes*len(c.docs[i].row.AttributesRaw) + chartDocOverhead
	}
	return n
}

// chartDocOverhead is a chartDoc's own bytes beyond rowSize's: the row and
// compile.Doc structs, the lazy parse's state.
const chartDocOverhead = 320

func chartsSize(cs []chart) int {
	n := 0
	for _, c := range cs {
		n += chartSize(c)
	}
	return n
}

// chartNote says what Explain's plan would do with the chart; kept is true
// when the chart would answer without ClickHouse.
func (s *Searcher) chartNote(req Request, size int, all, ps []period) (note string, kept bool) {
	_, _, kept, outcome := s.chartPlan(req, size, all, ps)
	switch outcome {
	case "":
		if kept {
			return "the patient's chart is in memory: the filter runs there and ClickHouse would not be asked", true
		}
		return "the patient's chart (every live document) would be read once and kept in memory; this and later searches of the patient filter it there", false
	case chartLarge:
		return "the patient has more than " + strconv.Itoa(s.opts.ChartRows) + " rows: searched page by page in ClickHouse, not from a chart in memory", false
	case chartCold:
		return "the chart is not in memory and this page needs less of it: one page is read from ClickHouse", false
	}
	return "", false
}
