package auth

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
)

// maxCallersFile bounds the callers file: it lists products, not users.
const maxCallersFile = 1 << 20

// Limits are a caller's request limits, consumed by package api/limit, whose
// Limits type has the same fields so that limit.Limits(c.Limits) converts.
// A zero field means the server's default.
type Limits struct {
	// Rate is the sustained requests per second.
	Rate float64 `json:"rate,omitempty"`
	// Burst is how many requests may come at once above the rate.
	Burst int `json:"burst,omitempty"`
	// MaxConcurrent is the most requests in flight at once.
	MaxConcurrent int `json:"max_concurrent,omitempty"`
}

// Caller is one calling product in the callers file.
type Caller struct {
	// Name identifies the caller in logs, metrics and limits: 1 to 64 of
	// letters, digits, '.', '_' and '-', starting with a letter or digit.
	Name string `json:"name"`
	// Description is free text for operators (owner, contact); unused.
	Description string `json:"description,omitempty"`
	// Scopes are the caller's permissions; at least one.
	Scopes []Scope `json:"scopes"`
	// CertIdentity is the identity in the caller's client certificate:
	// "uri:<URI SAN>", "dns:<DNS SAN>" or "cn:<subject common name>". Empty
	// means the caller cannot use mTLS.
	CertIdentity string `json:"cert_identity,omitempty"`
	// JWTSubject is the "sub" claim of the caller's JWTs. Empty means the
	// caller cannot use JWTs.
	JWTSubject string `json:"jwt_subject,omitempty"`
	// APIKeySHA256 are the hex SHA-256 hashes of the caller's API keys
	// (several during a rotation). Empty means no API keys.
	APIKeySHA256 []string `json:"api_key_sha256,omitempty"`
	// Limits override the server's default limits for this caller.
	Limits Limits `json:"limits,omitzero"`
}

type callersFile struct {
	Callers []Caller `json:"callers"`
}

var callerName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// HashAPIKey returns the hex SHA-256 of an API key, as the callers file
// holds it.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// LoadCallers reads and checks a callers file.
func LoadCallers(path string) ([]Caller, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading callers file: %w", err)
	}
	defer f.Close()
	cs, err := ParseCallers(f)
	if err != nil {
		return nil, fmt.Errorf("callers file %s: %w", path, err)
	}
	return cs, nil
}

// ParseCallers reads and checks callers from JSON: unknown fields, a
// malformed hash, a duplicate name or credential, an unknown scope are all
// errors, listed together. Names are kept, identities normalised (DNS names
// and hashes lowercased), scopes sorted and deduplicated.
func ParseCallers(r io.Reader) ([]Caller, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxCallersFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxCallersFile {
		return nil, fmt.Errorf("larger than %d bytes", maxCallersFile)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var file callersFile
	if err := dec.Decode(&file); err != nil {
		return nil, fmt.Errorf("parsing JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("parsing JSON: data after the top-level object")
	}
	if len(file.Callers) == 0 {
		return nil, errors.New("no callers")
	}
	var errs []error
	add := func(format string, args ...any) {
		if len(errs) < 20 {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	names := map[string]bool{}
	certs := map[string]string{}
	subjects := map[string]string{}
	hashes := map[string]string{}
	for i := range file.Callers {
		c := &file.Callers[i]
		who := fmt.Sprintf("caller %d", i+1)
		switch {
		case !callerName.MatchString(c.Name):
			add("%s: name %q must be 1 to 64 letters, digits, '.', '_' or '-'", who, c.Name)
		case c.Name == LocalCaller:
			add("%s: name %q is reserved for local mode", who, c.Name)
		case names[c.Name]:
			add("%s: name %q is used twice", who, c.Name)
		default:
			who = fmt.Sprintf("caller %q", c.Name)
		}
		names[c.Name] = true

		if len(c.Scopes) == 0 {
			add("%s: no scopes", who)
		}
		for _, s := range c.Scopes {
			if !knownScope(s) {
				add("%s: unknown scope %q (known: %s)", who, s, scopeList())
			}
		}
		slices.Sort(c.Scopes)
		c.Scopes = slices.Compact(c.Scopes)

		if c.CertIdentity != "" {
			id, err := normalCertIdentity(c.CertIdentity)
			if err != nil {
				add("%s: cert_identity: %v", who, err)
			} else if other, dup := certs[id]; dup {
				add("%s: cert_identity %q is also %s's", who, id, other)
			}
			c.CertIdentity = id
			certs[id] = who
		}
		if c.JWTSubject != "" {
			if other, dup := subjects[c.JWTSubject]; dup {
				add("%s: jwt_subject %q is also %s's", who, c.JWTSubject, other)
			}
			subjects[c.JWTSubject] = who
		}
		for j, h := range c.APIKeySHA256 {
			// Never quote the value: it may be a key pasted by mistake.
			h = strings.ToLower(h)
			if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
				add("%s: api_key_sha256 entry %d is not 64 hex digits (store the key's SHA-256, never the key)", who, j+1)
				continue
			}
			if other, dup := hashes[h]; dup {
				add("%s: api_key_sha256 entry %d is also %s's", who, j+1, other)
			}
			c.APIKeySHA256[j] = h
			hashes[h] = who
		}
		if c.CertIdentity == "" && c.JWTSubject == "" && len(c.APIKeySHA256) == 0 {
			add("%s: no credential (cert_identity, jwt_subject or api_key_sha256)", who)
		}

		l := c.Limits
		if l.Rate < 0 || math.IsNaN(l.Rate) || math.IsInf(l.Rate, 0) || l.Burst < 0 || l.MaxConcurrent < 0 {
			add("%s: limits must be finite and not negative", who)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return file.Callers, nil
}

// normalCertIdentity checks a "uri:", "dns:" or "cn:" identity and
// lowercases a DNS name, as certificates' DNS names compare.
func normalCertIdentity(s string) (string, error) {
	kind, value, ok := strings.Cut(s, ":")
	if !ok || value == "" {
		return s, fmt.Errorf("%q must be \"uri:<URI SAN>\", \"dns:<DNS SAN>\" or \"cn:<common name>\"", s)
	}
	switch kind {
	case "uri", "cn":
		return s, nil
	case "dns":
		return "dns:" + strings.ToLower(value), nil
	}
	return s, fmt.Errorf("%q must start with \"uri:\", \"dns:\" or \"cn:\"", s)
}

func scopeList() string {
	var b []string
	for _, s := range AllScopes() {
		b = append(b, string(s))
	}
	return strings.Join(b, ", ")
}
