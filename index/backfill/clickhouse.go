package backfill

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/docsearch/docsearch/cdc"
)

// ClickHouse is what backfill needs of ClickHouse besides index.Writer;
// clickhouse-go's driver.Conn satisfies it.
type ClickHouse interface {
	Exec(ctx context.Context, query string, args ...any) error
	Query(ctx context.Context, query string, args ...any) (driver.Rows, error)
}

var _ ClickHouse = driver.Conn(nil)

// IndexedColumns are the columns of the documents table ScanIndexed reads.
const IndexedColumns = `toString(id) AS doc_id, patient_id, doc_type, status, organization_id, author_id,
	created_at, updated_at, attributes_raw, link_types, arrayMap(x -> toString(x), link_targets) AS link_target_ids`

// ScanIndexed reads one row of the documents table selected with
// IndexedColumns as the row the source would hold.
func ScanIndexed(rows driver.Rows) (cdc.Row, error) {
	var r cdc.Row
	var raw string
	var types, targets []string
	if err := rows.Scan(&r.ID, &r.PatientID, &r.DocType, &r.Status, &r.OrganizationID, &r.AuthorID,
		&r.CreatedAt, &r.UpdatedAt, &raw, &types, &targets); err != nil {
		return cdc.Row{}, fmt.Errorf("reading indexed document: %w", err)
	}
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	attrs, err := cdc.ParseAttributes(raw)
	if err != nil {
		return cdc.Row{}, fmt.Errorf("indexed document %s: attributes: %w", r.ID, err)
	}
	r.Attributes = attrs
	for i := range types {
		if i < len(targets) {
			r.Links = append(r.Links, cdc.Link{Type: types[i], Target: targets[i]})
		}
	}
	return r, nil
}

// progressDDL is backfill's own table. The newest row of a run (by seq)
// holds its state.
const progressDDL = `CREATE TABLE IF NOT EXISTS %s.backfill_progress (
	run_id     String,
	last_id    String,
	rows       UInt64,
	snapshots  Array(UInt64),
	done       UInt8,
	seq        UInt64,
	updated_at DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree(seq)
ORDER BY run_id`

// State is a run's recorded progress.
type State struct {
	// RunID names the run.
	RunID string
	// LastID is the last document id done; empty before the first batch.
	LastID string
	// Rows counts the documents applied over all attempts of the run.
	Rows uint64
	// Snapshots are the lsns of the snapshots the run has read from.
	Snapshots []uint64
	// Done is set once every row and the settle pass are done.
	Done bool
}

type progressStore struct {
	ch ClickHouse
	db string
}

func (s progressStore) ensure(ctx context.Context) error {
	if err := s.ch.Exec(ctx, fmt.Sprintf(progressDDL, s.db)); err != nil {
		return fmt.Errorf("creating backfill_progress: %w", err)
	}
	return nil
}

// load returns the run's state; a run never seen has only its id.
func (s progressStore) load(ctx context.Context, runID string) (State, error) {
	st := State{RunID: runID}
	rows, err := s.ch.Query(ctx, "SELECT last_id, rows, snapshots, done FROM "+s.db+
		".backfill_progress FINAL WHERE run_id = ?", runID)
	if err != nil {
		return st, fmt.Errorf("reading backfill progress: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var done uint8
		if err := rows.Scan(&st.LastID, &st.Rows, &st.Snapshots, &done); err != nil {
			return st, fmt.Errorf("reading backfill progress: %w", err)
		}
		st.Done = done == 1
	}
	return st, rows.Err()
}

func (s progressStore) save(ctx context.Context, st State) error {
	var done uint8
	if st.Done {
		done = 1
	}
	snaps := st.Snapshots
	if snaps == nil {
		snaps = []uint64{}
	}
	now := time.Now()
	if err := s.ch.Exec(ctx, "INSERT INTO "+s.db+".backfill_progress (run_id, last_id, rows, snapshots, done, seq, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
		st.RunID, st.LastID, st.Rows, snaps, done, uint64(now.UnixNano()), now); err != nil {
		return fmt.Errorf("recording backfill progress: %w", err)
	}
	return nil
}
