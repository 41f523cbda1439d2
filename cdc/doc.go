// Package cdc decodes the change events that Debezium's PostgreSQL connector
// writes for the EMR's documents table (topic emr.public.documents, JSON
// converter with or without schemas) into typed changes, and encodes such
// events for tests and the data generator.
//
// It is not a Kafka client and does not talk to ClickHouse or PostgreSQL: it
// turns the key and value bytes of one message into a Change, or into an error
// that says which field is wrong and why, and does no I/O. What to do with a
// change (skip a tombstone, carry an unavailable column forward, order by
// Version) is the indexer's business; this package only makes the facts
// explicit. The event format is specified in source-events.md.
//
// # What Decode returns
//
//   - op "c", "u", "r": Create, Update, Read with the after image as Row, every
//     column present or, if Debezium sent the TOAST placeholder
//     UnavailableValue, listed in Row.Unavailable with a zero value.
//   - op "d": Delete with the before image as Row. With the default replica
//     identity it holds only the id; the other columns are listed in
//     Row.Missing. With REPLICA IDENTITY FULL every column is decoded.
//   - a key with a null or empty value (or a schema wrapper whose payload is
//     null): Tombstone, with only Kind and ID.
//   - op "t": an error wrapping ErrTruncate, never a Change.
//   - anything else: an *Error wrapping ErrMalformed.
//
// # Decisions where the format leaves room
//
//   - The key is optional. When present it must be {"id": <uuid>} (possibly
//     schema-wrapped) and name the same id as the row.
//   - source.lsn is required: a JSON integer from 1 to 2^63-1. The times
//     source.ts_ms and ts_ms are optional (zero when absent), non-negative.
//   - bigint columns must be JSON integers in the int64 range. Numeric strings,
//     fractions (even 5.0) and exponents are rejected: Debezium writes a Java
//     long, so such a value means the event did not come from it.
//   - uuids are accepted in any case and returned lowercase; timestamps with any
//     offset are returned in UTC; a timestamp finer than microseconds, or
//     PostgreSQL's infinity, is rejected.
//   - jsonb columns must be strings holding JSON text (io.debezium.data.Json).
//     In a delete's before image an empty string counts as missing: for a NOT
//     NULL column outside the replica identity Debezium's converters may write
//     their fallback, "" for a string, instead of null.
//   - attributes: a flat object; values are strings, numbers, booleans, null or
//     non-empty arrays of strings, of booleans or of numbers (integers and
//     decimals may mix), or []. Nested objects, nested arrays, nulls inside
//     arrays and arrays of mixed types are errors. A name seen twice keeps its
//     last value, as jsonb does. Numbers keep their literal text.
//   - links: an array of objects with a non-empty string "type" and a uuid
//     "target"; other fields of a link are ignored.
//   - Unknown fields of the envelope, the source block and the row (a column
//     added later) are ignored, so that a schema change does not dead-letter
//     every event.
//   - source.table is not checked: the columns are the real check.
package cdc
