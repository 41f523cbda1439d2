package index

import (
	"testing"

	"github.com/docsearch/docsearch/cdc"
)

func TestFilterJSONStorable(t *testing.T) {
	attrs, err := cdc.ParseAttributes(`{"big": 12345678901234567890, "huge": 99999999999999999999, "inf": 1e400,
		"arr": [1, 1e400, 2.5], "all_inf": [1e400], "none": null, "empty": [], "ok": 5.40, "s": "2024-03-01"}`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := filterJSON(attrs, "", false)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"arr":[1,2.5],"big":12345678901234567890,"huge":1e+20,"ok":5.40,"s":"2024-03-01"}`
	if got != want {
		t.Fatalf("filterJSON =\n%s\nwant\n%s", got, want)
	}
}
