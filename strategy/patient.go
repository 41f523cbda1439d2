package strategy

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/docsearch/docsearch/query/check"
	"github.com/docsearch/docsearch/query/compile"
)

// period is one partition holding some of a patient's documents.
type period struct {
	Period uint16 `ch:"period"`
	Rows   uint64 `ch:"period_rows"`
}

// periods lists the partitions holding the patient's documents, newest first,
// from the patient-periods view: the only partitions a patient search reads.
func (s *Searcher) periods(ctx context.Context, patient int64) ([]period, error) {
	// The parts' rows are summed here, not by GROUP BY: aggregating a few
	// rows costs ClickHouse more than reading them (about 30 % of the query).
	q := query{kind: "periods", sql: "SELECT period, rows AS period_rows FROM " + s.opts.Database +
		".patient_periods WHERE patient_id = {s_patient:Int64}",
		params:   map[string]string{"s_patient": strconv.FormatInt(patient, 10)},
		settings: clickhouse.Settings{"optimize_skip_unused_shards": 1}}
	ps, err := cached(ctx, s, patient, q, func(ps []period) int { return 16 * len(ps) }, sumPeriods)
	if err != nil {
		return nil, fmt.Errorf("reading patient periods: %w", err)
	}
	return ps, nil
}

// notAfter keeps the periods a page after the cursor may read: newer ones
// were read by earlier pages.
func notAfter(ps []period, after *cursor) []period {
	if after == nil {
		return ps
	}
	y := uint16(after.CreatedAt.Year())
	var kept []period // ps may be shared through the cache
	for _, p := range ps {
		if p.Period <= y {
			kept = append(kept, p)
		}
	}
	return kept
}

// sumPeriods reads a patient's period rows, one per period and part, and
// sums them: the periods where a live row was written, newest first (a
// period of deletions alone sums to zero).
func sumPeriods(ctx context.Context, s *Searcher, q query) ([]period, error) {
	raw, err := selectAll[period](ctx, s, q)
	if err != nil {
		return nil, err
	}
	sums := map[uint16]uint64{}
	for _, p := range raw {
		sums[p.Period] += p.Rows
	}
	var ps []period
	for y, n := range sums {
		if n > 0 {
			ps = append(ps, period{Period: y, Rows: n})
		}
	}
	slices.SortFunc(ps, func(a, b period) int { return int(b.Period) - int(a.Period) })
	return ps, nil
}

// filteredReadFactor sizes a filtered search's first round: the newest
// periods holding this many rows for each row the page needs. A filter keeps
// an unknown share of the rows, and a second round costs a whole query, which
// is more than reading a typical patient's every row at once (most have a few
// hundred); a patient with thousands still has the older periods left for
// later rounds.
const filteredReadFactor = 20

// firstRoundRows is how many of the patient's rows the first round should
// hold to fill a page of need rows: with no filter every row counts.
func firstRoundRows(f *check.Checked, need int) int {
	if f == nil || f.Expr == nil {
		return need
	}
	return need * filteredReadFactor
}

// rounds splits periods into the newest ones that hold at least need rows
// (by their row counts, an upper bound) and the rest, read only if the first
// fall short.
func rounds(ps []period, need int) [][]period {
	var sum uint64
	for i, p := range ps {
		sum += p.Rows
		if sum >= uint64(need) && i+1 < len(ps) {
			return [][]period{ps[:i+1], ps[i+1:]}
		}
	}
	if len(ps) == 0 {
		return nil
	}
	return [][]period{ps}
}

func partitionList(ps []period) string {
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = "'" + strconv.Itoa(int(p.Period)) + "'"
	}
	return "[" + strings.Join(ids, ",") + "]"
}

