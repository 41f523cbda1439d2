package compile_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/docsearch/docsearch/query/compile"
)

// sqlConstants are the only quoted strings the SQL may hold: the compiler's
// own constants. A literal of the filter is always a parameter.
var sqlConstants = map[string]bool{
	"UTC": true, "Int64": true, "UInt64": true, "Float64": true, "Array(": true, "[]": true,
	`^(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])` +
		`([Tt ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]([.][0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])?)?$`: true,
}

// sqlTypes are the dynamic types read as subcolumns, quoted with backquotes.
var sqlTypes = map[string]bool{
	"Array(Nullable(String))": true, "Array(Nullable(Bool))": true, "Array(Nullable(Int64))": true,
	"Array(Nullable(UInt64))": true, "Array(Nullable(Float64))": true, "Array(Dynamic)": true,
}

var placeholder = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*):(String|Int64|UInt64|Float64|Bool|UUID|DateTime64\(6, 'UTC'\))\}`)

// checkSQL checks what must hold of any compiled filter: quotes hold only
// the compiler's constants, backquotes only registered attribute names and
// dynamic types, parentheses balance, every placeholder has a value and
// every value a placeholder, and string values are escaped.
func checkSQL(t *testing.T, in string, e compile.Expr) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%q compiles to\n%s\nparams %q:\n%s", in, e.SQL, e.Params, fmt.Sprintf(format, args...))
	}
	sql := e.SQL
	used := map[string]bool{}
	for _, m := range placeholder.FindAllStringSubmatch(sql, -1) {
		if _, ok := e.Params[m[1]]; !ok {
			fail("placeholder %s has no value", m[0])
		}
		used[m[1]] = true
		if m[2] == "String" {
			v := e.Params[m[1]]
			if strings.ContainsAny(v, "\t\n") || strings.Contains(strings.NewReplacer(`\\`, "", `\t`, "", `\n`, "").Replace(v), `\`) {
				fail("string parameter %s = %q is not escaped", m[1], v)
			}
		}
	}
	for name := range e.Params {
		if !used[name] {
			fail("parameter %s is not used", name)
		}
	}
	rest := placeholder.ReplaceAllString(sql, "{}")
	depth := 0
	for i := 0; i < len(rest); i++ {
		switch rest[i] {
		case '\'', '`':
			j := strings.IndexByte(rest[i+1:], rest[i])
			if j < 0 {
				fail("unclosed %c at %d", rest[i], i)
			}
			s := rest[i+1 : i+1+j]
			if rest[i] == '\'' && !sqlConstants[s] {
				fail("quoted %q is not a constant of the compiler", s)
			}
			if rest[i] == '`' && !sqlTypes[s] {
				if _, ok := testRegistry[s]; !ok {
					fail("backquoted %q is neither an attribute nor a type", s)
				}
			}
			i += 1 + j
		case '(':
			depth++
		case ')':
			depth--
			if depth < 0 {
				fail("unbalanced ) at %d", i)
			}
		case '"', ';', '?', '@', '$', '#':
			fail("unexpected %c at %d", rest[i], i)
		case '-', '/':
			if i+1 < len(rest) && (rest[i+1] == rest[i] || rest[i] == '/' && rest[i+1] == '*') {
				fail("comment at %d", i)
			}
		}
	}
	if depth != 0 {
		fail("unbalanced parentheses")
	}
}

// FuzzCompile checks that parse -> check -> compile never panics, that a
// checked filter always compiles, and checkSQL.
func FuzzCompile(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.filter"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	for _, tc := range dbCases {
		f.Add(tc.filter)
	}
	f.Add("note = 'it\\'s' OR note IN ('\\'', '`', '{f0:String}', '\\\\', '\\t\\n')")
	f.Fuzz(func(t *testing.T, in string) {
		e, err := compileText(in)
		if errors.Is(err, compile.ErrInvalid) {
			t.Fatalf("%q passes the checker but not the compiler: %v", in, err)
		}
		if err != nil {
			return
		}
		checkSQL(t, in, e)
	})
}
