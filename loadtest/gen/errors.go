package gen

import "errors"

// Sentinel errors; test with errors.Is.
var (
	// ErrConfig is wrapped by every error of Config.Validate and New.
	ErrConfig = errors.New("invalid generator config")
	// ErrUnsupported is wrapped by a sink's error for a change it cannot apply,
	// such as an unavailable column other than attributes or links.
	ErrUnsupported = errors.New("unsupported change")
)
