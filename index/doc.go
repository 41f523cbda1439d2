// Package index is the indexer: it consumes Debezium change events of the
// documents table from Kafka, decodes them with package cdc, and writes
// versioned rows into ClickHouse in batches, committing Kafka offsets only
// after ClickHouse has the batch. It then publishes change notifications.
//
// It does not parse filters or answer searches.
package index
