package strtab

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// ref is the behaviour a Table must have, written with a Go map: ids in
// order, a later id wins a repeated token, skipped ids are not found.
type ref struct {
	ids    map[string]int
	tokens []string
}

func build(t testing.TB, toks []string, skip map[int]bool) (*Table, ref) {
	t.Helper()
	var b Builder
	r := ref{ids: map[string]int{}}
	for i, s := range toks {
		if skip[i] {
			b.Skip()
			r.tokens = append(r.tokens, "")
			continue
		}
		if i%2 == 0 {
			b.AddString(s)
		} else {
			b.Add([]byte(s))
		}
		r.ids[s] = i
		r.tokens = append(r.tokens, s)
	}
	tab, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return tab, r
}

// check compares tab with r on every token of r and on probes.
func check(t testing.TB, tab *Table, r ref, probes []string) {
	t.Helper()
	if tab.Len() != len(r.tokens) || tab.Distinct() != len(r.ids) {
		t.Fatalf("Len %d Distinct %d, want %d %d", tab.Len(), tab.Distinct(), len(r.tokens), len(r.ids))
	}
	for id, s := range r.tokens {
		if got := tab.Token(id); got != s {
			t.Fatalf("Token(%d) = %q, want %q", id, got, s)
		}
	}
	for _, id := range []int{-1, len(r.tokens), len(r.tokens) + 1} {
		if got := tab.Token(id); got != "" {
			t.Fatalf("Token(%d) = %q, want \"\"", id, got)
		}
	}
	look := func(s string) {
		want, wok := r.ids[s]
		id, ok := tab.ID(s)
		bid, bok := tab.IDBytes([]byte(s))
		if ok != wok || bok != wok || (wok && (id != want || bid != want)) {
			t.Fatalf("lookup %q: ID %d %v, IDBytes %d %v; want %d %v", s, id, ok, bid, bok, want, wok)
		}
	}
	for s := range r.ids {
		look(s)
	}
	for _, s := range probes {
		look(s)
	}
}

func TestTableCases(t *testing.T) {
	for _, c := range []struct {
		name string
		toks []string
		skip map[int]bool
		miss []string
	}{
		{"empty table", nil, nil, []string{"", "a"}},
		{"empty token", []string{"", "a"}, nil, []string{"b", " "}},
		{"no empty token", []string{"a", "b"}, nil, []string{""}},
		{"later wins", []string{"a", "b", "a", "a"}, nil, []string{"aa"}},
		{"skipped ids", []string{"x", "", "y", "", "z"}, map[int]bool{1: true, 3: true}, []string{""}},
		{"skipped then repeated", []string{"a", "a"}, map[int]bool{1: true}, nil},
		{"invalid utf-8", []string{"\xff", "\xc3", "a\x00b", "é"}, nil, []string{"\xfe", "\xc3\xa9x", "a\x00"}},
		{"prefixes", []string{"ab", "a", "abc", "##a", "##"}, nil, []string{"abcd", "#", "##ab", "b"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tab, r := build(t, c.toks, c.skip)
			check(t, tab, r, c.miss)
		})
	}
}

// TestTableRandom builds tables of random strings of every size class
// (including growth past each power of two) and compares them with a map on
// hits, misses and near misses (one byte changed, one byte cut).
func TestTableRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 5, 6, 7, 100, 1000, 5000} {
		toks := make([]string, n)
		for i := range toks {
			toks[i] = randString(rng, 0, 12)
		}
		skip := map[int]bool{}
		for range n / 10 {
			skip[rng.IntN(n)] = true
		}
		tab, r := build(t, toks, skip)
		var probes []string
		for range 2 * n {
			probes = append(probes, randString(rng, 0, 12))
			s := []byte(toks[rng.IntN(n)])
			if len(s) > 0 {
				probes = append(probes, string(s[:len(s)-1]))
				s[rng.IntN(len(s))] ^= byte(1 + rng.IntN(255))
				probes = append(probes, string(s))
			}
		}
		check(t, tab, r, probes)
	}
}

