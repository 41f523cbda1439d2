// Package limit keeps each caller of docsearch to its request rate and its
// number of requests in flight: a token bucket (golang.org/x/time/rate) and a
// concurrency cap per caller, from defaults and per-caller overrides.
//
// Callers are plain names: the package does not know how they were proven
// (package api/auth does). A rejection is an *Error that says how long to
// wait and becomes a RESOURCE_EXHAUSTED status with RetryInfo.
//
// Callers named in Config.Callers keep their state for good. Others get one
// of their own while fewer than MaxCallers are tracked, else share the
// "(other)" state; a caller that moves from "(other)" to a state of its own
// may briefly hold slots in both, so its cap is strict only once it has one.
//
// Not for: global load shedding, limits on the cost of one query (ClickHouse
// settings bound those), or limits shared between replicas: each process
// counts for itself.
package limit
