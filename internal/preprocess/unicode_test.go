package preprocess

import (
	"encoding/json"
	"os"
	"strconv"
	"testing"

	"golang.org/x/text/unicode/norm"
)

// TestUnicodeTablesExhaustive compares IsPySpace, IsPyWord, the combining
// class used by StripAccentsUnicode, and Lower against Python for every code
// point that Python's Unicode database assigns (newer Unicode versions may
// assign more; those are skipped).
func TestUnicodeTablesExhaustive(t *testing.T) {
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Unicode struct {
			Version   string            `json:"unidata_version"`
			Assigned  [][2]rune         `json:"assigned"`
			Space     [][2]rune         `json:"space"`
			Word      [][2]rune         `json:"word"`
			Combining [][2]rune         `json:"combining"`
			Lower     map[string]string `json:"lower"`
		} `json:"unicode"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	u := g.Unicode
	set := func(rs [][2]rune) map[rune]bool {
		m := map[rune]bool{}
		for _, r := range rs {
			for c := r[0]; c <= r[1]; c++ {
				m[c] = true
			}
		}
		return m
	}
	assigned, space, word, comb := set(u.Assigned), set(u.Space), set(u.Word), set(u.Combining)
	if len(assigned) < 100000 || len(word) < 100000 || len(space) < 20 || len(u.Lower) < 1000 {
		t.Fatalf("tables too small: %d assigned, %d word, %d space, %d lower", len(assigned), len(word), len(space), len(u.Lower))
	}
	lower := map[rune]string{}
	for k, v := range u.Lower {
		n, err := strconv.Atoi(k)
		if err != nil {
			t.Fatal(err)
		}
		lower[rune(n)] = v
	}
	bad := 0
	report := func(format string, args ...any) {
		if bad++; bad <= 20 {
			t.Errorf(format, args...)
		}
	}
	for c := range assigned {
		if IsPySpace(c) != space[c] {
			report("IsPySpace(%U) = %v, Python %v", c, !space[c], space[c])
		}
		if IsPyWord(c) != word[c] {
			report("IsPyWord(%U) = %v, Python %v", c, !word[c], word[c])
		}
		s := string(c)
		if got := norm.NFD.PropertiesString(s).CCC() != 0; got != comb[c] {
			report("combining(%U) = %v, Python %v", c, got, comb[c])
		}
		want, ok := lower[c]
		if !ok {
			want = s
		}
		if c == 0x3a3 {
			want = "σ" // alone, sigma is not final
		}
		if got := Lower(s); got != want {
			report("Lower(%U) = %q, Python %q", c, got, want)
		}
	}
	t.Logf("compared %d code points against Python's Unicode %s; %d differ", len(assigned), u.Version, bad)
}