// patientQuery reads up to limit rows of the patient from partitions ps.
func (s *Searcher) patientQuery(req Request, limit int, after *cursor, ps []period) (query, error) {
	w, err := s.where(req.Filter)
	if err != nil {
		return query{}, err
	}
	params := w.Params
	params["s_patient"] = strconv.FormatInt(*req.PatientID, 10)
	params["s_parts"] = partitionList(ps)
	params["s_limit"] = strconv.Itoa(limit)
	sql := "SELECT " + payloadColumns + " FROM " + s.opts.Database + ".documents FINAL" +
		" WHERE _partition_id IN {s_parts:Array(String)} AND patient_id = {s_patient:Int64}" +
		cursorCondition(after, params) +
		" AND (" + w.SQL + ")" +
		" ORDER BY created_at DESC, toString(id) DESC LIMIT {s_limit:UInt32}"
	return query{kind: "patient", sql: sql, params: params, settings: s.patientSettings()}, nil
}

// patientSettings are those of a read of one patient's documents.
func (s *Searcher) patientSettings() clickhouse.Settings {
	return clickhouse.Settings{
		"max_threads": s.opts.PatientThreads,
		// A document's key includes created_at, so its versions share a partition.
		"do_not_merge_across_partitions_select_final": 1,
		// On a cluster, only the patient's shard is asked; nothing on one server.
		"optimize_skip_unused_shards": 1,
	}
}

// patientState reads what a patient search starts from: the stored chart
// when there is one to use, else the periods lookup.
func (s *Searcher) patientState(ctx context.Context, patient int64) ([]period, *storedChart, error) {
	st, err := s.stored(ctx, patient)
	if err != nil {
		return nil, nil, err
	}
	if st != nil {
		return st.periods, st, nil
	}
	all, err := s.periods(ctx, patient)
	return all, nil, err
}

// usable says whether a stored chart answers searches in memory.
func (s *Searcher) usable(st *storedChart) bool {
	return st != nil && st.charted && len(st.chart.docs) <= s.opts.ChartRows
}

func (s *Searcher) patient(ctx context.Context, req Request, size int, after *cursor) (Page, error) {
	all, st, err := s.patientState(ctx, *req.PatientID)
	if err != nil {
		return Page{}, err
	}
	ps := notAfter(all, after)
	if s.usable(st) {
		if m, err := compile.Match(req.Filter); err == nil {
			if page, ok := s.chartPage(req, size, after, st.chart, m); ok {
				return page, nil
			}
		}
	} else if page, ok, err := s.fromChart(ctx, req, size, after, all, ps); ok || err != nil {
		return page, err
	}
	var rows []row
	for _, round := range rounds(ps, firstRoundRows(req.Filter, size+1)) {
		q, err := s.patientQuery(req, size+1-len(rows), after, round)
		if err != nil {
			return Page{}, err
		}
		got, err := cached(ctx, s, *req.PatientID, q, rowsSize, patientRows(*req.PatientID))
		if err != nil {
			return Page{}, err
		}
		rows = append(rows, got...)
		if len(rows) > size {
			break
		}
	}
	page := s.finish(req, rows, size)
	page.Strategy = "patient"
	return page, nil
}

