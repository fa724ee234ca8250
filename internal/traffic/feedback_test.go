package traffic

import (
	"runtime"
	"strconv"
	"testing"
)

func TestIDRingForgetsOldestFirst(t *testing.T) {
	r := idRing{max: 1000}
	for i := range 2500 {
		old := r.push(strconv.Itoa(i))
		want := ""
		if i >= r.max {
			want = strconv.Itoa(i - r.max)
		}
		if old != want {
			t.Fatalf("push %d displaced %q, want %q", i, old, want)
		}
		if n := len(r.ids); n != min(i+1, r.max) {
			t.Fatalf("after push %d: %d ids held", i, n)
		}
	}
	// Growth stops at max: the slice is not left with a doubling's slack.
	if c := cap(r.ids); c > r.max+64 {
		t.Errorf("cap %d for max %d", c, r.max)
	}
}

// A book holds nothing until something is compared: a server without a
// policy must not carry two full rings of feedbackCap ids.
func TestFeedbackBookStartsSmall(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b := newFeedbackBook(feedbackCap)
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 4<<10 {
		t.Errorf("an empty book allocated %d bytes", n)
	}
	runtime.KeepAlive(&b)
}

func TestFeedbackBookBounds(t *testing.T) {
	b := newFeedbackBook(3)
	for i := range 5 {
		if _, ok := b.put("r"+strconv.Itoa(i), fbEntry{primary: "a", candidate: "b"}); ok {
			t.Fatalf("put r%d found a feedback that never came", i)
		}
	}
	for i := range 5 {
		_, ok := b.take("r"+strconv.Itoa(i), "a", false)
		if want := i >= 2; ok != want {
			t.Errorf("take r%d: found %v, want %v (the two oldest are forgotten)", i, ok, want)
		}
	}
	// Feedback before its comparison waits in its own bounded ring.
	for i := range 5 {
		b.take("e"+strconv.Itoa(i), "label"+strconv.Itoa(i), true)
	}
	for i := range 5 {
		label, ok := b.put("e"+strconv.Itoa(i), fbEntry{})
		if want := i >= 2; ok != want || (ok && label != "label"+strconv.Itoa(i)) {
			t.Errorf("put e%d: %q %v, want the early label: %v", i, label, ok, want)
		}
	}
}
