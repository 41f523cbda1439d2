package stacktest

import (
	"bytes"
	"sync"
)

// Output collects what a child process or a logger writes, and may be read
// while it is still written (exec copies a pipe from its own goroutine).
type Output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

// String is everything written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}
