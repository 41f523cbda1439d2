package backfill

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/index"
)

// Applier applies changes with the indexer's rules; *index.Writer is one, and
// *index.NotifyingWriter one that also announces them to subscribers.
type Applier interface {
	Apply(ctx context.Context, changes []cdc.Change) (index.Result, error)
}

var (
	_ Applier = (*index.Writer)(nil)
	_ Applier = (*index.NotifyingWriter)(nil)
)

// maxStrays bounds the stray rows Reindex removes per document: they take the
// versions just below the fresh lsn, which a committed change never has
// (a WAL record is longer than this many bytes).
const maxStrays = 8

// Reindex writes the current PostgreSQL state of ids into the index: a Read of
// the row, or a Delete when PostgreSQL no longer has it, both at a fresh
// pg_current_wal_lsn() read in the transaction that reads the rows.
//
// strays are rows the index holds for a document at keys where the Writer no
// longer knows it (left behind by a race with the stream, see the package
// comment). The Writer deletes only at the key it has recorded, so each stray
// is first applied as a Read just below the fresh lsn, which moves the
// recorded key there, and the final change then deletes it from there.
func Reindex(ctx context.Context, pg *pgx.Conn, w Applier, ids []string, strays map[string][]cdc.Row) (index.Result, error) {
	var total index.Result
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for len(ids) > 0 {
		n := min(len(ids), 5000)
		r, err := reindex(ctx, pg, w, ids[:n], strays)
		if err != nil {
			return total, err
		}
		total.Applied += r.Applied
		total.Stale += r.Stale
		total.Rejected = append(total.Rejected, r.Rejected...)
		ids = ids[n:]
	}
	return total, nil
}

func reindex(ctx context.Context, pg *pgx.Conn, w Applier, ids []string, strays map[string][]cdc.Row) (index.Result, error) {
	tx, lsn, err := Snapshot(ctx, pg)
	if err != nil {
		return index.Result{}, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read only
	rows, err := tx.Query(ctx, "SELECT "+SelectColumns+" FROM documents WHERE id = ANY($1::uuid[])", ids)
	if err != nil {
		return index.Result{}, fmt.Errorf("reading documents to re-index: %w", err)
	}
	current := make(map[string]cdc.Row, len(ids))
	for rows.Next() {
		r, err := ScanRow(rows)
		if err != nil {
			rows.Close()
			return index.Result{}, err
		}
		current[r.ID] = r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return index.Result{}, fmt.Errorf("reading documents to re-index: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return index.Result{}, fmt.Errorf("ending re-index transaction: %w", err)
	}
	now := time.Now().UTC()
	changes := make([]cdc.Change, 0, len(ids))
	for _, id := range ids {
		st := strays[id]
		if len(st) > maxStrays {
			st = st[:maxStrays]
		}
		for i, s := range st {
			changes = append(changes, readChange(s, lsn-uint64(len(st)-i), now))
		}
		if r, ok := current[id]; ok {
			changes = append(changes, readChange(r, lsn, now))
		} else {
			changes = append(changes, cdc.Change{Kind: cdc.Delete, ID: id, Version: lsn, CommitTime: now, EventTime: now,
				SnapshotMarker: "false", Row: cdc.Row{ID: id, Missing: cdc.AllColumns &^ cdc.ColID}})
		}
	}
	res, err := w.Apply(ctx, changes)
	if err != nil {
		return res, fmt.Errorf("re-indexing %d documents: %w", len(ids), err)
	}
	return res, nil
}
