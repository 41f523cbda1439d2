// Package backfill loads the operational documents table of PostgreSQL into
// the ClickHouse index from one consistent snapshot, through index.Writer, so
// that it can run while the live indexer consumes the change stream.
//
// Every row of a snapshot is applied as a cdc.Read whose version is the
// snapshot's pg_current_wal_lsn(), read as the first statement of its
// REPEATABLE READ transaction. A change committed before the snapshot is in
// the row already and has a smaller lsn; a change committed after it has a
// larger lsn, so it beats the snapshot row whether it is indexed before or
// after it (the Writer skips the snapshot row as stale when the index already
// holds a newer version).
//
// Resuming: progress (run id, last id done, rows, the snapshots used) is kept
// in the backfill_progress table, written after each batch is durable. A
// resumed run continues after the last id done with a NEW snapshot. That is
// correct because ids are disjoint: the rows done carry the old snapshot's
// state at the old snapshot's lsn, and every change made to them since has a
// larger lsn and reaches the index through the stream; the rows still to do
// are read from the new snapshot at the new lsn. No row is read from two
// snapshots, and no snapshot row can hide a change the stream delivers.
//
// Caveats, which reconcile detects and repairs:
//   - Debezium's source.lsn is the position of the change record, not of its
//     commit. A transaction that wrote a row before the snapshot's lsn but
//     committed after the snapshot began carries an lsn below the snapshot's,
//     so its change loses to the older snapshot row.
//   - index.Writer reads a document's stored key before it writes. When the
//     live indexer moves or deletes a document at the same moment backfill
//     writes its snapshot row, neither may see the other's key, and the
//     snapshot row is left behind at the old key. Run's settle pass (after
//     Options.Settle) finds such rows — a snapshot version that is no longer
//     the document's stored version — and re-indexes those documents with
//     Reindex.
//
// It is not the live indexer (package index) and does not compare the two
// stores (package reconcile).
package backfill
