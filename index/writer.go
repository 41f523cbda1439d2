package index

import (
	"context"

	"github.com/docsearch/docsearch/cdc"
)

// Writer applies decoded changes to ClickHouse with the indexer's rules:
// versions from the log position, deletions at keys documents left, TOASTed
// columns carried forward, stale replays skipped, attributes registered first.
// The indexer uses it for Kafka batches; backfill and repair use it directly.
type Writer struct {
	store     store
	registry  Registry
	chartRows int
	// rebuildMax is the most patients a batch rebuilds the charts of; a
	// larger batch (a bulk load through the stream) marks them instead.
	rebuildMax int
}

// defaultRebuildMax: rebuilding reads each patient's documents again, and a
// batch that touches thousands of patients is a bulk load, where a patient
// would be read again in batch after batch.
const defaultRebuildMax = 2000

// NewWriter writes into database db; reg may be nil (attributes are then not
// registered). It rebuilds the stored chart of each patient it writes, of at
// most DefaultChartRows documents.
func NewWriter(conn Conn, db string, reg Registry) *Writer {
	return &Writer{store: store{conn: conn, db: db}, registry: reg, chartRows: DefaultChartRows, rebuildMax: defaultRebuildMax}
}

// WithChartRows sets the most documents a stored chart holds. Zero marks the
// charts of the patients written unknown instead of rebuilding them, for a
// bulk writer that calls BuildCharts once done: a patient written in many
// batches would otherwise be read again after each.
func (w *Writer) WithChartRows(n int) *Writer {
	w.chartRows = max(n, 0)
	return w
}

// writeCharts rebuilds the stored charts of the patients a plan wrote or
// notifies: after their documents, before the notifications, so a search
// that a notification sends to ClickHouse reads a chart with them. A batch
// of more than rebuildMax patients, or a writer without charts, marks them
// instead.
func (w *Writer) writeCharts(ctx context.Context, p plan, steps *stepTimer) error {
	patients := touched(p)
	var err error
	if w.chartRows == 0 || len(patients) > w.rebuildMax {
		err = w.store.markCharts(ctx, patients)
	} else {
		err = w.store.rebuildCharts(ctx, patients, w.chartRows)
	}
	steps.mark("charts")
	return err
}

// Result says what Apply did.
type Result struct {
	// Applied counts changes written; Stale those older than the index.
	Applied, Stale int
	// Rejected are changes that cannot be indexed, with the reason.
	Rejected []Rejection
	// Notifications describe the applied changes, for subscribers.
	Notifications []Notification
}

// Rejection is a change that cannot be indexed.
type Rejection struct {
	ID, Reason string
}

// Apply writes changes, in order, completely: documents, keys, then the
// patients' charts. Tombstones are ignored. Applying the same changes again
// changes nothing but the charts' versions.
func (w *Writer) Apply(ctx context.Context, changes []cdc.Change) (Result, error) {
	in := make([]change, 0, len(changes))
	for i, c := range changes {
		if c.Kind != cdc.Tombstone {
			in = append(in, change{Change: c, Index: i})
		}
	}
	p, err := w.plan(ctx, in, newStepTimer())
	if err != nil {
		return Result{}, err
	}
	if err := w.writeDocs(ctx, p, newStepTimer()); err != nil {
		return Result{}, err
	}
	if err := w.store.writeKeys(ctx, p); err != nil {
		return Result{}, err
	}
	if err := w.writeCharts(ctx, p, newStepTimer()); err != nil {
		return Result{}, err
	}
	r := Result{Applied: p.applied, Stale: p.stale, Notifications: p.notes}
	for _, rj := range p.rejected {
		r.Rejected = append(r.Rejected, Rejection{ID: changes[rj.Index].ID, Reason: rj.Reason})
	}
	return r, nil
}

// plan looks up the stored keys (and TOASTed content) the changes need and
// plans their rows.
func (w *Writer) plan(ctx context.Context, changes []change, steps *stepTimer) (plan, error) {
	ids := make([]string, 0, len(changes))
	seen := map[string]bool{}
	for _, c := range changes {
		if !seen[c.ID] {
			seen[c.ID] = true
			ids = append(ids, c.ID)
		}
	}
	states, err := w.store.keys(ctx, ids)
	if err != nil {
		return plan{}, err
	}
	steps.mark("keys")
	// Stored content for documents with a TOASTed change here; an earlier
	// change in the batch, when there is one, takes its place in makePlan.
	need := map[string]keyState{}
	for _, c := range changes {
		if st, ok := states[c.ID]; ok && !st.Deleted && c.Kind != cdc.Delete && needsStored(c.Row) {
			need[c.ID] = st
		}
	}
	stored, err := w.store.contents(ctx, need)
	if err != nil {
		return plan{}, err
	}
	steps.mark("contents")
	return makePlan(changes, states, stored), nil
}

// writeDocs registers the plan's attributes, then writes its document rows,
// so a new attribute is known before any document carrying it is visible.
func (w *Writer) writeDocs(ctx context.Context, p plan, steps *stepTimer) error {
	if len(p.observed) > 0 && w.registry != nil {
		if _, err := w.registry.Observe(ctx, p.observed); err != nil {
			return err
		}
	}
	steps.mark("registry")
	if err := w.store.writeDocs(ctx, p); err != nil {
		return err
	}
	steps.mark("documents")
	return nil
}
