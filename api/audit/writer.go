package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// Writer buffers records and inserts them into the audit table from Run.
// Record is safe for concurrent use.
type Writer struct {
	conn Conn
	opts Options
	log  *slog.Logger
	m    metrics

	mu     sync.Mutex
	queue  []Record // accepted, not yet written; the batch in flight is its head
	closed bool
	warned map[string]time.Time // when a full buffer was last logged, by kind
	quiet  map[string]int       // refusals not logged since, by kind

	wake    chan struct{} // a full batch is waiting
	running atomic.Bool

	// Used by Run's goroutine only.
	shapes, callers map[string]bool
	// shapeOf holds filters' shapes by text: parsing one costs tens of
	// microseconds, and most searches repeat a text.
	shapeOf *lru.Cache[string, string]
	table   string // where inserts go, found on the first insert
}

type metrics struct {
	written, insertErrors, bufferFull prometheus.Counter
	lost                              *prometheus.CounterVec
	population                        *prometheus.CounterVec
}

// NewWriter returns a writer into opts.Database's audit table. log and reg
// may be nil (no logging, no metrics).
func NewWriter(conn Conn, opts Options, log *slog.Logger, reg prometheus.Registerer) (*Writer, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &Writer{
		conn: conn, opts: opts.withDefaults(), log: log,
		warned: map[string]time.Time{}, quiet: map[string]int{},
		wake: make(chan struct{}, 1), shapes: map[string]bool{}, callers: map[string]bool{},
	}
	// New fails only for a size below one.
	w.shapeOf, _ = lru.New[string, string](shapesKept)
	w.m = metrics{
		written: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "docsearch_audit_written_total",
			Help: "Audit records inserted into ClickHouse.",
		}),
		insertErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "docsearch_audit_insert_errors_total",
			Help: "Failed inserts of audit batches; their records stay buffered and are retried.",
		}),
		bufferFull: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "docsearch_audit_buffer_full_total",
			Help: "Records that found the audit buffer full: refused calls in fail-closed mode, lost records in fail-open mode.",
		}),
		lost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "docsearch_audit_lost_total",
			Help: "Audit records never written, by reason: buffer_full and closed (fail-open mode), shutdown (still buffered when Run gave up).",
		}, []string{"reason"}),
		population: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "docsearch_audit_population_queries_total",
			Help: "Population searches and explains (no patient) written to the audit table, by caller and filter shape (bounded: other beyond a cap).",
		}, []string{"caller", "shape"}),
	}
	if reg != nil {
		buffered := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "docsearch_audit_buffered",
			Help: "Audit records waiting for ClickHouse.",
		}, func() float64 { return float64(w.Buffered()) })
		for _, c := range []prometheus.Collector{w.m.written, w.m.insertErrors, w.m.bufferFull, w.m.lost, w.m.population, buffered} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("registering audit metrics: %w", err)
			}
		}
	}
	return w, nil
}

// Buffered is the number of records waiting for ClickHouse.
func (w *Writer) Buffered() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.queue)
}

// Admit returns the error Record would return now, without recording
// anything, so a fail-closed server can refuse a call before doing its work.
// In fail-open mode it always returns nil.
func (w *Writer) Admit() error {
	if !w.opts.FailClosed {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.closed:
		return ErrClosed
	case len(w.queue) >= w.opts.Buffer:
		return ErrBufferFull
	}
	return nil
}

// Record buffers r for Run to write; it never blocks on ClickHouse. When the
// buffer is full (or Run has returned), it counts and logs that, and then in
// fail-closed mode returns ErrBufferFull (or ErrClosed), in fail-open mode
// loses the record and returns nil.
func (w *Writer) Record(r Record) error {
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	r.Time = r.Time.UTC().Truncate(time.Microsecond)
	r.Shape = ""
	if len(r.Filter) > MaxFilterBytes {
		r.Filter = truncate(r.Filter, MaxFilterBytes) + fmt.Sprintf("...(%d bytes)", len(r.Filter))
	}
	w.mu.Lock()
	var err error
	switch {
	case w.closed:
		err = ErrClosed
	case len(w.queue) >= w.opts.Buffer:
		err = ErrBufferFull
	default:
		w.queue = append(w.queue, r)
		n := len(w.queue)
		w.mu.Unlock()
		if n >= w.opts.BatchSize {
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}
		return nil
	}
	w.mu.Unlock()
	return w.refuse(r, err)
}

