package registry

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Declaration is one attribute type an operator declares.
type Declaration struct {
	Name  string
	Type  Type
	Array bool
}

// ParseDeclarations reads a declarations file: one attribute per line,
// "name type" or "name array type", where type is string, number, bool, date
// or timestamp; blank lines and lines starting with # are ignored. Every bad
// line is reported with its number.
//
//	# dates arrive as strings: declare them to compare as dates
//	visit_date     date
//	discharge_at   timestamp
//	diagnoses      array string
func ParseDeclarations(r io.Reader) ([]Declaration, error) {
	var out []Declaration
	var errs []error
	seen := map[string]int{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		d := Declaration{}
		switch {
		case len(f) == 2:
			d.Name, d.Type = f[0], Type(f[1])
		case len(f) == 3 && f[1] == "array":
			d.Name, d.Type, d.Array = f[0], Type(f[2]), true
		default:
			errs = append(errs, fmt.Errorf("line %d: want \"name type\" or \"name array type\", got %q", n, line))
			continue
		}
		if err := ValidName(d.Name); err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", n, err))
			continue
		}
		if !d.Type.Valid() {
			errs = append(errs, fmt.Errorf("line %d: %w: unknown type %q (string, number, bool, date or timestamp)", n, ErrInvalid, d.Type))
			continue
		}
		if prev, dup := seen[d.Name]; dup {
			errs = append(errs, fmt.Errorf("line %d: %q is already declared on line %d", n, d.Name, prev))
			continue
		}
		seen[d.Name] = n
		out = append(out, d)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("reading declarations: %w", err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// DeclareAll applies declarations in order; it stops at the first refusal.
func (r *Registry) DeclareAll(ctx context.Context, ds []Declaration) error {
	for _, d := range ds {
		if _, err := r.Declare(ctx, d.Name, d.Type, d.Array); err != nil {
			return fmt.Errorf("declaring %q: %w", d.Name, err)
		}
	}
	return nil
}
