package eval

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/docsearch/docsearch/cdc"
)

// GenSchema is what Generate draws filters from: the attributes it may name
// and values that really occur, so that predicates are selective and results
// neither empty nor everything.
type GenSchema struct {
	// Attributes are the attributes a filter may name, with their types, as
	// the attribute registry has them. Names the filter language cannot
	// spell (not a letter followed by letters, digits and _, a keyword, or a
	// common field's name) are left out. Nil means common fields only.
	Attributes map[string]AttrType
	// Samples holds values that occur in the data, per field name: common
	// fields and attributes alike, array elements one by one. Use
	// StringValue for id, doc_type, status, and for created_at and
	// updated_at (RFC 3339), and IntValue for the integer fields. A field
	// without samples gets made-up literals, which mostly match nothing.
	Samples map[string][]cdc.Value
	// LinkTypes and LinkTargets are link types and target ids that occur;
	// empty means made-up ones.
	LinkTypes   []string
	LinkTargets []string
	// Disputed also emits forms that the spec allows but docsearch's checker
	// refuses: <, <=, > and >= on id, and decimals and integers beyond the
	// int64 range compared with integer fields. False keeps to forms both
	// accept.
	Disputed bool
}

// SchemaFromDocs returns a GenSchema for docs: the attributes of types, and
// up to perField distinct values per field, spread evenly over the field's
// distinct values in their natural order, smallest and largest included (so
// the result does not depend on the order of docs); likewise link types and
// link targets. perField < 1 means every distinct value. Attributes of the
// documents that types lacks are left out: a filter that names them is an
// error.
func SchemaFromDocs(docs []Document, types map[string]AttrType, perField int) GenSchema {
	seen := map[string]map[string]cdc.Value{}
	add := func(name string, v cdc.Value) {
		m := seen[name]
		if m == nil {
			m = map[string]cdc.Value{}
			seen[name] = m
		}
		m[fmt.Sprintf("%d\x00%s\x00%t", v.Type, v.Text, v.Bool)] = v
	}
	linkTypes, targets := map[string]bool{}, map[string]bool{}
	for _, d := range docs {
		add("id", cdc.StringValue(d.ID))
		add("patient_id", cdc.IntValue(d.PatientID))
		add("organization_id", cdc.IntValue(d.OrganizationID))
		add("author_id", cdc.IntValue(d.AuthorID))
		add("doc_type", cdc.StringValue(d.DocType))
		add("status", cdc.StringValue(d.Status))
		// Fixed digits, so that text order is time order.
		add("created_at", cdc.StringValue(d.CreatedAt.UTC().Format(rfc3339Fixed)))
		add("updated_at", cdc.StringValue(d.UpdatedAt.UTC().Format(rfc3339Fixed)))
		for name, v := range d.Attributes {
			if _, ok := types[name]; !ok || IsCommonField(name) {
				continue
			}
			if v.Elems != nil {
				for _, e := range v.Elems {
					add(name, e)
				}
			} else if v.Type != cdc.TypeNull && v.Type != cdc.TypeEmptyArray {
				add(name, v)
			}
		}
		for _, l := range d.Links {
			linkTypes[l.Type] = true
			targets[l.Target] = true
		}
	}
	s := GenSchema{Attributes: map[string]AttrType{}, Samples: map[string][]cdc.Value{}}
	for name, t := range types {
		s.Attributes[name] = t
	}
	for name, m := range seen {
		vs := make([]cdc.Value, 0, len(m))
		for _, v := range m {
			vs = append(vs, v)
		}
		slices.SortFunc(vs, compareSample)
		s.Samples[name] = spread(vs, perField)
	}
	s.LinkTypes = spread(sortedKeys(linkTypes), perField)
	s.LinkTargets = spread(sortedKeys(targets), perField)
	return s
}

const rfc3339Fixed = "2006-01-02T15:04:05.000000Z07:00"

