package tokenizer

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// diffVocab compares v with the map it was built from: every entry, near
// misses, random bytes (invalid UTF-8 among them) and the empty string.
func diffVocab(t *testing.T, m map[string]int, n int) {
	t.Helper()
	v, err := newVocab(m, n)
	if err != nil {
		t.Fatal(err)
	}
	probes := []string{"", "\xff", "##"}
	for s := range m {
		probes = append(probes, s, s+"x", "##"+s)
		if s != "" {
			probes = append(probes, s[:len(s)-1])
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		b := make([]byte, rng.IntN(6))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		probes = append(probes, string(b))
	}
	for _, s := range probes {
		want, wok := m[s]
		got, ok := v.id(s)
		bgot, str, bok := v.lookup([]byte(s))
		if ok != wok || bok != wok || (wok && (got != want || bgot != want || str != s)) {
			t.Fatalf("%q: id %d %v, lookup %d %q %v; map %d %v", s, got, ok, bgot, str, bok, want, wok)
		}
	}
	// token: every id's token maps back to the id; ids no token has are "".
	has := map[int]bool{}
	for _, id := range m {
		has[id] = true
	}
	for id := -1; id <= n; id++ {
		tok := v.token(id)
		if !has[id] {
			if tok != "" {
				t.Fatalf("token(%d) = %q, no token has the id", id, tok)
			}
			continue
		}
		if got, ok := m[tok]; !ok || got != id {
			t.Fatalf("token(%d) = %q, which the map gives id %d %v", id, tok, got, ok)
		}
	}
}

func TestVocabTable(t *testing.T) {
	t.Run("dense", func(t *testing.T) { diffVocab(t, map[string]int{"a": 0, "": 1, "##b": 2, "\xff": 3}, 4) })
	t.Run("holes", func(t *testing.T) { diffVocab(t, map[string]int{"a": 2, "b": 5}, 7) })
	t.Run("repeated ids", func(t *testing.T) { diffVocab(t, map[string]int{"a": 0, "b": 0, "c": 1, "d": 3}, 4) })
	t.Run("sentiment v3 tokenizer.json", func(t *testing.T) {
		raw, err := os.ReadFile(filepath.Join("..", "..", "models", "sentiment", "v3", "tokenizer.json"))
		if err != nil {
			t.Fatal(err)
		}
		var j struct {
			Model struct {
				Vocab map[string]int `json:"vocab"`
			} `json:"model"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			t.Fatal(err)
		}
		diffVocab(t, j.Model.Vocab, len(j.Model.Vocab))
	})
}

func FuzzVocabTable(f *testing.F) {
	f.Add([]byte("a\x00b\x01c\x00"), uint8(3))
	f.Fuzz(func(t *testing.T, raw []byte, spread uint8) {
		// Each byte pair is a token (one byte) and its id, in [0, spread].
		n := int(spread) + 1
		m := map[string]int{}
		for i := 0; i+1 < len(raw) && len(m) < 512; i += 2 {
			m[string(raw[i:i+1])] = int(raw[i+1]) % n
		}
		diffVocab(t, m, n)
	})
}
