package traffic

import "sync"

// feedbackCap is how many compared predictions await feedback; the oldest
// are forgotten first.
const feedbackCap = 100_000

// fbEntry is what a compared prediction's feedback scores.
type fbEntry struct {
	p                  *pair
	primary, candidate string // the two versions' labels
}

// feedbackBook holds compared predictions by request id, bounded.
type feedbackBook struct {
	mu    sync.Mutex
	byID  map[string]fbEntry
	order []string // insertion order, a ring of cap entries
	next  int
}

func newFeedbackBook(n int) feedbackBook {
	return feedbackBook{byID: map[string]fbEntry{}, order: make([]string, n)}
}

func (b *feedbackBook) put(id string, e fbEntry) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if old := b.order[b.next]; old != "" {
		delete(b.byID, old)
	}
	b.order[b.next] = id
	b.next = (b.next + 1) % len(b.order)
	b.byID[id] = e
}

// take returns and forgets id's entry: each prediction takes one feedback.
func (b *feedbackBook) take(id string) (fbEntry, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.byID[id]
	delete(b.byID, id)
	return e, ok
}
