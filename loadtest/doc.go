// Package loadtest holds what measures docsearch: the data generator, the
// benchmark harness and the k6 scripts. Its subpackage stack starts the real
// components (embedded ClickHouse, Kafka, PostgreSQL) on one machine for
// `make run`, tests and benchmarks.
package loadtest
