package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// selectColumns is package strategy's result columns.
const selectColumns = `toString(id) AS doc_id, patient_id, doc_type, status, organization_id, author_id,
created_at, updated_at, attributes_raw, link_types, arrayMap(t -> toString(t), link_targets) AS link_target_ids`

const pageRows = 101 // newest 100, plus one to know there is a next page

// drawPatient draws a patient with the generator's skew.
func drawPatient(r *rand.Rand) int64 {
	u := r.Float64()
	return int64(patients * u * u)
}

// drawFrom draws 1..n with the generator's skew (n*u^2), as docsearch bench does.
func drawFrom(r *rand.Rand, n int) int64 {
	u := r.Float64()
	return min(1+int64(float64(n)*u*u), int64(n))
}

// period is one partition of a patient with its row count.
type period struct {
	ID   string
	Rows uint64
}

// rounds is package strategy's split: the newest partitions that can fill a
// page by their row counts, then the rest.
func rounds(ps []period, need int) [][]period {
	var sum uint64
	for i, p := range ps {
		sum += p.Rows
		if sum >= uint64(need) && i+1 < len(ps) {
			return [][]period{ps[:i+1], ps[i+1:]}
		}
	}
	if len(ps) == 0 {
		return nil
	}
	return [][]period{ps}
}

// loadPeriods reads every patient's partitions, newest first (what
// patient_periods holds in the service).
func loadPeriods(ctx context.Context, conn driver.Conn, db, table string) (map[int64][]period, error) {
	rows, err := conn.Query(ctx, "SELECT patient_id, _partition_id, count() FROM "+db+"."+table+
		" GROUP BY patient_id, _partition_id ORDER BY patient_id, _partition_id DESC")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := make(map[int64][]period, patients)
	for rows.Next() {
		var p int64
		var id string
		var n uint64
		if err := rows.Scan(&p, &id, &n); err != nil {
			return nil, err
		}
		m[p] = append(m[p], period{id, n})
	}
	return m, rows.Err()
}

func partsParam(ps []period) string {
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = "'" + p.ID + "'"
	}
	return "[" + strings.Join(ids, ",") + "]"
}

// attrPredicates are the attribute conditions of Q2 (icd10 IN 3 codes) and Q4
// (icd10 = v AND smoker AND bp_systolic > 180) for each storage. "json" is the
// compiler's shape (every typed variant, array arms included); "jsonscalar"
// reads only the one scalar type per attribute.
func attrPredicates(kind string) (q2, q4 string) {
	a := func(name, typ string) string { return "attributes.`" + name + "`.:`" + typ + "`" }
	switch kind {
	case "json":
		in := func(x string) string {
			return x + " = {f1:String} OR " + x + " = {f2:String} OR " + x + " = {f3:String}"
		}
		q2 = "(ifNull(" + in(a("icd10", "String")) + ", 0) OR arrayExists(e -> ifNull(" + in("e") + ", 0), " + a("icd10", "Array(Nullable(String))") + "))"
		q4 = "(ifNull(" + a("icd10", "String") + " = {f1:String}, 0) OR arrayExists(e -> ifNull(e = {f1:String}, 0), " + a("icd10", "Array(Nullable(String))") + "))" +
			" AND (ifNull(" + a("smoker", "Bool") + " = {f5:Bool}, 0) OR arrayExists(e -> ifNull(e = {f5:Bool}, 0), " + a("smoker", "Array(Nullable(Bool))") + "))" +
			" AND (ifNull(" + a("bp_systolic", "Int64") + " > {f6:Int64} OR " + a("bp_systolic", "UInt64") + " > {f6:Int64} OR " + a("bp_systolic", "Float64") + " > {f6:Int64}, 0)" +
			" OR arrayExists(e -> ifNull(e > {f6:Int64}, 0), " + a("bp_systolic", "Array(Nullable(Int64))") + ")" +
			" OR arrayExists(e -> ifNull(e > {f6:Int64}, 0), " + a("bp_systolic", "Array(Nullable(UInt64))") + ")" +
			" OR arrayExists(e -> ifNull(e > {f6:Int64}, 0), " + a("bp_systolic", "Array(Nullable(Float64))") + "))"
	case "jsonscalar":
		q2 = "ifNull(" + a("icd10", "String") + " IN ({f1:String}, {f2:String}, {f3:String}), 0)"
		q4 = "ifNull(" + a("icd10", "String") + " = {f1:String}, 0) AND ifNull(" + a("smoker", "Bool") + " = {f5:Bool}, 0) AND ifNull(" + a("bp_systolic", "Int64") + " > {f6:Int64}, 0)"
	case "map":
		q2 = "attributes['icd10'] IN ({f1:String}, {f2:String}, {f3:String})"
		q4 = "attributes['icd10'] = {f1:String} AND attributes['smoker'] = toString({f5:Bool}) AND ifNull(toInt64OrNull(attributes['bp_systolic']) > {f6:Int64}, 0)"
	case "typed":
		q2 = "icd10 IN ({f1:String}, {f2:String}, {f3:String})"
		q4 = "icd10 = {f1:String} AND smoker = {f5:Bool} AND bp_systolic > {f6:Int64}"
	}
	return q2, q4
}

