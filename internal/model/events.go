package model

import (
	"fmt"
	"runtime/debug"
	"time"
)

// EventKind names a step in a version's life.
type EventKind int

// The steps of a version's life, in the order a version goes through them.
const (
	// Loaded: the version loaded and warmed up. It is told before the
	// version routes, so a subscriber that prepares for it (monitoring
	// tracking it) is ready before its first request.
	Loaded EventKind = iota + 1
	// DefaultChanged: the version became its name's default (Previous is
	// the id of the one it replaced, "" when the name had none).
	DefaultChanged
	// Retiring: the version left the routing table (unloaded, or retired by
	// the keep-N policy) and drains its in-flight requests; no new request
	// reaches it.
	Retiring
	// Retired: the version's model is closed.
	Retired
	// LoadFailed: loading or warming the version failed (Err says why); it
	// does not serve.
	LoadFailed
)

var kindNames = [...]string{Loaded: "loaded", DefaultChanged: "default_changed", Retiring: "retiring", Retired: "retired", LoadFailed: "load_failed"}

// String is the kind's name as logs show it.
func (k EventKind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is one step of a version's life, told to the registry's
// subscribers.
type Event struct {
	Kind EventKind
	// ID, Name and Version identify the version ("sentiment-v2").
	ID, Name, Version string
	// Model is the loaded model (Loaded, DefaultChanged, Retiring; nil
	// otherwise). A subscriber may read its Labels and Info; it must not
	// predict with it after Retiring or keep it.
	Model Model
	// Manifest is the version's manifest (empty when it has none; nil for
	// a version whose manifest could not be read).
	Manifest *Manifest
	// Info describes the loaded model (Loaded, DefaultChanged, Retiring).
	Info *Info
	// LoadDuration is how long loading and warming took (Loaded, LoadFailed).
	LoadDuration time.Duration
	// Previous is the id of the default a DefaultChanged replaced.
	Previous string
	// Err is why the load failed (LoadFailed).
	Err error
}

// Subscriber is told every event of every version, one at a time, in the
// order they happened (see Options.Subscribers).
type Subscriber func(Event)

// event describes e for kind; Model and Info are filled while e holds its
// model.
func (e *entry) event(kind EventKind) Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	ev := Event{Kind: kind, ID: e.id(), Name: e.name, Version: e.version, Manifest: e.manifest, LoadDuration: e.loadDur}
	if e.model != nil && kind != Retired {
		info := e.model.Info()
		ev.Model, ev.Info = e.model, &info
	}
	return ev
}

// emit queues ev for the subscribers; flush delivers it. Callers may hold
// r.admin or r.mu (never evMu). A closed registry tells nothing more: the
// process is ending, and a subscriber that flushes a shared cache must not
// flush it because this replica stops.
func (r *Registry) emit(ev Event) {
	if len(r.opts.Subscribers) == 0 || r.closed.Load() {
		return
	}
	r.evMu.Lock()
	r.outbox = append(r.outbox, ev)
	r.evMu.Unlock()
}

// flush delivers the queued events, in order, one at a time. It must be
// called without r.admin and r.mu held. When another goroutine is
// delivering (or a subscriber's own call to the registry queued more), that
// delivery carries on with what was queued and flush returns at once: no
// two deliveries overlap, and a subscriber that calls the registry back
// does not deadlock.
func (r *Registry) flush() {
	r.evMu.Lock()
	if r.delivering {
		r.evMu.Unlock()
		return
	}
	r.delivering = true
	for len(r.outbox) > 0 {
		ev := r.outbox[0]
		r.outbox[0] = Event{}
		r.outbox = r.outbox[1:]
		r.evMu.Unlock()
		for _, s := range r.opts.Subscribers {
			r.deliver(s, ev)
		}
		r.evMu.Lock()
	}
	r.outbox = nil
	r.delivering = false
	r.evMu.Unlock()
}

// deliver calls s with ev; a subscriber that panics is logged and skipped,
// and one slower than slowSubscriber is logged.
func (r *Registry) deliver(s Subscriber, ev Event) {
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("event subscriber panicked", "event", ev.Kind, "id", ev.ID, "panic", p, "stack", string(debug.Stack()))
		}
		if d := time.Since(start); d > slowSubscriber {
			r.log.Warn("slow event subscriber", "event", ev.Kind, "id", ev.ID, "duration", d)
		}
	}()
	s(ev)
}

// slowSubscriber is how long a subscriber may take on one event before it
// is logged.
const slowSubscriber = time.Second