func (s *Searcher) patientPlan(ctx context.Context, req Request, size int, after *cursor) (Plan, error) {
	all, st, err := s.patientState(ctx, *req.PatientID)
	if err != nil {
		return Plan{}, err
	}
	ps := notAfter(all, after)
	if s.usable(st) {
		q := s.storedQuery(*req.PatientID)
		plan := Plan{Strategy: "patient", Table: s.opts.Database + ".patient_charts", SQL: q.sql, Params: q.params,
			Notes: []string{fmt.Sprintf("the patient's stored chart, one row of patient_charts, holds all %d live documents: the filter runs over it in memory, and ClickHouse is asked again only for a value memory does not decide", len(st.chart.docs))}}
		if s.charts != nil {
			plan.Notes = append(plan.Notes, fmt.Sprintf("stored chart reads that arrive while %d run wait and go together, as patient_id IN (...) of up to %d patients: the SQL above is the read of one", s.charts.inFlight, maxChartBatch))
		}
		if s.opts.Cache != nil {
			if _, ok := s.opts.Cache.Get(*req.PatientID, q.key()); ok {
				plan.Notes = append(plan.Notes, "the patient's chart is in memory: the filter runs there and ClickHouse would not be asked")
			}
		}
		return plan, nil
	}
	rs := rounds(ps, firstRoundRows(req.Filter, size+1))
	plan := Plan{Strategy: "patient", Table: s.opts.Database + ".documents"}
	for _, p := range ps {
		plan.Partitions = append(plan.Partitions, strconv.Itoa(int(p.Period)))
	}
	if len(rs) == 0 {
		plan.Notes = append(plan.Notes, "the patient has no documents: nothing is read")
		return plan, nil
	}
	q, err := s.patientQuery(req, size+1, after, rs[0])
	if err != nil {
		return Plan{}, err
	}
	plan.SQL, plan.Params = q.sql, q.params
	plan.Notes = append(plan.Notes, fmt.Sprintf("reads only the patient's %d partition(s), newest first, by the primary key (patient_id, created_at, id)", len(ps)))
	note, chart := s.chartNote(req, size, all, ps)
	if note != "" {
		plan.Notes = append(plan.Notes, note)
	}
	if st != nil {
		plan.Notes = append(plan.Notes, "the periods come from the patient's row of patient_charts, which holds no chart: the patient has more documents than a stored chart keeps")
	}
	if s.opts.Cache != nil && !chart {
		if _, ok := s.opts.Cache.Get(*req.PatientID, q.key()); ok {
			plan.Notes = append(plan.Notes, "the patient cache holds this page now: ClickHouse would not be asked")
		} else {
			plan.Notes = append(plan.Notes, "the patient cache does not hold this page now: it would be read and kept until the patient's documents change")
		}
	}
	if len(rs) > 1 {
		plan.Notes = append(plan.Notes, fmt.Sprintf("first round: %d newest partition(s); the other %d only if the page is not full", len(rs[0]), len(rs[1])))
	}
	return plan, nil
}

// cached runs a query of one patient's search through load, or takes its
// result from the cache. What it stores is shared by later callers, who must
// not modify it. size estimates a result's bytes.
func cached[T any](ctx context.Context, s *Searcher, patient int64, q query, size func([]T) int,
	load func(context.Context, *Searcher, query) ([]T, error)) ([]T, error) {
	if s.opts.Cache == nil {
		return load(ctx, s, q)
	}
	key := q.key()
	if v, ok := s.opts.Cache.Get(patient, key); ok {
		if out, ok := v.([]T); ok {
			return out, nil
		}
	}
	t := s.opts.Cache.Begin()
	out, err := load(ctx, s, q)
	if err != nil {
		return nil, err
	}
	s.opts.Cache.Put(t, patient, key, out, size(out))
	return out, nil
}

// selectAll reads a query's rows as they come.
func selectAll[T any](ctx context.Context, s *Searcher, q query) ([]T, error) {
	var out []T
	err := s.bounded(ctx, q, &out)
	return out, err
}

// patientRows reads a patient page's rows and unpacks their payloads.
func patientRows(patient int64) func(context.Context, *Searcher, query) ([]row, error) {
	return func(ctx context.Context, s *Searcher, q query) ([]row, error) {
		var got []payloadRow
		if err := s.bounded(ctx, q, &got); err != nil {
			return nil, err
		}
		return decodeAll(got, func(p payloadRow) (row, error) { return p.decode(patient) })
	}
}

// key identifies a query by its text and parameters (settings do not change
// its answer).
func (q query) key() string {
	names := make([]string, 0, len(q.params))
	for k := range q.params {
		names = append(names, k)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString(q.sql)
	for _, k := range names {
		b.WriteString("\x00")
		b.WriteString(k)
		b.WriteString("=")
		b.WriteString(q.params[k])
	}
	return b.String()
}

func rowsSize(rs []row) int {
	n := 0
	for i := range rs {
		n += rowSize(&rs[i])
	}
	return n
}

// rowSize estimates one row's bytes in the cache.
func rowSize(r *row) int {
	n := 160 + len(r.ID) + len(r.DocType) + len(r.Status) + len(r.AttributesRaw)
	for i := range r.LinkTypes {
		n += 32 + len(r.LinkTypes[i])
	}
	for i := range r.LinkTargets {
		n += 32 + len(r.LinkTargets[i])
	}
	return n
}
