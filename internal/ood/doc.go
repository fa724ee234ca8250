// Package ood scores one prediction's out-of-distribution evidence against
// its model version's reference: the held-out histograms of model.yaml's
// `reference` block that drift detection already uses.
//
// # Signals
//
// Three per-text signals the server has anyway, each with its own tail:
//
//   - out-of-vocabulary rate (right tail: more unknown words than usual),
//     where the backend measured it;
//   - text length in code points (both tails: much shorter or much longer
//     than the held-out texts);
//   - confidence of the predicted label (left tail: less sure than usual).
//
// # Tail probabilities
//
// A signal's p-value is the reference share at or beyond the text's bin,
// its own bin included (right tail: the bin and every bin above; left tail:
// the bin and every bin below; two-sided: twice the smaller, at most 1).
// Counting the whole own bin makes the binned p-value conservative: never
// smaller than the exact empirical one. A value past the outer edges is in
// no bin at all. Every p-value is floored at 1/(n+1), n being the
// reference's sample size: an empirical tail cannot be known to be smaller
// than that.
//
// # Combining: min-p with Bonferroni, not Fisher
//
// The combined p-value is min(1, k·min_i p_i) over the k signals present,
// and the score is 1 − p. Fisher's method (−2 Σ ln p_i against χ² with 2k
// degrees of freedom) assumes independent signals, and these are not: a
// text full of unknown words is also one the model is unsure of, so Fisher
// would count one piece of evidence twice and flag in-distribution text far
// more often than its level promises. Bonferroni's bound holds under any
// dependence, so a flag at level α (model.yaml's `ood_alpha`, default
// DefaultAlpha) is raised for at most a share α of in-distribution texts,
// whatever the correlation; it also names the signal that decided, which a
// client can act on. It is the cheaper of the two too: three binary
// searches over ten edges and no logarithm, so it runs on every answer.
//
// # Policy
//
// model.yaml's `ood_policy` is `flag` (the default: answer, with ood.flag
// set) or `reject` (a flagged text is refused with a 422 carrying the
// score). A version without a reference gets no ood field at all.
package ood
