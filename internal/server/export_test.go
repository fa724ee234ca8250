package server

// DisableFastPath sends every prediction through huma, so tests can compare
// the fast path's answers with huma's.
func DisableFastPath(s *Server) { s.noFast = true }

// OnFast has f told of every request the fast path serves.
func OnFast(s *Server, f func(endpoint string)) { s.onFast = f }

// DecodeInferBody exposes the OIP body decoder to the fuzz target.
func DecodeInferBody(body []byte, headerLen int64) ([]string, error) {
	_, texts, err := decodeInferBody(body, headerLen)
	return texts, err
}
func LogOdds(p float64) float64 { return logOdds(p) }
