#!/usr/bin/env bash
# Compares /predict in process (BenchmarkPredictInProcess: the engine, no
# cache, tracing and payload log off) between three test binaries, run in
# turn ROUNDS times (the order rotating) so all see the same background load:
#   base: a base commit (default: the commit before tracing, ffe97e4);
#   ctl:  the base commit's code built with this tree's go.mod and linking
#         the OpenTelemetry packages this tree links, none of them on the
#         request path: what linking them alone changes;
#   new:  this tree.
# Prints each round and the median ratios of ns/op and of CPU ns/op (1.0:
# the same; 0.98: the second 2% slower). base/ctl is the cost of linking,
# ctl/new the cost of tracing-off code on the request path, base/new both.
# B/op and allocs/op are exact: they must be equal.
#
#   scripts/bench-tracing-off.sh [base-commit] [rounds] [benchtime]
set -euo pipefail
base=${1:-ffe97e4}
rounds=${2:-12}
benchtime=${3:-2s}
root=$(git rev-parse --show-toplevel)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for d in base ctl; do
	mkdir -p "$tmp/$d/models"
	git -C "$root" archive "$base" api internal | tar -x -C "$tmp/$d"
	cp -r "$root/models/spam" "$tmp/$d/models/"
	cp "$root/internal/server/inprocess_bench_test.go" "$tmp/$d/internal/server/"
done
git -C "$root" archive "$base" go.mod go.sum | tar -x -C "$tmp/base"
cp "$root/go.mod" "$root/go.sum" "$tmp/ctl/"
cat >"$tmp/ctl/internal/server/link_otel_test.go" <<'GO'
package server_test

import (
	_ "go.opentelemetry.io/otel"
	_ "go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	_ "go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	_ "go.opentelemetry.io/otel/propagation"
	_ "go.opentelemetry.io/otel/sdk/trace"
	_ "go.opentelemetry.io/otel/sdk/trace/tracetest"
	_ "go.opentelemetry.io/otel/semconv/v1.40.0"
)
GO
(cd "$tmp/base" && go test -c -o "$tmp/base.test" ./internal/server)
(cd "$tmp/ctl" && GOFLAGS=-mod=mod go test -c -o "$tmp/ctl.test" ./internal/server)
(cd "$root" && go test -c -o "$tmp/new.test" ./internal/server)
run() { # name: prints ns/op cpu_ns/op B/op allocs/op
	local dir=$tmp/$1/internal/server
	[ "$1" = new ] && dir=$root/internal/server
	(cd "$dir" && "$tmp/$1.test" -test.run '^$' -test.bench '^BenchmarkPredictInProcess$' -test.benchtime "$benchtime" -test.benchmem) |
		awk '/^BenchmarkPredictInProcess/ {for (i = 3; i < NF; i++) v[$(i+1)] = $i; print v["ns/op"], v["cpu_ns/op"], v["B/op"], v["allocs/op"]}'
}
: >"$tmp/runs"
names=(base ctl new)
for i in $(seq "$rounds"); do
	declare -A got=()
	for k in 0 1 2; do
		n=${names[$(((i + k) % 3))]}
		got[$n]=$(run "$n")
	done
	echo "round $i base ${got[base]} ctl ${got[ctl]} new ${got[new]}" | tee -a "$tmp/runs"
done
median() { sort -g | awk -v what="$1" '{r[NR]=$1} END {printf "%-28s median %.4f (min %.4f, max %.4f, %d rounds)\n", what, (NR%2 ? r[(NR+1)/2] : (r[NR/2]+r[NR/2+1])/2), r[1], r[NR], NR}'; }
# columns: round i base ns cpu B allocs ctl ns cpu B allocs new ns cpu B allocs
awk '{print $4/$14}' "$tmp/runs" | median "base/new ns/op"
awk '{print $5/$15}' "$tmp/runs" | median "base/new cpu_ns/op"
awk '{print $5/$10}' "$tmp/runs" | median "base/ctl cpu_ns/op (linking)"
awk '{print $10/$15}' "$tmp/runs" | median "ctl/new cpu_ns/op (the code)"
