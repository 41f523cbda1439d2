package audit_test

import (
	"strings"
	"testing"

	"github.com/docsearch/docsearch/api/audit"
)

func TestShape(t *testing.T) {
	for _, tc := range []struct {
		filter, want string
	}{
		{"", "all"},
		{"   ", "all"},
		{"author_id = ", "invalid"},
		{"doc_type = 'referral", "invalid"},
		{"doc_type = 'referral'", "doc_type = ?"},
		{"doc_type = 'lab_result'", "doc_type = ?"},
		{"doc_type != 'lab_result'", "doc_type != ?"},
		{"author_id = 5", "author_id = ?"},
		{"author_id > 5", "author_id > ?"},
		{"author_id = 5 AND doc_type IN ('a', 'b')", "author_id = ?, doc_type IN (?)"},
		{"doc_type IN ('x') AND author_id = 77", "author_id = ?, doc_type IN (?)"},
		{"(doc_type IN ('x', 'y', 'z')) AND ((author_id = 1))", "author_id = ?, doc_type IN (?)"},
		{"doc_type NOT IN ('x')", "doc_type NOT IN (?)"},
		{"created_at >= '2024-01-01' AND created_at < '2024-02-01'", "created_at < ?, created_at >= ?"},
		{"author_id = 1 AND author_id = 2", "author_id = ?"},
		{"author_id = 1 OR doc_type = 'x'", "OR, author_id = ?, doc_type = ?"},
		{"NOT (status = 'cancelled')", "NOT, status = ?"},
		{"NOT (status = 'x') OR icd10 = 'I21'", "NOT, OR, icd10 = ?, status = ?"},
		{"exists(allergy)", "exists(allergy)"},
		{"starts_with(icd10, 'I20')", "starts_with(icd10, ?)"},
		{"has_link()", "has_link()"},
		{"has_link('result_of')", "has_link(?)"},
		{"links_to('0b6e2f4c-1d3a-4e5f-8a9b-7c6d5e4f3a2b')", "links_to(?)"},
		{"Abnormal = true", "Abnormal = ?"},
	} {
		if got := audit.Shape(tc.filter); got != tc.want {
			t.Errorf("Shape(%q) = %q, want %q", tc.filter, got, tc.want)
		}
	}
}

// A shape never grows past MaxShapeBytes, however many fields a filter names,
// and it ends with "..." when cut.
func TestShapeCapped(t *testing.T) {
	var preds []string
	for i := range 60 {
		preds = append(preds, "field_number_"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+" = 1")
	}
	long := strings.Join(preds, " AND ")
	got := audit.Shape(long)
	if len(got) > audit.MaxShapeBytes || !strings.HasSuffix(got, ", ...") {
		t.Fatalf("Shape of 60 fields = %q (%d bytes)", got, len(got))
	}
	if !strings.HasPrefix(got, "field_number_a = ?, ") {
		t.Fatalf("Shape of 60 fields = %q", got)
	}
	if again := audit.Shape(strings.Join(append(preds[30:], preds[:30]...), " AND ")); again != got {
		t.Fatalf("order changed the capped shape: %q vs %q", again, got)
	}
	one := audit.Shape(strings.Repeat("y", 500) + " = 1")
	if len(one) > audit.MaxShapeBytes || !strings.HasPrefix(one, "yyyy") || !strings.HasSuffix(one, "...") {
		t.Fatalf("Shape of one long field = %q (%d bytes)", one, len(one))
	}
}
