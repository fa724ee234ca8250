package model

import (
	"slices"
)

// keepFor is how many versions of name stay loaded: the state's keep_loaded
// for it, else Options.KeepLoaded. Caller holds r.mu.
func (r *Registry) keepFor(name string) int { return keepIn(r.state, r.opts.KeepLoaded, name) }

func keepIn(s State, fallback int, name string) int {
	if n := s.KeepLoaded[name]; n > 0 {
		return n
	}
	return fallback
}

// wantOf is name's chosen default version under s ("" when none).
func (r *Registry) wantOf(s State, name string) string {
	if v := s.Defaults[name]; v != "" {
		return v
	}
	if name == r.defaultName {
		return r.defaultVersion
	}
	return ""
}

// follow makes this registry serve what the repository's state says, as
// another replica may have changed it: it re-reads the state file (adopting
// it when its content changed), takes out of service the versions it lists
// as unloaded (unless one is its name's default), routes each name to its
// chosen default, and returns, registered as loading, the versions the state
// wants loaded that are not (a default set on another replica to a version
// this one had evicted or unloaded; a version no longer unloaded; a larger
// keep_loaded). Called by every poll, before the repository's folders are
// scanned. Caller holds r.admin.
func (r *Registry) follow() []*entry {
	if r.closed.Load() {
		return nil
	}
	st, raw, err := r.repo.readState()
	r.mu.Lock()
	switch {
	case err != nil:
		if msg := err.Error(); msg != r.stateWarn {
			r.stateWarn = msg
			r.log.Warn("repository state unreadable: keeping the state read before", "err", err)
		}
	case raw != r.stateRaw:
		r.stateWarn = ""
		r.state, r.stateRaw = st, raw
		r.log.Info("repository state changed", "defaults", st.Defaults, "unloaded", st.Unloaded, "keep_loaded", st.KeepLoaded)
	}
	state := r.state.clone()
	byName := map[string][]*entry{}
	for _, e := range r.entries {
		byName[e.name] = append(byName[e.name], e)
	}
	r.mu.Unlock()

	var drop, todo []*entry
	for name, list := range byName {
		slices.SortFunc(list, func(a, b *entry) int { return b.n - a.n })
		want := r.wantOf(state, name)
		wantOK := false
		for _, e := range list {
			if e.version == want && e.getState() != StateFailed {
				wantOK = true
			}
		}
		limit := keepIn(state, r.opts.KeepLoaded, name)
		if wantOK {
			limit-- // the default counts as one
		}
		others := 0
		for _, e := range list {
			isWant := e.version == want
			unloaded := slices.Contains(state.Unloaded, e.id()) && !isWant
			e.mu.Lock()
			cur := e.state
			if unloaded {
				switch cur {
				case StateReady:
					if !e.retired {
						e.state = StateDraining // out of the next table, then retired
						drop = append(drop, e)
					}
				case StateLoading:
					e.state = StateUnloaded // its load finishes as "unloaded while it loaded"
				}
			}
			e.mu.Unlock()
			if unloaded {
				continue
			}
			if !isWant {
				if cur == StateFailed || cur == StateDraining || others >= limit {
					continue
				}
				others++
			}
			if cur != StateUnloaded {
				continue
			}
			v, err := r.repo.Lookup(e.name, e.version)
			if err != nil {
				continue // gone from the folder: nothing to load
			}
			ne := r.newEntry(v, StateLoading)
			r.mu.Lock()
			r.entries[v.ID()] = ne
			r.seen[v.ID()] = v.Stamp
			r.mu.Unlock()
			r.log.Info("loading a version the repository's state wants served", "id", v.ID())
			todo = append(todo, ne)
		}
	}
	r.publish()
	for _, e := range drop {
		r.retire(e)
	}
	return todo
}

// knows reports whether any version of name is registered.
func (r *Registry) knows(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.entries {
		if e.name == name {
			return true
		}
	}
	return false
}
