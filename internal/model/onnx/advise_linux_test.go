package onnx

import (
	"bufio"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// mappingOf returns the resident kB and VmFlags of the first mapping of
// path in /proc/self/smaps; found is false when path is not mapped.
func mappingOf(t *testing.T, path string) (rssKB int, flags string, found bool) {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip("no /proc/self/smaps:", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			if in {
				return rssKB, flags, true
			}
			in = fields[len(fields)-1] == path
			continue
		}
		if !in {
			continue
		}
		if v, ok := strings.CutPrefix(line, "Rss:"); ok {
			rssKB, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
		if v, ok := strings.CutPrefix(line, "VmFlags:"); ok {
			flags = strings.TrimSpace(v)
		}
	}
	return rssKB, flags, in
}

// randomTexts are n texts of 20 random lower-case words each: WordPiece
// splits them into pieces spread over the whole vocabulary.
func randomTexts(n int) []string {
	r := rand.New(rand.NewPCG(1, 2))
	texts := make([]string, n)
	for i := range texts {
		words := make([]string, 20)
		for j := range words {
			b := make([]byte, 3+r.IntN(6))
			for k := range b {
				b[k] = byte('a' + r.IntN(26))
			}
			words[j] = string(b)
		}
		texts[i] = strings.Join(words, " ")
	}
	return texts
}

// TestExternalAdvice: ONNX Runtime maps sentiment/v3's external
// word-embedding table, and with the advice on the mapping is
// MADV_RANDOM (VmFlags "rr"); the resident kB of the mapping after 1 and
// 50 random texts, with the advice and without, are logged (go test -v):
// the README's figures. Each run writes its data file anew, so it starts
// in the page cache as a fresh file does.
func TestExternalAdvice(t *testing.T) {
	o := testOptions(t)
	src := filepath.Join(repoRoot(t), "models", "sentiment", "v3")
	b, err := os.ReadFile(filepath.Join(src, "encoder.onnx"))
	if err != nil {
		t.Skip("models/sentiment/v3/encoder.onnx not fetched (scripts/fetch-models.sh)")
	}
	if _, err := os.Stat(filepath.Join(src, "encoder.onnx.data")); err == nil {
		b = inline(t, b, src)
	}
	graph, raw := externalize(t, b, v3Embeddings, "location", "encoder.onnx.data")
	texts := randomTexts(50)
	defer func() { externalAdvice = true }()
	for _, advice := range []bool{true, false} {
		externalAdvice = advice
		dir := t.TempDir()
		copyDir(t, src, dir)
		os.Remove(filepath.Join(dir, "encoder.onnx.data"))
		if err := os.WriteFile(filepath.Join(dir, "encoder.onnx"), graph, 0o644); err != nil {
			t.Fatal(err)
		}
		data := filepath.Join(dir, "encoder.onnx.data")
		if err := os.WriteFile(data, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := LoadDir(context.Background(), dir, o)
		if err != nil {
			t.Fatal(err)
		}
		real, _ := filepath.EvalSymlinks(data)
		loaded, flags, found := mappingOf(t, real)
		if !found {
			m.Close()
			t.Fatalf("ONNX Runtime did not map %s", real)
		}
		if has := strings.Contains(" "+flags+" ", " rr "); has != advice {
			t.Errorf("advice %v: VmFlags %q", advice, flags)
		}
		var after []int
		for _, n := range []int{1, 49} {
			for _, text := range texts[:n] {
				if _, err := m.Predict(context.Background(), []string{text}); err != nil {
					t.Fatal(err)
				}
			}
			kb, _, _ := mappingOf(t, real)
			after = append(after, kb)
		}
		m.Close()
		t.Logf("advice %v: table %d kB; resident %d kB after load, %d kB after 1 text, %d kB after 50 texts", advice, len(raw)/1024, loaded, after[0], after[1])
	}
}
