package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5"

	"github.com/docsearch/docsearch/index"
	"github.com/docsearch/docsearch/index/backfill"
	"github.com/docsearch/docsearch/schema"
	"github.com/docsearch/docsearch/schema/registry"
)

// sourceFlags are the stores backfill and reconcile read and write.
type sourceFlags struct {
	pg         string
	clickhouse clickhouseConfig
	changes    changesFlags
}

func (s *sourceFlags) register(fs flags) {
	fs.str(&s.pg, "pg", "", "PostgreSQL DSN of the database holding the documents table")
	fs.str(&s.clickhouse.addr, "clickhouse", "127.0.0.1:9000", "ClickHouse native protocol address")
	fs.str(&s.clickhouse.database, "clickhouse-database", "docsearch", "ClickHouse database of docsearch's tables")
	fs.str(&s.clickhouse.user, "clickhouse-user", "default", "ClickHouse user")
	fs.str(&s.clickhouse.password, "clickhouse-password", "", "ClickHouse password")
	s.clickhouse.tls.register(fs, "clickhouse", "ClickHouse")
	s.clickhouse.registerLayout(fs)
	s.changes.register(fs)
}

// changesFlags say where backfill and repair announce what they write; the
// service's patient cache is invalidated by these notifications.
type changesFlags struct {
	kafka, topic string
	security     kafkaSecurity
}

func (c *changesFlags) register(fs flags) {
	fs.str(&c.kafka, "kafka", "", "Kafka bootstrap address(es), comma-separated: announce every document written on --changes-topic, as the indexer does (empty: announce nothing)")
	fs.str(&c.topic, "changes-topic", "docsearch.changes", "topic of change notifications")
	c.security.register(fs)
}

// publisher is nil when --kafka is empty.
func (c changesFlags) publisher() (*index.Publisher, error) {
	var brokers []string
	for _, b := range strings.Split(c.kafka, ",") {
		if b = strings.TrimSpace(b); b != "" {
			brokers = append(brokers, b)
		}
	}
	if len(brokers) == 0 {
		return nil, nil
	}
	t, m, err := c.security.build()
	if err != nil {
		return nil, err
	}
	return index.NewPublisher(index.PublisherConfig{Brokers: brokers, Topic: c.topic, TLS: t, SASL: m})
}

// stores are the open connections and the writer that applies with the
// indexer's rules (and, with --kafka, announces what it applied).
type stores struct {
	pgDSN     string
	pg        *pgx.Conn
	ch        driver.Conn
	publisher *index.Publisher // nil without --kafka
	writer    backfill.Applier
	index     *index.Writer // the writer under writer
}

func (s *stores) close() {
	if s.pg != nil {
		_ = s.pg.Close(context.Background())
	}
	if s.ch != nil {
		_ = s.ch.Close()
	}
	if s.publisher != nil {
		_ = s.publisher.Close()
	}
}

func (s sourceFlags) open(ctx context.Context, log *slog.Logger) (*stores, error) {
	if s.pg == "" {
		return nil, errors.New("--pg is required")
	}
	schemaOpts, err := s.clickhouse.schemaOptions()
	if err != nil {
		return nil, err
	}
	pub, err := s.changes.publisher()
	if err != nil {
		return nil, err
	}
	if pub != nil {
		// Refused before anything is written: a repair the compare no
		// longer finds would never be announced.
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := pub.Check(cctx)
		cancel()
		if err != nil {
			_ = pub.Close()
			return nil, err
		}
	}
	ch, err := s.clickhouse.open(s.clickhouse.addr)
	if err != nil {
		if pub != nil {
			_ = pub.Close()
		}
		return nil, err
	}
	st := &stores{ch: ch, pgDSN: s.pg, publisher: pub}
	if err := waitClickHouse(ctx, log, ch, s.clickhouse.addr, 30*time.Second); err != nil {
		st.close()
		return nil, err
	}
	if err := schema.Apply(ctx, log, ch, schemaOpts); err != nil {
		st.close()
		return nil, err
	}
	reg := registry.New(ch, s.clickhouse.database, log)
	if err := reg.Load(ctx); err != nil {
		st.close()
		return nil, err
	}
	w := index.NewWriter(ch, s.clickhouse.database, reg)
	st.writer, st.index = w, w
	if pub != nil {
		st.writer = &index.NotifyingWriter{Writer: w, Publisher: pub}
	}
	if st.pg, err = pgx.Connect(ctx, s.pg); err != nil {
		st.close()
		return nil, fmt.Errorf("connecting to postgresql: %w", err)
	}
	return st, nil
}

