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
	order, eOrd []string          // insertion order, rings of cap entries
	next, eNext int
}

func newFeedbackBook(n int) feedbackBook {
	return feedbackBook{byID: map[string]fbEntry{}, early: map[string]string{}, order: make([]string, n), eOrd: make([]string, n)}
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
	if old := b.order[b.next]; old != "" {
		delete(b.byID, old)
	}
	b.order[b.next] = id
	b.next = (b.next + 1) % len(b.order)
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
	if old := b.eOrd[b.eNext]; old != "" {
		delete(b.early, old)
	}
	b.eOrd[b.eNext] = id
	b.eNext = (b.eNext + 1) % len(b.eOrd)
	b.early[id] = label
	return fbEntry{}, false
}
