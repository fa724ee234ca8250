package server

// Leave starts the first step of a graceful shutdown behind a load
// balancer: from now on the readiness checks (/health/ready, the Open
// Inference Protocol's server and model readiness, gRPC health) answer
// "not ready", while every request that still arrives is served as usual,
// on its keep-alive connection. The balancer (HAProxy's health check, a
// Kubernetes endpoints controller) notices and stops sending traffic; Drain
// follows once it had the time to (config shutdown_delay).
func (s *Server) Leave() { s.leaving.Store(true) }

// unready reports whether the readiness checks must fail: the server is
// leaving or draining.
func (s *Server) unready() bool { return s.leaving.Load() || s.draining.Load() }
