package strategy

import (
	"fmt"
	"testing"
	"time"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/query/compile"
)

// A fresh chart of 200 documents, its first search: every attribute parsed
// up front (as before), or each on the first predicate that reads it.
func BenchmarkFreshChart(b *testing.B) {
	types := []string{"therapist_exam", "cardiologist_exam", "lab_result", "referral", "sick_leave",
		"vaccination", "discharge", "imaging", "prescription", "consultation"}
	rows := make([]row, 200)
	for i := range rows {
		at := time.Date(2016+i%10, 3, 1, 9, 0, 0, 0, time.UTC)
		rows[i] = row{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), PatientID: 7, DocType: types[i%len(types)],
			Status: "signed", CreatedAt: at, UpdatedAt: at,
			AttributesRaw: fmt.Sprintf(`{"icd10":["I10","E11.%d"],"bp_systolic":%d,"smoker":false,"visit_date":"2024-03-01","note":"follow up in 3 months"}`, i%10, 100+i%90)}
	}
	for name, text := range map[string]string{
		"unfiltered": "",
		"codes":      "doc_type = 'cardiologist_exam' AND icd10 IN ('I10', 'I21.0') AND NOT status = 'cancelled'",
	} {
		m, err := compile.Match(mustCheck(b, text, chartTypes))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/parsed first", func(b *testing.B) {
			for b.Loop() {
				c := newChart(rows)
				for i := range c.docs {
					d := &c.docs[i].doc
					a, err := cdc.ParseAttributes(c.docs[i].row.AttributesRaw)
					if err != nil {
						b.Fatal(err)
					}
					d.Attributes, d.Lazy = a, nil
				}
				matchChart(c, m)
			}
		})
		b.Run(name+"/lazy", func(b *testing.B) {
			for b.Loop() {
				matchChart(newChart(rows), m)
			}
		})
	}
}

func matchChart(c chart, m *compile.Matcher) int {
	n := 0
	for i := range c.docs {
		if ok, _ := m.Match(&c.docs[i].doc); ok {
			n++
		}
	}
	return n
}
