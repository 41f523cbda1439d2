// Package check resolves the fields of a parsed filter and checks its
// literals against their types, producing the checked tree (Checked) that
// the SQL compiler reads.
//
// Common fields have fixed types; every other name is looked up in the
// attribute Registry. The checker reports every mistake it finds, each with
// its position, up to Options.MaxErrors, as a posrange.ErrorList whose
// errors wrap ErrUnknownField or ErrType.
//
// The checked tree has the spec's meaning built in so that no later step can
// get it wrong: != is NOT of =, NOT IN is NOT of IN, literals are typed values
// (int64, exact decimal text, string, bool, time.Time in UTC) and ids are in
// canonical form. How a predicate on a missing attribute or an array behaves
// in SQL is left to the compiler; the checker gives it the element type.
//
// It is not a parser (it takes an ast.Filter and never sees grammar) and
// writes no SQL.
package check
