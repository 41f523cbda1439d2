package gen_test

import (
	"context"
	"io"
	"testing"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/loadtest/gen"
)

// BenchmarkEvents measures generation alone: rows, attributes, links and the
// change phase, without encoding.
func BenchmarkEvents(b *testing.B) {
	cfg := gen.DefaultConfig()
	cfg.Documents = 200_000
	g := newGen(b, cfg)
	var n int64
	for b.Loop() {
		for range g.Events() {
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkFile measures generation and Debezium encoding through Run and a
// FileSink into io.Discard.
func BenchmarkFile(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts cdc.EncodeOptions
	}{{"plain", cdc.EncodeOptions{}}, {"schemas", cdc.EncodeOptions{Schemas: true}}} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := gen.DefaultConfig()
			cfg.Documents = 200_000
			var n int64
			cfg.Progress = func(p gen.Progress) { n = p.Events() }
			g := newGen(b, cfg)
			var total int64
			for b.Loop() {
				s := gen.NewFileSink(io.Discard, bc.opts)
				if err := g.Run(context.Background(), s); err != nil {
					b.Fatal(err)
				}
				total += n
			}
			b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
