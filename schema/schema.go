package schema

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Conn is what migrations need of a ClickHouse connection; clickhouse-go's
// driver.Conn satisfies it.
type Conn interface {
	Exec(ctx context.Context, query string, args ...any) error
	Select(ctx context.Context, dest any, query string, args ...any) error
}

// NodeConn is a connection to one server of a cluster, opened by
// Options.Dial and closed once the server's schema is applied.
type NodeConn interface {
	Conn
	Close() error
}

// Options name where the schema lives and how it is laid out.
type Options struct {
	// Database holds every docsearch table; empty is invalid.
	Database string
	// Cluster is the name of a cluster in the servers' remote_servers. Empty:
	// one server, plain tables (the default). Set: local tables on every
	// server (documents_local, ...) and Distributed tables under the plain
	// names over them, documents sharded by PatientShardingKey.
	Cluster string
	// Keeper says the cluster has ClickHouse Keeper: statements run once, ON
	// CLUSTER, and the local tables use Replicated engines. False: every
	// statement runs on every server of the cluster in turn, through Dial, and
	// the engines are plain (replicas then need Keeper; see docs/scaling.md).
	Keeper bool
	// Dial connects to one server by its native address host:port as
	// system.clusters lists it; needed with a Cluster and no Keeper.
	Dial func(ctx context.Context, addr string) (NodeConn, error)
}

// Validate rejects a database or cluster name that could not be used as an
// identifier, and a cluster without Keeper that cannot be reached.
func (o Options) Validate() error {
	if o.Database == "" {
		return errors.New("schema: no database name")
	}
	if !identifier(o.Database, "") {
		return fmt.Errorf("schema: database name %q: only letters, digits and _", o.Database)
	}
	if o.Cluster != "" && !identifier(o.Cluster, "-.") {
		return fmt.Errorf("schema: cluster name %q: only letters, digits, _, - and .", o.Cluster)
	}
	if o.Cluster == "" && o.Keeper {
		return errors.New("schema: Keeper is set without a cluster")
	}
	if o.Cluster != "" && !o.Keeper && o.Dial == nil {
		return errors.New("schema: a cluster without Keeper needs Dial to reach every server")
	}
	return nil
}

func identifier(s, extra string) bool {
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(extra, r)) {
			return false
		}
	}
	return true
}

// Migration is one step of the schema; its statements are idempotent, so a
// step interrupted half-way, or run by two replicas at once, is safe to rerun.
type Migration struct {
	Version    int
	Name       string
	Statements []string
}

// Apply brings the database to the newest schema version: on the server conn
// reaches, or on a cluster without Keeper on every server of the cluster (conn
// then only lists them). Each server keeps its own history.
func Apply(ctx context.Context, log *slog.Logger, conn Conn, opts Options) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Cluster == "" || opts.Keeper {
		return apply(ctx, log, conn, opts)
	}
	// Without Keeper there is no distributed DDL queue: ON CLUSTER fails.
	shards, err := Shards(ctx, conn, opts.Cluster)
	if err != nil {
		return err
	}
	for _, sh := range shards {
		for _, addr := range sh.Hosts {
			if err := applyOn(ctx, log.With("server", addr), addr, opts); err != nil {
				return err
			}
		}
	}
	return nil
}

func applyOn(ctx context.Context, log *slog.Logger, addr string, opts Options) error {
	c, err := opts.Dial(ctx, addr)
	if err != nil {
		return fmt.Errorf("connecting to cluster server %s: %w", addr, err)
	}
	defer c.Close()
	if err := apply(ctx, log, c, opts); err != nil {
		return fmt.Errorf("on cluster server %s: %w", addr, err)
	}
	return nil
}

