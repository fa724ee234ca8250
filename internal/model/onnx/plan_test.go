package onnx

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mlserve/mlserve/internal/preprocess"
)

// cost is what plan minimises: groupCost per run plus the padded positions.
func cost(lens []int, groups [][]int) int {
	c := 0
	for _, g := range groups {
		longest := 1
		for _, r := range g {
			longest = max(longest, lens[r])
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
		{"max_length padding never splits", fixed, []int{10, 128, 11}, "[[0 1 2]]"},
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
			lens[i] = r.IntN(1 + r.IntN(256))
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
			if c := cost(lens, gs); bestAll < 0 || c < bestAll {
				bestAll = c
			}
		}
		if got := cost(lens, groups); got != bestAll {
			t.Errorf("trial %d: plan(%v) costs %d, best %d", trial, lens, got, bestAll)
		}
	}
}
