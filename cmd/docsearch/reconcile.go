package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/docsearch/docsearch/index/reconcile"
)

func runReconcile(ctx context.Context, log *slog.Logger, args []string, out io.Writer) error {
	fs := newFlags("reconcile")
	var src sourceFlags
	src.register(fs)
	var buckets, output, every, sampleFrac, metricsAddr string
	var repair bool
	fs.str(&buckets, "buckets", "64", "patient buckets per year compared as one range")
	fs.str(&every, "every", "", "run continuously, comparing every this long (e.g. 10m); empty runs once")
	fs.str(&sampleFrac, "sample", "1", "fraction of patient buckets compared per run, chosen at random each time (continuous mode)")
	fs.str(&metricsAddr, "reconcile-metrics", "127.0.0.1:9465", "continuous mode: where drift metrics are served (/metrics)")
	fs.str(&output, "output", "table", "report format: table or json")
	fs.boolean(&repair, "repair", false, "re-index the differing documents from PostgreSQL, then compare again")
	if err := fs.parse(args); err != nil {
		return err
	}
	if output != "table" && output != "json" {
		return fmt.Errorf("--output must be table or json, not %q", output)
	}
	opts := reconcile.Options{Database: src.clickhouse.database}
	var err error
	if opts.Buckets, err = strconv.Atoi(buckets); err != nil {
		return fmt.Errorf("--buckets: %w", err)
	}
	if err := opts.Validate(); err != nil {
		return err
	}
	st, err := src.open(ctx, log)
	if err != nil {
		return err
	}
	defer st.close()
	if every != "" {
		period, err := time.ParseDuration(every)
		if err != nil || period <= 0 {
			return fmt.Errorf("--every %q: give a positive duration such as 10m", every)
		}
		frac, err := strconv.ParseFloat(sampleFrac, 64)
		if err != nil || frac <= 0 || frac > 1 {
			return fmt.Errorf("--sample %q: give a fraction in (0, 1]", sampleFrac)
		}
		return reconcileContinuously(ctx, log, st, opts, period, frac, repair, metricsAddr)
	}
	rep, err := reconcile.Compare(ctx, log, st.pg, st.ch, opts)
	if err != nil {
		return err
	}
	result := struct {
		Report   reconcile.Report  `json:"report"`
		Repaired int               `json:"repaired,omitempty"`
		After    *reconcile.Report `json:"after_repair,omitempty"`
	}{Report: rep}
	final := rep
	if repair && !rep.Clean() {
		res, err := reconcile.Repair(ctx, log, st.pg, st.ch, st.writer, opts, rep)
		if err != nil {
			return err
		}
		result.Repaired = res.Applied
		after, err := reconcile.Compare(ctx, log, st.pg, st.ch, opts)
		if err != nil {
			return err
		}
		result.After, final = &after, after
	}
	if output == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(result); err != nil {
			return err
		}
	} else {
		writeReport(out, "", rep)
		if result.After != nil {
			fmt.Fprintf(out, "\nrepaired: %d changes applied\n", result.Repaired)
			writeReport(out, "after repair: ", *result.After)
		}
	}
	if !final.Clean() {
		// Non-zero exit so cron and monitoring can alert.
		return fmt.Errorf("%d documents differ", final.Differences())
	}
	return nil
}

func writeReport(out io.Writer, prefix string, r reconcile.Report) {
	fmt.Fprintf(out, "%spostgresql %d documents, index %d (+%d newer than snapshot lsn %d), %d ranges, %d mismatched, %s\n",
		prefix, r.PostgresRows, r.IndexedRows, r.Newer, r.SnapshotLSN, r.Ranges, len(r.Mismatched), r.Elapsed.Round(1e6))
	if len(r.Mismatched) > 0 {
		tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "YEAR\tBUCKET\tPG COUNT\tCH COUNT\tPG CHECKSUM\tCH CHECKSUM")
		for _, m := range r.Mismatched {
			fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%016x\t%016x\n", m.Year, m.Bucket, m.Postgres.Count, m.ClickHouse.Count, m.Postgres.Sum, m.ClickHouse.Sum)
		}
		tw.Flush()
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	for _, k := range []struct {
		kind string
		ids  []string
	}{{"missing", r.Missing}, {"extra", r.Extra}, {"stale", r.Stale}} {
		for _, id := range k.ids {
			fmt.Fprintf(tw, "%s\t%s\n", k.kind, id)
		}
	}
	tw.Flush()
	fmt.Fprintf(out, "%sdifferences: %d missing, %d extra, %d stale\n", prefix, len(r.Missing), len(r.Extra), len(r.Stale))
}

// reconcileContinuously compares a random sample of patient buckets every
// period, repairs if asked, and serves drift metrics; a failed run is logged
// and counted, and the next one tries again.
func reconcileContinuously(ctx context.Context, log *slog.Logger, st *stores, opts reconcile.Options, period time.Duration,
	frac float64, repair bool, metricsAddr string) error {
	reg := prometheus.NewRegistry()
	m := reconcile.NewMetrics(reg)
	lis, err := net.Listen("tcp", metricsAddr)
	if err != nil {
		return fmt.Errorf("reconcile metrics address %s is not free: %w", metricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(lis) //nolint:errcheck // closed below
	defer srv.Close()
	log.Info("reconciling continuously", "every", period, "sample", frac, "metrics", "http://"+lis.Addr().String()+"/metrics")
	n := opts.Buckets
	if n == 0 {
		n = 64
	}
	for {
		run := opts
		if frac < 1 {
			k := max(1, int(float64(n)*frac))
			for _, b := range rand.Perm(n)[:k] {
				run.Only = append(run.Only, int64(b))
			}
		}
		var rep reconcile.Report
		err := st.reconnectPG(ctx)
		if err == nil {
			rep, err = reconcile.Compare(ctx, log, st.pg, st.ch, run)
		}
		if err == nil && repair && !rep.Clean() {
			if _, err = reconcile.Repair(ctx, log, st.pg, st.ch, st.writer, run, rep); err == nil {
				rep, err = reconcile.Compare(ctx, log, st.pg, st.ch, run)
			}
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			m.Failed()
			log.Error("reconcile run failed", "err", err)
		default:
			m.Record(rep, time.Now())
			log.Info("reconciled", "ranges", rep.Ranges, "missing", len(rep.Missing), "extra", len(rep.Extra), "stale", len(rep.Stale), "took", rep.Elapsed)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(period):
		}
	}
}
