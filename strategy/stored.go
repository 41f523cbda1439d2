package strategy

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// storedChart is a patient's row of patient_charts, which writers rebuild
// after each write of the patient's documents (index.Writer).
type storedChart struct {
	// periods are the patient's periods, newest first, as the periods
	// lookup would give them.
	periods []period
	// charted says docs hold every live document, in result order; else
	// the patient has more than the writer keeps, and docs is empty.
	charted bool
	chart   chart
}

type storedRow struct {
	PatientID  int64    `ch:"patient_id"`
	Charted    uint8    `ch:"charted"`
	Periods    []uint16 `ch:"periods"`
	PeriodRows []uint64 `ch:"period_rows"`
	// Docs is the ids, created and payloads arrays in RowBinary: one
	// string, sliced without copies, where three arrays scanned element by
	// element through reflection cost the service more CPU than the page.
	Docs string `ch:"docs"`
}

func (s *Searcher) storedQuery(patient int64) query {
	return s.storedSelect("patient_id = {s_patient:Int64}", map[string]string{"s_patient": strconv.FormatInt(patient, 10)})
}

func (s *Searcher) storedSelect(where string, params map[string]string) query {
	return query{kind: "stored_chart",
		sql: "SELECT patient_id, charted, periods, period_rows, formatRow('RowBinary', ids, created, payloads) AS docs FROM " +
			s.opts.Database + ".patient_charts FINAL WHERE " + where,
		params:   params,
		settings: clickhouse.Settings{"optimize_skip_unused_shards": 1, "max_threads": 1}}
}

// stored reads the patient's stored chart: one point read in place of the
// periods lookup and the reads of documents. It returns nil when there is
// none to use: charts are off, the patient has no row (nothing written
// since the table was made), the row is a marker left by a bulk writer, or
// it does not decode.
func (s *Searcher) stored(ctx context.Context, patient int64) (*storedChart, error) {
	if s.opts.ChartRows < 0 {
		return nil, nil
	}
	got, err := cached(ctx, s, patient, s.storedQuery(patient), storedSize, storedCharts(patient))
	if err != nil {
		return nil, fmt.Errorf("reading the patient's stored chart: %w", err)
	}
	if len(got) == 0 {
		return nil, nil
	}
	return &got[0], nil
}

// storedCharts reads a stored chart row and unpacks it; a marker, or a row
// that does not decode, reads as no chart.
func storedCharts(patient int64) func(context.Context, *Searcher, query) ([]storedChart, error) {
	return func(ctx context.Context, s *Searcher, q query) ([]storedChart, error) {
		r, found, err := s.readStored(ctx, patient, q)
		if err != nil || !found {
			return nil, err
		}
		if r.Charted == 0 && len(r.Periods) == 0 {
			return nil, nil
		}
		decoded, err := decodeStored(r.Docs, patient)
		if err == nil && len(r.PeriodRows) != len(r.Periods) {
			err = fmt.Errorf("patient %d: stored chart has %d periods and %d row counts", patient, len(r.Periods), len(r.PeriodRows))
		}
		if err != nil {
			// documents hold the truth: the search reads them, as for a
			// patient without a chart, until the patient's next write
			// rebuilds the row.
			s.log.Error("stored chart does not decode; searching documents", "patient", patient, "err", err)
			s.metrics.chart.WithLabelValues(chartDamaged).Inc()
			return nil, nil
		}
		st := storedChart{charted: r.Charted == 1, periods: make([]period, len(r.Periods))}
		for i, p := range r.Periods {
			st.periods[i] = period{Period: p, Rows: r.PeriodRows[i]}
		}
		st.chart = newChart(decoded)
		return []storedChart{st}, nil
	}
}

// readStored reads the patient's stored row: with the reads of other
// patients waiting at the same time, unless those are not gathered.
func (s *Searcher) readStored(ctx context.Context, patient int64, q query) (storedRow, bool, error) {
	if s.charts != nil {
		return s.charts.read(ctx, patient)
	}
	var got []storedRow
	if err := s.bounded(ctx, q, &got); err != nil || len(got) == 0 {
		return storedRow{}, false, err
	}
	return got[0], true, nil
}

func storedSize(got []storedChart) int {
	n := 0
	for _, st := range got {
		n += chartSize(st.chart) + 16*len(st.periods) + 64
	}
	return n
}

// decodeStored unpacks formatRow('RowBinary', ids, created, payloads): three
// arrays of one length, then each payload as schema.PayloadExpr has it.
func decodeStored(docs string, patient int64) ([]row, error) {
	b := rowBinary{s: docs}
	ids := make([]string, b.count())
	for i := range ids {
		ids[i] = b.uuid()
	}
	if n := b.count(); b.err == nil && n != len(ids) {
		return nil, fmt.Errorf("patient %d: stored chart has %d ids and %d dates", patient, len(ids), n)
	}
	created := make([]int64, len(ids))
	for i := range created {
		created[i] = b.int64()
	}
	if n := b.count(); b.err == nil && n != len(ids) {
		return nil, fmt.Errorf("patient %d: stored chart has %d ids and %d payloads", patient, len(ids), n)
	}
	rows := make([]row, len(ids))
	for i := range rows {
		p := payloadRow{ID: ids[i], CreatedAt: time.UnixMicro(created[i]).UTC(), Payload: b.str()}
		if b.err != nil {
			break
		}
		r, err := p.decode(patient)
		if err != nil {
			return nil, fmt.Errorf("patient %d: %w", patient, err)
		}
		rows[i] = r
	}
	if b.err == nil && len(b.s) != 0 {
		b.err = fmt.Errorf("%d bytes left over", len(b.s))
	}
	if b.err != nil {
		return nil, fmt.Errorf("patient %d: decoding the stored chart: %w", patient, b.err)
	}
	return rows, nil
}
