package index

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// DefaultChartRows is the most live documents a patient's stored chart
// holds; a patient with more is searched in documents, page by page.
const DefaultChartRows = 2000

// chartReadFactor bounds the patients whose documents a rebuild reads: those
// whose periods sum to at most this many charts' rows. The sums count every
// version ever written, so a patient with fewer live documents than the cap
// can sum to more; past the bound, reading them would cost more than their
// chart saves.
const chartReadFactor = 4

// chartChunk bounds the patients one rebuild statement reads.
const chartChunk = 1000

// chartColumns is the column list of patient_charts a writer fills.
const chartColumns = "(patient_id, version, charted, periods, period_rows, ids, created, payloads)"

// chartSelect rebuilds the charts of the patients the driver lists (a
// subquery with patient_id, periods, period_rows and total), reading the
// documents of those whose periods total at most {s_read}; where lists them
// in documents. A chart is kept when it holds at most {s_cap} documents.
func chartSelect(db, driver, where string) string {
	return `SELECT patient_id, {s_version:DateTime64(6, 'UTC')},
	total <= {s_read:UInt64} AND length(d.ids) <= {s_cap:UInt64} AS charted,
	periods, period_rows,
	if(charted, d.ids, []), if(charted, d.created, []), if(charted, d.payloads, [])
FROM (` + driver + `) AS p
LEFT JOIN (
	SELECT patient_id,
		arrayReverseSort(x -> (x.1, x.2), groupArray((created_at, toString(id), id, payload))) AS s,
		arrayMap(x -> x.3, s) AS ids, arrayMap(x -> x.1, s) AS created, arrayMap(x -> x.4, s) AS payloads
	FROM ` + db + `.documents FINAL
	WHERE ` + where + ` AND patient_id GLOBAL IN (
		SELECT patient_id FROM ` + db + `.patient_periods WHERE ` + where + `
		GROUP BY patient_id HAVING sum(rows) <= {s_read:UInt64})
	GROUP BY patient_id
) AS d USING (patient_id)
SETTINGS join_use_nulls = 0, do_not_merge_across_partitions_select_final = 1`
}

// periodsOf aggregates patient_periods into one row per patient: the periods
// with live rows, newest first, and their total.
func periodsOf(db, where string) string {
	return `SELECT patient_id,
		arrayReverseSort(x -> x.1, groupArrayIf((period, rows), rows > 0)) AS ps,
		arrayMap(x -> x.1, ps) AS periods, arrayMap(x -> x.2, ps) AS period_rows, sum(rows) AS total
	FROM (SELECT patient_id, period, sum(rows) AS rows FROM ` + db + `.patient_periods
		WHERE ` + where + ` GROUP BY patient_id, period)
	GROUP BY patient_id`
}

// serverTime reads ClickHouse's clock. A chart's version is taken before its
// read begins: of two rebuilds of a patient, the one with the later version
// read after the other's writer had written its documents, so the newest
// version holds every write (see docs/schema.md on the servers' clocks).
func (s store) serverTime(ctx context.Context) (time.Time, error) {
	var rows []struct {
		Now time.Time `ch:"now"`
	}
	if err := s.conn.Select(ctx, &rows, "SELECT now64(6, 'UTC') AS now"); err != nil || len(rows) != 1 {
		return time.Time{}, fmt.Errorf("reading the server's clock: %w", err)
	}
	return rows[0].Now, nil
}

func versionParam(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000000") }

func patientsParam(ps []int64) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = strconv.FormatInt(p, 10)
	}
	return "[" + strings.Join(out, ",") + "]"
}

// touched lists the patients whose charts a plan changes: those its rows
// are written at, and those it notifies (a replay writes nothing but its
// charts may not have been rebuilt).
func touched(p plan) []int64 {
	seen := map[int64]bool{}
	var out []int64
	add := func(id int64) {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	for _, d := range p.docs {
		add(d.Key.PatientID)
	}
	for _, n := range p.notes {
		add(n.PatientID)
	}
	slices.Sort(out)
	return out
}

// Inserts into patient_charts go without optimize_skip_unused_shards: on
// an INSERT ... SELECT through a Distributed table it dropped the rows bound
// for other shards.

// markCharts marks the patients' charts unknown, without reading: searches
// of them read documents until a rebuild. The version is the server's clock
// as the insert starts, after the patients' documents were written, so a
// rebuild that began earlier (and may miss them) loses to the marker, and
// one that begins later wins and holds them.
func (s store) markCharts(ctx context.Context, patients []int64) error {
	ctx = insertSettings(ctx)
	for _, chunk := range patientChunks(patients) {
		params := clickhouse.Parameters{"s_patients": patientsParam(chunk)}
		q := "INSERT INTO " + s.db + ".patient_charts " + chartColumns +
			" SELECT arrayJoin({s_patients:Array(Int64)}), now64(6), 0, [], [], [], [], []"
		if err := s.conn.Exec(clickhouse.Context(ctx, clickhouse.WithParameters(params)), q); err != nil {
			return fmt.Errorf("marking the charts of %d patients: %w", len(chunk), err)
		}
	}
	return nil
}

// markedCharts lists the patients whose stored chart is a marker (not
// charted, no periods): a rebuild an earlier indexer queued and did not
// finish before it stopped.
func (s store) markedCharts(ctx context.Context) ([]int64, error) {
	var rows []struct {
		PatientID int64 `ch:"patient_id"`
	}
	if err := s.conn.Select(ctx, &rows, "SELECT patient_id FROM "+s.db+".patient_charts FINAL WHERE charted = 0 AND empty(periods)"); err != nil {
		return nil, fmt.Errorf("listing marked charts: %w", err)
	}
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r.PatientID
	}
	return out, nil
}

