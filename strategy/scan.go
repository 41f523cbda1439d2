package strategy

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/docsearch/docsearch/query/ast"
	"github.com/docsearch/docsearch/query/check"
	"github.com/docsearch/docsearch/query/compile"
)

// scanRounds reads a scan's page year by year, newest first. A filter on
// attributes alone matches across all years, so the newest often fill the
// page and the older are never read. Rounds meet at the start of a year, so
// their rows come in result order. The first round is open towards the
// future and the last towards the past: rows written after the span was read,
// or older than it, are still found. Together the rounds read at most
// MaxRowsToRead rows, as one query would.
func (s *Searcher) scanRounds(ctx context.Context, req Request, e compile.Expr, table string, size int, after *cursor) ([]row, error) {
	top, bottom, ok, err := s.scanYears(ctx, req, after)
	if err != nil {
		return nil, err
	}
	var read atomic.Uint64
	var rows []row
	year, n := top, 1
	for {
		oldest := year - n + 1
		var w window
		if ok && year < top {
			w.to = yearStart(year + 1)
		}
		if ok && oldest > bottom {
			w.from = yearStart(oldest)
		}
		left := s.opts.MaxRowsToRead - int64(read.Load())
		if left <= 0 {
			return nil, fmt.Errorf("%w: the search would read more rows than max_rows_to_read allows; narrow it (a patient, an author, a clinic, a date range): %d rows read in years %d-%d", ErrResourceExhausted, read.Load(), year+1, top)
		}
		q := s.populationQuery(e, table, size+1-len(rows), after, w, left)
		q.read = &read
		got, err := populationRows(ctx, s, q)
		if err != nil {
			return nil, err
		}
		rows = append(rows, got...)
		if len(rows) > size || w.from.IsZero() {
			return rows, nil
		}
		n = nextRound(n, top-oldest+1, len(rows), size+1-len(rows))
		year = oldest - 1
	}
}

// nextRound is how many years the next round reads: half again as many as
// the rows still needed take at the rate found so far, or twice the last
// round when nothing has matched yet.
func nextRound(last, years, found, need int) int {
	if found == 0 {
		return 2 * last
	}
	return max(1, (3*need*years+2*found-1)/(2*found))
}

func yearStart(y int) time.Time { return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC) }

// scanYears are the newest and oldest years a scan may find rows in: those
// of documents' rows, narrowed by the filter's bounds on created_at and the
// cursor. ok is false when rounds would not pay for their queries: no rows,
// or at most two years to read.
func (s *Searcher) scanYears(ctx context.Context, req Request, after *cursor) (top, bottom int, ok bool, err error) {
	// Answered from the parts' metadata (the partition key's min and max),
	// not by reading rows.
	span, err := selectAll[struct {
		Lo uint16 `ch:"lo"`
		Hi uint16 `ch:"hi"`
		N  uint64 `ch:"n"`
	}](ctx, s, query{kind: "span", sql: "SELECT toYear(min(created_at)) AS lo, toYear(max(created_at)) AS hi, count() AS n FROM " + s.opts.Database + ".documents"})
	if err != nil {
		return 0, 0, false, fmt.Errorf("reading the years of the documents: %w", err)
	}
	if len(span) != 1 || span[0].N == 0 {
		return 0, 0, false, nil
	}
	top, bottom = int(span[0].Hi), int(span[0].Lo)
	lo, hi := createdYears(req.Filter)
	if after != nil {
		hi = min(hi, after.CreatedAt.UTC().Year())
	}
	top, bottom = min(top, hi), max(bottom, lo)
	return top, bottom, top-bottom >= 2, nil
}

// createdYears bounds the years of created_at that the filter's top-level
// AND terms allow.
func createdYears(f *check.Checked) (lo, hi int) {
	lo, hi = 0, 1<<30
	for _, c := range conjuncts(f) {
		e, ok := c.(*check.Compare)
		if !ok || !e.Field.Common || e.Field.Name != "created_at" || e.Value.Kind != check.TimeValue {
			continue
		}
		y := e.Value.Time.UTC().Year()
		switch e.Op {
		case ast.Ge, ast.Gt:
			lo = max(lo, y)
		case ast.Le, ast.Lt:
			hi = min(hi, y)
		case ast.Eq:
			lo, hi = max(lo, y), min(hi, y)
		}
	}
	return lo, hi
}
