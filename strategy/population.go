package strategy

import (
	"context"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/docsearch/docsearch/cdc"

	"github.com/docsearch/docsearch/query/ast"
	"github.com/docsearch/docsearch/query/check"
	"github.com/docsearch/docsearch/query/compile"
	"github.com/docsearch/docsearch/strategy/cache"
)

// conjuncts are the filter's top-level AND terms: what every result satisfies.
func conjuncts(f *check.Checked) []check.Expr {
	if f == nil || f.Expr == nil {
		return nil
	}
	if a, ok := f.Expr.(*check.And); ok {
		return a.Args
	}
	return []check.Expr{f.Expr}
}

// fixes reports whether the filter pins a common column to one or a few values.
func fixes(f *check.Checked, column string) bool {
	for _, c := range conjuncts(f) {
		switch e := c.(type) {
		case *check.Compare:
			if e.Field.Common && e.Field.Name == column && e.Op == ast.Eq {
				return true
			}
		case *check.In:
			if e.Field.Common && e.Field.Name == column && len(e.Values) <= 100 {
				return true
			}
		}
	}
	return false
}

// fixedValues returns the values a top-level AND term pins an integer
// common column to, if one does.
func fixedValues(f *check.Checked, column string) ([]int64, bool) {
	for _, c := range conjuncts(f) {
		var vs []check.Value
		switch e := c.(type) {
		case *check.Compare:
			if e.Field.Common && e.Field.Name == column && e.Op == ast.Eq {
				vs = []check.Value{e.Value}
			}
		case *check.In:
			if e.Field.Common && e.Field.Name == column {
				vs = e.Values
			}
		}
		if vs == nil {
			continue
		}
		out := make([]int64, 0, len(vs))
		for _, v := range vs {
			if v.Kind != check.IntValue {
				return nil, false
			}
			out = append(out, v.Int)
		}
		return out, true
	}
	return nil, false
}

// scope says which saved documents can enter the filter's results: those of
// the authors or clinics it pins, else any; and of those, the ones whose
// common fields the filter does not rule out. Notifications carry no
// attributes or links (no clinical content), so those count as unknown.
func scope(f *check.Checked) cache.Scope {
	sc := cache.Scope{Field: cache.AnyDocument}
	if vs, ok := fixedValues(f, "author_id"); ok {
		sc = cache.Scope{Field: cache.ByAuthor, Values: vs}
	} else if vs, ok := fixedValues(f, "organization_id"); ok {
		sc = cache.Scope{Field: cache.ByClinic, Values: vs}
	}
	m, err := compile.Match(f)
	if err != nil {
		return sc
	}
	unknown := func() (map[string]cdc.Value, bool) { return nil, false }
	sc.Admits = func(n cache.Note) bool {
		if !n.Known || n.AuthorID == nil || n.OrganizationID == nil {
			return true
		}
		matched, decided := m.Match(&compile.Doc{
			ID: strings.ToLower(n.ID), PatientID: n.PatientID, OrganizationID: *n.OrganizationID, AuthorID: *n.AuthorID,
			DocType: n.DocType, Status: n.Status,
			CreatedAt: n.CreatedAt.Truncate(time.Microsecond), UpdatedAt: n.UpdatedAt.Truncate(time.Microsecond),
			Lazy: unknown, LinksUnknown: true,
		})
		return matched || !decided
	}
	return sc
}

