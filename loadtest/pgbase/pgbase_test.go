package pgbase_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/docsearch/docsearch/loadtest/gen"
	"github.com/docsearch/docsearch/loadtest/pgbase"
	"github.com/docsearch/docsearch/query/eval"
	"github.com/docsearch/docsearch/query/parser"
)

// dataset writes a small generated EMR into a fresh database and returns a
// pool on it with the final documents and their attribute types.
func dataset(t *testing.T, ctx context.Context) (*pgx.Conn, []eval.Document, map[string]eval.AttrType, gen.Config) {
	t.Helper()
	dsn := env.Postgres(t)
	cfg := gen.DefaultConfig()
	cfg.Seed = 7
	cfg.Documents = 3000
	cfg.Patients = 150
	cfg.Clinics = 8
	cfg.Authors = 40
	cfg.UpdateFraction = 0.2
	cfg.DeleteFraction = 0.03
	cfg.MoveFraction = 0.03
	cfg.CorrectFraction = 0.02
	cfg.ToastFraction = 0.2
	cfg.ChangeWindow = 500
	cfg.BatchSize = 700
	g, err := gen.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sink, err := gen.NewPostgresSink(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Run(ctx, sink); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var docs []eval.Document
	for _, r := range g.Final() {
		docs = append(docs, eval.DocumentFromRow(r))
	}
	types := eval.LearnTypes(docs)
	for _, name := range []string{"start_date", "end_date", "discharge_date"} {
		if _, ok := types[name]; !ok {
			t.Fatalf("attribute %q missing from the data", name)
		}
		types[name] = eval.AttrType{Kind: eval.Date}
	}
	pool, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close(context.Background()) })
	return pool, docs, types, cfg
}

// The classes of baselines.md, as filters over the generated data. Q1 and Q2
// run in a patient's record, the others over the population.
func baselineFilters(end time.Time) []string {
	return []string{
		"",
		"doc_type = 'therapist_exam' AND icd10 IN ('I10', 'I11.9', 'E11.9', 'J06.9') AND NOT status = 'cancelled'",
		fmt.Sprintf("organization_id = 1 AND doc_type = 'lab_result' AND created_at >= '%s'", end.AddDate(0, -6, 0).Format(time.DateOnly)),
		"icd10 = 'I10' AND smoker = true AND bp_systolic > 150",
		"author_id = 3",
	}
}