// run is one measured configuration: a table, a query class, a predicate kind.
type run struct {
	Variant variant
	Class   string // q1, q1all, q2, q4
	Pred    string // json, jsonscalar, map, typed
}

func (r run) String() string {
	s := r.Variant.Name + " " + r.Class
	if r.Class == "q2" || r.Class == "q4" {
		s += " (" + r.Pred + ")"
	}
	return s
}

// searcher runs one search of a run's class, as package strategy would, or
// one given statement (sql).
type searcher struct {
	conn    driver.Conn
	db      string
	r       run
	periods map[int64][]period
	// sql, when set, is run instead, {p:Int64} bound to a patient drawn
	// from 1..sqlPatients with the generator's skew.
	sql         string
	sqlPatients int
}

func (s *searcher) query(ctx context.Context, sql string, params map[string]string, settings clickhouse.Settings) (int, error) {
	ctx = clickhouse.Context(ctx, clickhouse.WithParameters(params), clickhouse.WithSettings(settings))
	rows, err := s.conn.Query(ctx, sql)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	return n, rows.Err()
}

func (s *searcher) search(ctx context.Context, rnd *rand.Rand) (int, error) {
	if s.sql != "" {
		p := drawFrom(rnd, s.sqlPatients)
		return s.query(ctx, s.sql, map[string]string{"p": strconv.FormatInt(p, 10)},
			clickhouse.Settings{"max_threads": 1, "do_not_merge_across_partitions_select_final": 1})
	}
	table := s.db + "." + s.r.Variant.Name
	q2, q4 := attrPredicates(s.r.Pred)
	params := map[string]string{}
	switch s.r.Class {
	case "q4":
		params["f1"] = icd10(rnd.IntN(icd10Codes))
		params["f5"] = "true"
		params["f6"] = "180"
		sql := "SELECT " + selectColumns + " FROM " + table + " FINAL WHERE (" + q4 + ")" +
			" ORDER BY created_at DESC, toString(id) DESC LIMIT " + strconv.Itoa(pageRows)
		return s.query(ctx, sql, params, clickhouse.Settings{"do_not_merge_across_partitions_select_final": 1})
	case "q1", "q1all", "q2":
	default:
		return 0, fmt.Errorf("unknown class %q", s.r.Class)
	}
	patient := drawPatient(rnd)
	params["s_patient"] = strconv.FormatInt(patient, 10)
	filter := "1"
	if s.r.Class == "q2" {
		for i, p := range rnd.Perm(icd10Codes)[:3] {
			params["f"+strconv.Itoa(i+1)] = icd10(p)
		}
		params["f0"] = docTypes[rnd.IntN(len(docTypes))]
		params["f4"] = "cancelled"
		filter = "doc_type = {f0:String} AND " + q2 + " AND NOT (status = {f4:String})"
	}
	settings := clickhouse.Settings{"max_threads": 1, "do_not_merge_across_partitions_select_final": 1}
	base := "SELECT " + selectColumns + " FROM " + table + " FINAL WHERE "
	tail := " AND (" + filter + ") ORDER BY created_at DESC, toString(id) DESC LIMIT {s_limit:UInt32}"
	if s.r.Class == "q1all" {
		params["s_limit"] = strconv.Itoa(pageRows)
		return s.query(ctx, base+"patient_id = {s_patient:Int64}"+tail, params, settings)
	}
	got := 0
	for _, round := range rounds(s.periods[patient], pageRows) {
		params["s_parts"] = partsParam(round)
		params["s_limit"] = strconv.Itoa(pageRows - got)
		n, err := s.query(ctx, base+"_partition_id IN {s_parts:Array(String)} AND patient_id = {s_patient:Int64}"+tail, params, settings)
		if err != nil {
			return got, err
		}
		if got += n; got >= pageRows {
			break
		}
	}
	return got, nil
}

// result is one configuration's measurement.
type result struct {
	Run           run
	N, Errors     int
	Rows          int
	Elapsed       time.Duration
	P50, P99, Max time.Duration
	FirstErr      error
}

func (r result) rate() float64 { return float64(r.N) / r.Elapsed.Seconds() }

// load runs clients searches in a loop for d and collects the latencies.
func load(ctx context.Context, s *searcher, clients int, d time.Duration, seed uint64) result {
	var (
		mu   sync.Mutex
		lats []time.Duration
		res  = result{Run: s.r}
		wg   sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(seed, uint64(c)))
			var mine []time.Duration
			rows, errs := 0, 0
			var firstErr error
			for time.Now().Before(deadline) {
				t := time.Now()
				n, err := s.search(ctx, rnd)
				if err != nil {
					errs++
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				mine = append(mine, time.Since(t))
				rows += n
			}
			mu.Lock()
			lats = append(lats, mine...)
			res.Rows += rows
			res.Errors += errs
			if res.FirstErr == nil {
				res.FirstErr = firstErr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	slices.Sort(lats)
	res.N = len(lats)
	res.P50, res.P99 = percentile(lats, 0.50), percentile(lats, 0.99)
	if len(lats) > 0 {
		res.Max = lats[len(lats)-1]
	}
	return res
}

// percentile of sorted latencies (nearest rank).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := sort.Search(len(sorted), func(i int) bool { return float64(i+1) >= q*float64(len(sorted)) })
	return sorted[min(i, len(sorted)-1)]
}