// rebuildCharts rebuilds the stored charts of the patients, of at most rows
// documents each, from documents.
func (s store) rebuildCharts(ctx context.Context, patients []int64, rows int) error {
	if len(patients) == 0 {
		return nil
	}
	version, err := s.serverTime(ctx)
	if err != nil {
		return err
	}
	ctx = insertSettings(ctx)
	// Every listed patient gets a row, one whose documents are all gone
	// included, so no older chart outlives a write.
	driver := `SELECT patient_id, periods, period_rows, total
		FROM (SELECT arrayJoin({s_patients:Array(Int64)}) AS patient_id) AS l
		LEFT JOIN (` + periodsOf(s.db, "patient_id IN {s_patients:Array(Int64)}") + `) AS pp USING (patient_id)`
	q := "INSERT INTO " + s.db + ".patient_charts " + chartColumns + " " +
		chartSelect(s.db, driver, "patient_id IN {s_patients:Array(Int64)}")
	for _, chunk := range patientChunks(patients) {
		params := clickhouse.Parameters{"s_patients": patientsParam(chunk), "s_version": versionParam(version),
			"s_cap": strconv.Itoa(rows), "s_read": strconv.Itoa(rows * chartReadFactor)}
		if err := s.conn.Exec(clickhouse.Context(ctx, clickhouse.WithParameters(params)), q); err != nil {
			return fmt.Errorf("rebuilding the charts of %d patients: %w", len(chunk), err)
		}
	}
	return nil
}

func patientChunks(ps []int64) [][]int64 {
	var out [][]int64
	for len(ps) > 0 {
		n := min(len(ps), chartChunk)
		out = append(out, ps[:n])
		ps = ps[n:]
	}
	return out
}

// chartBuildRows is about how many document rows one statement of
// BuildCharts reads: a part of the patients by id range.
const chartBuildRows = 500_000

// BuildCharts rebuilds the stored chart of every patient patient_periods
// knows, a range of patients at a time; a bulk writer (backfill) calls it
// once done instead of rebuilding after each batch. rows is the most
// documents a chart holds. A write during the build keeps its own, newer,
// chart. It returns the number of patients.
func BuildCharts(ctx context.Context, conn Conn, db string, rows int) (int, error) {
	if rows <= 0 {
		return 0, fmt.Errorf("building charts: %d rows per chart", rows)
	}
	s := store{conn: conn, db: db}
	version, err := s.serverTime(ctx)
	if err != nil {
		return 0, err
	}
	var span []struct {
		Lo       int64  `ch:"lo"`
		Hi       int64  `ch:"hi"`
		Rows     uint64 `ch:"total"`
		Patients uint64 `ch:"patients"`
	}
	if err := conn.Select(ctx, &span, "SELECT min(patient_id) AS lo, max(patient_id) AS hi, sum(rows) AS total, uniqExact(patient_id) AS patients FROM "+
		db+".patient_periods"); err != nil || len(span) != 1 {
		return 0, fmt.Errorf("building charts: reading the patients: %w", err)
	}
	sp := span[0]
	if sp.Patients == 0 {
		return 0, nil
	}
	parts := max(1, sp.Rows/chartBuildRows)
	step := uint64(sp.Hi-sp.Lo)/parts + 1 // the span wraps into uint64 right
	if step == 0 {
		step = uint64(sp.Hi - sp.Lo) // every int64 id: two rounds
	}
	where := "patient_id BETWEEN {s_lo:Int64} AND {s_hi:Int64}"
	q := "INSERT INTO " + db + ".patient_charts " + chartColumns + " " + chartSelect(db, periodsOf(db, where), where)
	ctx = insertSettings(ctx)
	for lo := sp.Lo; ; lo += int64(step) {
		hi := sp.Hi
		if uint64(sp.Hi-lo) >= step {
			hi = lo + int64(step) - 1
		}
		params := clickhouse.Parameters{"s_version": versionParam(version), "s_cap": strconv.Itoa(rows),
			"s_read": strconv.Itoa(rows * chartReadFactor), "s_lo": strconv.FormatInt(lo, 10), "s_hi": strconv.FormatInt(hi, 10)}
		if err := conn.Exec(clickhouse.Context(ctx, clickhouse.WithParameters(params)), q); err != nil {
			return 0, fmt.Errorf("building the charts of patients %d to %d: %w", lo, hi, err)
		}
		if hi == sp.Hi {
			break
		}
	}
	return int(sp.Patients), nil
}