// Every design returns exactly what the reference evaluator selects, in
// order, for population and patient searches, across a page boundary.
func TestDesignsMatchEval(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	pool, docs, types, cfg := dataset(t, ctx)

	var collation string
	if err := pool.QueryRow(ctx, "SHOW lc_collate").Scan(&collation); err != nil {
		t.Fatal(err)
	}
	t.Logf("database collation %s", collation)

	var filters []string
	filters = append(filters, baselineFilters(cfg.End)...)
	r := rand.New(rand.NewPCG(1, 2))
	schema := eval.SchemaFromDocs(docs, types, 40)
	for i := range 300 {
		schema.Disputed = i%2 == 1
		filters = append(filters, eval.Generate(r, schema, 3))
	}
	// Forms the generator makes rarely.
	filters = append(filters,
		"created_at > '2025-06-01T00:00:00.0000005Z' AND created_at <= '2025-12-01T00:00:00.0000001Z'",
		"created_at = '2025-06-01T00:00:00.0000005Z' OR NOT updated_at != '2025-06-01T00:00:00.0000005Z'",
		"patient_id < 20.5 AND author_id IN (3, 4.0, 5.5, 99999999999999999999)",
		"NOT exists(icd10) AND NOT exists(doc_type)",
		"start_date >= '2024-01-01' AND end_date < '2025-01-01T03:00:00+03:00'",
		"discharge_date != '2024-05-01' AND NOT has_link('contains')",
		"starts_with(status, '') AND starts_with(complaints, 'ch') OR panels = 'CMP' AND NOT panels = 'BMP'",
		"value >= 5.40 AND value < 6 OR ef_percent IN (35, 35.0, 40.5)",
		"bp_systolic != 140 AND urgent != false AND NOT abnormal = true",
		"icd10 > 'I' AND icd10 <= 'J' OR doc_type < 'lab'",
		"has_link() AND NOT has_link('result_of')",
		"icd10 < 'i' AND doc_type > 'Z' AND status >= 'a' AND NOT doc_type < 'lab_result'",
		"icd10 IN ('ä', 'I10') OR starts_with(unit, 'mmol') OR unit > 'mg/dL'",
	)

	patients := map[int64]bool{}
	for _, d := range docs {
		patients[d.PatientID] = true
	}
	var patientIDs []int64
	for p := range patients {
		patientIDs = append(patientIDs, p)
	}
	slices.Sort(patientIDs)

	for _, d := range []pgbase.Design{pgbase.JSONB, pgbase.EAV} {
		t.Run(d.String(), func(t *testing.T) {
			for range 2 { // Prepare is idempotent
				if err := pgbase.Prepare(ctx, pool, d); err != nil {
					t.Fatal(err)
				}
			}
			failures, refused, empty, full := 0, 0, 0, 0
			start := time.Now()
			defer func() {
				t.Logf("%d filters: %d refused by eval, %d matching nothing, %d matching everything; %v",
					len(filters), refused, empty, full, time.Since(start))
			}()
			for i, text := range filters {
				f, err := parser.Parse(text, parser.Options{})
				if err != nil {
					t.Fatalf("%q: %v", text, err)
				}
				m, err := eval.New(f, types)
				if err != nil {
					if _, _, terr := pgbase.Translate(d, f, types, pgbase.Query{}); terr == nil {
						t.Errorf("%q: eval refuses (%v), Translate accepts", text, err)
					}
					refused++
					continue
				}
				all := m.Select(docs)
				switch len(all) {
				case 0:
					empty++
				case len(docs):
					full++
				}
				if i < 5 {
					t.Logf("Q%d %q: %d documents", i+1, text, len(all))
				}
				// The baseline patient classes on patient 1, the heaviest.
				patient := patientIDs[i%len(patientIDs)]
				if i < 2 {
					patient = patientIDs[0]
				}
				var mine []eval.Document
				for _, doc := range all {
					if doc.PatientID == patient {
						mine = append(mine, doc)
					}
				}
				for _, c := range []struct {
					name string
					q    pgbase.Query
					want []eval.Document
					page int
				}{
					{"population", pgbase.Query{}, all, 0},
					{"population paged", pgbase.Query{Limit: 7}, all, 7},
					{"patient paged", pgbase.Query{PatientID: &patient, Limit: 3}, mine, 3},
				} {
					if err := check(ctx, pool, d, text, types, c.q, c.want, c.page); err != nil {
						failures++
						t.Errorf("%s %q: %v", c.name, text, err)
						if failures > 10 {
							t.FailNow()
						}
					}
				}
			}
		})
	}
}

// check runs one search, and its next page when page > 0, and compares the
// ids with want.
func check(ctx context.Context, pool *pgx.Conn, d pgbase.Design, text string, types map[string]eval.AttrType, q pgbase.Query, want []eval.Document, page int) error {
	f, err := parser.Parse(text, parser.Options{})
	if err != nil {
		return err
	}
	got, err := pgbase.Search(ctx, pool, d, f, types, q)
	if err != nil {
		return err
	}
	first := want
	if page > 0 {
		first = want[:min(page, len(want))]
	}
	if err := sameIDs(got, first); err != nil {
		return fmt.Errorf("first page: %w", err)
	}
	if page == 0 || len(got) < page {
		return nil
	}
	q.After = got[len(got)-1].Cursor()
	got, err = pgbase.Search(ctx, pool, d, f, types, q)
	if err != nil {
		return err
	}
	if err := sameIDs(got, want[page:min(2*page, len(want))]); err != nil {
		return fmt.Errorf("second page: %w", err)
	}
	return nil
}

func sameIDs(got []pgbase.Hit, want []eval.Document) error {
	g := make([]string, len(got))
	for i, h := range got {
		g[i] = h.ID
	}
	w := make([]string, len(want))
	for i, d := range want {
		w[i] = strings.ToLower(d.ID)
	}
	if slices.Equal(g, w) {
		return nil
	}
	return fmt.Errorf("%d ids, want %d\n got %v\nwant %v", len(g), len(w), head(g), head(w))
}

func head(s []string) []string { return s[:min(len(s), 8)] }