// compareSample orders sample values: booleans, then numbers by value, then
// strings bytewise; ties by text, so that the order is total.
func compareSample(a, b cdc.Value) int {
	rank := func(v cdc.Value) int {
		switch v.Type {
		case cdc.TypeBool:
			return 0
		case cdc.TypeInt, cdc.TypeDecimal:
			return 1
		}
		return 2
	}
	if c := rank(a) - rank(b); c != 0 {
		return c
	}
	switch {
	case a.Type == cdc.TypeBool:
		if a.Bool != b.Bool {
			return map[bool]int{false: -1, true: 1}[a.Bool]
		}
	case rank(a) == 1:
		x, okx := parseNumber(a.Text)
		y, oky := parseNumber(b.Text)
		if okx && oky {
			if c := x.Cmp(y); c != 0 {
				return c
			}
		}
	}
	return strings.Compare(a.Text, b.Text)
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// spread returns up to n elements of s, evenly spaced, the first and the
// last included; all of s when n < 1.
func spread[T any](s []T, n int) []T {
	if n < 1 || len(s) <= n {
		return s
	}
	if n == 1 {
		return s[:1]
	}
	out := make([]T, n)
	for i := range out {
		out[i] = s[i*(len(s)-1)/(n-1)]
	}
	return out
}

// Limits that keep generated filters within the parser's default Options,
// with room for a caller to wrap one in NOT ( ... ).
const (
	genMaxPreds = 40
	genMaxNest  = 28
	genMaxBytes = 12 << 10
)

// Generate returns the text of a random filter over s: a tree of AND, OR,
// NOT and parentheses up to maxDepth levels of AND/OR deep (0: a single,
// possibly negated, predicate) over every kind of predicate, with literals
// mostly drawn from s.Samples, keywords in random case and random spacing.
// The text always parses with the parser's default Options and names only
// common fields and attributes of s; unless s.Disputed, docsearch's checker
// accepts it too. The same r state and arguments give the same text.
func Generate(r *rand.Rand, s GenSchema, maxDepth int) string {
	g := newGen(r, &s)
	depth := max(maxDepth, 0)
	for range 100 {
		g.preds = 0
		var b strings.Builder
		nest := g.print(&b, g.expr(depth), 0)
		if nest <= genMaxNest && b.Len() <= genMaxBytes {
			return b.String()
		}
		depth = max(depth-1, 0)
	}
	return "has_link()" // long sample strings every time; not reached in practice
}

// gen holds the state of one Generate call.
type gen struct {
	r       *rand.Rand
	s       *GenSchema
	attrs   []string // spellable attribute names, sorted
	strs    []string // string fields, for starts_with
	preds   int
	uuidHex [16]byte
}

var commonNames = []string{"id", "patient_id", "organization_id", "author_id", "doc_type", "status", "created_at", "updated_at"}

var keywords = []string{"AND", "OR", "NOT", "IN", "TRUE", "FALSE"}

func newGen(r *rand.Rand, s *GenSchema) *gen {
	g := &gen{r: r, s: s, strs: []string{"doc_type", "status"}}
	for name, t := range s.Attributes {
		if spellable(name) && t.Kind >= String && t.Kind <= Timestamp {
			g.attrs = append(g.attrs, name)
		}
	}
	slices.Sort(g.attrs)
	for _, name := range g.attrs {
		if s.Attributes[name].Kind == String {
			g.strs = append(g.strs, name)
		}
	}
	return g
}

// spellable reports whether a filter can name the attribute called name.
func spellable(name string) bool {
	if name == "" || IsCommonField(name) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || !(c == '_' || c >= '0' && c <= '9')) {
			return false
		}
	}
	for _, k := range keywords {
		if strings.EqualFold(name, k) {
			return false
		}
	}
	return true
}

// node is a generated expression before printing.
type node struct {
	op   nodeOp
	kids []*node
	text string // opLeaf
}

type nodeOp uint8

const (
	opLeaf nodeOp = iota
	opAnd
	opOr
	opNot
	opParen
)

func (g *gen) chance(n int) bool { return g.r.IntN(n) == 0 }

func (g *gen) expr(depth int) *node {
	var n *node
	if depth <= 0 || g.preds >= genMaxPreds || g.chance(4) {
		n = &node{op: opLeaf, text: g.predicate()}
		g.preds++
	} else {
		op := opAnd
		if g.r.IntN(5) < 2 { // fewer ORs: an OR of many predicates matches nearly everything
			op = opOr
		}
		n = &node{op: op}
		for range 2 + g.r.IntN(2) {
			n.kids = append(n.kids, g.expr(depth-1))
		}
	}
	if g.chance(5) {
		n = &node{op: opNot, kids: []*node{n}}
	}
	if g.chance(8) {
		n = &node{op: opParen, kids: []*node{n}}
	}
	return n
}

