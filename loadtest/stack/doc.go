// Package stack starts the real components docsearch runs against on a single
// machine with no Docker: the embedded ClickHouse server (the chembed binary
// over libchdb), an in-process Kafka broker (kfake) and Debian's PostgreSQL.
// It also fetches and caches libchdb and installs PostgreSQL when missing.
//
// It is for `make run`, tests and benchmarks. It is not used in production,
// where docsearch is given the addresses of real servers.
package stack
