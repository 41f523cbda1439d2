package compile_test

import (
	"fmt"

	"github.com/docsearch/docsearch/query/check"
	"github.com/docsearch/docsearch/query/compile"
	"github.com/docsearch/docsearch/query/parser"
)

func ExampleWhere() {
	f, err := parser.Parse("doc_type IN ('sick_leave', 'referral') AND NOT has_link('result_of')", parser.Options{})
	if err != nil {
		panic(err)
	}
	c, err := check.Check(f, nil, check.Options{})
	if err != nil {
		panic(err)
	}
	e, err := compile.Where(c, compile.Options{})
	if err != nil {
		panic(err)
	}
	// The caller puts e.SQL in its WHERE clause, in parentheses, and passes
	// e.Params with clickhouse.WithParameters.
	fmt.Println("SELECT toString(id) FROM documents FINAL WHERE patient_id = {s_patient:Int64} AND (" + e.SQL + ")")
	fmt.Println(e.Params["f0"], e.Params["f1"], e.Params["f2"])
	// Output:
	// SELECT toString(id) FROM documents FINAL WHERE patient_id = {s_patient:Int64} AND ((doc_type IN ({f0:String}, {f1:String}) AND NOT has(link_types, {f2:String})))
	// sick_leave referral result_of
}
