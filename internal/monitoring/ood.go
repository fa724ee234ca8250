package monitoring

// OOD outcomes, the outcome label of mlserve_ood_total.
const (
	OODScored   = "scored"   // every text scored against a reference
	OODFlagged  = "flagged"  // answered with ood.flag set
	OODRejected = "rejected" // refused by an ood_policy of reject
)

// ObserveOOD counts n texts of one outcome (OOD* constants).
func (m *Metrics) ObserveOOD(model, version, outcome string, n int) {
	if m == nil || n == 0 {
		return
	}
	m.ood.WithLabelValues(model, version, outcome).Add(float64(n))
}
