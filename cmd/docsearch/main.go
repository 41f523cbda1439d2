// Command docsearch is the search service for the metadata of medical
// documents: `serve` runs it, `up` runs it with embedded ClickHouse and Kafka
// on one machine, and the other subcommands prepare machines and talk to it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, log *slog.Logger, args []string, out io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"serve":     {"run the search service and the indexer against ClickHouse and Kafka", runServe},
		"up":        {"run everything on this machine: embedded ClickHouse, Kafka and the service (make run)", runUp},
		"kafka":     {"run the embedded Kafka broker alone", runKafka},
		"setup":     {"prepare this machine: fetch libchdb, install and start PostgreSQL", runSetup},
		"search":    {"run one search over gRPC and print the page (--output json|table)", runSearch},
		"explain":   {"show how a search would run: strategy, partitions, SQL", runExplain},
		"gen":       {"generate a synthetic EMR as Debezium events (Kafka, file) and/or PostgreSQL rows", runGen},
		"backfill":  {"load every document of PostgreSQL into the index from one snapshot (resumable)", runBackfill},
		"bench":     {"run the baselines' query classes against docsearch and PostgreSQL (JSONB, EAV)", runBench},
		"reconcile": {"compare PostgreSQL with the index, list the documents that differ, --repair them", runReconcile},
		"audit":     {"list audited calls: by --patient, --caller, --since/--until (--output json|table)", runAudit},
		"report":    {"report population: population searches by caller and filter shape, from the audit table", runReport},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := dispatch(ctx, log, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "docsearch:", err)
		}
		os.Exit(1)
	}
}

func dispatch(ctx context.Context, log *slog.Logger, args []string, out, usageOut io.Writer) error {
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(usageOut, cmds)
		if len(args) == 0 {
			return errors.New("no command given")
		}
		return nil
	}
	c, ok := cmds[args[0]]
	if !ok {
		usage(usageOut, cmds)
		return fmt.Errorf("unknown command %q", args[0])
	}
	return c.run(ctx, log, args[1:], out)
}

func usage(w io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "usage: docsearch <command> [flags]   (docsearch <command> -h for its flags)")
	fmt.Fprintln(w, "\ncommands:")
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
}

// flags is a flag set whose every flag can also come from DOCSEARCH_<NAME>.
type flags struct{ *flag.FlagSet }

func newFlags(name string) flags {
	return flags{flag.NewFlagSet("docsearch "+name, flag.ContinueOnError)}
}

func envName(flagName string) string {
	return "DOCSEARCH_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parse reads args and refuses a stray word: the flag package stops at the
// first one and would silently drop every flag after it.
func (f flags) parse(args []string) error {
	if err := f.Parse(args); err != nil {
		return err
	}
	if f.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q (flags only; write a boolean as --flag or --flag=false)", f.Name(), f.Arg(0))
	}
	return nil
}

// boolean is a switch, also settable as DOCSEARCH_<NAME>=true|false.
func (f flags) boolean(p *bool, name string, def bool, usage string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		if b, err := strconv.ParseBool(v); err == nil {
			def = b
		}
	}
	f.BoolVar(p, name, def, usage+" (env "+envName(name)+")")
}

func (f flags) str(p *string, name, def, usage string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		def = v
	}
	f.StringVar(p, name, def, usage+" (env "+envName(name)+")")
}
