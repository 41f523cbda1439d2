package parser

import "fmt"

// Defaults for the Options limits.
const (
	DefaultMaxBytes      = 16 << 10
	DefaultMaxDepth      = 32
	DefaultMaxListLength = 1000
	DefaultMaxPredicates = 256
)

// Options are the limits the parser enforces on untrusted filter text. The
// zero value means every default.
type Options struct {
	// MaxBytes is the longest filter text accepted, in bytes, checked before
	// any other work. Zero means DefaultMaxBytes.
	MaxBytes int
	// MaxDepth bounds nesting: each grouping "(" and each NOT is one level.
	// Zero means DefaultMaxDepth.
	MaxDepth int
	// MaxListLength bounds the values of one IN list. Zero means
	// DefaultMaxListLength.
	MaxListLength int
	// MaxPredicates bounds the predicates (comparisons, IN lists and
	// function calls) in one filter. Zero means DefaultMaxPredicates.
	MaxPredicates int
}

// Validate reports options that cannot be used: a negative limit.
func (o Options) Validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{
		{"MaxBytes", o.MaxBytes},
		{"MaxDepth", o.MaxDepth},
		{"MaxListLength", o.MaxListLength},
		{"MaxPredicates", o.MaxPredicates},
	} {
		if f.v < 0 {
			return fmt.Errorf(msgNegativeOption, f.name, f.v)
		}
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxDepth == 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.MaxListLength == 0 {
		o.MaxListLength = DefaultMaxListLength
	}
	if o.MaxPredicates == 0 {
		o.MaxPredicates = DefaultMaxPredicates
	}
	return o
}
