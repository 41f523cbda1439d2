package compile_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/docsearch/docsearch/query/compile"
)

// timeCorners are stored strings at the edges of parseTime: the calendar,
// the range, fractions beyond microseconds, zones and near misses.
var timeCorners = []string{
	"2024-03-01", "2024-02-29", "2023-02-29", "1900-02-29", "2000-02-29", "0500-02-29", "0400-02-29",
	"1582-10-10", "2023-04-31", "2023-04-30", "2023-12-31", "2023-13-01", "2023-00-10", "2023-01-00",
	"0000-01-01", "0001-01-01", "9999-12-31", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
	"9999-12-31T23:59:59.999999Z", "1969-12-31T23:59:59.999999Z", "2262-04-11T23:47:16.854775807Z",
	"2024-03-01T10:00:00.1234567Z", "2024-03-01T10:00:00.9999999Z", "2024-03-01T10:00:00.5",
	"2024-03-01T10:00:00.Z", "2024-03-01T10:00:00+0530", "2024-03-01T10:00:00+05:30", "2024-03-01T10:00:00-23:59",
	"2024-03-01T10:00:00+24:00", "2024-03-01T10:00:00+05:60", "2024-03-01T10:00:00+05:3", "2024-03-01T10:00:00+5:30",
	"2024-03-01 10:00:00", "2024-03-01t10:00:00z", "2024-03-01T24:00:00Z", "2024-03-01T23:60:00Z",
	"2024-03-01T23:59:60Z", "2024-03-01T10:00Z", "2024-03-01T10:00:00ZZ", "2024-03-01Z", "2024-3-01",
	"01/02/2024", "2024", "", " 2024-03-01", "2024-03-01 ", "2024-03-01T", "not a date", "２０２４-03-01",
}

// randomTime is a string most of whose pieces are valid, so that parseTime
// reads many of them and the rest fail in one place.
func randomTime(r *rand.Rand) string {
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	num := func(width, lo, hi int) string { return fmt.Sprintf("%0*d", width, lo+r.IntN(hi-lo+1)) }
	var b strings.Builder
	b.WriteString(pick(num(4, 1900, 2100), num(4, 0, 9999), "0001", "9999", "1600", "1700", "2000", "2100"))
	b.WriteString("-" + num(2, 0, 13) + "-" + pick(num(2, 1, 28), num(2, 28, 32), "29", "30", "31"))
	if r.IntN(4) > 0 {
		b.WriteString(pick("T", "t", " ", "_"))
		b.WriteString(num(2, 0, 24) + ":" + num(2, 0, 60) + ":" + num(2, 0, 60))
		if r.IntN(2) == 0 {
			b.WriteString("." + strings.Repeat("9", r.IntN(3)) + fmt.Sprint(r.Int64N(1e12))[:r.IntN(10)])
		}
		switch r.IntN(4) {
		case 0:
			b.WriteString(pick("Z", "z", "UTC"))
		case 1:
			b.WriteString(pick("+", "-") + num(2, 0, 24) + pick(":", "", ";") + num(2, 0, 60))
		}
	}
	s := b.String()
	if r.IntN(8) == 0 { // one character changed
		i := r.IntN(len(s))
		s = s[:i] + pick("0", "9", "-", ":", "T", " ", "") + s[i+1:]
	}
	return s
}

// storedTime reads every corner and thousands of random strings as the
// server's parseTime does: NULL where it is NULL, else the same microsecond.
func TestStoredTimeAgreesWithClickHouse(t *testing.T) {
	ch := env.ClickHouse(t)
	r := rand.New(rand.NewPCG(7, 26))
	in := append([]string{}, timeCorners...)
	for range 20000 {
		in = append(in, randomTime(r))
	}
	ctx := clickhouse.Context(context.Background(), clickhouse.WithParameters(clickhouse.Parameters{
		"in": arrayParam(in)}))
	var got []*int64
	q := "SELECT arrayMap(s -> toUnixTimestamp64Micro(" + compile.ParseTimeSQL("s") + "), {in:Array(String)})"
	if err := ch.Conn.QueryRow(ctx, q).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) {
		t.Fatalf("%d answers for %d strings", len(got), len(in))
	}
	parsed, unsure := 0, 0
	for i, s := range in {
		us, ok, sure := compile.StoredTime(s)
		switch {
		case got[i] == nil && ok:
			t.Errorf("%q: ClickHouse reads NULL, memory %d", s, us)
		case got[i] != nil && !ok:
			t.Errorf("%q: ClickHouse reads %d, memory no time", s, *got[i])
		case got[i] != nil && !sure:
			unsure++
		case got[i] != nil && us != *got[i]:
			t.Errorf("%q: ClickHouse reads %d, memory %d", s, *got[i], us)
		case got[i] != nil:
			parsed++
		}
	}
	if parsed < len(in)/4 || unsure > len(in)/100 {
		t.Errorf("%d of %d strings compared as times, %d left to the server", parsed, len(in), unsure)
	}
	t.Logf("%d of %d strings read as times, %d left to the server", parsed, len(in), unsure)
}

// arrayParam writes strings as an Array(String) parameter.
func arrayParam(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
	}
	return "[" + strings.Join(q, ",") + "]"
}
