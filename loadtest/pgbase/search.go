package pgbase

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/docsearch/docsearch/query/ast"
	"github.com/docsearch/docsearch/query/eval"
)

// Hit is one document a search found.
type Hit struct {
	// ID is the document id in canonical lowercase.
	ID        string
	CreatedAt time.Time
}

// Cursor returns the position after h, for the next page.
func (h Hit) Cursor() *Cursor { return &Cursor{CreatedAt: h.CreatedAt, ID: h.ID} }

// Search translates f for design d (see Translate) and runs it on db.
func Search(ctx context.Context, db Querier, d Design, f *ast.Filter, types map[string]eval.AttrType, q Query) ([]Hit, error) {
	sql, args, err := Translate(d, f, types, q)
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("searching %v: %w", d, err)
	}
	defer rows.Close()
	var hits []Hit
	for rows.Next() {
		var id pgtype.UUID
		var h Hit
		if err := rows.Scan(&id, &h.CreatedAt); err != nil {
			return nil, fmt.Errorf("reading %v results: %w", d, err)
		}
		h.ID = id.String()
		hits = append(hits, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("searching %v: %w", d, err)
	}
	return hits, nil
}
