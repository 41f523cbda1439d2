package backfill

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/docsearch/docsearch/cdc"
)

// ErrLSN is returned for a log position that is not PostgreSQL's "X/Y" text.
var ErrLSN = errors.New("invalid lsn")

// ParseLSN turns PostgreSQL's pg_lsn text "X/Y" (two hex numbers of up to 32
// bits) into the uint64 X<<32 | Y that Debezium sends as source.lsn.
func ParseLSN(s string) (uint64, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok || hi == "" || lo == "" {
		return 0, fmt.Errorf("%w: %q", ErrLSN, s)
	}
	h, err := strconv.ParseUint(hi, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("%w: %q: %w", ErrLSN, s, err)
	}
	l, err := strconv.ParseUint(lo, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("%w: %q: %w", ErrLSN, s, err)
	}
	return h<<32 | l, nil
}

// SelectColumns are the documents table's columns in the order ScanRow reads
// them; jsonb as text, so the cdc parsers see what Debezium would send.
const SelectColumns = `id::text, patient_id, doc_type, status, organization_id, author_id,
	created_at, updated_at, attributes::text, links::text`

// ScanRow reads one row selected with SelectColumns.
func ScanRow(row pgx.Row) (cdc.Row, error) {
	var r cdc.Row
	var attrs, links string
	if err := row.Scan(&r.ID, &r.PatientID, &r.DocType, &r.Status, &r.OrganizationID, &r.AuthorID,
		&r.CreatedAt, &r.UpdatedAt, &attrs, &links); err != nil {
		return cdc.Row{}, fmt.Errorf("reading document row: %w", err)
	}
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	var err error
	if r.Attributes, err = cdc.ParseAttributes(attrs); err != nil {
		return cdc.Row{}, fmt.Errorf("document %s: attributes: %w", r.ID, err)
	}
	if r.Links, err = cdc.ParseLinks(links); err != nil {
		return cdc.Row{}, fmt.Errorf("document %s: links: %w", r.ID, err)
	}
	return r, nil
}

// Snapshot begins a REPEATABLE READ READ ONLY transaction and reads the
// current WAL position as its first statement: the snapshot is taken then,
// so every change it holds has a smaller lsn and every later one a larger.
func Snapshot(ctx context.Context, pg *pgx.Conn) (pgx.Tx, uint64, error) {
	tx, err := pg.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, 0, fmt.Errorf("beginning snapshot transaction: %w", err)
	}
	var text string
	if err := tx.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&text); err != nil {
		_ = tx.Rollback(ctx)
		return nil, 0, fmt.Errorf("reading wal position: %w", err)
	}
	lsn, err := ParseLSN(text)
	if err != nil {
		_ = tx.Rollback(ctx)
		return nil, 0, err
	}
	return tx, lsn, nil
}

// readBatch reads up to n rows with ids after after, in id order.
func readBatch(ctx context.Context, tx pgx.Tx, after string, n int) ([]cdc.Row, error) {
	q := "SELECT " + SelectColumns + " FROM documents"
	args := []any{n}
	if after != "" {
		q += " WHERE id > $2::uuid"
		args = append(args, after)
	}
	q += " ORDER BY documents.id LIMIT $1" // not the id::text output column
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("reading documents after %q: %w", after, err)
	}
	defer rows.Close()
	out := make([]cdc.Row, 0, n)
	for rows.Next() {
		r, err := ScanRow(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading documents after %q: %w", after, err)
	}
	return out, nil
}

// estimateRows is the planner's row estimate of the documents table, for the
// ETA; a count would scan billions of rows. Zero when unknown.
func estimateRows(ctx context.Context, pg *pgx.Conn) int64 {
	var n float64
	if err := pg.QueryRow(ctx, "SELECT reltuples::float8 FROM pg_class WHERE oid = 'documents'::regclass").Scan(&n); err != nil || n < 0 {
		return 0
	}
	return int64(n)
}

// readChange turns a row read at lsn into the change Writer applies.
func readChange(r cdc.Row, lsn uint64, now time.Time) cdc.Change {
	return cdc.Change{Kind: cdc.Read, ID: r.ID, Version: lsn, CommitTime: now, EventTime: now,
		Snapshot: true, SnapshotMarker: "true", Row: r}
}
