package harness

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Data describes the generated data set the classes draw from (gen's shape).
type Data struct {
	// Patients, Clinics, Authors as given to the generator.
	Patients, Clinics, Authors int
	// End is the end of the generated history; "last month" is the 30 days before it.
	End time.Time
}

// skewed draws 1..n with the generator's skew (n*u^2): busy ids come often.
func skewed(r *rand.Rand, n int) int64 {
	u := r.Float64()
	return int64(1 + int(float64(n)*u*u))
}

// chartSession are one chart's searches, in order.
var chartSession = []string{
	"",
	"doc_type = 'therapist_exam'",
	"doc_type = 'lab_result'",
	"icd10 IN ('I10', 'E11.9', 'J06.9', 'I25.1')",
	"",
}

// Classes are the query classes of baselines.md over data shaped like d.
func Classes(d Data) []Class {
	return []Class{
		{Name: "Q1 patient, newest 100", Next: func(r *rand.Rand) Query {
			p := skewed(r, d.Patients)
			return Query{PatientID: &p, Limit: 100}
		}},
		{Name: "Q2 patient + doc_type + icd10 IN + NOT status", Next: func(r *rand.Rand) Query {
			p := skewed(r, d.Patients)
			return Query{PatientID: &p, Limit: 100,
				Filter: "doc_type = 'therapist_exam' AND icd10 IN ('I10', 'E11.9', 'J06.9', 'I25.1') AND NOT status = 'cancelled'"}
		}},
		{Name: "Q6 chart session: 5 searches per patient", Session: func() func(r *rand.Rand) Query {
			// A clinician opens a chart, narrows it three ways, and
			// comes back to the whole list; then the next patient.
			var p int64
			step := 0
			return func(r *rand.Rand) Query {
				if step%len(chartSession) == 0 {
					p = skewed(r, d.Patients)
				}
				f := chartSession[step%len(chartSession)]
				step++
				pp := p
				return Query{PatientID: &pp, Limit: 100, Filter: f}
			}
		}},
		{Name: "Q3 clinic + doc_type + last month", Next: func(r *rand.Rand) Query {
			return Query{Limit: 100, Filter: fmt.Sprintf("organization_id = %d AND doc_type = 'sick_leave' AND created_at >= '%s'",
				skewed(r, d.Clinics), d.End.AddDate(0, 0, -30).Format("2006-01-02"))}
		}},
		{Name: "Q4 icd10 AND smoker AND bp_systolic > 180", Next: func(r *rand.Rand) Query {
			codes := []string{"I10", "E11.9", "I25.1", "E78.5"}
			return Query{Limit: 100, Filter: fmt.Sprintf("icd10 = '%s' AND smoker = true AND bp_systolic > 180", codes[r.IntN(len(codes))])}
		}},
		{Name: "Q5 author, newest 100", Next: func(r *rand.Rand) Query {
			return Query{Limit: 100, Filter: fmt.Sprintf("author_id = %d", skewed(r, d.Authors))}
		}},
	}
}
