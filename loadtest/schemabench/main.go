package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/docsearch/docsearch/loadtest/stack"
)

func main() {
	if err := mainErr(); err != nil {
		fmt.Fprintln(os.Stderr, "schemabench:", err)
		os.Exit(1)
	}
}

func mainErr() error {
	home, _ := os.UserHomeDir()
	var (
		addr     = flag.String("addr", "", "native address of a running ClickHouse; empty with -start starts one")
		start    = flag.Bool("start", false, "start an embedded ClickHouse (chembed + libchdb) for the run")
		dataDir  = flag.String("data", "/tmp/schemabench/data", "data directory of the started server")
		chembed  = flag.String("chembed", ".bin/chembed", "chembed launcher (make build)")
		lib      = flag.String("lib", filepath.Join(home, ".cache/docsearch/libchdb/26.7.3-stable.1/libchdb.so"), "libchdb.so")
		memLimit = flag.Int64("mem", 8e9, "max_server_memory_usage of the started server, bytes")
		db       = flag.String("db", "schemabench", "database to create the tables in")
		docs     = flag.Int64("docs", 20_000_000, "documents to generate (-gen)")
		from     = flag.Int64("from", 0, "with -gen year: append rows [from, docs) to the existing table instead of recreating it")
		chunk    = flag.Int64("chunk", 10_000_000, "rows per INSERT ... SELECT")
		gen      = flag.String("gen", "", "comma-separated variants to create and fill (year is generated, the others copied from it): "+strings.Join(variantNames(), ","))
		optimize = flag.String("optimize", "", "comma-separated variants to OPTIMIZE ... FINAL")
		runs     = flag.String("bench", "", "comma-separated variant:class[:pred] runs, class q1|q1all|q2|q4, pred json|jsonscalar|map|typed (default: the variant's storage)")
		clients  = flag.Int("clients", 8, "concurrent clients")
		dur      = flag.Duration("dur", 10*time.Second, "measured duration of each run")
		warm     = flag.Duration("warm", 2*time.Second, "unmeasured warm-up of each run")
		stopM    = flag.Bool("stop-merges", false, "stop merges on the tables -gen creates (to measure them unmerged); -optimize starts them again")
		sizes    = flag.Bool("sizes", false, "print parts, rows and bytes on disk per variant")
		drop     = flag.Bool("drop", false, "drop the database at the end")
		sqlPats  = flag.Int("patients", 5000, "with -sql: {p:Int64} is drawn from 1..patients with the generator's skew")
		sqls     stringList
	)
	flag.Var(&sqls, "sql", "a statement to measure as it is, repeatable, in turn (e.g. against docsearch's own database: -addr, -db docsearch); {p:Int64} is a patient")
	flag.Parse()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	if *start {
		cfgFile := filepath.Join(filepath.Dir(*dataDir), "schemabench-config.xml")
		if err := os.MkdirAll(filepath.Dir(cfgFile), 0o755); err != nil {
			return err
		}
		xml := fmt.Sprintf("<clickhouse><max_server_memory_usage>%d</max_server_memory_usage></clickhouse>\n", *memLimit)
		if err := os.WriteFile(cfgFile, []byte(xml), 0o644); err != nil {
			return err
		}
		ch, err := stack.StartClickHouse(ctx, log, stack.ClickHouseConfig{Binary: *chembed, Lib: *lib, DataDir: *dataDir, ConfigFile: cfgFile})
		if err != nil {
			return err
		}
		defer ch.Stop()
		*addr = ch.Addr
	}
	if *addr == "" {
		return fmt.Errorf("no server: pass -addr or -start")
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:         []string{*addr},
		MaxOpenConns: *clients + 2, MaxIdleConns: *clients + 2,
		DialTimeout: 10 * time.Second, ReadTimeout: 30 * time.Minute,
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+*db); err != nil {
		return err
	}

	for _, name := range split(*gen) {
		v, ok := variants[name]
		if !ok {
			return fmt.Errorf("unknown variant %q", name)
		}
		if err := fill(ctx, log, conn, *db, v, *from, *docs, *chunk, *stopM); err != nil {
			return err
		}
	}
	for _, name := range split(*optimize) {
		t := time.Now()
		if err := conn.Exec(ctx, "SYSTEM START MERGES "+*db+"."+variants[name].Name); err != nil {
			return err
		}
		if err := conn.Exec(ctx, "OPTIMIZE TABLE "+*db+"."+variants[name].Name+" FINAL"); err != nil {
			return err
		}
		log.Info("optimized", "table", variants[name].Name, "took", time.Since(t).Round(time.Second))
	}
	if *sizes {
		if err := printSizes(ctx, conn, *db); err != nil {
			return err
		}
	}
	for _, q := range sqls {
		s := &searcher{conn: conn, sql: q, sqlPatients: *sqlPats}
		if *warm > 0 {
			load(ctx, s, *clients, *warm, 7)
		}
		res := load(ctx, s, *clients, *dur, 1)
		if res.FirstErr != nil {
			return fmt.Errorf("-sql %q: %w", q, res.FirstErr)
		}
		fmt.Printf("| %.1f req/s | p50 %s | p99 %s | %.0f rows | %s |\n", res.rate(), ms(res.P50), ms(res.P99),
			float64(res.Rows)/float64(max(res.N, 1)), q)
	}
	if *runs != "" {
		fmt.Printf("\n| table | class | parts | req/s | p50 | p99 | max | rows/search | errors |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	}
	periods := map[string]map[int64][]period{}
	for _, spec := range split(*runs) {
		f := strings.Split(spec, ":")
		v, ok := variants[f[0]]
		if !ok || len(f) < 2 {
			return fmt.Errorf("bad run %q", spec)
		}
		r := run{Variant: v, Class: f[1], Pred: v.Attrs}
		if len(f) > 2 {
			r.Pred = f[2]
		}
		s := &searcher{conn: conn, db: *db, r: r}
		if r.Class == "q1" || r.Class == "q2" {
			if periods[v.Name] == nil {
				if periods[v.Name], err = loadPeriods(ctx, conn, *db, v.Name); err != nil {
					return err
				}
			}
			s.periods = periods[v.Name]
		}
		var parts uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.parts WHERE active AND database = ? AND table = ?", *db, v.Name).Scan(&parts); err != nil {
			return err
		}
		if *warm > 0 {
			load(ctx, s, *clients, *warm, 7)
		}
		res := load(ctx, s, *clients, *dur, 1)
		if res.FirstErr != nil {
			log.Warn("errors", "run", r.String(), "n", res.Errors, "first", res.FirstErr)
		}
		perSearch := 0.0
		if res.N > 0 {
			perSearch = float64(res.Rows) / float64(res.N)
		}
		fmt.Printf("| %s | %s | %d | %.1f | %s | %s | %s | %.0f | %d |\n", v.Name, classLabel(r), parts, res.rate(),
			ms(res.P50), ms(res.P99), ms(res.Max), perSearch, res.Errors)
	}
	if *drop {
		return conn.Exec(ctx, "DROP DATABASE IF EXISTS "+*db+" SYNC")
	}
	return nil
}

func classLabel(r run) string {
	if r.Class == "q2" || r.Class == "q4" {
		return r.Class + " " + r.Pred
	}
	return r.Class
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func split(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func variantNames() []string {
	return []string{"year", "quarter", "month", "g256", "g8192", "map", "typed"}
}

var heavy = clickhouse.Settings{"max_threads": 2, "max_insert_threads": 2, "max_memory_usage": 6_000_000_000, "max_partitions_per_insert_block": 0,
	"min_insert_block_size_rows": 4_000_000, "min_insert_block_size_bytes": 4 << 30}

// fill creates variant v and fills it with docs rows: generated for "year",
// copied from docs_year for the others, so every variant holds the same data.
func fill(ctx context.Context, log *slog.Logger, conn driver.Conn, db string, v variant, first, docs, chunk int64, stopMerges bool) error {
	if first > 0 && v.Name == variants["year"].Name {
		return generate(ctx, log, conn, db, v, first, docs, chunk)
	}
	if err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+db+"."+v.Name+" SYNC"); err != nil {
		return err
	}
	if err := conn.Exec(ctx, v.ddl(db)); err != nil {
		return fmt.Errorf("creating %s: %w", v.Name, err)
	}
	if stopMerges {
		if err := conn.Exec(ctx, "SYSTEM STOP MERGES "+db+"."+v.Name); err != nil {
			return err
		}
	}
	if v.Name == variants["year"].Name {
		return generate(ctx, log, conn, db, v, 0, docs, chunk)
	}
	ctx = clickhouse.Context(ctx, clickhouse.WithSettings(heavy))
	t := time.Now()
	if err := conn.Exec(ctx, copyInsert(db, v, variants["year"].Name)); err != nil {
		return fmt.Errorf("copying into %s: %w", v.Name, err)
	}
	log.Info("copied", "table", v.Name, "took", time.Since(t).Round(time.Second))
	return nil
}

// printSizes prints, per table: active parts, rows, bytes on disk, bytes per
// document, and the attribute columns' compressed bytes per document.
func printSizes(ctx context.Context, conn driver.Conn, db string) error {
	rows, err := conn.Query(ctx, `SELECT p.table, p.parts, p.rows, p.bytes, c.attr
FROM (SELECT table, count() AS parts, sum(rows) AS rows, sum(bytes_on_disk) AS bytes
      FROM system.parts WHERE active AND database = ? GROUP BY table) AS p
LEFT JOIN (SELECT table, sum(column_bytes_on_disk) AS attr FROM system.parts_columns
      WHERE active AND database = ? AND column IN ('attributes', 'icd10', 'bp_systolic', 'smoker') GROUP BY table) AS c
ON p.table = c.table ORDER BY p.table`, db, db)
	if err != nil {
		return err
	}
	defer rows.Close()
	fmt.Printf("\n| table | parts | rows | bytes on disk | bytes/doc | attribute bytes/doc |\n| --- | --- | --- | --- | --- | --- |\n")
	for rows.Next() {
		var table string
		var parts, n, bytes, attr uint64
		if err := rows.Scan(&table, &parts, &n, &bytes, &attr); err != nil {
			return err
		}
		fmt.Printf("| %s | %d | %d | %.2f GB | %.1f | %.1f |\n", table, parts, n, float64(bytes)/1e9,
			float64(bytes)/float64(max(n, 1)), float64(attr)/float64(max(n, 1)))
	}
	return rows.Err()
}

// generate inserts generated rows [first, docs) into v in chunks.
func generate(ctx context.Context, log *slog.Logger, conn driver.Conn, db string, v variant, first, docs, chunk int64) error {
	ctx = clickhouse.Context(ctx, clickhouse.WithSettings(heavy))
	t := time.Now()
	for from := first; from < docs; from += chunk {
		if err := conn.Exec(ctx, genInsert(db, v, from, min(chunk, docs-from))); err != nil {
			return fmt.Errorf("generating %s: %w", v.Name, err)
		}
		log.Info("generated", "table", v.Name, "rows", min(from+chunk, docs), "took", time.Since(t).Round(time.Second))
	}
	return nil
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, "; ") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }
