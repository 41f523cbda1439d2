package limit

// Diagnostic texts: lowercase, no final period, names quoted.
const (
	msgBadLimits   = "limits %+v must be finite and not negative"
	msgNegative    = "%s must not be negative, got %v"
	msgRate        = "caller %q is over its rate of %g requests/s (burst %d); retry in %s"
	msgConcurrency = "caller %q has %d requests in flight, its limit; retry when one ends"
)
