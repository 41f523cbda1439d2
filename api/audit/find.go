package audit

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/docsearch/docsearch/schema"
)

// Limits of Find.
const (
	DefaultLimit = 1000
	MaxLimit     = 1_000_000
)

// Query selects audit records; every condition given must hold.
type Query struct {
	// Patient keeps the records of searches in this patient's record; nil
	// means any (population searches and GetDocument included).
	Patient *int64
	// Caller keeps one caller's records; empty means any caller. (The
	// records of unknown callers are found by time.)
	Caller string
	// Since keeps records at or after it; zero means no lower bound.
	Since time.Time
	// Until keeps records before it; zero means no upper bound.
	Until time.Time
	// Limit is the most records returned, newest first; zero means
	// DefaultLimit. Over MaxLimit is an error.
	Limit int
}

// Find returns the records q selects, newest first (ties by request id).
func Find(ctx context.Context, conn Conn, db string, q Query) ([]Record, error) {
	if err := (schema.Options{Database: db}).Validate(); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	limit := q.Limit
	switch {
	case limit == 0:
		limit = DefaultLimit
	case limit < 0 || limit > MaxLimit:
		return nil, fmt.Errorf("audit: limit %d is outside 1..%d", limit, MaxLimit)
	}
	where, params := timeRange(q.Since, q.Until)
	if q.Patient != nil {
		where = append(where, "patient_id = {patient:Int64}")
		params["patient"] = strconv.FormatInt(*q.Patient, 10)
	}
	if q.Caller != "" {
		where = append(where, "caller = {caller:String}")
		params["caller"] = escape(q.Caller)
	}
	var rows []struct {
		Time       time.Time `ch:"time"`
		RequestID  string    `ch:"request_id"`
		Caller     string    `ch:"caller"`
		AuthMethod string    `ch:"auth_method"`
		Method     string    `ch:"method"`
		PatientID  *int64    `ch:"patient_id"`
		Population bool      `ch:"population"`
		Filter     string    `ch:"filter"`
		Shape      string    `ch:"shape"`
		Strategy   string    `ch:"strategy"`
		Rows       uint32    `ch:"rows"`
		DurationNS uint64    `ch:"duration_ns"`
		Code       string    `ch:"code"`
	}
	sql := "SELECT " + columns + " FROM " + db + ".audit" + whereClause(where) +
		" ORDER BY time DESC, request_id LIMIT " + strconv.Itoa(limit)
	if err := conn.Select(clickhouse.Context(ctx, clickhouse.WithParameters(params)), &rows, sql); err != nil {
		return nil, fmt.Errorf("reading audit records: %w", err)
	}
	out := make([]Record, len(rows))
	for i, r := range rows {
		out[i] = Record{
			Time: r.Time.UTC(), RequestID: r.RequestID, Caller: r.Caller, AuthMethod: r.AuthMethod, Method: r.Method,
			PatientID: r.PatientID, Population: r.Population, Filter: r.Filter, Shape: r.Shape, Strategy: r.Strategy,
			Rows: int(r.Rows), Duration: time.Duration(r.DurationNS), Code: r.Code,
		}
	}
	return out, nil
}

// ReportRow is one line of the population report.
type ReportRow struct {
	// Caller is who searched; empty for unknown (unauthenticated) callers.
	Caller string
	// Shape is the filters' shape (see Shape).
	Shape string
	// Count is the number of calls, whatever their outcome.
	Count uint64
	// Rows is the number of documents they returned in all.
	Rows uint64
	// LastSeen is the time of the latest call.
	LastSeen time.Time
}

// PopulationReport counts population searches and explains (no patient) by
// caller and filter shape, in [since, until); a zero bound is no bound. Rows
// come by caller, then most frequent shape first.
func PopulationReport(ctx context.Context, conn Conn, db string, since, until time.Time) ([]ReportRow, error) {
	if err := (schema.Options{Database: db}).Validate(); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	where, params := timeRange(since, until)
	where = append(where, "population")
	var rows []struct {
		Caller   string    `ch:"caller"`
		Shape    string    `ch:"shape"`
		Count    uint64    `ch:"count"`
		Rows     uint64    `ch:"rows"`
		LastSeen time.Time `ch:"last_seen"`
	}
	sql := "SELECT caller, shape, count() AS count, sum(rows) AS rows, max(time) AS last_seen FROM " + db + ".audit" +
		whereClause(where) + " GROUP BY caller, shape ORDER BY caller, count DESC, shape"
	if err := conn.Select(clickhouse.Context(ctx, clickhouse.WithParameters(params)), &rows, sql); err != nil {
		return nil, fmt.Errorf("reading the population report: %w", err)
	}
	out := make([]ReportRow, len(rows))
	for i, r := range rows {
		out[i] = ReportRow{Caller: r.Caller, Shape: r.Shape, Count: r.Count, Rows: r.Rows, LastSeen: r.LastSeen.UTC()}
	}
	return out, nil
}

// timeRange gives the conditions and parameters of [since, until).
func timeRange(since, until time.Time) ([]string, clickhouse.Parameters) {
	var where []string
	params := clickhouse.Parameters{}
	const layout = "2006-01-02 15:04:05.999999"
	if !since.IsZero() {
		where = append(where, "time >= {since:DateTime64(6, 'UTC')}")
		params["since"] = since.UTC().Format(layout)
	}
	if !until.IsZero() {
		where = append(where, "time < {until:DateTime64(6, 'UTC')}")
		params["until"] = until.UTC().Format(layout)
	}
	return where, params
}

// escape writes a string query parameter in ClickHouse's escaped text
// format: without it a backslash would start an escape, and a tab or newline
// would end the value early.
var escape = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`).Replace

func whereClause(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}
