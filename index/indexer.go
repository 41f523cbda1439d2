package index

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/schema/registry"
)

// Config says where the indexer reads and writes.
type Config struct {
	// Brokers are Kafka bootstrap addresses.
	Brokers []string
	// Topic is the Debezium topic of the documents table.
	Topic string
	// GroupID is the consumer group; a new group starts from the earliest offset.
	GroupID string
	// DeadLetterTopic receives events that cannot be indexed.
	DeadLetterTopic string
	// ChangesTopic receives a notification per changed document; empty disables them.
	ChangesTopic string
	// Database holds docsearch's ClickHouse tables.
	Database string
	// BatchSize bounds the events of one batch; zero means 10000.
	BatchSize int
	// BatchWait bounds how long a batch waits for more events after its first;
	// zero means 100 ms. It bounds the save-to-searchable delay.
	BatchWait time.Duration
	// RetryBackoff is the first wait before retrying a failed batch; zero means
	// 500 ms, doubling up to 30 s.
	RetryBackoff time.Duration
	// SessionTimeout is how long the group waits for a silent member (a killed
	// indexer) before handing its partitions to others; zero means 10 s.
	SessionTimeout time.Duration
	// TLS and SASL secure the Kafka connections; nil means plaintext and no
	// authentication.
	TLS  *tls.Config    `json:"-"`
	SASL sasl.Mechanism `json:"-"`
}

// Validate reports a config the indexer cannot run with, and fills defaults.
func (c *Config) Validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("index: no Kafka brokers")
	case c.Topic == "":
		return errors.New("index: no source topic")
	case c.GroupID == "":
		return errors.New("index: no consumer group")
	case c.DeadLetterTopic == "":
		return errors.New("index: no dead-letter topic")
	case c.Database == "":
		return errors.New("index: no ClickHouse database")
	case c.BatchSize < 0 || c.BatchWait < 0 || c.RetryBackoff < 0 || c.SessionTimeout < 0:
		return errors.New("index: negative batch size, wait, backoff or session timeout")
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = 10 * time.Second
	}
	if c.BatchSize == 0 {
		c.BatchSize = 10000
	}
	if c.BatchWait == 0 {
		c.BatchWait = 100 * time.Millisecond
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = 500 * time.Millisecond
	}
	return nil
}

// Registry is what the indexer needs of the attribute registry.
type Registry interface {
	Observe(ctx context.Context, seen map[string]registry.Observed) ([]registry.Attribute, error)
}

var _ Registry = (*registry.Registry)(nil)

// source and sink are the parts of kafka-go the indexer uses.
type source interface {
	FetchMessage(ctx context.Context) (kafka.Message, error)
	CommitMessages(ctx context.Context, msgs ...kafka.Message) error
	Close() error
}

type sink interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
	Close() error
}

// Indexer keeps ClickHouse a mirror of the documents topic.
type Indexer struct {
	cfg     Config
	log     *slog.Logger
	writer  *Writer
	metrics *Metrics
	reader  source
	dead    sink
	changes *Publisher // nil without a ChangesTopic
	charts  *rebuilder
}

// New builds an indexer; metrics may be nil.
func New(cfg Config, log *slog.Logger, conn Conn, reg Registry, metrics *Metrics) (*Indexer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if metrics == nil {
		metrics = NewMetrics(nil)
	}
	var changes *Publisher
	if cfg.ChangesTopic != "" {
		var err error
		if changes, err = NewPublisher(PublisherConfig{Brokers: cfg.Brokers, Topic: cfg.ChangesTopic, TLS: cfg.TLS, SASL: cfg.SASL}); err != nil {
			return nil, err
		}
	}
	w := NewWriter(conn, cfg.Database, reg)
	return &Indexer{
		cfg: cfg, log: log, writer: w, metrics: metrics, changes: changes,
		charts: newRebuilder(w.store, w.chartRows, w.rebuildMax, log, metrics),
		reader: kafka.NewReader(kafka.ReaderConfig{
			Brokers: cfg.Brokers, Topic: cfg.Topic, GroupID: cfg.GroupID,
			StartOffset: kafka.FirstOffset, MinBytes: 1, MaxBytes: 16 << 20,
			MaxWait: 50 * time.Millisecond, CommitInterval: 0,
			SessionTimeout: cfg.SessionTimeout, RebalanceTimeout: cfg.SessionTimeout,
			HeartbeatInterval: cfg.SessionTimeout / 4,
			Dialer:            &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true, TLS: cfg.TLS, SASLMechanism: cfg.SASL},
		}),
		dead: newWriter(cfg.Brokers, cfg.DeadLetterTopic, cfg.TLS, cfg.SASL),
	}, nil
}

