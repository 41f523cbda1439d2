package api_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/docsearch/docsearch/api/docsearch/v1"
	"github.com/docsearch/docsearch/api/limit"
)

// BenchmarkNoisyNeighbour measures a well-behaved caller's patient-search
// latency alone, while another caller uses its whole rate limit (20 req/s),
// while it offers ten times that (200 req/s), and while a caller with no
// limit offers the same. With the limiter the second and third match.
// Run with -benchtime=1x; each phase lasts 5 s.
//
//	go test -run '^$' -bench NoisyNeighbour -benchtime=1x ./api
func BenchmarkNoisyNeighbour(b *testing.B) {
	f := newFixture(b, 9, 2000)
	c := guarded(b, f, limit.Limits{Rate: 10000, Burst: 10000}, nil,
		caller("chart", "chart-key", nil, "search:patient"),
		caller("noisy", "noisy-key", map[string]any{"rate": 20, "burst": 20, "max_concurrent": 2}, "search:patient"),
		caller("unlimited", "unlimited-key", nil, "search:patient"))

	search := func(ctx context.Context, key string, patient int64) error {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
		size := int32(20)
		_, err := c.Search(ctx, &pb.SearchRequest{PatientId: &patient, Filter: "status != 'x'", PageSize: &size})
		return err
	}
	// quiet runs 2 workers of the well-behaved caller for d.
	quiet := func(d time.Duration) []time.Duration {
		var mu sync.Mutex
		var lat []time.Duration
		var wg sync.WaitGroup
		end := time.Now().Add(d)
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; time.Now().Before(end); i++ {
					start := time.Now()
					if err := search(context.Background(), "chart-key", f.patients[(w+i)%len(f.patients)]); err != nil {
						b.Error(err)
						return
					}
					mu.Lock()
					lat = append(lat, time.Since(start))
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		slices.Sort(lat)
		return lat
	}
	p := func(lat []time.Duration, q float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000
	}
	// offer sends rate req/s as key from 16 workers until ctx ends.
	offer := func(ctx context.Context, key string, rate int, sent, refused *atomic.Int64) *sync.WaitGroup {
		var wg sync.WaitGroup
		ticks := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(ticks)
			t := time.NewTicker(time.Second / time.Duration(rate))
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					select {
					case ticks <- struct{}{}:
					default: // every worker busy: the offer is dropped, as an open-loop client's would queue
					}
				}
			}
		}()
		for w := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					if _, ok := <-ticks; !ok {
						return
					}
					err := search(ctx, key, f.patients[(w+i)%len(f.patients)])
					sent.Add(1)
					if status.Code(err) == codes.ResourceExhausted {
						refused.Add(1)
					}
				}
			}()
		}
		return &wg
	}
	phase := func(key string, rate int) ([]time.Duration, float64) {
		ctx, cancel := context.WithCancel(context.Background())
		var sent, refused atomic.Int64
		wg := offer(ctx, key, rate, &sent, &refused)
		time.Sleep(200 * time.Millisecond)
		lat := quiet(5 * time.Second)
		cancel()
		wg.Wait()
		return lat, float64(refused.Load()) / float64(max(1, sent.Load()))
	}
	b.ResetTimer()
	for range b.N {
		alone := quiet(5 * time.Second)
		atLimit, _ := phase("noisy-key", 20)
		limited, refusedFrac := phase("noisy-key", 200)
		unlimited, _ := phase("unlimited-key", 200)
		for _, r := range []struct {
			name string
			lat  []time.Duration
		}{{"alone", alone}, {"at-limit", atLimit}, {"over-limit", limited}, {"no-limit", unlimited}} {
			b.ReportMetric(p(r.lat, 0.5), r.name+"-p50-ms")
			b.ReportMetric(p(r.lat, 0.99), r.name+"-p99-ms")
			b.ReportMetric(float64(len(r.lat))/5, r.name+"-req/s")
		}
		b.ReportMetric(refusedFrac, "noisy-refused-frac")
	}
}
