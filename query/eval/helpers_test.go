package eval_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/query/ast"
	"github.com/docsearch/docsearch/query/eval"
	"github.com/docsearch/docsearch/query/parser"
)

func mustParse(t testing.TB, s string) *ast.Filter {
	t.Helper()
	f, err := parser.Parse(s, parser.Options{})
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return f
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

var (
	str  = cdc.StringValue
	num  = cdc.IntValue
	dec  = cdc.DecimalValue
	boo  = cdc.BoolValue
	null = cdc.NullValue
	arr  = cdc.ArrayValue
)

// testData builds a deterministic data set for generator tests: every kind
// of attribute, some on most documents and some on few, nulls, empty arrays,
// type conflicts, strings that need escapes, big numbers and links.
func testData(n int) ([]eval.Document, map[string]eval.AttrType) {
	r := rand.New(rand.NewPCG(1, 2))
	pick := func(s ...string) string { return s[r.IntN(len(s))] }
	uuid := func() string {
		return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xffff, r.Uint32()&0xffff, r.Uint64()&0xffffffffffff)
	}
	base := mustTime("2024-01-01T00:00:00Z")
	docs := make([]eval.Document, n)
	for i := range docs {
		created := base.Add(time.Duration(r.Int64N(int64(400 * 24 * time.Hour)))).Truncate(time.Microsecond)
		if i > 0 && r.IntN(10) == 0 {
			created = docs[i-1].CreatedAt // ties in the result order
		}
		if r.IntN(20) == 0 {
			created = created.Truncate(24 * time.Hour) // midnight, where dates land
		}
		d := eval.Document{
			ID:             uuid(),
			PatientID:      int64(1 + r.IntN(40)),
			OrganizationID: int64(70 + r.IntN(10)),
			AuthorID:       int64(5000 + r.IntN(30)),
			DocType:        pick("therapist_exam", "cardiologist_exam", "lab_referral", "lab_result", "sick_leave"),
			Status:         pick("draft", "signed", "signed", "amended", "cancelled"),
			CreatedAt:      created,
			UpdatedAt:      created.Add(time.Duration(r.IntN(1000)) * time.Minute),
			Attributes:     map[string]cdc.Value{},
		}
		if r.IntN(5) == 0 {
			d.ID = d.ID[:9] + fmt.Sprintf("%X", r.Uint32())[:4] + d.ID[13:] // some upper case
		}
		a := d.Attributes
		if r.IntN(10) < 7 {
			a["icd10"] = str(pick("I21.0", "I20.9", "I20.1", "J45", "E11.9", "i21.0"))
		}
		switch r.IntN(6) {
		case 0:
			a["value"] = num(int64(r.IntN(200)))
		case 1:
			a["value"] = dec(fmt.Sprintf("%d.%d0", r.IntN(200), r.IntN(10)))
		case 2:
			a["value"] = dec(fmt.Sprintf("%d.0", r.IntN(200)))
		case 3:
			a["value"] = num(9007199254740992 + int64(r.IntN(3)))
		case 4:
			a["value"] = null()
		}
		if r.IntN(2) == 0 {
			a["abnormal"] = boo(r.IntN(2) == 0)
		}
		switch r.IntN(5) {
		case 0:
			a["panels"] = arr()
		case 1, 2:
			a["panels"] = arr(str(pick("BMP", "CMP", "CBC")), str(pick("LIPID", "CMP", "TSH")))
		case 3:
			a["panels"] = str(pick("CMP", "CBC")) // a scalar in an array attribute
		}
		if r.IntN(3) == 0 {
			a["scores"] = arr(num(int64(r.IntN(10))), dec(fmt.Sprintf("%d.5", r.IntN(10))))
		}
		if r.IntN(3) == 0 {
			a["flags"] = arr(boo(r.IntN(2) == 0), boo(true))
		}
		if r.IntN(2) == 0 {
			a["visit_date"] = str(created.AddDate(0, 0, -r.IntN(30)).Format(time.DateOnly))
			if r.IntN(20) == 0 {
				a["visit_date"] = str("unknown") // unparsable
			}
		}
		if r.IntN(3) == 0 {
			a["sampled_at"] = str(created.Add(-time.Duration(r.IntN(100)) * time.Hour).In(time.FixedZone("", 3600)).Format(time.RFC3339Nano))
		}
		if r.IntN(3) == 0 {
			a["visits"] = arr(str(created.AddDate(0, -1, 0).Format(time.DateOnly)), str(created.Format(time.DateOnly)))
		}
		if r.IntN(50) == 0 {
			a["rare"] = str(pick("x", "y"))
		}
		if r.IntN(4) == 0 {
			a["note"] = str(pick(`O'Brien`, `say "hi"`, `back\slash`, "tab\there", "naïve", "line\nbreak", ""))
		}
		if r.IntN(4) == 0 {
			if r.IntN(5) == 0 {
				a["dose"] = str("n/a") // a string in a number attribute
			} else {
				a["dose"] = dec(fmt.Sprintf("0.%d", 1+r.IntN(9)))
			}
		}
		if r.IntN(4) == 0 {
			a["bad-name"] = str("unspellable") // not an identifier: never named
		}
		docs[i] = d
	}
	for i := range docs {
		for range r.IntN(3) {
			docs[i].Links = append(docs[i].Links, cdc.Link{
				Type:   pick("result_of", "amends", "referral_for"),
				Target: idLower(docs[r.IntN(n)].ID),
			})
		}
	}
	types := eval.LearnTypes(docs)
	types["visit_date"] = eval.AttrType{Kind: eval.Date}
	types["sampled_at"] = eval.AttrType{Kind: eval.Timestamp}
	types["visits"] = eval.AttrType{Kind: eval.Date, Array: true}
	types["never_seen"] = eval.AttrType{Kind: eval.String} // declared, on no document
	types["scores"] = eval.AttrType{Kind: eval.Number, Array: true}
	types["flags"] = eval.AttrType{Kind: eval.Bool, Array: true}
	types["dose"] = eval.AttrType{Kind: eval.Number}
	return docs, types
}

func idLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