// refuse accounts for a record Record could not take.
func (w *Writer) refuse(r Record, err error) error {
	reason := "closed"
	if errors.Is(err, ErrBufferFull) {
		reason = "buffer_full"
		w.m.bufferFull.Inc()
	}
	if w.opts.FailClosed {
		// The call is refused, so nothing needs keeping; one line per 10 s is
		// enough to say why calls fail.
		if n, ok := w.shouldLog(reason); ok {
			w.log.Error("audit record refused: the call is refused (fail-closed)", "reason", reason, "refused", n, "buffered", w.Buffered())
		}
		return err
	}
	// The call goes on unaudited: the log keeps who did what, so the record
	// is not lost silently, but not the filter, whose literals may be clinical.
	w.m.lost.WithLabelValues(reason).Inc()
	attrs := []any{"reason", reason, "time", r.Time, "request_id", r.RequestID, "caller", r.Caller,
		"auth_method", r.AuthMethod, "method", r.Method, "code", r.Code, "rows", r.Rows}
	if r.PatientID != nil {
		attrs = append(attrs, "patient_id", *r.PatientID)
	}
	w.log.Error("audit record lost (fail-open)", attrs...)
	return nil
}

// shouldLog rate-limits a log line to one per 10 s per reason and says how
// many refusals it covers.
func (w *Writer) shouldLog(reason string) (int, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.quiet[reason]++
	if time.Since(w.warned[reason]) < 10*time.Second {
		return 0, false
	}
	n := w.quiet[reason]
	w.warned[reason], w.quiet[reason] = time.Now(), 0
	return n, true
}

// Run writes buffered records until ctx ends: a full batch at once, the rest
// every FlushEvery. A failed insert is retried, the same batch with the same
// deduplication token, after a wait that doubles up to RetryMax; the buffer
// meanwhile fills. When ctx ends, Run goes on writing for up to
// ShutdownTimeout, accepting records all the while, then stops accepting
// them; it returns an error if records were still buffered. Run must be
// called once.
func (w *Writer) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("audit: Run called twice")
	}
	tick := time.NewTicker(w.opts.FlushEvery)
	defer tick.Stop()
	var b batch
	var backoff time.Duration
	for {
		wake, ticks := w.wake, tick.C
		var retry *time.Timer
		var retries <-chan time.Time
		if backoff > 0 {
			wake, ticks = nil, nil
			retry = time.NewTimer(backoff)
			retries = retry.C
		}
		all := true
		select {
		case <-ctx.Done():
			return w.shutdown(ctx, &b)
		case <-wake:
			all = false
		case <-ticks:
		case <-retries:
		}
		if retry != nil {
			retry.Stop()
		}
		if err := w.flush(ctx, &b, all); err != nil {
			backoff = min(max(2*backoff, 100*time.Millisecond), w.opts.RetryMax)
			w.log.Warn("audit insert failed; the batch stays buffered and is retried", "err", err,
				"records", len(b.records), "buffered", w.Buffered(), "retry_in", backoff)
			continue
		}
		backoff = 0
	}
}

// shutdown writes what is buffered within ShutdownTimeout, then closes.
func (w *Writer) shutdown(ctx context.Context, b *batch) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.opts.ShutdownTimeout)
	defer cancel()
	backoff := 50 * time.Millisecond
	for {
		err := w.flush(sctx, b, true)
		w.mu.Lock()
		if err == nil && len(w.queue) == 0 {
			w.closed = true
			w.mu.Unlock()
			return nil
		}
		if sctx.Err() != nil {
			w.closed = true
			n := len(w.queue)
			w.queue = nil
			w.mu.Unlock()
			w.m.lost.WithLabelValues("shutdown").Add(float64(n))
			w.log.Error("audit records not written at shutdown", "records", n, "err", err)
			return fmt.Errorf("audit: %d records not written at shutdown: %w", n, err)
		}
		w.mu.Unlock()
		if err != nil {
			select {
			case <-sctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
		}
	}
}

// batch is the head of the queue being inserted: fixed, with its token,
// until an insert succeeds.
type batch struct {
	records []Record
	token   string
}