// print writes n and returns the deepest nesting of grouping parentheses
// and NOTs in it, counted from nest, as the parser counts depth.
func (g *gen) print(b *strings.Builder, n *node, nest int) int {
	switch n.op {
	case opLeaf:
		b.WriteString(n.text)
		return nest
	case opParen:
		b.WriteString("(")
		b.WriteString(g.inSpace())
		d := g.print(b, n.kids[0], nest+1)
		b.WriteString(g.inSpace())
		b.WriteString(")")
		return d
	case opNot:
		b.WriteString(g.kw("NOT"))
		kid := n.kids[0]
		if kid.op == opAnd || kid.op == opOr {
			b.WriteString(g.inSpace())
			kid = &node{op: opParen, kids: []*node{kid}}
		} else if kid.op == opParen {
			b.WriteString(g.inSpace())
		} else {
			b.WriteString(g.space())
		}
		return g.print(b, kid, nest+1)
	}
	deepest := nest
	for i, kid := range n.kids {
		if i > 0 {
			b.WriteString(g.space())
			if n.op == opAnd {
				b.WriteString(g.kw("AND"))
			} else {
				b.WriteString(g.kw("OR"))
			}
			b.WriteString(g.space())
		}
		if n.op == opAnd && kid.op == opOr {
			kid = &node{op: opParen, kids: []*node{kid}}
		}
		deepest = max(deepest, g.print(b, kid, nest))
	}
	return deepest
}

// space separates words: one space mostly, sometimes other white space.
func (g *gen) space() string {
	switch g.r.IntN(20) {
	case 0:
		return "\n"
	case 1:
		return "\t"
	case 2:
		return "  "
	case 3:
		return " \r\n "
	}
	return " "
}

// inSpace is white space where none is needed: next to punctuation and
// operators.
func (g *gen) inSpace() string {
	if g.chance(2) {
		return ""
	}
	return g.space()
}

// kw returns a keyword or function name, canonical (keywords upper case,
// functions lower case) or in random case.
func (g *gen) kw(w string) string {
	if !g.chance(3) {
		return w
	}
	return g.mixCase(w)
}

// mixCase flips the case of a random half of the letters of w.
func (g *gen) mixCase(w string) string {
	b := []byte(w)
	for i, c := range b {
		if g.chance(2) {
			if c >= 'a' && c <= 'z' {
				b[i] = c - 'a' + 'A'
			} else if c >= 'A' && c <= 'Z' {
				b[i] = c - 'A' + 'a'
			}
		}
	}
	return string(b)
}

func (g *gen) call(name string, args ...string) string {
	return g.kw(name) + "(" + g.inSpace() + strings.Join(args, ","+g.inSpace()) + g.inSpace() + ")"
}

// predicate returns the text of one random predicate.
func (g *gen) predicate() string {
	switch w := g.r.IntN(100); {
	case w < 22: // comparison on a common field
		return g.comparison(commonNames[g.r.IntN(len(commonNames))])
	case w < 48: // comparison on an attribute
		return g.comparison(g.anyField(0))
	case w < 64: // IN and NOT IN
		name := g.anyField(3)
		n := 1 + g.r.IntN(5)
		if g.kindOf(name) == kBool {
			n = 1 + g.r.IntN(2)
		}
		vals := make([]string, n)
		for i := range vals {
			vals[i] = g.literal(name)
		}
		in := g.kw("IN")
		if g.chance(2) {
			in = g.kw("NOT") + g.space() + in
		}
		return name + g.space() + in + g.inSpace() + "(" + g.inSpace() + strings.Join(vals, ","+g.inSpace()) + g.inSpace() + ")"
	case w < 74:
		return g.call("exists", g.anyField(6))
	case w < 85:
		name := g.strs[g.r.IntN(len(g.strs))]
		return g.call("starts_with", name, g.quote(g.prefix(name)))
	case w < 93:
		if g.chance(2) {
			return g.call("has_link")
		}
		t := "no_such_link"
		if len(g.s.LinkTypes) > 0 && !g.chance(10) {
			t = g.s.LinkTypes[g.r.IntN(len(g.s.LinkTypes))]
		}
		return g.call("has_link", g.quote(t))
	default:
		var id string
		switch w := g.r.IntN(10); {
		case w < 7 && len(g.s.LinkTargets) > 0:
			id = g.s.LinkTargets[g.r.IntN(len(g.s.LinkTargets))]
		case w < 9:
			id = g.uuid("id")
		default:
			id = g.randomUUID()
		}
		return g.call("links_to", g.quote(g.idCase(id)))
	}
}

// anyField returns an attribute, or with chance 1/common (when common > 0)
// or when there are none, a common field.
func (g *gen) anyField(common int) string {
	if len(g.attrs) == 0 || common > 0 && g.chance(common) {
		return commonNames[g.r.IntN(len(commonNames))]
	}
	return g.attrs[g.r.IntN(len(g.attrs))]
}

