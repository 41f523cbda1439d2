// Package parser turns filter text into an ast.Filter.
//
// It checks syntax only, against the grammar in the filter-language spec, and
// enforces hard limits on untrusted input (see Options) before and while it
// works. Every error is a posrange.ErrorList wrapping ErrSyntax or ErrLimit,
// rendered "line:col: message".
//
// It is not where names or types are resolved: whether a field exists or a
// literal fits it is package check's business, so the parser accepts
// author_id = 'x' and unknown fields alike.
package parser
