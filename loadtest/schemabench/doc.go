// Package schemabench measures the open schema questions of docs/schema.md
// (issue 3) on the machine it runs on: the partition granularity and index
// granularity of the documents table for the patient query class, and JSON
// against Map against typed columns for the ad-hoc attribute query classes.
//
// It is a main package, run by hand (see docs/schema-measurements.md):
//
//	go run ./loadtest/schemabench -start -docs 20000000 -gen year,month -optimize year,month -bench year:q1,month:q1 -drop
//
// Data is generated inside ClickHouse with INSERT ... SELECT FROM numbers(N)
// and deterministic hashes of the row number, in the shape of
// /work/shared/baselines.md; queries are the shapes package strategy sends.
// Nothing here runs in `go test`, except fast checks of the pure helpers.
package main