// randString draws from a small alphabet, so that repeats and shared
// prefixes are common, with invalid UTF-8 bytes among it.
func randString(rng *rand.Rand, lo, hi int) string {
	const alpha = "ab#\x00\xff\xc3é "
	var sb strings.Builder
	for range lo + rng.IntN(hi-lo+1) {
		sb.WriteByte(alpha[rng.IntN(len(alpha))])
	}
	return sb.String()
}

// TestTableLoad checks the index stays at most half full and is a power of two.
func TestTableLoad(t *testing.T) {
	for _, n := range []int{0, 1, 6, 7, 12, 13, 20000, 30522} {
		var b Builder
		for i := range n {
			b.AddString(strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune(i)))
		}
		tab, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		s := len(tab.slots)
		if s&(s-1) != 0 || 2*tab.Distinct() > s {
			t.Errorf("n=%d: %d slots for %d tokens", n, s, tab.Distinct())
		}
	}
}

func TestTokenIsNotCopied(t *testing.T) {
	var b Builder
	b.AddString("hello")
	tab, _ := b.Build()
	if allocs := testing.AllocsPerRun(100, func() { _ = tab.Token(0) }); allocs != 0 {
		t.Errorf("Token allocates %v times", allocs)
	}
	key := []byte("hello")
	if allocs := testing.AllocsPerRun(100, func() { tab.IDBytes(key); tab.ID("nope") }); allocs != 0 {
		t.Errorf("lookups allocate %v times", allocs)
	}
}

func TestBuilderReuse(t *testing.T) {
	var b Builder
	b.AddString("a")
	if _, err := b.Build(); err != nil {
		t.Fatal(err)
	}
	if b.Len() != 0 {
		t.Fatalf("builder holds %d ids after Build", b.Len())
	}
	b.AddString("b")
	tab, _ := b.Build()
	if id, ok := tab.ID("b"); !ok || id != 0 || tab.Len() != 1 {
		t.Fatalf("second build: %d %v len %d", id, ok, tab.Len())
	}
}

func TestBuilderTooLarge(t *testing.T) {
	// add does the limit check from the sizes alone: claim MaxBytes
	// without allocating 4 GiB, then one byte more.
	var b Builder
	b.add(MaxBytes)
	if b.err != nil {
		t.Fatalf("MaxBytes refused: %v", b.err)
	}
	b.add(1)
	if _, err := b.Build(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Build past MaxBytes: %v, want ErrTooLarge", err)
	}
}

func FuzzTable(f *testing.F) {
	f.Add([]byte("a\nb\n\na\n\xff\n"), []byte("a"))
	f.Add([]byte(""), []byte(""))
	f.Add([]byte("##\n#\n##a"), []byte("##a"))
	f.Fuzz(func(t *testing.T, list, probe []byte) {
		toks := strings.Split(string(list), "\n")
		if len(toks) > 4096 {
			toks = toks[:4096]
		}
		skip := map[int]bool{}
		for i, s := range toks {
			if strings.HasPrefix(s, "\x01") {
				skip[i] = true
			}
		}
		tab, r := build(t, toks, skip)
		check(t, tab, r, append(strings.Split(string(probe), "\n"), string(probe)))
	})
}

// TestBuilderGrow: a builder grown to the exact size builds without
// copying its arena, and a table built from it answers as one that was not.
func TestBuilderGrow(t *testing.T) {
	toks := []string{"alpha", "", "beta", "alpha"}
	var b Builder
	b.Grow(len(toks), 14)
	arena := b.arena[:1]
	for _, s := range toks {
		b.AddString(s)
	}
	tab, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if &tab.arena[0] != &arena[0] {
		t.Error("Build copied an exactly grown arena")
	}
	_, r := build(t, toks, nil)
	check(t, tab, r, []string{"alph", "gamma"})
}
