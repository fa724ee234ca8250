package server

import (
	"fmt"
	"unicode/utf8"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/monitoring"
	"github.com/mlserve/mlserve/internal/ood"
)

// scorerFor is the OOD scorer of a version's manifest, built once; nil
// when the manifest has no reference (or one the scorer cannot use, which
// is logged once).
func (s *Server) scorerFor(id string, man *model.Manifest) *ood.Scorer {
	if man == nil || man.Reference == nil {
		return nil
	}
	if v, ok := s.oodScorers.Load(man); ok {
		return v.(*ood.Scorer)
	}
	sc, err := ood.New(man)
	if err != nil {
		s.log.Warn("no out-of-distribution scores for this version", "model", id, "err", err)
		sc = nil
	}
	v, _ := s.oodScorers.LoadOrStore(man, sc)
	return v.(*ood.Scorer)
}

// scoreOOD scores each answered text against the version's reference and
// counts the outcomes; nil when the version has no reference. With
// ood_policy reject, a flagged text refuses the request: a 422 naming the
// text, its score and the deciding signal.
func (s *Server) scoreOOD(lease *model.Handle, m model.Model, raw, seen []string, preds []model.Prediction, batch bool) ([]api.OOD, error) {
	sc := s.scorerFor(lease.ID, lease.Manifest)
	if sc == nil {
		return nil, nil
	}
	oov, _ := m.(oovRater)
	out := make([]api.OOD, len(preds))
	flagged := 0
	for i, p := range preds {
		in := ood.Input{OOVRate: -1, TextLength: utf8.RuneCountInString(raw[i]), Confidence: p.Confidence}
		switch {
		case p.OOV.Measured:
			in.OOVRate = p.OOV.Rate
		case oov != nil:
			if r, ok := oov.OOVRate(seen[i]); ok {
				in.OOVRate = r
			}
		}
		r := sc.Score(in)
		out[i] = api.OOD{Score: r.Score, Flag: r.Flag}
		if r.Flag {
			out[i].Signal = r.Signal
			flagged++
			if sc.Rejects() {
				s.countOOD(lease.ID, i+1, flagged-1, 1)
				loc := "body.text"
				if batch {
					loc = fmt.Sprintf("body.texts[%d]", i)
				}
				return nil, toProblem(fmt.Errorf("%w: text %d scores %.4f (p %.3g below ood_alpha %g; signal %s) and model %s rejects out-of-distribution texts",
					ood.ErrOutOfDistribution, i, r.Score, r.P, sc.Alpha(), r.Signal, lease.ID), loc, r.Score)
			}
		}
	}
	s.countOOD(lease.ID, len(preds), flagged, 0)
	return out, nil
}

// countOOD books scored, flagged and rejected texts in the metrics.
func (s *Server) countOOD(id string, scored, flagged, rejected int) {
	if s.mon == nil {
		return
	}
	name, version, err := model.SplitID(id)
	if err != nil {
		return
	}
	met := s.mon.Metrics()
	met.ObserveOOD(name, version, monitoring.OODScored, scored)
	met.ObserveOOD(name, version, monitoring.OODFlagged, flagged)
	met.ObserveOOD(name, version, monitoring.OODRejected, rejected)
}