// reconnectPG replaces a PostgreSQL connection that was lost (a restart, a
// failover), so a long-running command recovers without a restart.
func (s *stores) reconnectPG(ctx context.Context) error {
	if s.pg != nil && !s.pg.IsClosed() {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := s.pg.Ping(pctx)
		cancel()
		if err == nil {
			return nil
		}
		_ = s.pg.Close(ctx)
	}
	pg, err := pgx.Connect(ctx, s.pgDSN)
	if err != nil {
		return fmt.Errorf("reconnecting to postgresql: %w", err)
	}
	s.pg = pg
	return nil
}

func runBackfill(ctx context.Context, log *slog.Logger, args []string, out io.Writer) error {
	fs := newFlags("backfill")
	var src sourceFlags
	src.register(fs)
	var run, batch, snapshotRows, settle string
	var restart, compactAfter bool
	fs.str(&run, "run", "backfill", "run id whose progress is recorded; an interrupted run continues where it stopped")
	fs.str(&batch, "batch", "10000", "rows read and applied at a time")
	fs.str(&snapshotRows, "snapshot-rows", "0", "start a new snapshot after this many rows (0: one snapshot), so vacuum is not held back for hours")
	fs.str(&settle, "settle", "5s", "wait before the pass that repairs rows raced by the live indexer (negative: skip)")
	fs.boolean(&restart, "restart", false, "start the run over, even if it is done")
	fs.boolean(&compactAfter, "compact", true, "once done, merge each partition of the searched tables into one part: searches read every part under FINAL (docs/schema.md)")
	if err := fs.parse(args); err != nil {
		return err
	}
	schemaOpts, err := src.clickhouse.schemaOptions()
	if err != nil {
		return err
	}
	opts := backfill.Options{Database: src.clickhouse.database, RunID: run, Restart: restart}
	if _, err = fmt.Sscan(batch, &opts.BatchSize); err != nil {
		return fmt.Errorf("--batch: %w", err)
	}
	if _, err = fmt.Sscan(snapshotRows, &opts.SnapshotRows); err != nil {
		return fmt.Errorf("--snapshot-rows: %w", err)
	}
	if opts.Settle, err = time.ParseDuration(settle); err != nil {
		return fmt.Errorf("--settle: %w", err)
	}
	if err := opts.Validate(); err != nil {
		return err
	}
	st, err := src.open(ctx, log)
	if err != nil {
		return err
	}
	defer st.close()
	var last time.Time
	opts.Progress = func(p backfill.Progress) {
		if time.Since(last) < time.Second {
			return
		}
		last = time.Now()
		printProgress(os.Stderr, p)
	}
	// A patient's rows arrive in many batches: each marks the patient's
	// chart unknown, and the charts are built once at the end.
	st.index.WithChartRows(0)
	p, err := backfill.Run(ctx, log, st.pg, st.ch, st.writer, opts)
	printProgress(os.Stderr, p)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "backfill %s done: %d rows (%d applied, %d already newer), %d repaired after races, snapshots %v\n",
		p.RunID, p.Rows, p.Applied, p.Stale, p.Repaired, p.Snapshots)
	compact := func() error {
		if !compactAfter {
			return nil
		}
		start := time.Now()
		c, err := schema.Compact(ctx, log, st.ch, schemaOpts)
		if err != nil {
			return fmt.Errorf("the backfill is done, but merging its parts failed (searches work, slower; run it again with --compact): %w", err)
		}
		fmt.Fprintf(out, "compacted %d partitions (%d parts) into one part each in %s\n", c.Partitions, c.Parts, time.Since(start).Round(time.Second))
		return nil
	}
	if err := compact(); err != nil {
		return err
	}
	start := time.Now()
	n, err := index.BuildCharts(ctx, st.ch, src.clickhouse.database, index.DefaultChartRows)
	if err != nil {
		return fmt.Errorf("the backfill is done, but building the patients' charts failed (searches work, slower; run the backfill again): %w", err)
	}
	fmt.Fprintf(out, "built the charts of %d patients in %s\n", n, time.Since(start).Round(time.Second))
	if err := compact(); err != nil { // the charts' parts
		return err
	}
	for _, rj := range p.Rejected {
		fmt.Fprintf(out, "rejected %s: %s\n", rj.ID, rj.Reason)
	}
	if len(p.Rejected) > 0 {
		// Non-zero exit: these documents are not in the index.
		return fmt.Errorf("%d rows could not be indexed (listed above); fix them in PostgreSQL, then run docsearch reconcile --repair", len(p.Rejected))
	}
	return nil
}

func printProgress(w io.Writer, p backfill.Progress) {
	pct := ""
	if p.Estimated > 0 {
		pct = fmt.Sprintf(" (~%.0f%% of ~%d)", 100*float64(p.Rows)/float64(p.Estimated), p.Estimated)
	}
	eta := "?"
	if d := p.ETA(); d > 0 {
		eta = d.Round(time.Second).String()
	}
	fmt.Fprintf(w, "backfill %s: %d rows%s, %.0f rows/s, ETA %s, last id %s\n", p.RunID, p.Rows, pct, p.Rate(), eta, p.LastID)
}
