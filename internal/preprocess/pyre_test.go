package preprocess

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// pyreRecords is testdata/pyre.json, written by
// python/fixtures/make_pyre_fixtures.py: patterns × texts × Python's
// re.findall (or the error Python or scikit-learn raises).
type pyreRecords struct {
	Python   string   `json:"python"`
	Texts    []string `json:"texts"`
	Patterns []struct {
		Pattern string     `json:"pattern"`
		Error   string     `json:"error"`
		Findall [][]string `json:"findall"`
	} `json:"patterns"`
}

func loadPyreRecords(t testing.TB) pyreRecords {
	t.Helper()
	var r pyreRecords
	b, err := os.ReadFile("testdata/pyre.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Patterns) < 100 || len(r.Texts) < 20 {
		t.Fatalf("only %d patterns × %d texts recorded", len(r.Patterns), len(r.Texts))
	}
	return r
}

// findallWith runs a tokenizer as findall does, returning the strings.
func findallWith(t testing.TB, tk *tokenizer, text string) []string {
	t.Helper()
	out := []string{}
	b := []byte(text)
	if err := tk.tokens(context.Background(), b, func(s, e int) { out = append(out, string(b[s:e])) }); err != nil {
		t.Fatalf("tokens: %v", err)
	}
	return out
}

// notImplemented are recorded patterns Python accepts and pyre refuses,
// naming the construct (TestPyreRefusalsNameTheConstruct).
var notImplemented = map[string]bool{`(?x) \w+`: true, `\N{EM DASH}`: true}

// TestPyreRecorded compares the token pattern compiler (RE2 or pyre, as it
// chooses) and pyre on its own with what Python's re.findall returned.
func TestPyreRecorded(t *testing.T) {
	r := loadPyreRecords(t)
	for _, rec := range r.Patterns {
		t.Run(rec.Pattern, func(t *testing.T) {
			tk, err := compileTokenPattern(rec.Pattern)
			py, perr := compilePyre(rec.Pattern)
			if rec.Error != "" {
				if !errors.Is(err, ErrPattern) || !errors.Is(perr, ErrPattern) {
					t.Fatalf("Python refuses it (%s); compileTokenPattern err = %v, compilePyre err = %v", rec.Error, err, perr)
				}
				return
			}
			if notImplemented[rec.Pattern] {
				if !errors.Is(err, ErrPattern) || !errors.Is(perr, ErrPattern) {
					t.Fatalf("not implemented, yet accepted: %v / %v", err, perr)
				}
				return
			}
			if err != nil || perr != nil {
				t.Fatalf("refused: %v / %v", err, perr)
			}
			for i, text := range r.Texts {
				want := rec.Findall[i]
				if got := findallWith(t, tk, text); !slices.Equal(got, want) {
					t.Errorf("findall(%q) = %q, Python %q (re2 %v)", text, got, want, tk.py == nil)
				}
				if got := findallWith(t, &tokenizer{py: py}, text); !slices.Equal(got, want) {
					t.Errorf("pyre findall(%q) = %q, Python %q", text, got, want)
				}
			}
		})
	}
}

// TestPyreRefusalsNameTheConstruct checks that what cannot be matched
// faithfully is refused with its name.
func TestPyreRefusalsNameTheConstruct(t *testing.T) {
	for p, want := range map[string]string{
		`(?x) \w+`:    "verbose",
		`\N{EM DASH}`: `\N{...}`,
		`(?(1)a|b)`:   "conditional",
		`(\w+) (\w+)`: "at most one",
		`(?<=a+)b`:    "fixed-width",
		`a(?i)b`:      "global flags not at the start",
		`[abc`:        "unterminated character set",
		`\q`:          `bad escape \q`,
		`a**`:         "multiple repeat",
	} {
		_, err := NewAnalyzer(AnalyzerConfig{TokenPattern: p})
		if !errors.Is(err, ErrPattern) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want ErrPattern naming %q", p, err, want)
		}
	}
}

// TestPyreBudget checks that catastrophic backtracking ends with an error,
// quickly, and that a done context stops matching.
func TestPyreBudget(t *testing.T) {
	py, err := compilePyre(`(a*)*b`)
	if err != nil {
		t.Fatal(err)
	}
	text := []byte(strings.Repeat("a", 40))
	start := time.Now()
	err = py.findAll(context.Background(), text, func(int, int) {})
	if !errors.Is(err, ErrPattern) || !strings.Contains(err.Error(), "catastrophic") {
		t.Fatalf("err = %v, want the step budget's ErrPattern", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := py.findAll(ctx, text, func(int, int) {}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: err = %v", err)
	}
}

// FuzzPyre runs pyre on fuzzed patterns and texts: it never panics or runs
// past its budget, and where the token compiler uses RE2 both find the same
// tokens. The recorded patterns and texts are the seeds.
func FuzzPyre(f *testing.F) {
	r := loadPyreRecords(f)
	for i, rec := range r.Patterns {
		f.Add(rec.Pattern, r.Texts[i%len(r.Texts)])
	}
	f.Fuzz(func(t *testing.T, pattern, text string) {
		if len(pattern) > 64 || len(text) > 256 {
			return
		}
		py, err := compilePyre(pattern)
		if err != nil {
			if !errors.Is(err, ErrPattern) {
				t.Fatalf("err %v does not wrap ErrPattern", err)
			}
			return
		}
		var got []int
		b := []byte(text)
		perr := py.findAll(context.Background(), b, func(s, e int) { got = append(got, s, e) })
		tk, err := compileTokenPattern(pattern)
		if err != nil || tk.py != nil || perr != nil {
			return
		}
		var want []int
		_ = tk.tokens(context.Background(), b, func(s, e int) { want = append(want, s, e) })
		if !slices.Equal(got, want) {
			t.Fatalf("%q on %q: pyre %v, RE2 %v", pattern, text, got, want)
		}
	})
}

// BenchmarkPyre measures pyre's findall on an email-sized text for a
// pattern RE2 cannot take (\b around a class) and, for comparison, RE2 on
// the pattern without the boundaries.
func BenchmarkPyre(b *testing.B) {
	text := []byte(strings.Repeat("Subject: free money!! Call 555-0199 now, don't wait; café naïve 東京. ", 30))
	for _, p := range []string{`\b[a-z]{2,}\b`, `(?i)\b\w+(?=\s)`, `[a-z]{2,}`} {
		tk, err := compileTokenPattern(p)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(p, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				_ = tk.tokens(context.Background(), text, func(int, int) {})
			}
		})
	}
}