// kindOf is the kind of a field's values; 0 for a name that is not a field.
func (g *gen) kindOf(name string) kind {
	switch commonFields[name] {
	case commonUUID:
		return kUUID
	case commonInt:
		return kNumber
	case commonString:
		return kString
	case commonTime:
		return kTime
	}
	switch g.s.Attributes[name].Kind {
	case String:
		return kString
	case Number:
		return kNumber
	case Bool:
		return kBool
	case Date, Timestamp:
		return kTime
	}
	return 0
}

var allOps = []string{"=", "!=", "<", "<=", ">", ">="}

func (g *gen) comparison(name string) string {
	ops := allOps
	switch k := g.kindOf(name); {
	case k == kBool, k == kUUID && !g.s.Disputed:
		ops = allOps[:2]
	}
	return name + g.inSpace() + ops[g.r.IntN(len(ops))] + g.inSpace() + g.literal(name)
}

// sample returns a random sample value of a field of type t.
func (g *gen) sample(name string, t ...cdc.Type) (cdc.Value, bool) {
	vs := g.s.Samples[name]
	if len(vs) == 0 {
		return cdc.Value{}, false
	}
	for range 4 { // a field with values of another type now and then
		v := vs[g.r.IntN(len(vs))]
		if slices.Contains(t, v.Type) {
			return v, true
		}
	}
	return cdc.Value{}, false
}

// literal returns a literal for the field called name, of its type.
func (g *gen) literal(name string) string {
	switch g.kindOf(name) {
	case kUUID:
		if g.chance(10) {
			return g.quote(g.randomUUID())
		}
		return g.quote(g.idCase(g.uuid(name)))
	case kNumber:
		if commonFields[name] == commonInt {
			return g.intLiteral(name)
		}
		return g.numberLiteral(name)
	case kString:
		return g.quote(g.stringValue(name))
	case kTime:
		return g.quote(g.timeLiteral(name))
	case kBool:
		if v, ok := g.sample(name, cdc.TypeBool); ok && !g.chance(4) {
			return g.kw(strconv.FormatBool(v.Bool))
		}
		return g.kw([]string{"true", "false"}[g.r.IntN(2)])
	}
	panic(fmt.Sprintf("eval: generating a literal for %q, which is not a field", name))
}

func (g *gen) uuid(name string) string {
	if v, ok := g.sample(name, cdc.TypeString); ok {
		if id, ok := canonicalUUID(v.Text); ok {
			return id
		}
	}
	return g.randomUUID()
}

