package traffic

import "sync"

// feedbackCap is how many compared predictions await feedback, and how
// many feedbacks may wait for their comparison; the oldest are forgotten
// first.
const feedbackCap = 100_000

// fbEntry is what a compared prediction's feedback scores.
type fbEntry struct {
	p                  *pair
	primary, candidate string // the two versions' labels
}

// feedbackBook holds compared predictions by request id, and feedback
// that came before its request's comparison (the comparison runs off the
// request path, a little later), both bounded.
type feedbackBook struct {
	mu          sync.Mutex
	byID        map[string]fbEntry
	early       map[string]string // request id -> true label
	order, eOrd idRing            // insertion order, oldest forgotten first
}

func newFeedbackBook(n int) feedbackBook {
	return feedbackBook{byID: map[string]fbEntry{}, early: map[string]string{}, order: idRing{max: n}, eOrd: idRing{max: n}}
}

// idRing is a bounded insertion order of request ids. It grows as ids
// come, doubling up to max, so a server that compares nothing (no policy,
// no feedback) does not hold the 1.6 MB a full ring of feedbackCap ids
// takes, twice over; once full it overwrites its oldest.
type idRing struct {
	ids  []string
	next int // the slot push writes once ids is full
	max  int
}

// push records id and returns the id it displaced ("" while not full).
func (r *idRing) push(id string) (old string) {
	if n := len(r.ids); n < r.max {
		if n == cap(r.ids) {
			r.ids = append(make([]string, 0, min(max(2*n, 64), r.max)), r.ids...)
		}
		r.ids = append(r.ids, id)
		return ""
	}
	old, r.ids[r.next] = r.ids[r.next], id
	r.next = (r.next + 1) % r.max
	return old
}

// put records a compared prediction; when its feedback came already, it
// returns the true label instead (and forgets both).
func (b *feedbackBook) put(id string, e fbEntry) (label string, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if label, ok := b.early[id]; ok {
		delete(b.early, id)
		return label, true
	}
	if old := b.order.push(id); old != "" {
		delete(b.byID, old)
	}
	b.byID[id] = e
	return "", false
}

// take returns and forgets id's entry: each prediction takes one
// feedback. An id not compared (yet) keeps its label for put when keep.
func (b *feedbackBook) take(id, label string, keep bool) (fbEntry, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.byID[id]
	if ok {
		delete(b.byID, id)
		return e, true
	}
	if !keep {
		return fbEntry{}, false
	}
	if old := b.eOrd.push(id); old != "" {
		delete(b.early, old)
	}
	b.early[id] = label
	return fbEntry{}, false
}
