package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/docsearch/docsearch/loadtest/gen"
	"github.com/docsearch/docsearch/loadtest/harness"
	"github.com/docsearch/docsearch/loadtest/pgbase"
)

// runBench runs the baselines' query classes against docsearch and the
// PostgreSQL designs, one after the other, and prints a table.
func runBench(ctx context.Context, log *slog.Logger, args []string, out io.Writer) error {
	fs := newFlags("bench")
	var addr, pgDSN, documents, patients, conc, dur string
	fs.str(&addr, "addr", "127.0.0.1:7070", "docsearch gRPC address (empty skips it)")
	fs.str(&pgDSN, "pg", "", "PostgreSQL holding the same data (docsearch gen --to-postgres); empty skips the baselines")
	fs.str(&documents, "documents", "100000", "documents the data set was generated with (sets the patient range)")
	fs.str(&patients, "patients", "", "patients the data set was generated with (default as docsearch gen)")
	fs.str(&conc, "concurrency", "8", "concurrent clients")
	fs.str(&dur, "duration", "10s", "per class and target")
	if err := fs.Parse(args); err != nil {
		return err
	}
	docs, err := strconv.ParseInt(documents, 10, 64)
	if err != nil {
		return fmt.Errorf("--documents: %w", err)
	}
	np := max(100, int(docs/200))
	if patients != "" {
		if np, err = strconv.Atoi(patients); err != nil {
			return fmt.Errorf("--patients: %w", err)
		}
	}
	c, err := strconv.Atoi(conc)
	if err != nil {
		return fmt.Errorf("--concurrency: %w", err)
	}
	d, err := time.ParseDuration(dur)
	if err != nil {
		return fmt.Errorf("--duration: %w", err)
	}
	cfg := gen.DefaultConfig()
	classes := harness.Classes(harness.Data{Patients: np, Clinics: cfg.Clinics, Authors: cfg.Authors, End: cfg.End})

	var targets []harness.Target
	if addr != "" {
		targets = append(targets, harness.Docsearch{Addr: addr})
	}
	if pgDSN != "" {
		conn, err := pgx.Connect(ctx, pgDSN)
		if err != nil {
			return fmt.Errorf("connecting to postgresql: %w", err)
		}
		for _, design := range []pgbase.Design{pgbase.JSONB, pgbase.EAV} {
			log.Info("preparing postgresql baseline (indexes, ANALYZE)", "design", design)
			if err := pgbase.Prepare(ctx, conn, design); err != nil {
				conn.Close(ctx)
				return err
			}
			targets = append(targets, harness.Postgres{DSN: pgDSN, Design: design, Types: harness.ClassTypes()})
		}
		conn.Close(ctx)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "CLASS\tTARGET\tREQ/S\tP50\tP95\tP99\tROWS/REQ\tERRORS\n")
	for _, cl := range classes {
		for _, t := range targets {
			r, err := harness.Run(ctx, t, cl, c, d, 42)
			if err != nil {
				return err
			}
			rows := 0.0
			if r.Requests > 0 {
				rows = float64(r.Rows) / float64(r.Requests)
			}
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%s\t%.1f\t%d %s\n", cl.Name, t.Name(), r.PerSecond(),
				ms(r.P50), ms(r.P95), ms(r.P99), rows, r.Errors, r.FirstError)
			tw.Flush()
		}
	}
	return tw.Flush()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