// newWriter acknowledges with every replica: kafka-go's default acknowledges
// nothing and loses messages across a broker restart. Its own transport keeps
// the process-wide one's stale topic metadata out of its way.
func newWriter(brokers []string, topic string, t *tls.Config, m sasl.Mechanism) *kafka.Writer {
	return &kafka.Writer{
		Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &kafka.Hash{}, Transport: &kafka.Transport{TLS: t, SASL: m},
		RequiredAcks: kafka.RequireAll, BatchTimeout: 5 * time.Millisecond, MaxAttempts: 5,
	}
}

// Close releases the Kafka clients.
func (ix *Indexer) Close() error {
	errs := []error{ix.reader.Close(), ix.dead.Close()}
	if ix.changes != nil {
		errs = append(errs, ix.changes.Close())
	}
	return errors.Join(errs...)
}

// Run indexes until ctx ends. A batch in hand when ctx ends is finished and
// committed; a failing batch is retried with backoff, never skipped.
func (ix *Indexer) Run(ctx context.Context) error {
	rctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ix.requeueMarked(rctx)
		ix.charts.run(rctx)
	}()
	defer func() {
		stop()
		<-done
	}()
	for {
		msgs, err := ix.fetch(ctx)
		if len(msgs) > 0 {
			if perr := ix.processWithRetry(ctx, msgs); perr != nil {
				return perr
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("fetching from %s: %w", ix.cfg.Topic, err)
		}
	}
}

// requeueMarked queues the rebuilds an earlier indexer left: their
// markers would otherwise stay until the patients' next writes, and searches
// of them read documents meanwhile. A failure only logs: the markers stay
// correct, just slower to search.
func (ix *Indexer) requeueMarked(ctx context.Context) {
	ps, err := ix.writer.store.markedCharts(ctx)
	if err != nil {
		if ctx.Err() == nil {
			ix.log.Warn("listing the charts left to rebuild; they stay marked until their patients' next writes", "err", err)
		}
		return
	}
	if len(ps) > 0 {
		ix.log.Info("rebuilding the charts an earlier run left marked", "patients", len(ps))
		ix.charts.add(ps)
	}
}

