package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/index"
	"github.com/docsearch/docsearch/index/backfill"
	"github.com/docsearch/docsearch/schema"
)

// Options configure a comparison.
type Options struct {
	// Database is the ClickHouse database of docsearch's tables; required.
	Database string
	// Buckets is the number of patient buckets per period; zero means 64.
	Buckets int
	// Only, when not empty, compares just these buckets (patient_id % Buckets),
	// in every period: the sample a continuous run checks each time.
	Only []int64
}

// Validate reports whether o can be used.
func (o Options) Validate() error {
	switch {
	case o.Database == "" || strings.ContainsAny(o.Database, "`\"'. ;"):
		return fmt.Errorf("reconcile: invalid database %q", o.Database)
	case o.Buckets < 0:
		return fmt.Errorf("reconcile: buckets %d is negative", o.Buckets)
	}
	for _, b := range o.Only {
		if b < 0 || (o.Buckets > 0 && b >= int64(o.Buckets)) || (o.Buckets == 0 && b >= 64) {
			return fmt.Errorf("reconcile: bucket %d is outside 0..buckets-1", b)
		}
	}
	return nil
}

// Range is one patient bucket in one period.
type Range struct {
	Bucket int64 `json:"bucket"`
	Year   int   `json:"year"`
}

// Sums are the count and checksum of one side of a range.
type Sums struct {
	Count int64  `json:"count"`
	Sum   uint64 `json:"checksum"`
}

// RangeDiff is a range whose sides differ.
type RangeDiff struct {
	Range
	Postgres   Sums `json:"postgres"`
	ClickHouse Sums `json:"clickhouse"`
}

// Report is the outcome of Compare.
type Report struct {
	// SnapshotLSN is the lsn of the PostgreSQL snapshot compared.
	SnapshotLSN uint64 `json:"snapshot_lsn"`
	// PostgresRows and IndexedRows count the documents on each side; index
	// rows newer than the snapshot are left out.
	PostgresRows int64 `json:"postgres_rows"`
	IndexedRows  int64 `json:"indexed_rows"`
	// Newer counts index rows skipped as newer than the snapshot.
	Newer int64 `json:"newer"`
	// Ranges is how many ranges hold documents on either side.
	Ranges int `json:"ranges"`
	// Mismatched are the ranges that differ.
	Mismatched []RangeDiff `json:"mismatched"`
	// Missing, Extra and Stale are sorted document ids.
	Missing []string `json:"missing"`
	Extra   []string `json:"extra"`
	Stale   []string `json:"stale"`
	// Elapsed is how long the comparison took.
	Elapsed time.Duration `json:"elapsed_ns"`
}

// Differences counts the documents that differ.
func (r Report) Differences() int { return len(r.Missing) + len(r.Extra) + len(r.Stale) }

// Clean reports whether both sides hold the same documents. Ranges may still
// differ by documents the index holds in a version newer than the snapshot.
func (r Report) Clean() bool { return r.Differences() == 0 }

// side is one store's view: sums per range and, for the ranges being
// narrowed, each document's hash.
type side struct {
	ranges map[Range]Sums
	docs   map[string]uint64 // id -> hash; only rows of wanted ranges
	dups   map[string]bool   // ids found more than once
	skip   map[string]bool   // ids of index rows newer than the snapshot
	rows   int64
	newer  int64
}

func newSide() *side {
	return &side{ranges: map[Range]Sums{}, docs: map[string]uint64{}, dups: map[string]bool{}, skip: map[string]bool{}}
}

func (s *side) add(r cdc.Row, buckets int64, want map[Range]bool) {
	rg := rangeOf(r, buckets)
	h := Hash(r)
	if want == nil {
		sm := s.ranges[rg]
		sm.Count++
		sm.Sum += h
		s.ranges[rg] = sm
		s.rows++
		return
	}
	if want[rg] {
		if _, ok := s.docs[r.ID]; ok {
			s.dups[r.ID] = true
		}
		s.docs[r.ID] = h
	}
}

func rangeOf(r cdc.Row, buckets int64) Range {
	return Range{Bucket: (r.PatientID%buckets + buckets) % buckets, Year: r.CreatedAt.UTC().Year()}
}

