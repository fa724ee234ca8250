package preprocess

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSortColumns compares sortColumns with slices.Sort on random column
// lists of the lengths either side of the radix threshold, with
// vocabularies from one column to the int32 limit and many repeats.
func TestSortColumns(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var tmp []int32
	for _, n := range []int{1, 2, 255, 256, 257, 30000, 1 << 16, 1<<24 + 3, math.MaxInt32} {
		for _, length := range []int{0, 1, 63, 64, 65, 300, 2000} {
			cols := make([]int32, length)
			for i := range cols {
				if i > 0 && rng.IntN(4) == 0 {
					cols[i] = cols[rng.IntN(i)] // a repeated column
				} else {
					cols[i] = int32(rng.Int64N(int64(n)))
				}
			}
			want := slices.Clone(cols)
			slices.Sort(want)
			var got []int32
			got, tmp = sortColumns(cols, tmp, n)
			if !slices.Equal(got, want) {
				t.Fatalf("n %d, %d columns: sorted %v, want %v", n, length, got, want)
			}
		}
	}
}

// FuzzAppendRuns compares the word-run scanner's span list with the
// callback scanner's (tokens), for both run lengths.
func FuzzAppendRuns(f *testing.F) {
	for _, s := range hardTexts {
		f.Add(s)
	}
	f.Add("a bb ccc d_1 é東京 x\xffy 42")
	f.Fuzz(func(t *testing.T, text string) {
		for _, minRun := range []int{1, 2} {
			tk := &tokenizer{minRun: minRun}
			var want []int
			_ = tk.tokens(context.Background(), []byte(text), func(s, e int) { want = append(want, s, e) })
			if got := tk.appendRuns(nil, []byte(text)); !slices.Equal(got, want) {
				t.Fatalf("minRun %d, %q: spans %v, tokens gives %v", minRun, text, got, want)
			}
		}
	})
}
