// Package ast declares the syntax tree of a search filter, as written: field
// names are plain identifiers and literals keep their source text. Nodes carry
// byte offsets (see posrange) so every later diagnostic can point at the text.
//
// The tree is produced by package parser and consumed by package check, which
// resolves fields and types; nothing here knows what a field means. The
// printer (String) writes a tree back as canonical filter text.
//
// It is not the parser's grammar (that stays private to package parser) and
// not the checked, typed form the SQL compiler reads (package check).
package ast
