package schema

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// compactTables are the tables searches read under FINAL: each part of a
// partition they read costs every query that touches it.
var compactTables = []string{"documents", "documents_by_author_v2", "documents_by_org", "patient_periods", "document_keys", "patient_charts"}

// Compacted says what Compact merged.
type Compacted struct {
	// Partitions merged into one part, over every table and server.
	Partitions int
	// Parts is how many parts they were before.
	Parts int
}

// Compact merges every partition of the searched tables that holds more than
// one part into one (OPTIMIZE ... PARTITION ... FINAL), one partition at a
// time, on the server conn reaches or, on a cluster, on every server through
// opts.Dial. A backfill leaves about ten parts per partition and background
// merges take long to bring them down; on 1 M documents this doubled the
// population classes' throughput (docs/benchmarks.md). It reads and rewrites
// whole partitions: run it after a backfill, not under peak load.
func Compact(ctx context.Context, log *slog.Logger, conn Conn, opts Options) (Compacted, error) {
	if err := opts.Validate(); err != nil {
		return Compacted{}, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Cluster == "" {
		return compact(ctx, log, conn, opts)
	}
	if opts.Dial == nil {
		return Compacted{}, fmt.Errorf("schema: compacting cluster %s needs Dial to reach every server", opts.Cluster)
	}
	shards, err := Shards(ctx, conn, opts.Cluster)
	if err != nil {
		return Compacted{}, err
	}
	var total Compacted
	for _, sh := range shards {
		for _, addr := range sh.Hosts {
			c, err := opts.Dial(ctx, addr)
			if err != nil {
				return total, fmt.Errorf("connecting to cluster server %s: %w", addr, err)
			}
			got, err := compact(ctx, log.With("server", addr), c, opts)
			_ = c.Close()
			total.Partitions += got.Partitions
			total.Parts += got.Parts
			if err != nil {
				return total, fmt.Errorf("on cluster server %s: %w", addr, err)
			}
		}
	}
	return total, nil
}

func compact(ctx context.Context, log *slog.Logger, conn Conn, opts Options) (Compacted, error) {
	local := ""
	if opts.Cluster != "" {
		local = "_local"
	}
	var done Compacted
	for _, t := range compactTables {
		table := t + local
		var parts []struct {
			ID    string `ch:"partition_id"`
			Parts uint64 `ch:"parts"`
		}
		if err := conn.Select(ctx, &parts, `SELECT partition_id, count() AS parts FROM system.parts
			WHERE database = ? AND table = ? AND active GROUP BY partition_id HAVING parts > 1 ORDER BY partition_id`,
			opts.Database, table); err != nil {
			return done, fmt.Errorf("listing the parts of %s: %w", table, err)
		}
		for _, p := range parts {
			if !identifier(p.ID, "-") {
				return done, fmt.Errorf("partition id %q of %s is not a plain name", p.ID, table)
			}
			start := time.Now()
			if err := conn.Exec(ctx, "OPTIMIZE TABLE "+opts.Database+"."+table+" PARTITION ID '"+p.ID+"' FINAL"); err != nil {
				return done, fmt.Errorf("merging partition %s of %s: %w", p.ID, table, err)
			}
			done.Partitions++
			done.Parts += int(p.Parts)
			log.Info("partition merged", "table", table, "partition", p.ID, "parts", p.Parts, "took", time.Since(start).Round(time.Millisecond))
		}
	}
	return done, nil
}