// fetch waits for one message, then gathers more for up to BatchWait.
func (ix *Indexer) fetch(ctx context.Context) ([]kafka.Message, error) {
	first, err := ix.reader.FetchMessage(ctx)
	if err != nil {
		return nil, err
	}
	msgs := []kafka.Message{first}
	deadline := time.Now().Add(ix.cfg.BatchWait)
	for len(msgs) < ix.cfg.BatchSize {
		fctx, cancel := context.WithDeadline(ctx, deadline)
		m, err := ix.reader.FetchMessage(fctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return msgs, ctx.Err()
			}
			break
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

func (ix *Indexer) processWithRetry(ctx context.Context, msgs []kafka.Message) error {
	b := ix.decode(msgs)
	backoff := ix.cfg.RetryBackoff
	for {
		// A batch in hand is finished even during shutdown; each attempt is
		// bounded on its own, so a long outage does not doom later ones.
		work, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
		err := ix.process(work, msgs, b)
		cancel()
		if err == nil {
			return nil
		}
		ix.metrics.batchErrors.Inc()
		ix.log.Error("indexing batch failed; retrying", "events", len(msgs), "err", err, "backoff", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return fmt.Errorf("stopping with an unwritten batch (it will be replayed): %w", err)
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

// batch is one fetched batch on its way through process: planned once, and
// retried from the step that failed, so a retry after the keys were written
// still publishes the plan's notifications.
type batch struct {
	start   time.Time
	changes []change
	dead    []rejected
	plan    *plan
	touched []int64 // the patients whose charts the plan changes
	done    int     // steps completed
	steps   *stepTimer
}

// decode reads a batch's messages; an undecodable one is dead-lettered.
func (ix *Indexer) decode(msgs []kafka.Message) *batch {
	b := &batch{start: time.Now(), steps: newStepTimer()}
	for i, m := range msgs {
		c, err := cdc.Decode(m.Key, m.Value)
		switch {
		case errors.Is(err, cdc.ErrTruncate):
			ix.log.Error("TRUNCATE of the documents table received: not applied; rebuild the index from PostgreSQL (docsearch backfill)",
				"topic", m.Topic, "partition", m.Partition, "offset", m.Offset)
			b.dead = append(b.dead, rejected{Index: i, Reason: err.Error()})
			continue
		case err != nil:
			b.dead = append(b.dead, rejected{Index: i, Reason: err.Error()})
			continue
		}
		ix.metrics.events.WithLabelValues(c.Kind.String()).Inc()
		if c.Kind == cdc.Tombstone {
			continue
		}
		b.changes = append(b.changes, change{Change: c, Index: i})
	}
	return b
}

// process runs a batch's remaining steps: plan, documents, keys and chart
// markers (before the notifications, so a subscriber's GetDocument and a
// search find what it is told about; the charts are rebuilt in the
// background),
// dead letters, notifications, and only then the offsets. A crash anywhere
// replays the batch: rows come out the same, and a replayed change equal to
// the stored version is notified again (at least once).
func (ix *Indexer) process(ctx context.Context, msgs []kafka.Message, b *batch) error {
	steps := []func() error{
		func() error {
			p, err := ix.writer.plan(ctx, b.changes, b.steps)
			if err != nil {
				return err
			}
			b.plan = &p
			b.touched = touched(p)
			b.dead = append(b.dead, p.rejected...)
			return nil
		},
		func() error { return ix.writer.writeDocs(ctx, *b.plan, b.steps) },
		func() error {
			err := ix.writer.store.writeKeys(ctx, *b.plan)
			b.steps.mark("keys-write")
			return err
		},
		func() error {
			err := ix.writer.store.markCharts(ctx, b.touched)
			b.steps.mark("charts")
			return err
		},
		func() error { return ix.deadLetter(ctx, msgs, b.dead) },
		func() error {
			err := ix.notify(ctx, b.plan.notes)
			b.steps.mark("kafka")
			return err
		},
		func() error {
			if err := ix.reader.CommitMessages(ctx, msgs...); err != nil {
				return fmt.Errorf("committing offsets: %w", err)
			}
			b.steps.mark("commit")
			return nil
		},
	}
	for ; b.done < len(steps); b.done++ {
		if err := steps[b.done](); err != nil {
			return err
		}
	}

	p := b.plan
	ix.charts.add(b.touched)
	now := time.Now()
	ix.metrics.rows.Add(float64(len(p.docs)))
	ix.metrics.stale.Add(float64(p.stale))
	ix.metrics.batchSeconds.Observe(now.Sub(b.start).Seconds())
	newest := map[int]time.Time{}
	for _, c := range b.changes {
		if c.CommitTime.IsZero() {
			continue
		}
		ix.metrics.lag.Observe(now.Sub(c.CommitTime).Seconds())
		if part := msgs[c.Index].Partition; c.CommitTime.After(newest[part]) {
			newest[part] = c.CommitTime
		}
	}
	for part, t := range newest {
		ix.metrics.fresh.WithLabelValues(strconv.Itoa(part)).Set(float64(t.UnixMilli()) / 1000)
	}
	ix.log.Debug("batch indexed", "events", len(msgs), "plan", p.String(), "took", now.Sub(b.start), "steps", b.steps.String())
	return nil
}

// Dead-letter headers.
const (
	HeaderReason    = "docsearch-reason"
	HeaderTopic     = "docsearch-source-topic"
	HeaderPartition = "docsearch-source-partition"
	HeaderOffset    = "docsearch-source-offset"
)

func (ix *Indexer) deadLetter(ctx context.Context, msgs []kafka.Message, dead []rejected) error {
	if len(dead) == 0 {
		return nil
	}
	out := make([]kafka.Message, 0, len(dead))
	for _, d := range dead {
		m := msgs[d.Index]
		out = append(out, kafka.Message{
			Key: m.Key, Value: m.Value,
			Headers: []kafka.Header{
				{Key: HeaderReason, Value: []byte(d.Reason)},
				{Key: HeaderTopic, Value: []byte(m.Topic)},
				{Key: HeaderPartition, Value: []byte(strconv.Itoa(m.Partition))},
				{Key: HeaderOffset, Value: []byte(strconv.FormatInt(m.Offset, 10))},
			},
		})
		ix.log.Warn("event dead-lettered", "reason", d.Reason, "partition", m.Partition, "offset", m.Offset)
	}
	if err := ix.dead.WriteMessages(ctx, out...); err != nil {
		return fmt.Errorf("writing %d dead letters: %w", len(out), err)
	}
	ix.metrics.deadLetters.Add(float64(len(out)))
	return nil
}

func (ix *Indexer) notify(ctx context.Context, notes []Notification) error {
	if ix.changes == nil {
		return nil
	}
	return ix.changes.Publish(ctx, notes)
}

// stepTimer records how long each step of a batch took, for the debug log.
type stepTimer struct {
	last  time.Time
	steps []string
}

func newStepTimer() *stepTimer { return &stepTimer{last: time.Now()} }

func (s *stepTimer) mark(name string) {
	now := time.Now()
	s.steps = append(s.steps, fmt.Sprintf("%s=%s", name, now.Sub(s.last).Round(100*time.Microsecond)))
	s.last = now
}

func (s *stepTimer) String() string { return strings.Join(s.steps, " ") }
