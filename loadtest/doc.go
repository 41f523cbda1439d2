// Package loadtest holds what measures docsearch: gen (a synthetic EMR),
// pgbase (the PostgreSQL baselines), harness (the query mix and its
// percentiles, run by `docsearch bench`) and schemabench (schema variants).
// Its subpackage stack starts the real components (embedded ClickHouse,
// Kafka, PostgreSQL) on one machine for `make run`, tests and benchmarks.
package loadtest
