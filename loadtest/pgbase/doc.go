// Package pgbase holds the PostgreSQL baselines that docsearch is measured
// against (baselines.md): the same documents table the EMR keeps, searched
// the two ways a PostgreSQL shop would search it.
//
//   - JSONB: attributes stay in the documents table's jsonb column, with the
//     indexes a careful user builds: (patient_id, created_at DESC), GIN
//     jsonb_path_ops on attributes, (organization_id, doc_type, created_at
//     DESC) and (author_id, created_at DESC).
//   - EAV: the legacy EMR's entity-attribute-value table
//     document_attributes, one row per attribute value (an array gives one
//     row per element), indexed on (name, value) and (document_id, name), and
//     searched with one EXISTS subquery per attribute predicate.
//
// Prepare builds a design's tables and indexes over a documents table that
// package gen wrote; Translate turns a parsed filter into one parameterised
// SQL statement for a design, with the spec's exact semantics, scope, order
// and keyset paging; Search runs it. Tests hold both designs to the reference
// evaluator (query/eval), so benchmark numbers compare equal answers.
//
// It is for benchmarks and load tests only: it is not used to serve searches,
// it trusts its caller for limits on input size, and it favours faithful
// reproduction of the baselines over speed.
package pgbase