// Canonical is the text of a document that both sides hash: every column,
// timestamps in microseconds, attributes as their JSON object with sorted
// keys, links as type>target in source order.
func Canonical(r cdc.Row) []byte {
	b := make([]byte, 0, 256)
	b = append(b, r.ID...)
	b = append(b, 0x1f)
	b = strconv.AppendInt(b, r.PatientID, 10)
	b = append(b, 0x1f)
	b = append(b, r.DocType...)
	b = append(b, 0x1f)
	b = append(b, r.Status...)
	b = append(b, 0x1f)
	b = strconv.AppendInt(b, r.OrganizationID, 10)
	b = append(b, 0x1f)
	b = strconv.AppendInt(b, r.AuthorID, 10)
	b = append(b, 0x1f)
	b = strconv.AppendInt(b, r.CreatedAt.UnixMicro(), 10)
	b = append(b, 0x1f)
	b = strconv.AppendInt(b, r.UpdatedAt.UnixMicro(), 10)
	b = append(b, 0x1f)
	if len(r.Attributes) == 0 {
		b = append(b, "{}"...)
	} else if j, err := json.Marshal(r.Attributes); err == nil { // map keys come out sorted
		b = append(b, j...)
	} else {
		b = append(b, "!"...)
	}
	b = append(b, 0x1f)
	for _, l := range r.Links {
		b = append(b, l.Type...)
		b = append(b, '>')
		b = append(b, l.Target...)
		b = append(b, ',')
	}
	return b
}

// Hash is the FNV-1a hash of Canonical(r).
func Hash(r cdc.Row) uint64 {
	h := fnv.New64a()
	h.Write(Canonical(r))
	return h.Sum64()
}

// ClickHouse is what reconcile reads of ClickHouse.
type ClickHouse = backfill.ClickHouse

