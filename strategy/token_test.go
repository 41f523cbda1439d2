package strategy

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTokenRoundTripAndScope(t *testing.T) {
	tk := tokens{key: []byte("k1")}
	c := cursor{CreatedAt: time.Date(2024, 3, 1, 10, 15, 30, 123456000, time.UTC), ID: "6f1c7d0e-2b1a-4c55-9a7e-3c2d1b0a9f88"}
	scope := Request{PatientID: ptr(int64(7)), FilterText: "status = 'signed'"}.scope()
	tok := tk.encode(scope, c)
	got, err := tk.decode(scope, tok)
	if err != nil || !got.CreatedAt.Equal(c.CreatedAt) || got.ID != c.ID {
		t.Fatalf("decode = %+v, %v; want %+v", got, err, c)
	}
	for name, other := range map[string]string{
		"other patient": Request{PatientID: ptr(int64(8)), FilterText: "status = 'signed'"}.scope(),
		"population":    Request{FilterText: "status = 'signed'"}.scope(),
		"other filter":  Request{PatientID: ptr(int64(7)), FilterText: "status = 'draft'"}.scope(),
		"no filter":     Request{PatientID: ptr(int64(7))}.scope(),
	} {
		if _, err := tk.decode(other, tok); !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "another search") {
			t.Errorf("%s: err = %v, want the token rejected as another search's", name, err)
		}
	}
	if _, err := (tokens{key: []byte("k2")}).decode(scope, tok); !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "not issued") {
		t.Errorf("other key: err = %v", err)
	}
	// Flip one character of the cursor part: the signature no longer holds.
	b := []byte(tok)
	b[10] ^= 1
	if _, err := tk.decode(scope, string(b)); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("altered token accepted: %v", err)
	}
	for _, junk := range []string{"", "x", "!!!!", strings.Repeat("A", 200)} {
		if _, err := tk.decode(scope, junk); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("token %q: err = %v", junk, err)
		}
	}
}

func TestRounds(t *testing.T) {
	ps := []period{{2024, 50}, {2023, 60}, {2020, 5}, {2018, 400}}
	rs := rounds(ps, 101)
	if len(rs) != 2 || len(rs[0]) != 2 || len(rs[1]) != 2 {
		t.Fatalf("rounds = %v, want the two newest periods first (110 >= 101 rows), then the rest", rs)
	}
	if rs := rounds(ps, 10000); len(rs) != 1 || len(rs[0]) != 4 {
		t.Fatalf("rounds = %v, want one round of every period", rs)
	}
	if rs := rounds(nil, 10); rs != nil {
		t.Fatalf("rounds(nil) = %v", rs)
	}
}

func ptr[T any](v T) *T { return &v }
