// Package limit keeps each caller of docsearch to its request rate and its
// number of requests in flight: a token bucket (golang.org/x/time/rate) and a
// concurrency cap per caller, from defaults and per-caller overrides.
//
// Callers are plain names: the package does not know how they were proven
// (package api/auth does). A rejection is an *Error that says how long to
// wait and becomes a RESOURCE_EXHAUSTED status with RetryInfo.
//
// Not for: global load shedding, limits on the cost of one query (ClickHouse
// settings bound those), or limits shared between replicas: each process
// counts for itself.
package limit
