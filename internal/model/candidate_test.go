package model

import (
	"testing"
)

// TestCandidateNotDefaultByBeingNewest: a version whose model.yaml makes it
// a traffic candidate does not take its name's default by being the newest;
// it serves by id; an admin (or a promotion) makes it the default.
func TestCandidateNotDefaultByBeingNewest(t *testing.T) {
	root := t.TempDir()
	putVersion(t, root, "s", "v1", "label=one", "")
	putVersion(t, root, "s", "v2", "label=two", "traffic: {mode: shadow}\n")
	r := newReg(t, root, newFakeLoader(), Options{})
	if id, _ := predictLabel(t, r, "s"); id != "s-v1" {
		t.Fatalf("the name resolves to %s, want s-v1 (v2 is a candidate)", id)
	}
	if id, _ := predictLabel(t, r, "s-v2"); id != "s-v2" {
		t.Fatalf("the candidate by id resolves to %s", id)
	}
	if err := r.SetDefault(t.Context(), "s", "v2"); err != nil {
		t.Fatal(err)
	}
	if id, _ := predictLabel(t, r, "s"); id != "s-v2" {
		t.Fatalf("after SetDefault the name resolves to %s, want s-v2", id)
	}

	// A name with only candidates gets its newest.
	root = t.TempDir()
	putVersion(t, root, "c", "v1", "label=one", "traffic: {mode: shadow}\n")
	r = newReg(t, root, newFakeLoader(), Options{})
	if id, _ := predictLabel(t, r, "c"); id != "c-v1" {
		t.Fatalf("a name with only a candidate resolves to %s", id)
	}
}
