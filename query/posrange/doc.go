// Package posrange holds byte-offset positions in filter text and the one
// positioned error type that the parser and the checker both report.
//
// Syntax-tree nodes store only byte offsets; line and column are worked out
// here, once, when an error is created, so the tree stays small and the text
// is not needed after parsing except for diagnostics.
//
// It is not for positions in any other text (SQL, logs); it knows nothing of
// the filter grammar.
package posrange