// flush inserts batches from the head of the queue until fewer than a batch
// (or, with all, no records) remain.
func (w *Writer) flush(ctx context.Context, b *batch, all bool) error {
	for {
		if b.records == nil {
			w.mu.Lock()
			n := min(len(w.queue), w.opts.BatchSize)
			if n == 0 || !all && n < w.opts.BatchSize {
				w.mu.Unlock()
				return nil
			}
			b.records = make([]Record, n)
			copy(b.records, w.queue[:n])
			w.mu.Unlock()
			for i := range b.records {
				if r := &b.records[i]; hasFilter(*r) {
					r.Shape = w.shape(r.Filter)
				}
			}
			var tok [16]byte
			_, _ = rand.Read(tok[:])
			b.token = hex.EncodeToString(tok[:])
		}
		if err := w.insert(ctx, b); err != nil {
			w.m.insertErrors.Inc()
			return err
		}
		w.mu.Lock()
		n := len(b.records)
		clear(w.queue[:n])
		w.queue = w.queue[n:]
		w.mu.Unlock()
		w.m.written.Add(float64(n))
		for _, r := range b.records {
			if r.Population {
				w.m.population.WithLabelValues(w.label(w.callers, w.opts.MaxCallers, caller(r.Caller)),
					w.label(w.shapes, w.opts.MaxShapes, r.Shape)).Inc()
			}
		}
		*b = batch{}
	}
}

// shapesKept and maxShapedBytes bound the shapes kept by filter text to a
// few MiB, whatever callers send.
const (
	shapesKept     = 1024
	maxShapedBytes = 1024
)

// shape is Shape(filter), found among the shapes kept when it can be.
func (w *Writer) shape(filter string) string {
	if s, ok := w.shapeOf.Get(filter); ok {
		return s
	}
	s := Shape(filter)
	if len(filter) <= maxShapedBytes {
		w.shapeOf.Add(filter, s)
	}
	return s
}

// hasFilter says whether r is of a method that takes a filter (Search,
// Explain), so that it has a shape.
func hasFilter(r Record) bool {
	m := r.Method[strings.LastIndexByte(r.Method, '/')+1:]
	return r.Population || r.Filter != "" || m == "Search" || m == "Explain"
}

// label bounds a label's values: the first limit distinct ones, then
// ShapeOther.
func (w *Writer) label(seen map[string]bool, limit int, v string) string {
	if !seen[v] {
		if len(seen) >= limit {
			return ShapeOther
		}
		seen[v] = true
	}
	return v
}

func caller(c string) string {
	if c == "" {
		return "unknown"
	}
	return c
}

const columns = "time, request_id, caller, auth_method, method, patient_id, population, filter, shape, strategy, rows, duration_ns, code"

// insert writes one batch. Its token makes ClickHouse ignore a repeat of an
// insert that had succeeded though its answer was lost (the table keeps
// non_replicated_deduplication_window tokens).
func (w *Writer) insert(ctx context.Context, b *batch) error {
	ctx, cancel := context.WithTimeout(ctx, w.opts.InsertTimeout)
	defer cancel()
	ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{
		"insert_deduplicate": 1, "insert_deduplication_token": b.token,
	}))
	if w.table == "" {
		// On a cluster each service writes to the local table of the server it
		// talks to: through the Distributed table an insert would be split by
		// shard and sent on later, so neither its token nor its timing would
		// hold. Readers use the Distributed table, which sees every shard.
		var local []struct {
			N uint64 `ch:"n"`
		}
		if err := w.conn.Select(ctx, &local, "SELECT count() AS n FROM system.tables WHERE database = ? AND name = 'audit_local'", w.opts.Database); err != nil {
			return fmt.Errorf("finding the audit table: %w", err)
		}
		w.table = "audit"
		if len(local) == 1 && local[0].N > 0 {
			w.table = "audit_local"
		}
	}
	batch, err := w.conn.PrepareBatch(ctx, "INSERT INTO "+w.opts.Database+"."+w.table+" ("+columns+")")
	if err != nil {
		return fmt.Errorf("preparing audit insert: %w", err)
	}
	for _, r := range b.records {
		if err := batch.Append(r.Time, r.RequestID, r.Caller, r.AuthMethod, r.Method, r.PatientID, r.Population,
			r.Filter, r.Shape, r.Strategy, uint32(max(r.Rows, 0)), uint64(max(r.Duration, 0)), r.Code); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("appending audit record %s: %w", r.RequestID, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("inserting %d audit records: %w", len(b.records), err)
	}
	return nil
}
