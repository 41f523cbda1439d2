package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docsearch/docsearch/api/audit"
)

// auditFlags are the ClickHouse flags of audit and report; they only read,
// so they neither wait for ClickHouse nor apply migrations.
type auditFlags struct {
	clickhouse           clickhouseConfig
	since, until, output string
	timeout              string
}

func (f *auditFlags) register(fs flags, since string) {
	fs.str(&f.clickhouse.addr, "clickhouse", "127.0.0.1:9000", "ClickHouse native protocol address")
	fs.str(&f.clickhouse.database, "clickhouse-database", "docsearch", "ClickHouse database of docsearch's tables")
	fs.str(&f.clickhouse.user, "clickhouse-user", "default", "ClickHouse user")
	fs.str(&f.clickhouse.password, "clickhouse-password", "", "ClickHouse password")
	f.clickhouse.tls.register(fs, "clickhouse", "ClickHouse")
	fs.str(&f.since, "since", since, "from this time: RFC 3339, a date (YYYY-MM-DD, UTC), or an age such as 90m, 24h or 7d (empty: no bound)")
	fs.str(&f.until, "until", "", "before this time, same forms as --since (empty: no bound)")
	fs.str(&f.output, "output", "table", "json (one object per line) or table")
	fs.str(&f.timeout, "timeout", "30s", "deadline of the query")
}

// check validates the flags; it returns the time range.
func (f *auditFlags) check(fs flags, now time.Time) (since, until time.Time, err error) {
	if fs.NArg() > 0 {
		return since, until, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if f.output != "json" && f.output != "table" {
		return since, until, fmt.Errorf("--output %q: use json or table", f.output)
	}
	if since, err = parseWhen(f.since, now); err != nil {
		return since, until, fmt.Errorf("--since: %w", err)
	}
	if until, err = parseWhen(f.until, now); err != nil {
		return since, until, fmt.Errorf("--until: %w", err)
	}
	if !since.IsZero() && !until.IsZero() && !since.Before(until) {
		return since, until, fmt.Errorf("--since %s is not before --until %s", rfc3339(since), rfc3339(until))
	}
	return since, until, nil
}

// query opens ClickHouse and runs fn under the deadline.
func (f *auditFlags) query(ctx context.Context, fn func(context.Context, audit.Conn, string) error) error {
	timeout, err := time.ParseDuration(f.timeout)
	if err != nil {
		return fmt.Errorf("--timeout: %w", err)
	}
	conn, err := f.clickhouse.open(f.clickhouse.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return fn(ctx, conn, f.clickhouse.database)
}

// parseWhen reads a time flag: RFC 3339, a date, or an age before now.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	age, err := time.ParseDuration(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if n, err = strconv.Atoi(days); err == nil {
			age = time.Duration(n) * 24 * time.Hour
		}
	}
	if err != nil || age < 0 {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time, a date (YYYY-MM-DD) nor an age (90m, 24h, 7d)", s)
	}
	return now.Add(-age), nil
}

func runAudit(ctx context.Context, _ *slog.Logger, args []string, out io.Writer) error {
	fs := newFlags("audit")
	var f auditFlags
	f.register(fs, "")
	var patient, caller, limit string
	fs.str(&patient, "patient", "", "only calls about this patient id")
	fs.str(&caller, "caller", "", "only calls by this caller")
	fs.str(&limit, "limit", "100", fmt.Sprintf("at most this many records, newest first (1 to %d)", audit.MaxLimit))
	if err := fs.parse(args); err != nil {
		return err
	}
	since, until, err := f.check(fs, time.Now())
	if err != nil {
		return err
	}
	q := audit.Query{Caller: caller, Since: since, Until: until}
	if q.Limit, err = strconv.Atoi(limit); err != nil || q.Limit < 1 || q.Limit > audit.MaxLimit {
		return fmt.Errorf("--limit %q: give a number from 1 to %d", limit, audit.MaxLimit)
	}
	if patient != "" {
		p, err := strconv.ParseInt(patient, 10, 64)
		if err != nil {
			return fmt.Errorf("--patient %q is not a patient id", patient)
		}
		q.Patient = &p
	}
	return f.query(ctx, func(ctx context.Context, conn audit.Conn, db string) error {
		recs, err := audit.Find(ctx, conn, db, q)
		if err != nil {
			return err
		}
		if f.output == "json" {
			for _, r := range recs {
				if err := writeJSON(out, auditJSON(r)); err != nil {
					return err
				}
			}
			return nil
		}
		return writeAuditTable(out, recs)
	})
}

