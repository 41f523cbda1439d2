package strategy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/index"
	"github.com/docsearch/docsearch/schema"
)

// gate is a stored chart query that waits to be let through, recording
// what each query asked for.
type gate struct {
	mu      sync.Mutex
	batches [][]int64
	open    chan struct{}
	err     error
}

func (g *gate) run(ctx context.Context, patients []int64) (map[int64]storedRow, error) {
	g.mu.Lock()
	g.batches = append(g.batches, slices.Clone(patients))
	g.mu.Unlock()
	select {
	case <-g.open:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if g.err != nil {
		return nil, g.err
	}
	out := map[int64]storedRow{}
	for _, p := range patients {
		if p%10 != 0 { // patients 10, 20, ... have no row
			out[p] = storedRow{PatientID: p, Charted: 1}
		}
	}
	return out, nil
}

func (g *gate) asked() [][]int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.batches)
}

// waitFor polls until n reads wait behind the running ones.
func waitFor(t *testing.T, c *chartReads, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		c.mu.Lock()
		k := len(c.waiting)
		c.mu.Unlock()
		if k == n {
			return
		}
	}
	t.Fatalf("%d reads never came to wait", n)
}

// gatedFirstRead starts a read of patient 1 over a gate that fails with
// err when opened, and returns once its query waits at the gate.
func gatedFirstRead(err error) (*gate, *chartReads, chan readResult) {
	g := &gate{open: make(chan struct{}), err: err}
	c := &chartReads{inFlight: 1, run: g.run}
	first := startRead(context.Background(), c, 1)
	for len(g.asked()) == 0 {
		time.Sleep(time.Millisecond)
	}
	return g, c, first
}

type readResult struct {
	row   storedRow
	found bool
	err   error
}

func startRead(ctx context.Context, c *chartReads, patient int64) chan readResult {
	ch := make(chan readResult, 1)
	go func() {
		r, found, err := c.read(ctx, patient)
		ch <- readResult{r, found, err}
	}()
	return ch
}

// Reads that arrive while one runs go together in the next query, each
// patient asked for once, and each reader gets its own patient's row.
func TestChartReadsGather(t *testing.T) {
	ctx := context.Background()
	g, c, first := gatedFirstRead(nil)
	later := map[int64][]chan readResult{}
	for _, p := range []int64{2, 3, 2, 10, 4} {
		later[p] = append(later[p], startRead(ctx, c, p))
		waitFor(t, c, len(later[2])+len(later[3])+len(later[10])+len(later[4]))
	}
	close(g.open)
	if r := <-first; r.err != nil || !r.found || r.row.PatientID != 1 {
		t.Fatalf("first read: %+v", r)
	}
	for p, chs := range later {
		for _, ch := range chs {
			r := <-ch
			if r.err != nil || r.found != (p != 10) || (r.found && r.row.PatientID != p) {
				t.Errorf("patient %d: %+v", p, r)
			}
		}
	}
	if got, want := g.asked(), [][]int64{{1}, {2, 3, 10, 4}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("queries asked for %v, want %v", got, want)
	}
}

// A batch takes at most maxChartBatch patients; the rest go in the next.
func TestChartReadsBatchLimit(t *testing.T) {
	ctx := context.Background()
	g, c, first := gatedFirstRead(nil)
	var rest []chan readResult
	for p := int64(101); p <= 100+maxChartBatch+6; p++ {
		rest = append(rest, startRead(ctx, c, p))
		waitFor(t, c, len(rest))
	}
	close(g.open)
	<-first
	for i, ch := range rest {
		if r, p := <-ch, int64(101+i); r.err != nil || r.found != (p%10 != 0) || r.found && r.row.PatientID != p {
			t.Fatalf("patient %d: %+v", p, r)
		}
	}
	var sizes []int
	for _, b := range g.asked() {
		sizes = append(sizes, len(b))
	}
	if want := []int{1, maxChartBatch, 6}; !slices.Equal(sizes, want) {
		t.Fatalf("batches of %v patients, want %v", sizes, want)
	}
}

// A reader that gives up returns at once and is left out of the next
// query; a failed query fails every read in it and none after it.
func TestChartReadsCancelAndError(t *testing.T) {
	g, c, first := gatedFirstRead(errors.New("server gone"))
	gone, cancel := context.WithCancel(context.Background())
	left := startRead(gone, c, 2)
	waitFor(t, c, 1)
	stays := startRead(context.Background(), c, 3)
	waitFor(t, c, 2)
	cancel()
	if r := <-left; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("cancelled read: %+v, want context.Canceled", r)
	}
	close(g.open)
	if r := <-first; r.err == nil || r.err.Error() != "server gone" {
		t.Fatalf("first read: %+v, want the query's error", r)
	}
	if r := <-stays; r.err == nil {
		t.Fatalf("read in the failed query: %+v, want its error", r)
	}
	if got, want := g.asked(), [][]int64{{1}, {3}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("queries asked for %v, want %v", got, want)
	}
	g.err = nil
	if r := <-startRead(context.Background(), c, 4); r.err != nil || !r.found {
		t.Fatalf("read after the failure: %+v", r)
	}
}

