package audit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/docsearch/docsearch/schema"
)

// Conn is what the audit trail needs of ClickHouse; clickhouse-go's
// driver.Conn satisfies it.
type Conn interface {
	PrepareBatch(ctx context.Context, query string, opts ...driver.PrepareBatchOption) (driver.Batch, error)
	Select(ctx context.Context, dest any, query string, args ...any) error
}

var _ Conn = driver.Conn(nil)

// Errors Record returns in fail-closed mode; the server refuses the call
// (codes.Unavailable) rather than serve it unaudited.
var (
	// ErrBufferFull means the buffer holds Options.Buffer records that
	// ClickHouse has not taken yet.
	ErrBufferFull = errors.New("audit buffer full")
	// ErrClosed means Run has returned: nothing writes records any more.
	ErrClosed = errors.New("audit writer stopped")
)

// Record is one audited call.
type Record struct {
	// Time is when the call arrived, kept to the microsecond; zero means when
	// Record is called.
	Time time.Time
	// RequestID is the id the server logs the call with.
	RequestID string
	// Caller identifies who called; empty when the caller is unknown
	// (unauthenticated).
	Caller string
	// AuthMethod is how the caller was authenticated (such as "jwt" or
	// "mtls"); empty when it was not.
	AuthMethod string
	// Method is the gRPC method, such as "/docsearch.v1.SearchService/Search".
	Method string
	// PatientID is the patient searched, or the document's patient for
	// GetDocument; nil for a population search.
	PatientID *int64
	// Population marks a Search or Explain without a patient.
	Population bool
	// Filter is the filter text as the caller sent it; empty for GetDocument
	// (and for the empty filter). Filters longer than MaxFilterBytes are
	// stored cut, ending with "...(N bytes)".
	Filter string
	// Shape is Shape(Filter) for Search and Explain, empty otherwise. The
	// Writer computes it: a value given to Record is ignored. Find returns it.
	Shape string
	// Strategy is the search's plan (such as "patient"); empty when none ran.
	Strategy string
	// Rows is the number of documents returned.
	Rows int
	// Duration is how long the call took; negative counts as zero.
	Duration time.Duration
	// Code is the gRPC status code's name, such as "OK" or
	// "PermissionDenied".
	Code string
}

// MaxFilterBytes bounds the filter text stored per record: the parser
// refuses filters over 16 KiB anyway, and a denied call's filter may be of
// any size.
const MaxFilterBytes = 64 << 10

// Defaults for the zero values of Options.
const (
	DefaultBuffer          = 10000
	DefaultBatchSize       = 1000
	DefaultFlushEvery      = time.Second
	DefaultRetryMax        = 10 * time.Second
	DefaultInsertTimeout   = 10 * time.Second
	DefaultShutdownTimeout = 10 * time.Second
	DefaultMaxShapes       = 100
	DefaultMaxCallers      = 100
)

// Options configure a Writer.
type Options struct {
	// Database holds the audit table; empty is invalid.
	Database string
	// Buffer is how many records may wait for ClickHouse, the batch being
	// inserted included; zero means DefaultBuffer.
	Buffer int
	// BatchSize is the most records one insert writes; a batch is written as
	// soon as the buffer holds this many. Zero means DefaultBatchSize.
	BatchSize int
	// FlushEvery is the longest a record waits in the buffer while
	// ClickHouse answers; zero means DefaultFlushEvery.
	FlushEvery time.Duration
	// FailClosed makes Record return an error when it cannot take a record,
	// so the server refuses the call; false (fail-open) counts and logs the
	// lost record and lets the call go on.
	FailClosed bool
	// RetryMax caps the wait between attempts at a failed insert, which starts
	// at 100 ms and doubles; zero means DefaultRetryMax.
	RetryMax time.Duration
	// InsertTimeout bounds one insert; zero means DefaultInsertTimeout.
	InsertTimeout time.Duration
	// ShutdownTimeout bounds how long Run goes on writing the buffer after
	// its context ends; zero means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// MaxShapes bounds the distinct shapes of the population metric; later
	// ones count as ShapeOther. Zero means DefaultMaxShapes.
	MaxShapes int
	// MaxCallers bounds the distinct callers of the population metric; later
	// ones count as ShapeOther. Zero means DefaultMaxCallers.
	MaxCallers int
}

// Validate rejects options that cannot work: a bad database name or a
// negative number.
func (o Options) Validate() error {
	if err := (schema.Options{Database: o.Database}).Validate(); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"Buffer", int64(o.Buffer)}, {"BatchSize", int64(o.BatchSize)}, {"FlushEvery", int64(o.FlushEvery)},
		{"RetryMax", int64(o.RetryMax)}, {"InsertTimeout", int64(o.InsertTimeout)},
		{"ShutdownTimeout", int64(o.ShutdownTimeout)}, {"MaxShapes", int64(o.MaxShapes)}, {"MaxCallers", int64(o.MaxCallers)},
	} {
		if f.v < 0 {
			return fmt.Errorf("audit: %s is negative (%d)", f.name, f.v)
		}
	}
	return nil
}

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Buffer, DefaultBuffer)
	def(&o.BatchSize, DefaultBatchSize)
	def(&o.MaxShapes, DefaultMaxShapes)
	def(&o.MaxCallers, DefaultMaxCallers)
	defDur(&o.FlushEvery, DefaultFlushEvery)
	defDur(&o.RetryMax, DefaultRetryMax)
	defDur(&o.InsertTimeout, DefaultInsertTimeout)
	defDur(&o.ShutdownTimeout, DefaultShutdownTimeout)
	o.BatchSize = min(o.BatchSize, o.Buffer)
	return o
}
