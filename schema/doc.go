// Package schema holds docsearch's ClickHouse DDL as versioned migrations and
// applies them at start: the documents table, the patient-periods view, the
// population views and the attribute registry.
//
// It owns table layout only; reading and writing rows belong to index and strategy.
package schema
