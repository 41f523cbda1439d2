package auth_test

import (
	"encoding/base64"
	"os"
	"strings"
	"testing"

	"github.com/docsearch/docsearch/api/auth"
)

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func TestParseCallers(t *testing.T) {
	hash := auth.HashAPIKey("k1")
	tests := []struct {
		name, json string
		want       []string // every one in the error; nil for valid
	}{
		{"valid", `{"callers": [{"name": "a", "scopes": ["search:patient", "search:patient"], "api_key_sha256": ["` + strings.ToUpper(hash) + `"],
			"limits": {"rate": 5, "burst": 10, "max_concurrent": 2}}]}`, nil},
		{"not json", `{"callers": [`, []string{"parsing JSON"}},
		{"trailing data", `{"callers": [{"name": "a", "scopes": ["search:patient"], "jwt_subject": "a"}]} {}`, []string{"data after the top-level object"}},
		{"unknown field", `{"callers": [{"name": "a", "scope": ["search:patient"]}]}`, []string{`unknown field "scope"`}},
		{"no callers", `{"callers": []}`, []string{"no callers"}},
		{"bad name", `{"callers": [{"name": "a b", "scopes": ["search:patient"], "jwt_subject": "a"}]}`, []string{`caller 1: name "a b" must be`}},
		{"reserved name", `{"callers": [{"name": "local", "scopes": ["search:patient"], "jwt_subject": "a"}]}`, []string{`"local" is reserved`}},
		{"everything wrong", `{"callers": [
			{"name": "a", "scopes": ["search:everything"], "cert_identity": "email:a@b", "api_key_sha256": ["my-secret-key"], "limits": {"rate": -1}},
			{"name": "a", "scopes": []},
			{"name": "b", "scopes": ["search:patient"], "jwt_subject": "s", "cert_identity": "dns:X.test", "api_key_sha256": ["` + hash + `"]},
			{"name": "c", "scopes": ["search:patient"], "jwt_subject": "s", "cert_identity": "dns:x.TEST", "api_key_sha256": ["` + hash + `"]}]}`,
			[]string{
				`caller "a": unknown scope "search:everything" (known: attributes:admin, search:patient, search:population)`,
				`caller "a": cert_identity: "email:a@b" must start with "uri:", "dns:" or "cn:"`,
				`caller "a": api_key_sha256 entry 1 is not 64 hex digits (store the key's SHA-256, never the key)`,
				`caller "a": limits must be finite and not negative`,
				`caller 2: name "a" is used twice`,
				`caller 2: no scopes`,
				`caller 2: no credential`,
				`caller "c": cert_identity "dns:x.test" is also caller "b"'s`,
				`caller "c": jwt_subject "s" is also caller "b"'s`,
				`caller "c": api_key_sha256 entry 1 is also caller "b"'s`,
			}},
	}
	for _, tt := range tests {
		cs, err := auth.ParseCallers(strings.NewReader(tt.json))
		if tt.want == nil {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: no error, callers %+v", tt.name, cs)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tt.name, err, w)
			}
		}
		if strings.Contains(err.Error(), "my-secret-key") {
			t.Errorf("%s: error quotes a would-be key: %q", tt.name, err)
		}
	}

	cs, err := auth.ParseCallers(strings.NewReader(tests[0].json))
	if err != nil {
		t.Fatal(err)
	}
	c := cs[0]
	if len(c.Scopes) != 1 || c.APIKeySHA256[0] != hash || c.Limits != (auth.Limits{Rate: 5, Burst: 10, MaxConcurrent: 2}) {
		t.Errorf("parsed %+v", c)
	}
}

func TestHashAPIKey(t *testing.T) {
	// printf %s abc | sha256sum
	if got := auth.HashAPIKey("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("HashAPIKey(abc) = %s", got)
	}
}

// TestDocExample keeps the example in docs/security.md valid.
func TestDocExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```json\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no JSON example in docs/security.md")
	}
	cs, err := auth.ParseCallers(strings.NewReader(example))
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 3 || cs[2].APIKeySHA256[0] != auth.HashAPIKey("ds_example-key-do-not-use") {
		t.Errorf("example callers %+v", cs)
	}
}
