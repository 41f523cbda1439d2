package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"text/tabwriter"

	"github.com/docsearch/docsearch/index/reconcile"
)

func runReconcile(ctx context.Context, log *slog.Logger, args []string, out io.Writer) error {
	fs := newFlags("reconcile")
	var src sourceFlags
	src.register(fs)
	var buckets, output string
	var repair bool
	fs.str(&buckets, "buckets", "64", "patient buckets per year compared as one range")
	fs.str(&output, "output", "table", "report format: table or json")
	fs.BoolVar(&repair, "repair", false, "re-index the differing documents from PostgreSQL, then compare again")
	if err := fs.Parse(args); err != nil {
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