// Compare reads both stores and reports the documents that differ.
func Compare(ctx context.Context, log *slog.Logger, pg *pgx.Conn, ch ClickHouse, opts Options) (Report, error) {
	if err := opts.Validate(); err != nil {
		return Report{}, err
	}
	if opts.Buckets == 0 {
		opts.Buckets = 64
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	started := time.Now()
	buckets := int64(opts.Buckets)
	tx, lsn, err := backfill.Snapshot(ctx, pg)
	if err != nil {
		return Report{}, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read only
	pgSide, chSide := newSide(), newSide()
	only := sample{buckets: buckets, only: opts.Only}
	if err := scanPostgres(ctx, tx, only, func(r cdc.Row) { pgSide.add(r, buckets, nil) }); err != nil {
		return Report{}, err
	}
	if err := scanIndex(ctx, ch, opts.Database, lsn, only, chSide, func(r cdc.Row) { chSide.add(r, buckets, nil) }); err != nil {
		return Report{}, err
	}
	rep := Report{SnapshotLSN: lsn, PostgresRows: pgSide.rows, IndexedRows: chSide.rows, Newer: chSide.newer}
	all := map[Range]bool{}
	for rg := range pgSide.ranges {
		all[rg] = true
	}
	for rg := range chSide.ranges {
		all[rg] = true
	}
	rep.Ranges = len(all)
	want := map[Range]bool{}
	for rg := range all {
		if p, c := pgSide.ranges[rg], chSide.ranges[rg]; p != c {
			want[rg] = true
			rep.Mismatched = append(rep.Mismatched, RangeDiff{Range: rg, Postgres: p, ClickHouse: c})
		}
	}
	slices.SortFunc(rep.Mismatched, func(a, b RangeDiff) int {
		if a.Year != b.Year {
			return a.Year - b.Year
		}
		return int(a.Bucket - b.Bucket)
	})
	log.Info("ranges compared", "ranges", rep.Ranges, "mismatched", len(want), "postgres_rows", rep.PostgresRows, "indexed_rows", rep.IndexedRows)
	if len(want) > 0 {
		// Narrow down: hash each document of the mismatching ranges. The same
		// snapshot on the PostgreSQL side; the index may have moved on, which
		// the version filter accounts for.
		pgDocs, chDocs := newSide(), newSide()
		if err := scanPostgres(ctx, tx, only, func(r cdc.Row) { pgDocs.add(r, buckets, want) }); err != nil {
			return Report{}, err
		}
		if err := scanIndex(ctx, ch, opts.Database, lsn, only, chDocs, func(r cdc.Row) { chDocs.add(r, buckets, want) }); err != nil {
			return Report{}, err
		}
		for id, h := range pgDocs.docs {
			if chDocs.skip[id] {
				continue
			}
			c, ok := chDocs.docs[id]
			switch {
			case !ok:
				rep.Missing = append(rep.Missing, id)
			case c != h || chDocs.dups[id]:
				rep.Stale = append(rep.Stale, id)
			}
		}
		for id := range chDocs.docs {
			if _, ok := pgDocs.docs[id]; !ok {
				rep.Extra = append(rep.Extra, id)
			}
		}
		slices.Sort(rep.Missing)
		slices.Sort(rep.Extra)
		slices.Sort(rep.Stale)
	}
	rep.Elapsed = time.Since(started)
	return rep, nil
}

// sample restricts a scan to some patient buckets; both sides use the same
// truncated modulo, so they pick the same patients.
type sample struct {
	buckets int64
	only    []int64
}

func scanPostgres(ctx context.Context, tx pgx.Tx, s sample, each func(cdc.Row)) error {
	q, args := "SELECT "+backfill.SelectColumns+" FROM documents", []any{}
	if len(s.only) > 0 {
		q, args = q+" WHERE patient_id % $1 = ANY($2)", []any{s.buckets, s.only}
	}
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("reading postgresql documents: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := backfill.ScanRow(rows)
		if err != nil {
			return err
		}
		each(r)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading postgresql documents: %w", err)
	}
	return nil
}

// scanIndex streams the live documents of the index, leaving out (and
// counting in s.newer) those whose version is newer than the snapshot lsn.
func scanIndex(ctx context.Context, ch ClickHouse, db string, lsn uint64, smp sample, s *side, each func(cdc.Row)) error {
	q, args := "SELECT "+backfill.IndexedColumns+", version FROM "+db+".documents FINAL WHERE is_deleted = 0", []any{}
	if len(smp.only) > 0 {
		q, args = q+" AND patient_id % ? IN ?", []any{smp.buckets, smp.only}
	}
	rows, err := ch.Query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("reading indexed documents: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, version, err := scanVersioned(rows)
		if err != nil {
			return err
		}
		if schema.LSN(version) > lsn {
			s.newer++
			s.skip[r.ID] = true
			continue
		}
		each(r)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading indexed documents: %w", err)
	}
	return nil
}

// Repair re-indexes the documents rep found from PostgreSQL's current state.
// Every row the index holds for an extra or stale document is passed as a
// stray, so a copy left at an old key is deleted too.
func Repair(ctx context.Context, log *slog.Logger, pg *pgx.Conn, ch ClickHouse, w backfill.Applier, opts Options, rep Report) (index.Result, error) {
	if err := opts.Validate(); err != nil {
		return index.Result{}, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var ids []string
	ids = append(ids, rep.Missing...)
	ids = append(ids, rep.Extra...)
	ids = append(ids, rep.Stale...)
	if len(ids) == 0 {
		return index.Result{}, nil
	}
	strays := map[string][]cdc.Row{}
	indexed := append(slices.Clone(rep.Extra), rep.Stale...)
	for len(indexed) > 0 {
		n := min(len(indexed), 5000)
		rows, err := ch.Query(ctx, "SELECT "+backfill.IndexedColumns+", version FROM "+opts.Database+
			".documents FINAL WHERE is_deleted = 0 AND id IN ? ORDER BY version", indexed[:n])
		if err != nil {
			return index.Result{}, fmt.Errorf("reading indexed rows to repair: %w", err)
		}
		for rows.Next() {
			r, _, err := scanVersioned(rows)
			if err != nil {
				rows.Close()
				return index.Result{}, err
			}
			strays[r.ID] = append(strays[r.ID], r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return index.Result{}, fmt.Errorf("reading indexed rows to repair: %w", err)
		}
		indexed = indexed[n:]
	}
	res, err := backfill.Reindex(ctx, pg, w, ids, strays)
	if err != nil {
		return res, fmt.Errorf("repairing: %w", err)
	}
	log.Info("repaired", "documents", len(ids), "applied", res.Applied, "stale", res.Stale, "rejected", len(res.Rejected))
	return res, nil
}
