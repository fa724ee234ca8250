package ood

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/model/sklearn"
)

const root = "../.."

func hist(edges, fractions []float64) *model.Histogram {
	return &model.Histogram{Edges: edges, Fractions: fractions}
}

// TestTail pins the tail probabilities: own bin included, floors at
// 1/(n+1), values past the outer edges, both tails doubled.
func TestTail(t *testing.T) {
	h := hist([]float64{0, 1, 2, 3, 4}, []float64{0.1, 0.4, 0.4, 0.1})
	tests := []struct {
		side side
		v    float64
		want float64
	}{
		{right, 0.5, 1},
		{right, 3.5, 0.1},
		{right, 3, 0.1}, // an edge belongs to the bin it opens
		{right, 4, 0.1}, // the last bin is closed
		{right, 9, 1.0 / 100},
		{right, -1, 1},
		{left, 0.5, 0.1},
		{left, 2.5, 0.9},
		{left, -1, 1.0 / 100},
		{both, 0.5, 0.2},
		{both, 3.5, 0.2},
		{both, 2.5, 1},
		{both, 1.5, 1},
		{both, 99, 1.0 / 100},
		{right, math.NaN(), 1},
	}
	for _, tc := range tests {
		tl, err := newTail("x", h, tc.side, 99)
		if err != nil {
			t.Fatal(err)
		}
		if got := tl.p(tc.v); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("side %d v %v: p %v, want %v", tc.side, tc.v, got, tc.want)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	alpha := 1.5
	for name, man := range map[string]*model.Manifest{
		"policy":    {OODPolicy: "drop", Reference: &model.Reference{N: 10, Confidence: hist([]float64{0, 1}, []float64{1})}},
		"alpha":     {OODAlpha: &alpha, Reference: &model.Reference{N: 10, Confidence: hist([]float64{0, 1}, []float64{1})}},
		"edges":     {Reference: &model.Reference{N: 10, Confidence: hist([]float64{0, 1, 2}, []float64{1})}},
		"unsorted":  {Reference: &model.Reference{N: 10, Confidence: hist([]float64{1, 0}, []float64{1})}},
		"zero mass": {Reference: &model.Reference{N: 10, Confidence: hist([]float64{0, 1}, []float64{0})}},
		"negative":  {Reference: &model.Reference{N: 10, Confidence: hist([]float64{0, 1, 2}, []float64{-1, 2})}},
	} {
		if _, err := New(man); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if s, err := New(&model.Manifest{}); s != nil || err != nil {
		t.Errorf("no reference: %v %v, want nil, nil", s, err)
	}
}

// TestScoreCombines: the smallest tail decides, times the number of
// signals (Bonferroni); an unmeasured OOV rate leaves its signal out.
func TestScoreCombines(t *testing.T) {
	ten := []float64{0, .1, .2, .3, .4, .5, .6, .7, .8, .9, 1}
	man := &model.Manifest{Reference: &model.Reference{N: 999,
		OOVRate:    hist(ten, []float64{.5, .3, .1, .05, .05, 0, 0, 0, 0, 0}),
		Confidence: hist(ten, []float64{0, 0, 0, 0, 0, .02, .03, .05, .1, .8}),
		TextLength: hist([]float64{0, 100, 1000, 10000}, []float64{.1, .8, .1}),
	}}
	s, err := New(man)
	if err != nil {
		t.Fatal(err)
	}
	r := s.Score(Input{OOVRate: 0.05, TextLength: 500, Confidence: 0.95})
	if r.Flag || r.P != 1 || r.Score != 0 {
		t.Errorf("typical text: %+v", r)
	}
	r = s.Score(Input{OOVRate: 0.95, TextLength: 500, Confidence: 0.95})
	if !r.Flag || r.Signal != SignalOOV || math.Abs(r.P-3.0/1000) > 1e-12 {
		t.Errorf("unknown words: %+v, want p = 3 × 1/1000", r)
	}
	r = s.Score(Input{OOVRate: -1, TextLength: 500, Confidence: 0.55})
	if r.Flag || math.Abs(r.P-2*0.02) > 1e-12 || r.Signal != SignalConfidence {
		t.Errorf("unsure, OOV unmeasured: %+v, want p = 2 × 0.02", r)
	}
}

func readSpamSplit(t *testing.T) (held, train []string) {
	t.Helper()
	dir := filepath.Join(root, ".cache", "data", "spam-assassin-0.2.3", "data")
	b, err := os.ReadFile(filepath.Join(dir, "file_list.json"))
	if err != nil {
		t.Skipf("SpamAssassin corpus missing (run scripts/fetch-data.sh): %v", err)
	}
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, strings.TrimSuffix(n, ".txt")+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var rec struct{ Text string }
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(rec.Text))
		if (uint64(sum[0])<<24|uint64(sum[1])<<16|uint64(sum[2])<<8|uint64(sum[3]))%5 == 0 {
			held = append(held, rec.Text) // python/mlserve_data/spam.py's split
		} else {
			train = append(train, rec.Text)
		}
	}
	return held, train
}

