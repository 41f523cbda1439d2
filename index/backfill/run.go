package backfill

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/jackc/pgx/v5"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/index"
	"github.com/docsearch/docsearch/schema"
)

// Options configure a backfill.
type Options struct {
	// Database is the ClickHouse database of docsearch's tables; required.
	Database string
	// RunID names the run whose progress is recorded; zero means "backfill".
	RunID string
	// BatchSize is the rows read and applied at a time; zero means 10 000.
	BatchSize int
	// SnapshotRows ends the snapshot transaction after about this many rows
	// and continues with a new one, exactly as a resumed run does, so that a
	// long backfill does not hold back vacuum for hours; zero means one
	// snapshot for the whole run.
	SnapshotRows int
	// Restart starts the run over even when its progress says it is done or
	// half done; zero continues it.
	Restart bool
	// Settle is how long to wait after the last batch before looking for
	// snapshot rows the live indexer raced with (see the package comment);
	// zero means 5s, negative skips the settle pass.
	Settle time.Duration
	// Progress, when set, is called after every batch.
	Progress func(Progress)
}

// Validate reports whether o can be used.
func (o Options) Validate() error {
	switch {
	case o.Database == "" || strings.ContainsAny(o.Database, "`\"'. ;"):
		return fmt.Errorf("backfill: invalid database %q", o.Database)
	case o.BatchSize < 0:
		return fmt.Errorf("backfill: batch size %d is negative", o.BatchSize)
	case o.SnapshotRows < 0:
		return fmt.Errorf("backfill: snapshot rows %d is negative", o.SnapshotRows)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.RunID == "" {
		o.RunID = "backfill"
	}
	if o.BatchSize == 0 {
		o.BatchSize = 10000
	}
	if o.Settle == 0 {
		o.Settle = 5 * time.Second
	}
	return o
}

// Progress is what Run reports after each batch.
type Progress struct {
	State
	// Applied counts the rows this process applied; Stale those the index
	// already held in a newer version.
	Applied, Stale int64
	// Read counts the rows this process read.
	Read int64
	// Estimated is about how many rows the table holds (planner estimate);
	// zero when unknown.
	Estimated int64
	// Elapsed is the time since this process started the run.
	Elapsed time.Duration
	// Repaired counts the documents the settle pass re-indexed.
	Repaired int
	// Rejected are the rows this process could not index (each also logged):
	// the run goes on past them, so the caller must report them.
	Rejected []index.Rejection
}

// Rate is rows read per second by this process.
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Read) / p.Elapsed.Seconds()
}

// ETA is about how long the rest takes at the rate so far; zero when unknown.
func (p Progress) ETA() time.Duration {
	left := p.Estimated - int64(p.Rows)
	if r := p.Rate(); r > 0 && left > 0 {
		return time.Duration(float64(left) / r * float64(time.Second))
	}
	return 0
}

// Run loads every document of PostgreSQL's documents table into the index
// through w, continuing the run opts.RunID where it stopped. It returns the
// final progress; a cancelled ctx leaves the progress of the last batch done.
func Run(ctx context.Context, log *slog.Logger, pg *pgx.Conn, ch ClickHouse, w Applier, opts Options) (Progress, error) {
	if err := opts.Validate(); err != nil {
		return Progress{}, err
	}
	opts = opts.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ps := progressStore{ch: ch, db: opts.Database}
	if err := ps.ensure(ctx); err != nil {
		return Progress{}, err
	}
	st, err := ps.load(ctx, opts.RunID)
	if err != nil {
		return Progress{}, err
	}
	if opts.Restart {
		st = State{RunID: opts.RunID}
	}
	p := Progress{State: st}
	if st.Done {
		log.Info("backfill already done", "run", st.RunID, "rows", st.Rows)
		return p, nil
	}
	if st.LastID != "" {
		log.Info("resuming backfill with a new snapshot", "run", st.RunID, "after", st.LastID, "rows", st.Rows)
	}
	p.Estimated = estimateRows(ctx, pg)
	started := time.Now()
	for {
		more, err := runSnapshot(ctx, log, pg, ps, w, opts, &p, started)
		if err != nil {
			return p, err
		}
		if !more {
			break
		}
	}
	if opts.Settle > 0 {
		n, err := settle(ctx, log, pg, ch, w, opts, p.Snapshots)
		if err != nil {
			return p, err
		}
		p.Repaired = n
	}
	p.Done = true
	if err := ps.save(ctx, p.State); err != nil {
		return p, err
	}
	log.Info("backfill done", "run", p.RunID, "rows", p.Rows, "applied", p.Applied, "stale", p.Stale,
		"repaired", p.Repaired, "elapsed", time.Since(started).Round(time.Millisecond))
	return p, nil
}