// A gathered query runs until the latest deadline of its readers, so a
// reader with a short one does not cut the others' read short.
func TestBatchContextTakesTheLatestDeadline(t *testing.T) {
	now := time.Now()
	short, c1 := context.WithDeadline(context.Background(), now.Add(time.Second))
	defer c1()
	long, c2 := context.WithDeadline(context.Background(), now.Add(time.Hour))
	defer c2()
	gone, c3 := context.WithDeadline(context.Background(), now.Add(2*time.Hour))
	c3()
	ctx, cancel := batchContext([]*chartWait{{ctx: short}, {ctx: long}, {ctx: gone}})
	defer cancel()
	if dl, ok := ctx.Deadline(); !ok || !dl.Equal(now.Add(time.Hour)) {
		t.Fatalf("deadline %v %v, want an hour on", dl, ok)
	}
	ctx2, cancel2 := batchContext([]*chartWait{{ctx: short}, {ctx: context.Background()}})
	defer cancel2()
	if _, ok := ctx2.Deadline(); ok {
		t.Fatal("a batch with a reader without deadline has one")
	}
}

// Many patients searched at once through gathered reads get the pages
// they get read one by one, and each chart is read once.
func TestGatheredChartReadsAnswerLikeSingleOnes(t *testing.T) {
	ch := env.ClickHouse(t)
	ctx := context.Background()
	if err := schema.Apply(ctx, nil, ch.Conn, ch.SchemaOptions()); err != nil {
		t.Fatal(err)
	}
	const patients = 40
	var all []cdc.Change
	for p := int64(1); p <= patients; p++ {
		all = append(all, patientChanges(p, int(p%7)+1)...)
	}
	if _, err := index.NewWriter(ch.Conn, ch.Database, nil).Apply(ctx, all); err != nil {
		t.Fatal(err)
	}
	alone, err := New(ch.Conn, Options{Database: ch.Database, TokenKey: []byte("k"), ChartReadsInFlight: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	gathered, err := New(ch.Conn, Options{Database: ch.Database, TokenKey: []byte("k"), ChartReadsInFlight: 1, Metrics: NewMetrics(reg)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := func(p Page) []string {
		var out []string
		for _, d := range p.Documents {
			out = append(out, fmt.Sprint(d.PatientID, d.ID, d.CreatedAt.UnixMicro(), d.AttributesJSON))
		}
		return out
	}
	var wg sync.WaitGroup
	for p := int64(1); p <= patients+5; p++ { // five patients without documents
		wg.Go(func() {
			want, err := alone.Search(ctx, Request{PatientID: &p, PageSize: 100})
			if err != nil {
				t.Errorf("patient %d alone: %v", p, err)
				return
			}
			got, err := gathered.Search(ctx, Request{PatientID: &p, PageSize: 100})
			if err != nil {
				t.Errorf("patient %d gathered: %v", p, err)
				return
			}
			if !slices.Equal(ids(got), ids(want)) || len(want.Documents) != int(p%7)+1 && p <= patients {
				t.Errorf("patient %d: gathered %v, alone %v", p, ids(got), ids(want))
			}
		})
	}
	wg.Wait()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "docsearch_stored_chart_read_patients" {
			h := mf.GetMetric()[0].GetHistogram()
			if h.GetSampleSum() != patients+5 {
				t.Fatalf("stored chart queries asked for %v patients, want each of %d once", h.GetSampleSum(), patients+5)
			}
			t.Logf("%d queries for %d patients", h.GetSampleCount(), patients+5)
			// Explain says the reads go together; reading alone, it does not.
			gatheredNote := func(s *Searcher) bool {
				one := int64(1)
				plan, err := s.Explain(ctx, Request{PatientID: &one, PageSize: 100})
				if err != nil {
					t.Fatal(err)
				}
				return slices.ContainsFunc(plan.Notes, func(n string) bool { return strings.Contains(n, "go together, as patient_id IN (...)") })
			}
			if !gatheredNote(gathered) || gatheredNote(alone) {
				t.Fatalf("Explain's note of gathered reads: gathered %v, alone %v", gatheredNote(gathered), gatheredNote(alone))
			}
			return
		}
	}
	t.Fatal("no docsearch_stored_chart_read_patients metric")
}

// A query that panics fails the reads of its batch with an error and logs
// the stack; the process goes on, and the next read runs.
func TestChartReadPanicFailsItsBatch(t *testing.T) {
	var logs strings.Builder
	calls := 0
	c := &chartReads{inFlight: 1, log: slog.New(slog.NewTextHandler(&logs, nil)),
		run: func(_ context.Context, patients []int64) (map[int64]storedRow, error) {
			calls++
			if calls == 1 {
				var rows map[int64]storedRow
				rows[patients[0]] = storedRow{} // a nil map: a panic from the runtime
			}
			return map[int64]storedRow{patients[0]: {PatientID: patients[0]}}, nil
		}}
	r := <-startRead(context.Background(), c, 1)
	if r.err == nil || !strings.Contains(r.err.Error(), "panic") {
		t.Fatalf("a panicking query: %+v", r)
	}
	if !strings.Contains(logs.String(), "stored chart read panicked") || !strings.Contains(logs.String(), "chartreads_test.go") {
		t.Fatalf("log lacks the panic or its stack:\n%s", logs.String())
	}
	if r := <-startRead(context.Background(), c, 2); r.err != nil || !r.found || r.row.PatientID != 2 {
		t.Fatalf("the next read: %+v", r)
	}
}
