// Package index is the indexer: it consumes Debezium change events of the
// documents table from Kafka, decodes them with package cdc, and writes
// versioned rows into ClickHouse in batches, committing Kafka offsets only
// after ClickHouse has the batch. It then publishes change notifications.
// Its Writer and Publisher also serve the commands that write around the
// stream (backfill, repair), through a NotifyingWriter, so their writes are
// announced the same way.
//
// It does not parse filters or answer searches.
package index