func (g *gen) randomUUID() string {
	for i := range g.uuidHex {
		g.uuidHex[i] = byte(g.r.Uint32())
	}
	h := fmt.Sprintf("%x", g.uuidHex[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// idCase writes an id in upper or mixed case now and then: ids compare in
// canonical form.
func (g *gen) idCase(id string) string {
	switch g.r.IntN(8) {
	case 0:
		return strings.ToUpper(id)
	case 1:
		return g.mixCase(id)
	}
	return id
}

func (g *gen) intLiteral(name string) string {
	n := int64(1 + g.r.IntN(1000))
	if v, ok := g.sample(name, cdc.TypeInt); ok {
		if i, err := strconv.ParseInt(v.Text, 10, 64); err == nil {
			n = i
		}
	}
	switch w := g.r.IntN(20); {
	case w < 2 && n > -1<<63:
		n--
	case w < 4 && n < 1<<63-1:
		n++
	case w < 6 && g.s.Disputed: // decimals, and integers beyond int64
		return strconv.FormatInt(n, 10) + []string{".0", ".5", ".00", "00000000000000000000"}[g.r.IntN(4)]
	case w < 7 && n > 0:
		return "0" + strconv.FormatInt(n, 10) // leading zeros are allowed
	}
	return strconv.FormatInt(n, 10)
}

var (
	ratHalf = big.NewRat(1, 2)
	ratOne  = big.NewRat(1, 1)
)

func (g *gen) numberLiteral(name string) string {
	r := big.NewRat(int64(g.r.IntN(200)), 1)
	if v, ok := g.sample(name, cdc.TypeInt, cdc.TypeDecimal); ok {
		if n, ok := parseNumber(v.Text); ok {
			r = n
		}
	}
	switch w := g.r.IntN(20); {
	case w < 3: // 120.0, 5.40: the same number with more digits
		s := decimalText(r)
		if r.IsInt() {
			return s + []string{".0", ".00", ".000"}[g.r.IntN(3)]
		}
		return s + "0"
	case w < 5:
		return decimalText(new(big.Rat).Add(r, ratHalf))
	case w < 7:
		return decimalText(new(big.Rat).Sub(r, ratHalf))
	case w < 8:
		return decimalText(new(big.Rat).Add(r, ratOne))
	case w < 9:
		return decimalText(new(big.Rat).Sub(r, ratOne))
	case w < 10: // the integer part: 5.4 becomes 5
		return new(big.Int).Quo(r.Num(), r.Denom()).String()
	case w < 11 && r.Sign() == 0:
		return "-0"
	}
	return decimalText(r)
}

// decimalText writes r in the filter language's number syntax, exactly when
// r has a finite decimal expansion (every number from JSON text does).
func decimalText(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	d := new(big.Int).Set(r.Denom())
	var twos, fives int
	two, five, rem := big.NewInt(2), big.NewInt(5), new(big.Int)
	for {
		q, m := new(big.Int).QuoRem(d, two, rem)
		if m.Sign() != 0 {
			break
		}
		d, twos = q, twos+1
	}
	for {
		q, m := new(big.Int).QuoRem(d, five, rem)
		if m.Sign() != 0 {
			break
		}
		d, fives = q, fives+1
	}
	if d.Cmp(big.NewInt(1)) != 0 {
		return r.FloatString(12)
	}
	return r.FloatString(max(twos, fives))
}

// stringValue returns a string for a string field: a sample mostly, now and
// then changed so that it needs escapes or differs only in case.
func (g *gen) stringValue(name string) string {
	s := "none"
	if v, ok := g.sample(name, cdc.TypeString); ok {
		s = v.Text
	}
	switch g.r.IntN(12) {
	case 0:
		specials := []string{`'`, `"`, `\`, "\n", "\t", "é", "€", `\'`, "𝄞"}
		i := g.runeBoundary(s)
		return s[:i] + specials[g.r.IntN(len(specials))] + s[i:]
	case 1:
		return strings.ToUpper(s)
	}
	return s
}

// prefix returns a prefix of a sample of the field, ending on a character
// boundary.
func (g *gen) prefix(name string) string {
	s := g.stringValue(name)
	if g.chance(6) {
		return s
	}
	return s[:g.runeBoundary(s)]
}

// runeBoundary returns a random offset in s that starts a character or ends
// s.
func (g *gen) runeBoundary(s string) int {
	var bounds []int
	for i := range s {
		bounds = append(bounds, i)
	}
	bounds = append(bounds, len(s))
	return bounds[g.r.IntN(len(bounds))]
}

var zones = []*time.Location{
	time.FixedZone("", 5*3600+30*60),
	time.FixedZone("", -8*3600),
	time.FixedZone("", 14*3600),
}

const rfc3339Micro = "2006-01-02T15:04:05.999999Z07:00"

// timeLiteral returns a date or timestamp near a sample of the field.
func (g *gen) timeLiteral(name string) string {
	t := time.Date(2020+g.r.IntN(6), time.Month(1+g.r.IntN(12)), 1+g.r.IntN(28), 0, 0, 0, 0, time.UTC)
	raw := ""
	if v, ok := g.sample(name, cdc.TypeString); ok {
		if st, ok := ParseTime(v.Text); ok {
			t, raw = st.UTC(), v.Text
		}
	}
	switch w := g.r.IntN(20); {
	case w < 5:
		return t.Format(time.DateOnly)
	case w < 7:
		return t.AddDate(0, 0, 1-2*g.r.IntN(2)).Format(time.DateOnly)
	case w < 10:
		return t.In(zones[g.r.IntN(len(zones))]).Format(rfc3339Micro)
	case w < 13:
		return t.Add(time.Duration(1-2*g.r.IntN(2)) * time.Microsecond).Format(rfc3339Micro)
	case w < 15 && raw != "" && utf8.ValidString(raw):
		return raw
	}
	return t.Format(rfc3339Micro)
}

// quote writes s as a string literal, in either quote, with the escapes it
// needs and now and then escapes it does not.
func (g *gen) quote(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	q := '\''
	if g.chance(3) {
		q = '"'
	}
	escapeMore := g.chance(5)
	var b strings.Builder
	b.WriteRune(q)
	for _, c := range s {
		switch {
		case c == q || c == '\\':
			b.WriteByte('\\')
			b.WriteRune(c)
		case c == '\'' || c == '"':
			if g.chance(2) {
				b.WriteByte('\\')
			}
			b.WriteRune(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, c)
		case escapeMore && g.chance(8):
			if c > 0xFFFF {
				r1, r2 := utf16.EncodeRune(c)
				fmt.Fprintf(&b, `\u%04X\u%04x`, r1, r2)
			} else {
				fmt.Fprintf(&b, `\u%04X`, c)
			}
		default:
			b.WriteRune(c)
		}
	}
	b.WriteRune(q)
	return b.String()
}
