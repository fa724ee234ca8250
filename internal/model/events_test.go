package model

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// eventLog records the events a subscriber is told, as "kind id" lines.
type eventLog struct {
	mu  sync.Mutex
	all []Event
}

func (l *eventLog) add(ev Event) {
	l.mu.Lock()
	l.all = append(l.all, ev)
	l.mu.Unlock()
}

// since returns the events from index i on, as "kind id" strings.
func (l *eventLog) since(i int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, ev := range l.all[i:] {
		out = append(out, ev.Kind.String()+" "+ev.ID)
	}
	return out
}

func (l *eventLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.all)
}

func (l *eventLog) last() Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all[len(l.all)-1]
}

// TestEvents: each step of a version's life is told, in order, with what
// the subscriber needs; Loaded comes before the version routes; a
// subscriber may call the registry back.
func TestEvents(t *testing.T) {
	root := t.TempDir()
	putVersion(t, root, "sentiment", "v1", "label=one", "")
	putVersion(t, root, "sentiment", "v2", "label=two", "")
	log := &eventLog{}
	var r *Registry
	var problems []string
	check := func(ev Event) {
		// Called back from the subscriber: List and Get answer (no lock is
		// held), and a Loaded version is ready but not routed yet.
		if len(r.List()) == 0 {
			problems = append(problems, "List empty during "+ev.Kind.String())
		}
		st, err := r.Get(ev.ID)
		switch ev.Kind {
		case Loaded:
			if err != nil || st.State != StateReady || ev.Model == nil || ev.Info == nil || ev.Manifest == nil {
				problems = append(problems, "Loaded "+ev.ID+": incomplete")
			}
			if h, err := r.Resolve(ev.ID); err == nil {
				h.Release()
				problems = append(problems, "Loaded "+ev.ID+" told after it routed")
			}
			// Its name answers (another version) or is not ready: never a 404.
			if h, err := r.Resolve(ev.Name); err == nil {
				h.Release()
			} else if !errors.Is(err, ErrNotReady) {
				problems = append(problems, "during Loaded "+ev.ID+" its name answers "+err.Error())
			}
		case Retired:
			if ev.Model != nil {
				problems = append(problems, "Retired "+ev.ID+" carries its closed model")
			}
		}
	}
	l := newFakeLoader()
	r = newReg(t, root, l, Options{DefaultModel: "sentiment", KeepLoaded: 2,
		Subscribers: []Subscriber{log.add, check}})
	if got, want := log.since(0), []string{"loaded sentiment-v1", "loaded sentiment-v2", "default_changed sentiment-v2"}; !slices.Equal(got, want) {
		t.Fatalf("start-up events %q, want %q", got, want)
	}
	ctx := context.Background()

	n := log.len()
	if _, err := r.Install(ctx, InstallRequest{Name: "sentiment", Filename: "model.joblib", Artifact: strings.NewReader("label=three"), MakeDefault: true}); err != nil {
		t.Fatal(err)
	}
	want := []string{"loaded sentiment-v3", "default_changed sentiment-v3", "retiring sentiment-v1", "retired sentiment-v1"}
	if got := log.since(n); !slices.Equal(got, want) {
		t.Fatalf("install events %q, want %q", got, want)
	}
	if ev := log.all[n+1]; ev.Previous != "sentiment-v2" || ev.Model == nil {
		t.Errorf("default_changed %+v, want previous sentiment-v2 and the model", ev)
	}

	n = log.len()
	if err := r.Unload(ctx, "sentiment-v2"); err != nil {
		t.Fatal(err)
	}
	if got, want := log.since(n), []string{"retiring sentiment-v2", "retired sentiment-v2"}; !slices.Equal(got, want) {
		t.Fatalf("unload events %q, want %q", got, want)
	}

	n = log.len()
	if _, err := r.Install(ctx, InstallRequest{Name: "sentiment", Filename: "model.joblib", Artifact: strings.NewReader("fail")}); err == nil {
		t.Fatal("a failing install succeeded")
	}
	if got, want := log.since(n), []string{"load_failed sentiment-v4"}; !slices.Equal(got, want) {
		t.Fatalf("failed install events %q, want %q", got, want)
	}
	if ev := log.last(); !errors.Is(ev.Err, ErrInvalid) {
		t.Errorf("load_failed carries %v, want ErrInvalid", ev.Err)
	}

	// SetDefault of an unloaded version loads it: Loaded, then DefaultChanged.
	n = log.len()
	if err := r.SetDefault(ctx, "sentiment", "v1"); err != nil {
		t.Fatal(err)
	}
	if got, want := log.since(n), []string{"loaded sentiment-v1", "default_changed sentiment-v1"}; !slices.Equal(got, want) {
		t.Fatalf("set default events %q, want %q", got, want)
	}
	if len(problems) > 0 {
		t.Error(strings.Join(problems, "\n"))
	}

	// Close tells nothing more.
	n = log.len()
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := log.since(n); len(got) != 0 {
		t.Errorf("close told %q", got)
	}
}

