// Package reconcile compares the documents of PostgreSQL (the source of truth)
// with the ClickHouse index and repairs the index where they differ.
//
// Both sides are split into ranges (patient bucket = patient_id mod Buckets,
// period = UTC year of created_at). Each range gets a count and an
// order-independent checksum: the wrapping sum of the 64-bit FNV-1a hashes of
// each document's canonical text, computed in Go from the same cdc.Row on both
// sides, so jsonb formatting and ClickHouse's storage cannot make equal
// documents differ. Only mismatching ranges are narrowed down to documents:
// missing (in PostgreSQL only), extra (in the index only) and stale (in both,
// different, or present at more than one key in the index).
//
// PostgreSQL is read in one REPEATABLE READ snapshot whose lsn is known;
// index rows with a newer version than that snapshot are changes the indexer
// applied after it and are not counted as differences. Changes committed
// before the snapshot but not yet indexed (indexer lag) are reported: run it
// when the indexer has caught up, or run it twice.
//
// Repair re-indexes exactly the differing documents from PostgreSQL with
// backfill.Reindex. It is not a backfill: a largely empty index is loaded
// faster by package backfill.
package reconcile