// foreignEmails builds n e-mails of 8 sentences each in one of the
// languages of testdata/foreign.json: e-mail length, foreign words.
func foreignEmails(t *testing.T, n int) []string {
	t.Helper()
	b, err := os.ReadFile("testdata/foreign.json")
	if err != nil {
		t.Fatal(err)
	}
	var langs map[string][]string
	if err := json.Unmarshal(b, &langs); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range langs {
		keys = append(keys, k)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]string, n)
	for i := range out {
		l := langs[keys[i%len(keys)]]
		var sb strings.Builder
		sb.WriteString("Subject: " + l[rng.IntN(len(l))] + "\n\n")
		for range 8 {
			sb.WriteString(l[rng.IntN(len(l))] + " ")
		}
		out[i] = sb.String()
	}
	return out
}

func reviews(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "python", "data", "sentiment.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows[1:] {
		out = append(out, r[0])
	}
	return out
}

// TestShiftedStreamsFlagged is the proof: models/spam/v1 with its own
// model.yaml reference flags shifted streams (sentiment reviews; e-mails in
// six other languages, at e-mail length so that the words must give them
// away) at a high rate and its in-distribution e-mails rarely: the
// held-out split (the reference's own texts) and the training split.
func TestShiftedStreamsFlagged(t *testing.T) {
	held, train := readSpamSplit(t)
	b, err := os.ReadFile(filepath.Join(root, "models", "spam", "v1", "model.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	man, _, err := model.ParseManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := New(man)
	if err != nil || sc == nil {
		t.Fatalf("scorer: %v %v", sc, err)
	}
	m, err := sklearn.Load(filepath.Join(root, "models", "spam", "v1", "model.joblib"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	rate := func(texts []string) (float64, map[string]int) {
		preds, err := m.Predict(context.Background(), texts)
		if err != nil {
			t.Fatal(err)
		}
		flagged, by := 0, map[string]int{}
		for i, p := range preds {
			if !p.OOV.Measured {
				t.Fatalf("OOV rate not measured")
			}
			r := sc.Score(Input{OOVRate: p.OOV.Rate, TextLength: utf8.RuneCountInString(texts[i]), Confidence: p.Confidence})
			if r.Flag {
				flagged++
				by[r.Signal]++
			}
		}
		return float64(flagged) / float64(len(texts)), by
	}
	for _, tc := range []struct {
		name     string
		texts    []string
		min, max float64
	}{
		{"held-out e-mails (in distribution, the reference's texts)", held, 0, 0.02},
		{"training e-mails (in distribution)", train, 0, 0.02},
		{"sentiment reviews (shifted)", reviews(t), 0.95, 1},
		{"e-mails in six other languages (shifted)", foreignEmails(t, 300), 0.9, 1},
	} {
		r, by := rate(tc.texts)
		t.Logf("%-58s %5d texts: flagged %6.2f%% %v", tc.name, len(tc.texts), 100*r, by)
		if r < tc.min || r > tc.max {
			t.Errorf("%s: flag rate %.4f, want within [%v, %v]", tc.name, r, tc.min, tc.max)
		}
	}
}

// BenchmarkScore is one answer's OOD score against spam-v1's reference.
func BenchmarkScore(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join(root, "models", "spam", "v1", "model.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	man, _, err := model.ParseManifest(raw)
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(man)
	if err != nil {
		b.Fatal(err)
	}
	in := Input{OOVRate: 0.12, TextLength: 640, Confidence: 0.97}
	var flagged int
	for b.Loop() {
		if s.Score(in).Flag {
			flagged++
		}
	}
	if flagged != 0 {
		b.Fatal("an ordinary e-mail flagged")
	}
}
