// Package inference runs model predictions for the server: one bounded queue
// per loaded model version, a dynamic batcher that groups requests into one
// Model.Predict call, a worker pool sized to the cores, per-request deadlines
// and cancellation, and a graceful drain on shutdown.
//
// # Queue
//
// Each model id gets its own queue, created on its first request and released
// by Engine.Forget when that version is unloaded. Config.MaxQueue bounds the
// number of requests waiting in it (a request counts until its last text has
// been handed to a batch). A request that finds the queue full fails at once
// with ErrQueueFull; RetryAfter gives the delay to suggest to the client.
//
// # Batching rule
//
// A batch holds at most Config.MaxBatchSize texts. Requests are taken in
// arrival order; a large request (a /batch-predict of 100 texts) is split into
// several batches, and its tail may share a batch with the next requests.
// Results always come back in the request's own order.
//
// Batching first happens for free: a model's dispatcher takes a worker slot
// and only then forms a batch from everything that is waiting, so requests
// that arrive while the workers are busy are merged without waiting at all.
// When a worker is free, the dispatcher waits on purpose only if the measured
// costs say it pays:
//
//   - The engine keeps, per model, an exponentially weighted least-squares fit
//     of each batch's duration t against its size n, t ≈ F + c·n (F: fixed cost
//     per call, c: cost per text), and a decaying estimate λ of the arrival
//     rate in texts per second (time constant 100 ms).
//   - With W workers and batches of b texts the model sustains W·b/(F+c·b)
//     texts per second. The smallest batch that keeps up with λ at 80 % load is
//     b* = ⌈λ·F / (0.8·W − λ·c)⌉ (MaxBatchSize when the denominator is not
//     positive, i.e. even full batches cannot keep up).
//   - The dispatcher sends what it has as soon as one of these holds: the batch
//     is full; it holds b* texts; the model does not want batching; the engine
//     is closing; the oldest waiting request has waited Config.BatchTimeout;
//     or the texts still missing, at rate λ, would not arrive before that limit
//     (the expected gain is gone). Otherwise it sleeps until the next arrival
//     or the limit, and decides again.
//
// At low load λ·F is small, b* ≤ 1 and a lone request is sent at once: it
// never pays the batch timeout. Such a request, finding its queue empty and
// a worker free, does not even enter the queue: its caller takes the worker
// and runs the model on its own goroutine, the batch the dispatcher would
// have formed, without the two goroutine hand-offs (to the dispatcher, to a
// worker) and back. Once every worker is busy, arrivals queue and are
// merged as above. Before any batch has been measured F is taken
// as zero, so nothing waits until the fit shows a fixed cost. A model that
// gains nothing from batching (model.go's backends say so by implementing
// BatchPreferrer) gets batches holding a single request's texts, never waits,
// and is never merged with others.
//
// # Deadlines and cancellation
//
// The caller's context governs its request. A request whose context ends while
// it waits is removed from the queue and never executed; the caller gets
// ErrTimeout (wrapping context.DeadlineExceeded) or context.Canceled. A batch
// runs under a context whose deadline is the latest of its requests'
// deadlines and which is cancelled when every request in it has been
// cancelled, so one impatient client never cuts short another's work.
//
// # Shutdown
//
// Close stops accepting requests (ErrClosed), then waits until every queued
// and running batch has finished or its context ends.
package inference