// runSnapshot reads batches from one snapshot; more says whether rows remain
// for another snapshot (opts.SnapshotRows reached).
func runSnapshot(ctx context.Context, log *slog.Logger, pg *pgx.Conn, ps progressStore, w Applier, opts Options, p *Progress, started time.Time) (more bool, err error) {
	tx, lsn, err := Snapshot(ctx, pg)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read only
	p.Snapshots = append(p.Snapshots, lsn)
	log.Info("backfill snapshot", "run", p.RunID, "lsn", lsn, "after", p.LastID)
	inSnapshot := 0
	for {
		if opts.SnapshotRows > 0 && inSnapshot >= opts.SnapshotRows {
			return true, nil
		}
		t0 := time.Now()
		rows, err := readBatch(ctx, tx, p.LastID, opts.BatchSize)
		if err != nil {
			return false, err
		}
		if len(rows) == 0 {
			return false, nil
		}
		now := time.Now().UTC()
		changes := make([]cdc.Change, len(rows))
		for i, r := range rows {
			changes[i] = readChange(r, lsn, now)
		}
		t1 := time.Now()
		res, err := w.Apply(ctx, changes)
		if err != nil {
			return false, fmt.Errorf("applying batch after %q: %w", p.LastID, err)
		}
		t2 := time.Now()
		for _, rj := range res.Rejected {
			log.Warn("backfill row rejected", "id", rj.ID, "reason", rj.Reason)
		}
		p.Rejected = append(p.Rejected, res.Rejected...)
		p.LastID = rows[len(rows)-1].ID
		p.Rows += uint64(len(rows))
		p.Read += int64(len(rows))
		p.Applied += int64(res.Applied)
		p.Stale += int64(res.Stale)
		p.Elapsed = time.Since(started)
		inSnapshot += len(rows)
		// Recorded only after the batch is durable: a crash before this
		// line redoes the batch, which the Writer makes harmless.
		if err := ps.save(ctx, p.State); err != nil {
			return false, err
		}
		log.Debug("backfill batch", "rows", len(rows), "read", t1.Sub(t0), "apply", t2.Sub(t1), "record", time.Since(t2))
		if opts.Progress != nil {
			opts.Progress(*p)
		}
		if len(rows) < opts.BatchSize {
			return false, nil
		}
	}
}

// settle re-indexes the documents whose snapshot row is still visible although
// the index records a different version for them: a stream change moved or
// deleted them without seeing the snapshot row. It waits opts.Settle first so
// that indexer batches in flight during the last backfill batch have landed.
func settle(ctx context.Context, log *slog.Logger, pg *pgx.Conn, ch ClickHouse, w Applier, opts Options, snapshots []uint64) (int, error) {
	if len(snapshots) == 0 {
		return 0, nil
	}
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(opts.Settle):
	}
	versions := make([]uint64, len(snapshots))
	for i, s := range snapshots {
		versions[i] = schema.VersionLive(s)
	}
	db := opts.Database
	// On a cluster both tables are Distributed, and the keys are sharded by
	// id, not by patient: distributed_product_mode = global runs the subquery
	// once, here, and sends its result to every shard. On one server the
	// setting does nothing.
	qctx := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"distributed_product_mode": "global"}))
	rows, err := ch.Query(qctx, "SELECT "+IndexedColumns+" FROM "+db+".documents FINAL WHERE is_deleted = 0 AND version IN ? AND (id, version) NOT IN (SELECT id, version FROM "+
		db+".document_keys FINAL)", versions)
	if err != nil {
		return 0, fmt.Errorf("finding raced snapshot rows: %w", err)
	}
	strays := map[string][]cdc.Row{}
	var ids []string
	for rows.Next() {
		r, err := ScanIndexed(rows)
		if err != nil {
			rows.Close()
			return 0, err
		}
		if _, seen := strays[r.ID]; !seen {
			ids = append(ids, r.ID)
		}
		strays[r.ID] = append(strays[r.ID], r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("finding raced snapshot rows: %w", err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	log.Info("re-indexing documents the stream raced with", "documents", len(ids))
	if _, err := Reindex(ctx, pg, w, ids, strays); err != nil {
		return 0, fmt.Errorf("settling: %w", err)
	}
	return len(ids), nil
}
