// Package app assembles mlserve's serving parts and runs them: the model
// registry, the inference engine, the prediction cache, monitoring and the
// HTTP server, on their listeners, until the process is told to stop.
//
// It exists so that internal/cli holds only commands: `mlserve serve` reads
// flags and configuration and calls Run; everything that outlives a command
// line (listeners, connection caps, graceful drain) lives here, with its tests.
//
// # Who is told what
//
// The registry tells its subscribers (Subscribers) each step of a version's
// life, where it happens, instead of each part polling the registry's list:
//
//   - Loaded: monitoring starts tracking the version (its manifest's drift
//     reference and accuracy) before the version routes, so no prediction
//     is dropped as untracked; the load metrics book the load and the
//     models-loaded gauge counts it.
//   - LoadFailed: the load-failure counter.
//   - Retiring: the engine forgets the version's queue, the cache flushes
//     its entries (both tiers), the gauge stops counting it.
//   - Retired: monitoring untracks it, once its last request is done.
//
// Delivery is synchronous: an unload or a hot swap has released all this
// when the admin call returns, not at the next tick of a timer.
//
// # Replicas
//
// The repository is the truth that replicas share. The watcher rescans it
// every repository.poll_interval (an s3:// mirror syncs first, so one tick
// carries a change from the bucket to the routing table) and whenever
// another replica nudges over Redis pub/sub (internal/nudge): the
// repository calls the nudger after each change it commits. The registry
// follows the state file on every rescan (model.State).
//
// # Shutdown
//
// With shutdown_delay set, Serve first leaves (server.Leave): the readiness
// checks fail while requests are served as usual, until the delay ends,
// the time a load balancer takes to stop sending any. Then it stops
// accepting, lets keep-alive clients leave after the answer they wait for
// (server.Drain), then lets http.Server.Shutdown wait for the requests in
// flight, all within the drain timeout.
package app
