// Package audit is the audit trail of the search service: who searched what,
// when, for which patient, how it went. The server hands every Search,
// Explain and GetDocument call (denied ones included) to a Writer, which
// buffers records in memory and inserts them into the ClickHouse table
// {db}.audit in batches from its own goroutine, so a search never waits for
// the audit insert.
//
// Nothing is lost silently. A record that finds the buffer full is counted
// (docsearch_audit_buffer_full_total) and logged; in fail-open mode the call
// goes on and the record is lost (counted in docsearch_audit_lost_total and
// logged with its identifying fields); in fail-closed mode Record returns
// ErrBufferFull and the server must refuse the call. Records already in the
// buffer are retried until ClickHouse takes them, each batch with the same
// deduplication token, so a retried insert that had in fact succeeded is not
// stored twice.
//
// Find and PopulationReport read the table for `docsearch audit` and
// `docsearch report population`; Shape reduces a filter to its fields and
// operators, without literals, for the population metrics and the report.
//
// Not for: authentication, authorization or rate limiting (the server decides
// those and passes the outcome in Record.Code), nor the table's schema, which
// is a migration in package schema like every other table.
package audit
