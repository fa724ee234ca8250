package onnx

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mlserve/mlserve/internal/preprocess"
)

// cost is what plan minimises: groupCost per run plus the padded
// positions; -1 when a run of several rows exceeds maxRunPositions.
func cost(lens []int, groups [][]int) int {
	c := 0
	for _, g := range groups {
		longest := 1
		for _, r := range g {
			longest = max(longest, lens[r])
		}
		if len(g) > 1 && len(g)*longest > maxRunPositions {
			return -1
		}
		c += groupCost + len(g)*longest
	}
	return c
}

func TestPlan(t *testing.T) {
	longest := &Model{enc: preprocess.EncodeOptions{Padding: preprocess.PadLongest}}
	fixed := &Model{enc: preprocess.EncodeOptions{Padding: preprocess.PadMaxLength, MaxLength: 128}}
	tests := []struct {
		name string
		m    *Model
		lens []int
		want string
	}{
		{"empty", longest, nil, "[[]]"},
		{"one", longest, []int{7}, "[[0]]"},
		{"equal", longest, []int{12, 12, 12, 12}, "[[0 1 2 3]]"},
		{"small spread", longest, []int{10, 12, 11, 9}, "[[0 1 2 3]]"},
		{"one long text", longest, []int{10, 128, 11, 9, 12}, "[[3 0 2 4] [1]]"},
		{"two lengths", longest, []int{200, 5, 200, 5, 5, 200, 5, 5}, "[[1 3 4 6 7] [0 2 5]]"},
		{"all empty", longest, []int{0, 0, 0}, "[[0 1 2]]"},
		{"max_length padding never splits by length", fixed, []int{10, 128, 11}, "[[0 1 2]]"},
		{"max_length padding splits at the position cap", fixed, make([]int, 35), "[[0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15] [16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31] [32 33 34]]"},
		{"equal long rows split at the position cap", longest, []int{256, 256, 256, 256, 256, 256, 256, 256, 256, 256}, "[[0 1 2 3 4 5 6 7] [8 9]]"},
		{"one row over the cap runs alone", longest, []int{3000, 3000}, "[[0] [1]]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fmt.Sprint(tt.m.plan(tt.lens)); got != tt.want {
				t.Errorf("plan(%v) = %s, want %s", tt.lens, got, tt.want)
			}
		})
	}
}

// TestPlanOptimal checks on random batches that every row is run exactly
// once and that no partition into consecutive length-sorted groups (all of
// them, enumerated for small batches) costs less.
func TestPlanOptimal(t *testing.T) {
	m := &Model{enc: preprocess.EncodeOptions{Padding: preprocess.PadLongest}}
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 300 {
		n := 1 + r.IntN(10)
		lens := make([]int, n)
		for i := range lens {
			lens[i] = r.IntN(1 + r.IntN(600))
		}
		groups := m.plan(lens)
		var all []int
		for _, g := range groups {
			all = append(all, g...)
		}
		slices.Sort(all)
		if !slices.Equal(all, identity(n)) {
			t.Fatalf("trial %d: plan(%v) = %v does not run each row once", trial, lens, groups)
		}
		order := identity(n)
		slices.SortStableFunc(order, func(a, b int) int { return lens[a] - lens[b] })
		bestAll := -1
		for mask := range 1 << (n - 1) { // bit i: cut after sorted row i
			var gs [][]int
			start := 0
			for i := range n - 1 {
				if mask&(1<<i) != 0 {
					gs = append(gs, order[start:i+1])
					start = i + 1
				}
			}
			gs = append(gs, order[start:])
			if c := cost(lens, gs); c >= 0 && (bestAll < 0 || c < bestAll) {
				bestAll = c
			}
		}
		if got := cost(lens, groups); got < 0 || got != bestAll {
			t.Errorf("trial %d: plan(%v) costs %d, best %d", trial, lens, got, bestAll)
		}
	}
}