// TestEventRetiredAfterDrain: a version retired with a request in flight is
// Retiring at once and Retired when the request releases it.
func TestEventRetiredAfterDrain(t *testing.T) {
	root := t.TempDir()
	putVersion(t, root, "m", "v1", "label=one", "")
	putVersion(t, root, "m", "v2", "label=two", "")
	log := &eventLog{}
	r := newReg(t, root, newFakeLoader(), Options{DefaultModel: "m-v2", Subscribers: []Subscriber{log.add}})
	h, err := r.Resolve("m-v1")
	if err != nil {
		t.Fatal(err)
	}
	n := log.len()
	if err := r.Unload(context.Background(), "m-v1"); err != nil {
		t.Fatal(err)
	}
	if got, want := log.since(n), []string{"retiring m-v1"}; !slices.Equal(got, want) {
		t.Fatalf("events with a request in flight %q, want %q", got, want)
	}
	h.Release()
	if got, want := log.since(n), []string{"retiring m-v1", "retired m-v1"}; !slices.Equal(got, want) {
		t.Fatalf("events after release %q, want %q", got, want)
	}
}

// TestEventSubscriberPanics: a panicking subscriber is skipped; the others
// are told everything and the registry keeps working.
func TestEventSubscriberPanics(t *testing.T) {
	root := t.TempDir()
	putVersion(t, root, "m", "v1", "label=one", "")
	log := &eventLog{}
	r := newReg(t, root, newFakeLoader(), Options{Subscribers: []Subscriber{func(Event) { panic("subscriber bug") }, log.add}})
	if _, err := r.Install(context.Background(), InstallRequest{Name: "m", Filename: "model.joblib", Artifact: strings.NewReader("label=two")}); err != nil {
		t.Fatal(err)
	}
	if got, want := log.since(0), []string{"loaded m-v1", "default_changed m-v1", "loaded m-v2", "default_changed m-v2"}; !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	if id, _ := predictLabel(t, r, ""); id != "m-v2" {
		t.Fatalf("serving %s after the panics", id)
	}
}

// TestEventSlowSubscriber: a subscriber stuck on an event delays only the
// events after it; routing, List and other admin calls go on, and the
// events queued meanwhile follow in order once it returns. A subscriber
// that calls an admin method back does not deadlock.
func TestEventSlowSubscriber(t *testing.T) {
	root := t.TempDir()
	for _, v := range []string{"v1", "v2", "v3"} {
		putVersion(t, root, "m", v, "label="+v, "")
	}
	log := &eventLog{}
	block := make(chan struct{})
	var r *Registry
	slow := func(ev Event) {
		if ev.Kind == Retiring && ev.ID == "m-v1" {
			<-block
			// An admin call from inside a delivery: its events queue behind.
			if err := r.SetDefault(context.Background(), "m", "v3"); err != nil {
				t.Errorf("set default from a subscriber: %v", err)
			}
		}
	}
	r = newReg(t, root, newFakeLoader(), Options{DefaultModel: "m-v3", KeepLoaded: 3, Subscribers: []Subscriber{slow, log.add}})
	n := log.len()
	done := make(chan error, 1)
	go func() { done <- r.Unload(context.Background(), "m-v1") }()
	// Wait until the delivery is stuck in the slow subscriber.
	deadline := time.Now().Add(2 * time.Second)
	for {
		r.evMu.Lock()
		stuck := r.delivering
		r.evMu.Unlock()
		if stuck {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the unload's events were never delivered")
		}
		time.Sleep(time.Millisecond)
	}
	quick := make(chan error, 1)
	go func() {
		if id, _ := predictLabel(t, r, ""); id != "m-v3" {
			quick <- errors.New("default moved")
			return
		}
		if len(r.List()) != 3 {
			quick <- errors.New("list lost a version")
			return
		}
		quick <- r.SetDefault(context.Background(), "m", "v2")
	}()
	select {
	case err := <-quick:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the registry is wedged behind a slow subscriber")
	}
	close(block)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := []string{"retiring m-v1", "retired m-v1", "default_changed m-v2", "default_changed m-v3"}
	if got := log.since(n); !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
}
