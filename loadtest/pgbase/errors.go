package pgbase

import "errors"

// ErrDesign is returned for a Design that is neither JSONB nor EAV.
var ErrDesign = errors.New("unknown design")

// ErrQuery is returned for a bad Query: a negative limit.
var ErrQuery = errors.New("bad query")
