package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/docsearch/docsearch/loadtest/gen"
	"github.com/docsearch/docsearch/loadtest/harness"
	"github.com/docsearch/docsearch/loadtest/pgbase"
)

// benchConfig is what `bench` was asked to do.
type benchConfig struct {
	addr, pg     string
	client       grpcClient
	patients     int
	concurrency  int
	duration     time.Duration
	wait         time.Duration
	results      string
	kafka, topic string
	fresh        harness.FreshnessConfig
	freshNew     float64
}

func (c *benchConfig) parse(args []string) error {
	fs := newFlags("bench")
	var documents, patients, conc, dur, wait, rate, newFrac, probe string
	fs.str(&c.addr, "addr", "127.0.0.1:7070", "docsearch gRPC address (empty skips it)")
	c.client.register(fs)
	fs.str(&c.pg, "pg", "", "PostgreSQL holding the same data (docsearch gen --to-postgres); empty skips the baselines")
	fs.str(&documents, "documents", "100000", "documents the data set was generated with (sets the patient range)")
	fs.str(&patients, "patients", "", "patients the data set was generated with (default as docsearch gen)")
	fs.str(&conc, "concurrency", "8", "concurrent clients")
	fs.str(&dur, "duration", "10s", "per class and target")
	fs.str(&wait, "wait", "0s", "wait this long for docsearch to answer before starting")
	fs.str(&c.results, "results", "", "file the report is also appended to")
	fs.str(&rate, "freshness-rate", "0", "changes per second published while the classes run, timed until searchable (e.g. 50 or 50/s; 0: none)")
	fs.str(&newFrac, "freshness-new", "0.2", "share of those changes that create a document; the rest amend one")
	fs.str(&probe, "freshness-probe", "0", "share of the changes timed (0: about two a second; each timed change is searched for every 25 ms until seen)")
	fs.str(&c.kafka, "kafka", "127.0.0.1:9092", "Kafka bootstrap address the changes are produced to")
	fs.str(&c.topic, "source-topic", gen.DefaultTopic, "Debezium topic of the documents table")
	if err := fs.parse(args); err != nil {
		return err
	}
	docs, err := strconv.ParseInt(documents, 10, 64)
	if err != nil {
		return fmt.Errorf("--documents: %w", err)
	}
	c.patients = max(100, int(docs/200))
	if patients != "" {
		if c.patients, err = strconv.Atoi(patients); err != nil {
			return fmt.Errorf("--patients: %w", err)
		}
	}
	if c.concurrency, err = strconv.Atoi(conc); err != nil || c.concurrency < 1 {
		return fmt.Errorf("--concurrency %q: give a positive number", conc)
	}
	if c.duration, err = time.ParseDuration(dur); err != nil {
		return fmt.Errorf("--duration: %w", err)
	}
	if c.wait, err = time.ParseDuration(wait); err != nil {
		return fmt.Errorf("--wait: %w", err)
	}
	if c.fresh.Rate, err = strconv.ParseFloat(strings.TrimSuffix(rate, "/s"), 64); err != nil || c.fresh.Rate < 0 {
		return fmt.Errorf("--freshness-rate %q: give changes per second, such as 50", rate)
	}
	if c.freshNew, err = strconv.ParseFloat(newFrac, 64); err != nil {
		return fmt.Errorf("--freshness-new: %w", err)
	}
	if c.fresh.ProbeFraction, err = strconv.ParseFloat(probe, 64); err != nil {
		return fmt.Errorf("--freshness-probe: %w", err)
	}
	if c.fresh.Rate > 0 {
		if c.addr == "" {
			return errors.New("--freshness-rate needs docsearch (--addr)")
		}
		if err := c.fresh.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// runBench runs the baselines' query classes against docsearch and the
// PostgreSQL designs, one after the other, optionally under a steady stream
// of changes timed until docsearch's searches see them, and prints a table.
// It fails when any request failed or any change was lost.
func runBench(ctx context.Context, log *slog.Logger, args []string, stdout io.Writer) error {
	var cfg benchConfig
	if err := cfg.parse(args); err != nil {
		return err
	}
	out := stdout
	if cfg.results != "" {
		f, err := os.OpenFile(cfg.results, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("opening results file: %w", err)
		}
		defer f.Close()
		out = io.MultiWriter(stdout, f)
	}
	var dial []grpc.DialOption
	if cfg.addr != "" {
		var err error
		if dial, err = cfg.client.options(cfg.addr); err != nil {
			return err
		}
	}
	if cfg.addr != "" && cfg.wait > 0 {
		if err := waitDocsearch(ctx, log, cfg.addr, dial, cfg.wait); err != nil {
			return err
		}
	}
	dataCfg := gen.DefaultConfig()
	data := harness.Data{Patients: cfg.patients, Clinics: dataCfg.Clinics, Authors: dataCfg.Authors, End: dataCfg.End}
	classes := harness.Classes(data)

	var targets []harness.Target
	if cfg.addr != "" {
		targets = append(targets, harness.Docsearch{Addr: cfg.addr, Dial: dial})
	}
	if cfg.pg != "" {
		conn, err := pgx.Connect(ctx, cfg.pg)
		if err != nil {
			return fmt.Errorf("connecting to postgresql: %w", err)
		}
		for _, design := range []pgbase.Design{pgbase.JSONB, pgbase.EAV} {
			log.Info("preparing postgresql baseline (indexes, ANALYZE)", "design", design)
			t0 := time.Now()
			if err := pgbase.Prepare(ctx, conn, design); err != nil {
				conn.Close(ctx)
				return err
			}
			log.Info("prepared", "design", design, "took", time.Since(t0).Round(time.Millisecond))
			targets = append(targets, harness.Postgres{DSN: cfg.pg, Design: design, Types: harness.ClassTypes()})
		}
		conn.Close(ctx)
	}
	if len(targets) == 0 {
		return errors.New("nothing to benchmark: give --addr and/or --pg")
	}

	var run *harness.FreshnessRun
	stopFreshness := func() error { return nil }
	if cfg.fresh.Rate > 0 {
		stop, r, err := startFreshness(ctx, log, cfg, dial, data)
		if err != nil {
			return err
		}
		defer stop()
		run, stopFreshness = r, stop
	}

	fmt.Fprintf(out, "docsearch bench %s: %d patients, %d clients, %s per class and target, GOMAXPROCS %d, load %s\n",
		time.Now().Format(time.RFC3339), cfg.patients, cfg.concurrency, cfg.duration, runtime.GOMAXPROCS(0), loadAvg())
	if cfg.fresh.Rate > 0 {
		fmt.Fprintf(out, "freshness: %g changes/s (%.0f%% new documents) produced to %s, the whole run\n",
			cfg.fresh.Rate, 100*cfg.freshNew, cfg.topic)
	}
	// Fixed widths rather than a tabwriter: each row prints as soon as it is
	// measured.
	row := "%-46s  %-14s  %7s  %10s  %10s  %10s  %8s  %5s  %s\n"
	fmt.Fprintf(out, row, "CLASS", "TARGET", "REQ/S", "P50", "P95", "P99", "ROWS/REQ", "LOAD", "ERRORS")
	failed := 0
	for _, cl := range classes {
		for _, t := range targets {
			if run != nil {
				run.Label(freshnessLabel(t.Name(), cl.Name))
			}
			r, err := harness.Run(ctx, t, cl, cfg.concurrency, cfg.duration, 42)
			if err != nil {
				return err
			}
			failed += r.Errors
			rows := 0.0
			if r.Requests > 0 {
				rows = float64(r.Rows) / float64(r.Requests)
			}
			fmt.Fprintf(out, row, cl.Name, t.Name(), fmt.Sprintf("%.0f", r.PerSecond()), ms(r.P50), ms(r.P95), ms(r.P99),
				fmt.Sprintf("%.1f", rows), strings.Split(loadAvg(), "/")[0], fmt.Sprintf("%d %s", r.Errors, r.FirstError))
		}
	}
	var lost error
	if run != nil {
		f := run.Stop()
		printFreshness(out, f)
		if f.Total.Failed() {
			lost = fmt.Errorf("freshness: %d changes lost, %d publishes and %d checks failed (%s)",
				f.Total.Lost, f.Total.PublishErrors, f.Total.CheckErrors, f.Total.FirstError)
		}
		lost = errors.Join(lost, stopFreshness())
	}
	if failed > 0 {
		return errors.Join(fmt.Errorf("%d requests failed", failed), lost)
	}
	return lost
}

// freshnessLabel names the stretch a change was published in: the class
// docsearch ran, or PostgreSQL searched (docsearch only indexing), class and
// target separated by a NUL for printFreshness.
func freshnessLabel(target, class string) string {
	if target == "docsearch" {
		return class + "\x00docsearch"
	}
	return "any class\x00postgresql"
}

// startFreshness starts the update stream and its timing; stop releases
// what it opened, once, and returns the stream's failure to close (a
// mirror that could not be written).
func startFreshness(ctx context.Context, log *slog.Logger, cfg benchConfig, dial []grpc.DialOption, data harness.Data) (stop func() error, run *harness.FreshnessRun, err error) {
	var mirror *gen.PostgresSink
	if cfg.pg != "" {
		if mirror, err = gen.NewPostgresSink(ctx, cfg.pg); err != nil {
			return nil, nil, err
		}
	}
	closeMirror := func() {
		if mirror != nil {
			_ = mirror.Close(context.WithoutCancel(ctx))
		}
	}
	ucfg := harness.UpdateStreamConfig{Addr: cfg.addr, Dial: dial, Brokers: strings.Split(cfg.kafka, ","), Topic: cfg.topic,
		Data: data, NewFraction: cfg.freshNew, Seed: 7}
	if mirror != nil {
		ucfg.Mirror = mirror // a typed nil in the interface would not be nil
	}
	stream, err := harness.NewUpdateStream(ctx, ucfg)
	if err != nil {
		closeMirror()
		return nil, nil, err
	}
	chk, err := harness.NewSearchChecker(cfg.addr, dial...)
	if err != nil {
		stream.Close(ctx)
		closeMirror()
		return nil, nil, err
	}
	log.Info("update stream ready", "documents", stream.Pool(), "rate", cfg.fresh.Rate, "mirror", mirror != nil)
	run, err = harness.StartFreshness(ctx, cfg.fresh, stream, chk)
	if err != nil {
		chk.Close()
		stream.Close(ctx)
		closeMirror()
		return nil, nil, err
	}
	return sync.OnceValue(func() error {
		run.Stop() // a no-op unless runBench returned early
		chk.Close()
		err := stream.Close(context.WithoutCancel(ctx))
		closeMirror()
		return err
	}), run, nil
}

func printFreshness(out io.Writer, f harness.Freshness) {
	row := "%-46s  %-14s  %9s  %6s  %5s  %10s  %10s  %10s  %10s  %4s  %s\n"
	fmt.Fprintf(out, "\nFreshness: from Kafka's acknowledgement to found by a patient search, by what ran meanwhile\n")
	fmt.Fprintf(out, row, "WHILE", "SEARCHING", "CHANGES/S", "MISSED", "TIMED", "P50", "P95", "P99", "MAX", "LOST", "ERRORS")
	total := f.Total
	total.Label = "whole run"
	for _, r := range append(f.ByLabel, total) {
		while, target, _ := strings.Cut(r.Label, "\x00")
		if r.Label == "" {
			while = "before the first class"
		}
		fmt.Fprintf(out, row, while, target, fmt.Sprintf("%.1f", r.PerSecond()), strconv.Itoa(r.Missed), strconv.Itoa(r.Visible),
			ms(r.Quantile(0.5)), ms(r.Quantile(0.95)), ms(r.Quantile(0.99)), ms(r.Max()), strconv.Itoa(r.Lost),
			fmt.Sprintf("%d %s", r.PublishErrors+r.CheckErrors, r.FirstError))
	}
	fmt.Fprintf(out, "publishing a change (to Kafka's acknowledgement): p50 %s, p99 %s, max %s\n",
		ms(quantile(total.Publishing, 0.5)), ms(quantile(total.Publishing, 0.99)), ms(quantile(total.Publishing, 1)))
}

// quantile is the q-quantile of ascending durations; zero when there are none.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[max(0, int(math.Ceil(q*float64(len(sorted))))-1)]
}

// waitDocsearch waits up to timeout for the gRPC health service at addr to
// say SERVING (the stack of `make bench` starts beside the data load).
func waitDocsearch(ctx context.Context, log *slog.Logger, addr string, dial []grpc.DialOption, timeout time.Duration) error {
	conn, err := grpc.NewClient(addr, dial...)
	if err != nil {
		return fmt.Errorf("connecting to docsearch: %w", err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	deadline := time.Now().Add(timeout)
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		resp, err := hc.Check(cctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.Status == healthpb.HealthCheckResponse_SERVING {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("status %s", resp.Status)
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("docsearch at %s not serving after %s: %w", addr, timeout, err)
		}
		log.Info("waiting for docsearch", "addr", addr, "err", err)
		time.Sleep(time.Second)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// loadAvg is the machine's 1-, 5- and 15-minute load averages, "?" where
// /proc is missing.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return f[0] + "/" + f[1] + "/" + f[2]
}
