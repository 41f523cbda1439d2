package posrange

import "unicode/utf8"

// Pos is a byte offset into the filter text, starting at 0.
type Pos int

// PositionRange is the half-open byte range [Start, End) of a piece of
// filter text.
type PositionRange struct {
	Start, End Pos
}

// LineCol returns the 1-based line and column of pos in src. Columns count
// Unicode characters, not bytes, because that is what a person counts in an
// editor; a pos past the end of src is clamped to the end.
func LineCol(src string, pos Pos) (line, col int) {
	p := int(pos)
	if p > len(src) {
		p = len(src)
	}
	if p < 0 {
		p = 0
	}
	line, start := 1, 0
	for i := 0; i < p; i++ {
		if src[i] == '\n' {
			line++
			start = i + 1
		}
	}
	return line, utf8.RuneCountInString(src[start:p]) + 1
}
