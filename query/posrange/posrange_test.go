package posrange

import (
	"errors"
	"testing"
)

func TestLineCol(t *testing.T) {
	src := "ab\nçd😀e\n\nx"
	tests := []struct {
		pos       Pos
		line, col int
	}{
		{0, 1, 1},
		{2, 1, 3}, // the newline itself
		{3, 2, 1},
		{5, 2, 2},  // after the 2-byte ç
		{10, 2, 4}, // after the 4-byte emoji: columns count characters
		{12, 3, 1},
		{13, 4, 1},
		{14, 4, 2}, // end of text
		{99, 4, 2}, // clamped
		{-1, 1, 1},
	}
	for _, tt := range tests {
		if l, c := LineCol(src, tt.pos); l != tt.line || c != tt.col {
			t.Errorf("LineCol(%d) = %d:%d, want %d:%d", tt.pos, l, c, tt.line, tt.col)
		}
	}
}

func TestErrorList(t *testing.T) {
	var l ErrorList
	if l.Err() != nil {
		t.Fatalf("empty list: Err() = %v, want nil", l.Err())
	}
	kindA, kindB := errors.New("a"), errors.New("b")
	l.Add("x = 1\nyy", 7, kindB, "second")
	l.Add("x = 1\nyy", 2, kindA, "first")
	l.Sort()
	err := l.Err()
	if err == nil || err.Error() != "1:3: first\n2:2: second" {
		t.Fatalf("Err() = %v", err)
	}
	if !errors.Is(err, kindA) || !errors.Is(err, kindB) {
		t.Errorf("errors.Is does not see the kinds through the list")
	}
	var e *Error
	if !errors.As(err, &e) || e.Msg != "first" || e.Line != 1 || e.Col != 3 {
		t.Errorf("errors.As = %+v", e)
	}
}
