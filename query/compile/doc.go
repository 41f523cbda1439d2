// Package compile turns a checked filter (package check) into a boolean
// ClickHouse expression over the columns of the documents table and its
// copies (documents_by_author_v2, documents_by_org), with every literal passed
// as a server-side query parameter: no text of the filter is ever spliced
// into the SQL. Attribute names do appear, as backquoted JSON paths, and only
// when they are plain identifiers.
//
// The expression has the spec's two-valued meaning built in: every predicate
// is 0 or 1, never NULL, so NOT of a predicate on a missing attribute is
// true. The shapes, for a common field c and an attribute a, where a.:T is
// the typed subcolumn attributes.`a`.:T:
//
//	c = {f0:String}                     a column and a parameter of its type
//	startsWith(c, {f0:String})
//	ifNull(a.:String = {f0:String}, 0)  a scalar value, or some array element
//	  OR arrayExists(e -> ifNull(e = {f0:String}, 0), a.:`Array(Nullable(String))`)
//	ifNull(a.:Int64 > {f0:Int64} OR a.:UInt64 > {f0:Int64} OR a.:Float64 > {f0:Int64}, 0)
//	  OR arrayExists(...)               numbers, once for each array type
//	parse(a.:String) < {f0:DateTime64(6, 'UTC')}
//	                                    dates and timestamps, strictly parsed
//	isNotNull(a) AND NOT (startsWith(dynamicType(a), 'Array(') AND toString(a) = '[]')
//	                                    exists(a)
//	notEmpty(link_types), has(link_types, {f0:String}), has(link_targets, {f0:UUID})
//
// A predicate on an attribute reads only the typed subcolumns of the dynamic
// types its values can be stored as: a scalar and an array of the registered
// element type, whatever the registry says about arrays, with numbers spread
// over Int64, UInt64 and Float64. A value of another type (a string where a
// number is registered) matches nothing.
//
// Numbers compare exactly with integer data (a decimal literal is moved onto
// the integers: x < 180.5 is x <= 180) and as Float64 with Float64 data,
// which the server parses from the literal's text as it parsed the stored
// value's, so 5.4 equals a stored 5.40. Times compare on DateTime64(6)'s
// microsecond grid, and a literal outside years 1 to 9999 is folded into a
// constant.
//
// It does not choose a table, a key range or a plan, add the patient
// condition, order or page results (package strategy does), and it never sees
// filter text (packages parser and check do).
package compile
