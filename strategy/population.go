package strategy

import (
	"context"
	"github.com/ClickHouse/clickhouse-go/v2"
	"strconv"

	"github.com/docsearch/docsearch/query/ast"
	"github.com/docsearch/docsearch/query/check"
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

// populationPlan picks the table whose sorting key the filter fixes, so the
// newest matches are read in order and reading stops when the page is full.
func (s *Searcher) populationPlan(req Request, size int, after *cursor) (Plan, query, error) {
	plan := Plan{}
	settings := clickhouse.Settings{
		"max_rows_to_read":                            s.opts.MaxRowsToRead,
		"read_overflow_mode":                          "throw", // "break" would return partial results as if complete
		"do_not_merge_across_partitions_select_final": 1,
	}
	switch {
	case fixes(req.Filter, "author_id"):
		plan.Strategy, plan.Table = "population_by_author", s.opts.Database+".documents_by_author_v2"
		plan.Notes = append(plan.Notes, "the filter fixes author_id: the by-author table, ordered (author_id, created_at, id), is read newest first")
	case fixes(req.Filter, "organization_id"):
		plan.Strategy, plan.Table = "population_by_org", s.opts.Database+".documents_by_org"
		plan.Notes = append(plan.Notes, "the filter fixes organization_id: the by-clinic table, ordered (organization_id, doc_type, created_at, id), is read")
	default:
		plan.Strategy, plan.Table = "population_scan", s.opts.Database+".documents"
		plan.Notes = append(plan.Notes, "no patient, author or clinic fixed: the main table is scanned within max_rows_to_read = "+strconv.FormatInt(s.opts.MaxRowsToRead, 10)+"; a created_at range prunes partitions")
	}
	w, err := s.where(req.Filter)
	if err != nil {
		return Plan{}, query{}, err
	}
	params := w.Params
	params["s_limit"] = strconv.Itoa(size + 1)
	sql := "SELECT " + populationColumns + " FROM " + plan.Table + " FINAL WHERE (" + w.SQL + ")" +
		cursorCondition(after, params) +
		" ORDER BY created_at DESC, toString(id) DESC LIMIT {s_limit:UInt32}"
	plan.SQL, plan.Params = sql, params
	return plan, query{kind: "population", sql: sql, params: params, settings: settings}, nil
}

func (s *Searcher) population(ctx context.Context, req Request, size int, after *cursor) (Page, error) {
	plan, q, err := s.populationPlan(req, size, after)
	if err != nil {
		return Page{Strategy: plan.Strategy}, err
	}
	rows, err := populationRows(ctx, s, q)
	if err != nil {
		return Page{Strategy: plan.Strategy}, err
	}
	page := s.finish(req, rows, size)
	page.Strategy = plan.Strategy
	return page, nil
}
