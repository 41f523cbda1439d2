package harness

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

// counting is a target whose every tenth call fails; it exercises the
// harness's own arithmetic.
type counting struct{ calls atomic.Int64 }

func (c *counting) Name() string                         { return "counting" }
func (c *counting) Open(context.Context) (Worker, error) { return c, nil }
func (c *counting) Close() error                         { return nil }
func (c *counting) Search(context.Context, Query) (int, error) {
	n := c.calls.Add(1)
	time.Sleep(time.Millisecond)
	if n%10 == 0 {
		return 0, errors.New("every tenth")
	}
	return 3, nil
}

func TestRun(t *testing.T) {
	c := &counting{}
	r, err := Run(context.Background(), c, Class{Name: "x", Next: func(*rand.Rand) Query { return Query{} }}, 4, 200*time.Millisecond, 1)
	if err != nil {
		t.Fatal(err)
	}
	if int64(r.Requests) != c.calls.Load() || r.Errors != r.Requests/10 || r.Rows != 3*(r.Requests-r.Errors) {
		t.Fatalf("result %+v after %d calls", r, c.calls.Load())
	}
	if r.P50 < time.Millisecond || r.P50 > r.P95 || r.P95 > r.P99 || r.P99 > r.Max || r.FirstError != "every tenth" {
		t.Fatalf("percentiles %v %v %v %v, first error %q", r.P50, r.P95, r.P99, r.Max, r.FirstError)
	}
	if _, err := Run(context.Background(), c, Class{}, 0, time.Second, 1); err == nil {
		t.Fatal("zero concurrency accepted")
	}
}

func TestQuantile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	if quantile(d, 0.5) != 50 || quantile(d, 0.99) != 99 || quantile(d, 1) != 100 || quantile(nil, 0.5) != 0 {
		t.Fatal("quantiles off")
	}
}

func TestClassesDrawValidQueries(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range Classes(Data{Patients: 500, Clinics: 200, Authors: 5000, End: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}) {
		next := c.Next
		if c.Session != nil {
			next = c.Session()
		}
		for range 100 {
			q := next(r)
			if q.Limit != 100 || q.PatientID != nil && (*q.PatientID < 1 || *q.PatientID > 500) {
				t.Fatalf("%s drew %+v", c.Name, q)
			}
		}
	}
}

// A chart session asks one patient's searches in order, then moves on; each
// client has its own session.
func TestChartSessionKeepsItsPatient(t *testing.T) {
	var session Class
	for _, c := range Classes(Data{Patients: 100000, Clinics: 200, Authors: 5000}) {
		if c.Session != nil {
			session = c
		}
	}
	if session.Session == nil {
		t.Fatal("no session class")
	}
	r := rand.New(rand.NewPCG(1, 2))
	a, b := session.Session(), session.Session()
	patients := map[int64]bool{}
	for range 4 {
		var first int64
		for i, f := range chartSession {
			q := a(r)
			if i == 0 {
				first = *q.PatientID
				b(r) // another client's session does not move this one
			}
			if *q.PatientID != first || q.Filter != f {
				t.Fatalf("step %d: patient %d filter %q, want %d %q", i, *q.PatientID, q.Filter, first, f)
			}
		}
		patients[first] = true
	}
	if len(patients) < 2 {
		t.Fatalf("four sessions, patients %v", patients)
	}
}
