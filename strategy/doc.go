// Package strategy chooses how a checked search request is executed: a
// patient plan that reads only the partitions holding that patient's
// documents, or a population plan over a purpose-built view, a projection or
// the main table. It runs the plan against ClickHouse and pages the results.
//
// It does not parse filter text (package query does) nor speak gRPC (package api).
package strategy
