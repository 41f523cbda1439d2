package check

import "slices"

// Kind is the type of a field's values, or of an array's elements.
type Kind uint8

// The kinds. Attributes use String, Number, Bool, Date and Timestamp; Int
// and UUID belong to common fields.
const (
	Invalid   Kind = iota // no type; a Registry must not return it
	String                // text, compared bytewise
	Number                // integers and decimals, mixed freely
	Bool                  // true or false
	Date                  // a day, compared as midnight UTC
	Timestamp             // an instant
	Int                   // a 64-bit integer
	UUID                  // a uuid, kept in canonical lowercase text
)

var kindNames = [...]string{
	Invalid: "invalid", String: "string", Number: "number", Bool: "boolean",
	Date: "date", Timestamp: "timestamp", Int: "integer", UUID: "uuid",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "invalid"
}

// Type is the type of a field: a kind, or an array of that kind.
type Type struct {
	Kind Kind
	// Array is true when the field holds an array of Kind; a predicate on
	// it holds when some element satisfies it.
	Array bool
}

func (t Type) String() string {
	if t.Array {
		return "array of " + t.Kind.String()
	}
	return t.Kind.String()
}

// Registry is the attribute registry as the checker sees it: the type of each
// known attribute, declared by an operator or learned from documents.
// Implementations must be safe for concurrent use if Check is called
// concurrently.
type Registry interface {
	// Lookup returns the type of the attribute called name, matching case
	// exactly.
	Lookup(name string) (Type, bool)
	// Names returns the known attribute names; it is called only to suggest
	// a name for an unknown field.
	Names() []string
}

// Fixed is a registry whose types never change: for tools and tests.
type Fixed map[string]Type

var _ Registry = Fixed(nil)

// Lookup implements Registry.
func (f Fixed) Lookup(name string) (Type, bool) {
	t, ok := f[name]
	return t, ok
}

// Names implements Registry, sorted.
func (f Fixed) Names() []string {
	names := make([]string, 0, len(f))
	for n := range f {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// commonFields are present on every document, each in its own column, with
// the types the spec fixes. A name here shadows an attribute of the same name.
var commonFields = map[string]Kind{
	"id":              UUID,
	"patient_id":      Int,
	"organization_id": Int,
	"author_id":       Int,
	"doc_type":        String,
	"status":          String,
	"created_at":      Timestamp,
	"updated_at":      Timestamp,
}