// populationPlan picks the table whose sorting key the filter fixes, so the
// newest matches are read in order and reading stops when the page is full.
// The query it returns reads every year; a scan runs it year by year
// (scanRounds).
func (s *Searcher) populationPlan(req Request, size int, after *cursor) (Plan, query, compile.Expr, error) {
	plan := Plan{}
	switch {
	case fixes(req.Filter, "author_id"):
		plan.Strategy, plan.Table = "population_by_author", s.opts.Database+".documents_by_author_v2"
		plan.Notes = append(plan.Notes, "the filter fixes author_id: the by-author table, ordered (author_id, created_at, id), is read newest first")
	case fixes(req.Filter, "organization_id"):
		plan.Strategy, plan.Table = "population_by_org", s.opts.Database+".documents_by_org"
		plan.Notes = append(plan.Notes, "the filter fixes organization_id: the by-clinic table, ordered (organization_id, doc_type, created_at, id), is read")
	default:
		plan.Strategy, plan.Table = "population_scan", s.opts.Database+".documents"
		plan.Notes = append(plan.Notes, "no patient, author or clinic fixed: the main table is scanned within max_rows_to_read = "+strconv.FormatInt(s.opts.MaxRowsToRead, 10)+"; a created_at range prunes partitions",
			"over three years or more, the scan reads the newest year first and older years only while the page is not full, in rounds sized by the matches found so far")
	}
	e, err := s.where(req.Filter)
	if err != nil {
		return Plan{}, query{}, compile.Expr{}, err
	}
	q := s.populationQuery(e, plan.Table, size+1, after, window{}, s.opts.MaxRowsToRead)
	if plan.Strategy != "population_scan" {
		q.settings["max_threads"] = s.opts.KeyedThreads
	}
	plan.SQL, plan.Params = q.sql, q.params
	return plan, q, e, nil
}

// populationCached runs load, or takes its rows from the population cache.
// The rows stored are shared by later callers, who must not modify them.
func (s *Searcher) populationCached(ctx context.Context, key string, f *check.Checked, load func(context.Context) ([]row, error)) ([]row, error) {
	pc := s.opts.Population
	if pc == nil {
		return load(ctx)
	}
	if v, ok := pc.GetPopulation(key); ok {
		if rows, ok := v.([]row); ok {
			return rows, nil
		}
	}
	t := pc.Begin()
	rows, err := load(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(rows))
	for i := range rows {
		ids[i] = rows[i].ID
	}
	pc.PutPopulation(t, key, scope(f), ids, rows, rowsSize(rows))
	return rows, nil
}

// window is a range of created_at, [from, to); a zero end is open.
type window struct{ from, to time.Time }

// populationQuery reads up to limit matches of the compiled filter e from
// table within w, reading at most maxRows rows.
func (s *Searcher) populationQuery(e compile.Expr, table string, limit int, after *cursor, w window, maxRows int64) query {
	params := maps.Clone(e.Params)
	params["s_limit"] = strconv.Itoa(limit)
	sql := "SELECT " + populationColumns + " FROM " + table + " FINAL WHERE (" + e.SQL + ")" +
		cursorCondition(after, params)
	if !w.from.IsZero() {
		params["s_from"] = w.from.Format("2006-01-02 15:04:05.000000")
		sql += " AND created_at >= {s_from:DateTime64(6, 'UTC')}"
	}
	if !w.to.IsZero() {
		params["s_to"] = w.to.Format("2006-01-02 15:04:05.000000")
		sql += " AND created_at < {s_to:DateTime64(6, 'UTC')}"
	}
	sql += " ORDER BY created_at DESC, toString(id) DESC LIMIT {s_limit:UInt32}"
	return query{kind: "population", sql: sql, params: params, settings: clickhouse.Settings{
		"max_rows_to_read":                            maxRows,
		"read_overflow_mode":                          "throw", // "break" would return partial results as if complete
		"do_not_merge_across_partitions_select_final": 1,
	}}
}

func (s *Searcher) population(ctx context.Context, req Request, size int, after *cursor) (Page, error) {
	plan, q, e, err := s.populationPlan(req, size, after)
	if err != nil {
		return Page{Strategy: plan.Strategy}, err
	}
	load := func(ctx context.Context) ([]row, error) {
		if plan.Strategy == "population_scan" {
			return s.scanRounds(ctx, req, e, plan.Table, size, after)
		}
		return populationRows(ctx, s, q)
	}
	rows, err := s.populationCached(ctx, q.key(), req.Filter, load)
	if err != nil {
		return Page{Strategy: plan.Strategy}, err
	}
	page := s.finish(req, rows, size)
	page.Strategy = plan.Strategy
	return page, nil
}
