package eval_test

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/query/eval"
	"github.com/docsearch/docsearch/query/parser"
)

func ExampleMatches() {
	types := map[string]eval.AttrType{"allergy": {Kind: eval.String}}
	doc := eval.Document{
		ID:         "6f1c7d0e-2b1a-4c55-9a7e-3c2d1b0a9f88",
		DocType:    "therapist_exam",
		CreatedAt:  time.Date(2024, 3, 1, 10, 15, 30, 0, time.UTC),
		Attributes: map[string]cdc.Value{"allergy": cdc.NullValue()},
	}
	for _, text := range []string{
		"allergy = 'penicillin'",
		"NOT (allergy = 'penicillin')",
		"allergy != 'penicillin'",
		"exists(allergy)",
		"created_at >= '2024-03-01' AND doc_type = 'therapist_exam'",
		"alergy = 'penicillin'",
	} {
		f, err := parser.Parse(text, parser.Options{})
		if err != nil {
			panic(err)
		}
		ok, err := eval.Matches(f, doc, types)
		fmt.Println(text, "->", ok, err)
	}
	// Output:
	// allergy = 'penicillin' -> false <nil>
	// NOT (allergy = 'penicillin') -> true <nil>
	// allergy != 'penicillin' -> true <nil>
	// exists(allergy) -> false <nil>
	// created_at >= '2024-03-01' AND doc_type = 'therapist_exam' -> true <nil>
	// alergy = 'penicillin' -> false 1:1: unknown field "alergy"
}

func ExampleGenerate() {
	docs := []eval.Document{
		{ID: "6f1c7d0e-2b1a-4c55-9a7e-3c2d1b0a9f88", PatientID: 7, DocType: "lab_result", Status: "signed",
			Attributes: map[string]cdc.Value{"value": cdc.DecimalValue("5.4")}},
	}
	types := eval.LearnTypes(docs)
	s := eval.SchemaFromDocs(docs, types, 10)
	r := rand.New(rand.NewPCG(1, 2))
	text := eval.Generate(r, s, 2)
	_, err := parser.Parse(text, parser.Options{})
	fmt.Println(err)
	// Output: <nil>
}
