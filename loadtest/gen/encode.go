package gen

import (
	"runtime"
	"sync"

	"github.com/docsearch/docsearch/cdc"
)

// minChunk is the fewest events worth a goroutine of their own.
const minChunk = 256

// encodeBatch encodes every change of batch into keys and values, which must
// be as long as batch. Debezium encoding costs several times what generating
// an event does, so a large batch is split over all CPUs; the order is kept.
// It returns the error of the first change that cannot be encoded.
func encodeBatch(batch []cdc.Change, opts cdc.EncodeOptions, keys, values [][]byte) error {
	workers := min(runtime.GOMAXPROCS(0), len(batch)/minChunk)
	if workers <= 1 {
		return encodeRange(batch, opts, keys, values)
	}
	errs := make([]error, workers)
	size := (len(batch) + workers - 1) / workers
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*size, min(len(batch), (w+1)*size)
		wg.Go(func() { errs[w] = encodeRange(batch[lo:hi], opts, keys[lo:hi], values[lo:hi]) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func encodeRange(batch []cdc.Change, opts cdc.EncodeOptions, keys, values [][]byte) error {
	for i := range batch {
		k, v, err := cdc.Encode(batch[i], opts)
		if err != nil {
			return err
		}
		keys[i], values[i] = k, v
	}
	return nil
}

// grow returns s with length n, reusing its array when large enough.
func grow(s [][]byte, n int) [][]byte {
	if cap(s) < n {
		return make([][]byte, n)
	}
	return s[:n]
}
