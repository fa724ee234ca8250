package pickle

import "fmt"

// SetState takes the BUILD that follows a dict subclass's items
// (scikit-learn's Bunch, pickled as NEWOBJ, SETITEMs, then BUILD with its
// instance __dict__). The instance attributes of a dict subclass are not
// part of its items, so the state is checked to be a dict (or None, or
// Python's (dict, slots) pair) and dropped.
func (d *Dict) SetState(state any) error {
	switch s := state.(type) {
	case nil, *Dict:
		return nil
	case Tuple:
		if len(s) == 2 {
			if _, ok := s[0].(*Dict); ok || s[0] == nil {
				if _, ok := s[1].(*Dict); ok || s[1] == nil {
					return nil
				}
			}
		}
	}
	return fmt.Errorf("%w: BUILD on a dict with state %s", ErrMalformed, Describe(state))
}
