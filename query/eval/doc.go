// Package eval is the filter language's reference evaluator: it decides, in
// memory and straight from the words of filter-language.md, which documents
// a filter matches and in what order search results come. It also generates
// random filters over a data set (Generate) and pages results as the service
// does (Page).
//
// It exists for tests and benchmarks: end-to-end tests run the same filter
// through docsearch (parser, checker, SQL compiler, ClickHouse) and through
// this package and compare the answers, so it is deliberately independent of
// packages check and compile. It reuses only the parser and the syntax tree,
// for the syntax, and decides everything about meaning itself.
//
// It is not used to serve searches: it scans every document it is given,
// reports only the first error of a bad filter, and favours exactness (math/big
// for every number) over speed.
//
// # Decisions where the spec leaves room
//
//   - An array value of any attribute is matched element by element, and a
//     scalar value of an array attribute counts as a one-element array, as the
//     attribute registry says.
//   - A value whose type differs from the attribute's registered type (a
//     string in a number attribute, an unparsable date) satisfies no
//     comparison, IN or starts_with, but it does count for exists.
//   - exists is false only for a missing attribute, JSON null and []; an empty
//     string is a value.
//   - Date and timestamp attributes are compared as instants: a stored or
//     literal 'YYYY-MM-DD' is midnight UTC, and a stored timestamp in a date
//     attribute is not cut to its day.
//   - created_at and updated_at are compared, like results are sorted, at
//     microsecond precision; literals are compared exactly as written.
//   - Booleans take =, != and IN (IN is a disjunction of =); <, <=, > and >=
//     on a boolean are errors.
//   - Integer common fields (patient_id, organization_id, author_id) take any
//     number, compared exactly, so patient_id = 5.0 matches patient 5 and
//     patient_id < 1e20 written out matches every patient: the spec lets
//     integers and decimals mix freely. (docsearch's checker refuses both.)
//   - id takes every comparison operator, ordering by canonical lowercase
//     text (the result order); its literals, and links_to's, must be uuids.
//     (docsearch's checker refuses <, <=, > and >= on id.)
//   - has_link with an empty type is an error: a link type is never empty.
//
// Generate emits the forms docsearch's checker refuses only when asked
// (GenSchema.Disputed).
package eval
