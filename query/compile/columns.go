package compile

import (
	"strings"

	"github.com/docsearch/docsearch/query/ast"
	"github.com/docsearch/docsearch/query/check"
)

// columns are the common fields, each a column of the documents table of
// the same name, with the kind the checker gives it.
var columns = map[string]check.Kind{
	"id":              check.UUID,
	"patient_id":      check.Int,
	"organization_id": check.Int,
	"author_id":       check.Int,
	"doc_type":        check.String,
	"status":          check.String,
	"created_at":      check.Timestamp,
	"updated_at":      check.Timestamp,
}

// column checks a common field against the table: its name is a column and
// its type the column's.
func column(f check.Field) (check.Kind, error) {
	k, ok := columns[f.Name]
	if !ok {
		return 0, errorf(msgUnknownColumn, f.Name)
	}
	if f.Type != (check.Type{Kind: k}) {
		return 0, errorf(msgColumnType, f.Name, f.Type, k)
	}
	return k, nil
}

// columnValue returns the parameter for v compared with column f of kind k;
// for a timestamp, see columnCompare.
func (c *compiler) columnValue(f check.Field, k check.Kind, v check.Value) (string, error) {
	switch {
	case k == check.UUID && v.Kind == check.StringValue:
		if !isUUID(v.Str) {
			return "", errorf(msgBadUUID, v.Str)
		}
		return c.param(typUUID, v.Str), nil
	case k == check.Int && v.Kind == check.IntValue:
		return c.param(typInt64, formatInt(v.Int)), nil
	case k == check.String && v.Kind == check.StringValue:
		return c.param(typString, escape(v.Str)), nil
	}
	return "", valueError(f, v)
}

// columnCompare compiles column op value. Columns are never NULL, so the
// comparison is 0 or 1 as it is.
func (c *compiler) columnCompare(f check.Field, op ast.CompareOp, v check.Value) (frag, error) {
	k, err := column(f)
	if err != nil {
		return frag{}, err
	}
	if k == check.UUID && op != ast.Eq {
		return frag{}, errorf(msgOperator, op, f.Name, f.Type)
	}
	if k == check.Timestamp {
		op, p, vd, err := c.timeBound(f, op, v)
		switch {
		case err != nil:
			return frag{}, err
		case vd == always:
			return fragTrue, nil
		case vd == never:
			return fragFalse, nil
		}
		return open(f.Name + " " + op.String() + " " + p), nil
	}
	p, err := c.columnValue(f, k, v)
	if err != nil {
		return frag{}, err
	}
	return open(f.Name + " " + op.String() + " " + p), nil
}

// columnIn compiles column IN (values): the types match exactly, so IN is
// the same as an OR of equalities, and the form the key analysis knows.
func (c *compiler) columnIn(f check.Field, values []check.Value) (frag, error) {
	k, err := column(f)
	if err != nil {
		return frag{}, err
	}
	var list members
	for _, v := range values {
		var p string
		if k == check.Timestamp {
			p, err = c.timeMember(f, v)
		} else {
			p, err = c.columnValue(f, k, v)
		}
		if err != nil {
			return frag{}, err
		}
		list.add(p)
	}
	if list.empty() {
		return fragFalse, nil
	}
	return open(f.Name + " IN " + list.String()), nil
}

// members is the parameters of an IN list, in order, without repeats.
type members struct {
	list []string
	seen map[string]bool
}

// add adds parameter p; "" (a literal nothing can equal) is left out.
func (m *members) add(p string) {
	if p == "" || m.seen[p] {
		return
	}
	if m.seen == nil {
		m.seen = map[string]bool{}
	}
	m.seen[p] = true
	m.list = append(m.list, p)
}

func (m *members) empty() bool { return len(m.list) == 0 }

func (m *members) String() string { return "(" + strings.Join(m.list, ", ") + ")" }
