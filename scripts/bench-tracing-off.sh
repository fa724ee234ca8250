#!/usr/bin/env bash
# Compares /predict in process (BenchmarkPredictInProcess: the engine, no
# cache, tracing and payload log off) between a base commit (default: the
# commit before tracing, ffe97e4) and the working tree, alternating the two
# test binaries ROUNDS times so both see the same background load. Prints
# each run and the median ratios base/new of ns/op and of CPU ns/op (1.0:
# tracing-off costs nothing; 0.98: 2% slower). B/op and allocs/op are
# exact: they must be equal.
#
#   scripts/bench-tracing-off.sh [base-commit] [rounds] [benchtime]
set -euo pipefail
base=${1:-ffe97e4}
rounds=${2:-10}
benchtime=${3:-2s}
root=$(git rev-parse --show-toplevel)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git -C "$root" archive "$base" go.mod go.sum api internal | tar -x -C "$tmp"
mkdir -p "$tmp/models" && cp -r "$root/models/spam" "$tmp/models/"
cp "$root/internal/server/inprocess_bench_test.go" "$tmp/internal/server/"
(cd "$tmp" && go test -c -o "$tmp/base.test" ./internal/server)
(cd "$root" && go test -c -o "$tmp/new.test" ./internal/server)
run() { # binary dir
	(cd "$2" && "$1" -test.run '^$' -test.bench '^BenchmarkPredictInProcess$' -test.benchtime "$benchtime" -test.benchmem) |
		awk '/^BenchmarkPredictInProcess/ {for (i = 3; i < NF; i++) v[$(i+1)] = $i; print v["ns/op"], v["cpu_ns/op"], v["B/op"], v["allocs/op"]}'
}
: >"$tmp/runs"
for i in $(seq "$rounds"); do
	if ((i % 2)); then
		b=$(run "$tmp/base.test" "$tmp/internal/server"); n=$(run "$tmp/new.test" "$root/internal/server")
	else
		n=$(run "$tmp/new.test" "$root/internal/server"); b=$(run "$tmp/base.test" "$tmp/internal/server")
	fi
	echo "round $i base(ns/op cpu_ns/op B/op allocs/op) $b  new $n" | tee -a "$tmp/runs"
done
median() { sort -g | awk -v what="$1" '{r[NR]=$1} END {printf "median ratio base/new %s: %.4f (min %.4f, max %.4f, %d rounds)\n", what, (NR%2 ? r[(NR+1)/2] : (r[NR/2]+r[NR/2+1])/2), r[1], r[NR], NR}'; }
awk '{print $7/$12}' "$tmp/runs" | median ns/op
awk '{print $8/$13}' "$tmp/runs" | median cpu_ns/op
