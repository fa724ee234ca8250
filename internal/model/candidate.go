package model

// newestNotCandidate is the default of a name whose default is not chosen:
// its newest ready version (list is newest first), passing over versions
// whose manifest makes them a traffic candidate. A candidate becomes the
// default only when promoted (or chosen by an admin); a name with only
// candidates gets its newest.
func newestNotCandidate(list []*entry) *entry {
	for _, e := range list {
		if e.manifest == nil || e.manifest.Traffic == nil {
			return e
		}
	}
	return list[0]
}
