package eval

import (
	"time"

	"github.com/docsearch/docsearch/cdc"
)

// Kind is the type of an attribute's values, or of its array's elements.
type Kind uint8

// The attribute kinds. The zero Kind is invalid: New refuses a filter that
// names an attribute of that kind.
const (
	String    Kind = iota + 1 // text, compared bytewise
	Number                    // integers and decimals, compared exactly
	Bool                      // true or false
	Date                      // a string 'YYYY-MM-DD' or RFC 3339 in documents
	Timestamp                 // the same as Date; see the package comment
)

var kindNames = [...]string{String: "string", Number: "number", Bool: "boolean", Date: "date", Timestamp: "timestamp"}

// String returns the kind's name: "string", "number", "boolean", "date",
// "timestamp", or "invalid".
func (k Kind) String() string {
	if k >= String && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "invalid"
}

// AttrType is the registered type of an attribute.
type AttrType struct {
	Kind Kind
	// Array is true when the attribute holds arrays of Kind; false means
	// scalars. Either way a document's array value is matched by its
	// elements and a scalar as a one-element array.
	Array bool
}

// String returns the type's name, such as "number" or "array of string".
func (t AttrType) String() string {
	if t.Array {
		return "array of " + t.Kind.String()
	}
	return t.Kind.String()
}

// Document is one document as the source has it: the newest version, not
// deleted.
type Document struct {
	// ID is the document's uuid, in any case; it is compared in canonical
	// lowercase.
	ID             string
	PatientID      int64
	OrganizationID int64
	AuthorID       int64
	DocType        string
	Status         string
	// CreatedAt and UpdatedAt are compared at microsecond precision, as
	// PostgreSQL keeps them; finer digits are ignored.
	CreatedAt time.Time
	UpdatedAt time.Time
	// Attributes as the source has them, nulls and empty arrays included;
	// nil means none.
	Attributes map[string]cdc.Value
	// Links in any order; nil means none.
	Links []cdc.Link
}

// DocumentFromRow returns the document a change event's row describes. It
// does not look at Row.Unavailable or Row.Missing: carrying columns forward
// is the caller's business.
func DocumentFromRow(r cdc.Row) Document {
	return Document{
		ID: r.ID, PatientID: r.PatientID, OrganizationID: r.OrganizationID, AuthorID: r.AuthorID,
		DocType: r.DocType, Status: r.Status, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		Attributes: r.Attributes, Links: r.Links,
	}
}

// LearnTypes returns the attribute types the documents imply, learned the
// way the attribute registry learns them: strings are String, numbers
// Number, booleans Bool; the first document (in slice order) with a typed
// value fixes an attribute's kind, later values of another kind are
// conflicts and change nothing; an array in any document makes the attribute
// an array. Null and [] say nothing. Date and Timestamp are never learned:
// they are declared, so set them in the result as the test needs.
func LearnTypes(docs []Document) map[string]AttrType {
	types := map[string]AttrType{}
	for _, d := range docs {
		for name, v := range d.Attributes {
			t := v.Type
			array := t.IsArray()
			if array {
				t = t.Elem()
			}
			var k Kind
			switch t {
			case cdc.TypeString:
				k = String
			case cdc.TypeInt, cdc.TypeDecimal:
				k = Number
			case cdc.TypeBool:
				k = Bool
			default:
				continue
			}
			cur, ok := types[name]
			if !ok {
				cur.Kind = k
			}
			cur.Array = cur.Array || array
			types[name] = cur
		}
	}
	return types
}

// commonKind is the type of a common field, which the spec fixes.
type commonKind uint8

const (
	notCommon commonKind = iota
	commonUUID
	commonInt
	commonString
	commonTime
)

var commonFields = map[string]commonKind{
	"id":              commonUUID,
	"patient_id":      commonInt,
	"organization_id": commonInt,
	"author_id":       commonInt,
	"doc_type":        commonString,
	"status":          commonString,
	"created_at":      commonTime,
	"updated_at":      commonTime,
}

// IsCommonField reports whether name is one of the fields every document
// has; such a name never refers to an attribute.
func IsCommonField(name string) bool { return commonFields[name] != notCommon }