func apply(ctx context.Context, log *slog.Logger, conn Conn, opts Options) error {
	db := opts.Database
	r := opts.replacer()
	for _, q := range []string{
		r.Replace("CREATE DATABASE IF NOT EXISTS {db}{on_cluster}"),
		r.Replace("CREATE TABLE IF NOT EXISTS {db}.schema_migrations{on_cluster} (\n" +
			"			version UInt32, name String, applied_at DateTime64(3, 'UTC')\n" +
			"		) ENGINE = {replicated}ReplacingMergeTree ORDER BY version"),
	} {
		if err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("preparing schema history: %w", err)
		}
	}
	var applied []struct {
		Version uint32 `ch:"version"`
	}
	if err := conn.Select(ctx, &applied, "SELECT DISTINCT version FROM "+db+".schema_migrations"); err != nil {
		return fmt.Errorf("reading schema history: %w", err)
	}
	done := map[int]bool{}
	for _, a := range applied {
		done[int(a.Version)] = true
	}
	for _, m := range Migrations(opts) {
		if done[m.Version] {
			continue
		}
		for _, q := range m.Statements {
			if run, err := due(ctx, conn, q); err != nil {
				return fmt.Errorf("applying migration %d (%s): %w", m.Version, m.Name, err)
			} else if !run {
				continue
			}
			if err := conn.Exec(ctx, q); err != nil {
				// Another replica may have ended the condition while this
				// step ran (it dropped what the step read): then the step
				// was not due after all.
				if run, cerr := due(ctx, conn, q); cerr == nil && !run {
					continue
				}
				return fmt.Errorf("applying migration %d (%s): %w", m.Version, m.Name, err)
			}
		}
		if err := conn.Exec(ctx, "INSERT INTO "+db+".schema_migrations VALUES (?, ?, ?)",
			uint32(m.Version), m.Name, time.Now()); err != nil {
			return fmt.Errorf("recording migration %d: %w", m.Version, err)
		}
		log.Info("schema migration applied", "version", m.Version, "name", m.Name)
	}
	return nil
}

// whenPrefix starts a statement's first line when the statement runs only
// while a query (the rest of that line) answers a non-zero count; to anything
// else it is a comment.
const whenPrefix = "-- when: "

// due reports whether statement q is to run now: it has no condition, or its
// condition holds at this moment.
func due(ctx context.Context, conn Conn, q string) (bool, error) {
	cond, ok := strings.CutPrefix(q, whenPrefix)
	if !ok {
		return true, nil
	}
	cond, _, _ = strings.Cut(cond, "\n")
	var n []struct {
		N uint64 `ch:"n"`
	}
	if err := conn.Select(ctx, &n, "SELECT toUInt64(("+cond+")) AS n"); err != nil {
		return false, fmt.Errorf("checking a step's condition: %w", err)
	}
	return len(n) == 1 && n[0].N > 0, nil
}

// Migrations lists every schema step in order, as the layout of opts runs it
// on one server.
func Migrations(opts Options) []Migration {
	r := opts.replacer()
	var out []Migration
	for _, m := range migrations {
		var stmts []string
		for _, s := range m.Statements {
			s, clusterOnly := strings.CutPrefix(s, "{cluster_only}")
			if clusterOnly && opts.Cluster == "" {
				continue
			}
			stmts = append(stmts, r.Replace(s))
		}
		out = append(out, Migration{Version: m.Version, Name: m.Name, Statements: stmts})
	}
	return out
}

// replacer fills in the statements' placeholders for the layout.
func (o Options) replacer() *strings.Replacer {
	local, onCluster, replicated, cluster, copyFrom := "", "", "", "", ""
	if o.Cluster != "" {
		local, cluster, copyFrom = "_local", "'"+o.Cluster+"'", "_local"
	}
	if o.Keeper {
		// Statements run once for the cluster: data moves through the
		// Distributed tables.
		onCluster, replicated, copyFrom = " ON CLUSTER "+cluster, "Replicated", ""
	}
	return strings.NewReplacer("{db}", o.Database, "{period}", PeriodExpr, "{local}", local,
		"{on_cluster}", onCluster, "{replicated}", replicated, "{cluster}", cluster, "{copy}", copyFrom)
}
