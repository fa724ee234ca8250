#!/usr/bin/env bash
# Go tokenizer (internal/tokenizer) against Rust `tokenizers`, one text at a time on one thread, over the same files
# and held-out texts: ROUNDS (default 3) interleaved rounds, best of each, printed as µs/text and the Go/Rust ratio.
# Needs the venv of python/requirements-tokenizers.txt: VENV=/tmp/venv-tok (default).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-/tmp/venv-tok}
out=$(mktemp)
trap 'rm -f "$out" /tmp/tokbench.$$.test' EXIT
go test -c -o /tmp/tokbench.$$.test ./internal/tokenizer
for _ in $(seq "${ROUNDS:-3}"); do
  RAYON_NUM_THREADS=1 "$VENV/bin/python" python/bench_tokenizers.py | sed 's/^/rust /' >>"$out"
  (cd internal/tokenizer && /tmp/tokbench.$$.test -test.run '^$' -test.bench BenchmarkEncode -test.benchtime 1s) |
    awk '/^BenchmarkEncode/ {n=$1; sub("BenchmarkEncode/","",n); sub("-[0-9]+$","",n); for (i=1;i<=NF;i++) if ($(i+1)=="µs/text") print "go", n, $i}' >>"$out"
done
awk '{k=$1" "$2; if (!(k in best) || $3<best[k]) best[k]=$3; if ($1=="go") names[$2]=1}
     END {for (n in names) printf "%-22s go %8.2f µs  rust %8.2f µs  go/rust %.2f\n", n, best["go "n], best["rust "n], best["go "n]/best["rust "n]}' "$out" | sort