// jsonAudit is a record as `audit --output json` prints it, one per line,
// with the table's column names.
type jsonAudit struct {
	Time       string `json:"time"`
	RequestID  string `json:"request_id"`
	Caller     string `json:"caller"`
	AuthMethod string `json:"auth_method"`
	Method     string `json:"method"`
	PatientID  *int64 `json:"patient_id"`
	Population bool   `json:"population"`
	Filter     string `json:"filter"`
	Shape      string `json:"shape"`
	Strategy   string `json:"strategy"`
	Rows       int    `json:"rows"`
	DurationNS int64  `json:"duration_ns"`
	Code       string `json:"code"`
}

func auditJSON(r audit.Record) jsonAudit {
	return jsonAudit{
		Time: rfc3339(r.Time), RequestID: r.RequestID, Caller: r.Caller, AuthMethod: r.AuthMethod, Method: r.Method,
		PatientID: r.PatientID, Population: r.Population, Filter: r.Filter, Shape: r.Shape, Strategy: r.Strategy,
		Rows: r.Rows, DurationNS: int64(r.Duration), Code: r.Code,
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func writeAuditTable(w io.Writer, recs []audit.Record) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tREQUEST_ID\tCALLER\tAUTH\tMETHOD\tPATIENT\tCODE\tSTRATEGY\tROWS\tDURATION\tFILTER")
	for _, r := range recs {
		patient := "-"
		if r.PatientID != nil {
			patient = strconv.FormatInt(*r.PatientID, 10)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", rfc3339(r.Time), orDash(r.RequestID), orDash(r.Caller),
			orDash(r.AuthMethod), path.Base(r.Method), patient, r.Code, orDash(r.Strategy), r.Rows,
			r.Duration.Round(time.Microsecond), strconv.Quote(r.Filter))
	}
	return tw.Flush()
}

func runReport(ctx context.Context, _ *slog.Logger, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] != "population" {
		return fmt.Errorf("usage: docsearch report population [flags]: the only report is population")
	}
	fs := newFlags("report population")
	var f auditFlags
	f.register(fs, "24h")
	if err := fs.parse(args[1:]); err != nil {
		return err
	}
	since, until, err := f.check(fs, time.Now())
	if err != nil {
		return err
	}
	return f.query(ctx, func(ctx context.Context, conn audit.Conn, db string) error {
		rows, err := audit.PopulationReport(ctx, conn, db, since, until)
		if err != nil {
			return err
		}
		if f.output == "json" {
			for _, r := range rows {
				if err := writeJSON(out, jsonReportRow{Caller: r.Caller, Shape: r.Shape, Count: r.Count, Rows: r.Rows,
					LastSeen: rfc3339(r.LastSeen)}); err != nil {
					return err
				}
			}
			return nil
		}
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CALLER\tSHAPE\tCOUNT\tROWS\tLAST_SEEN")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", orDash(r.Caller), r.Shape, r.Count, r.Rows, rfc3339(r.LastSeen))
		}
		return tw.Flush()
	})
}

// jsonReportRow is a line of `report population --output json`.
type jsonReportRow struct {
	Caller   string `json:"caller"`
	Shape    string `json:"shape"`
	Count    uint64 `json:"count"`
	Rows     uint64 `json:"rows"`
	LastSeen string `json:"last_seen"`
}
