#!/usr/bin/env bash
# Measures the doors of one `mlserve serve` against each other through the
# real binary: /predict, OIP REST v2, KServe V1 and OIP gRPC (ModelInfer),
# single texts, on spam-v1 alone (a temporary models dir holding only
# models/spam/v1; the sample config.yaml otherwise: cache and monitoring on).
# Load comes from `mlserve benchmark spam-v1 0 --duration D -c C --protocol P
# --json --metrics URL`, each load in turn with the order rotating from round
# to round, so that all see the same background load (this machine's speed
# moves; compare loads within a round, not across rounds).
#
# The loads: predict (the lean HTTP/1.1 client), predict-std (/predict with
# Go's net/http client, the client family of grpc-go), v2, v1, grpc (the
# generator's lean HTTP/2 gRPC client) and grpc-std (grpc-go's client). So
# gRPC is compared with /predict with lean clients on both (grpc vs
# predict) and with standard clients on both (grpc-std vs predict-std).
# Each round prints, per load, requests/s, the ratio to that round's /predict and
# to its predict-std, and the server's CPU per request
# (process_cpu_seconds_total over the run); then the medians of the rounds.
#
# With BASE=<commit>, a second binary built from that commit serves and loads
# beside this tree's (its own ports), its loads interleaved in the same
# rounds, and the medians add this tree's ratio to the base's per load: the
# A/B of a change, client and server together.
#
#   scripts/bench-doors.sh [rounds] [duration] [clients]
#   LOADS="predict-std grpc" BASE=HEAD~1 scripts/bench-doors.sh 8
#
# Ports 18100-18129 (PORT_BASE moves them). Each load is bounded by its
# duration plus a second of warm-up (a stuck one is killed after 60 s); the
# servers are stopped on exit, whatever the exit.
set -euo pipefail
shopt -s inherit_errexit
rounds=${1:-5}
duration=${2:-3s}
clients=${3:-32}
loads=${LOADS:-predict predict-std v2 v1 grpc grpc-std}
port_base=${PORT_BASE:-18100}
for l in $loads; do
	case $l in
	predict | predict-std | v2 | v1 | grpc | grpc-std) ;;
	*) echo "unknown load $l: the loads are predict, predict-std, v2, v1, grpc and grpc-std" >&2; exit 2 ;;
	esac
done
root=$(git rev-parse --show-toplevel)
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$tmp/models/spam"
cp -r "$root/models/spam/v1" "$tmp/models/spam/"
builds=(new)
(cd "$root" && go build -o "$tmp/new/mlserve" ./cmd/mlserve)
if [ -n "${BASE:-}" ]; then
	mkdir -p "$tmp/base/src"
	git -C "$root" archive "$BASE" | tar -x -C "$tmp/base/src"
	(cd "$tmp/base/src" && go build -o "$tmp/base/mlserve" ./cmd/mlserve)
	builds+=(base)
fi

# start BUILD INDEX: serves spam-v1 on ports PORT_BASE+10*INDEX (+0 HTTP,
# +1 metrics, +2 gRPC) and waits until it is ready.
start() {
	local b=$1 p=$((port_base + 10 * $2))
	(cd "$tmp" && MLSERVE_MODELS_DIR="$tmp/models" MLSERVE_DEFAULT_MODEL=spam-v1 \
		exec "$tmp/$b/mlserve" serve --config "$root/config.yaml" --log-level warn \
		--addr "127.0.0.1:$p" --metrics-addr "127.0.0.1:$((p + 1))" --grpc-addr "127.0.0.1:$((p + 2))") \
		>"$tmp/$b.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do
		if curl -sf "http://127.0.0.1:$p/health/ready" >/dev/null; then
			return
		fi
		sleep 0.1
	done
	echo "$b server not ready in 10 s:" >&2
	cat "$tmp/$b.log" >&2
	exit 1
}
i=0
for b in "${builds[@]}"; do
	start "$b" "$i"
	port[$i]=$((port_base + 10 * i))
	i=$((i + 1))
done

# load BUILD INDEX LOAD: one benchmark run; prints "req/s cpu_us".
load() {
	local b=$1 p=${port[$2]} l=$3 args=()
	case $l in
	predict-std) args=(--protocol predict --http-client std) ;;
	predict) args=(--protocol predict --http-client lean) ;;
	# grpc: the binary's default gRPC client (the lean one since it has
	# --grpc-client), so a BASE from before still runs it; grpc-std needs
	# a BASE with --grpc-client.
	grpc-std) args=(--protocol grpc --grpc-client std) ;;
	*) args=(--protocol "$l") ;;
	esac
	timeout 60 "$tmp/$b/mlserve" --server "http://127.0.0.1:$p" benchmark spam-v1 0 --duration "$duration" -c "$clients" \
		"${args[@]}" --grpc-addr "127.0.0.1:$((p + 2))" --metrics "http://127.0.0.1:$((p + 1))/metrics" --json >"$tmp/out.json" ||
		{ echo "load $l on the $b build failed" >&2; return 1; }
	jq -r '.runs[0] | if (.errors | length) > 0 then error("errors: \(.errors) \(.first_error)") else
		"\(.requests_per_s) \(.server_split.server_cpu_us_per_request // 0)" end' "$tmp/out.json"
}

# Every (build, load) pair once a round, the order rotating.
jobs=()
i=0
for b in "${builds[@]}"; do
	for l in $loads; do
		jobs+=("$b $i $l")
	done
	i=$((i + 1))
done
n=${#jobs[@]}
: >"$tmp/results" # round build load req/s cpu_us
for r in $(seq "$rounds"); do
	for k in $(seq 0 $((n - 1))); do
		read -r b i l <<<"${jobs[$(((r + k) % n))]}"
		v=$(load "$b" "$i" "$l") # a failed load (errors, no server) stops the script
		echo "$r $b $l $v" >>"$tmp/results"
	done
	# This round's lines: per build and load, req/s and the ratios.
	awk -v r="$r" '$1 == r {rps[$2 " " $3] = $4; cpu[$2 " " $3] = $5; order[++n] = $2 " " $3}
		END {for (i = 1; i <= n; i++) {k = order[i]; split(k, f, " ")
			p = rps[f[1] " predict"]; s = rps[f[1] " predict-std"]
			printf "round %d %-4s %-11s %8.0f req/s  vs predict %s  vs predict-std %s  server CPU %5.1f us/req\n", r, f[1], f[2], rps[k],
				(p ? sprintf("%.3f", rps[k] / p) : "  -  "), (s ? sprintf("%.3f", rps[k] / s) : "  -  "), cpu[k]}}' "$tmp/results" |
		sort -k3,3r -k4,4
done

# Medians over the rounds of each ratio (a ratio is within one round).
printf '\nmedians of %d rounds (min-max): req/s, ratios within a round, server CPU per request\n' "$rounds"
awk '{rps[$1 " " $2 " " $3] = $4; cpu[$1 " " $2 " " $3] = $5; rounds[$1] = 1; keys[$2 " " $3] = 1}
	END {for (k in keys) for (r in rounds) {split(k, f, " ")
		p = rps[r " " f[1] " predict"]; s = rps[r " " f[1] " predict-std"]; b = rps[r " base " f[2]]
		pc = cpu[r " " f[1] " predict"]; sc = cpu[r " " f[1] " predict-std"]
		print f[1], f[2], "req/s", rps[r " " k]
		if (p) print f[1], f[2], "vs_predict", rps[r " " k] / p
		if (s) print f[1], f[2], "vs_predict-std", rps[r " " k] / s
		print f[1], f[2], "cpu_us/req", cpu[r " " k]
		if (pc && cpu[r " " k]) print f[1], f[2], "cpu_vs_predict", cpu[r " " k] / pc
		if (sc && cpu[r " " k]) print f[1], f[2], "cpu_vs_predict-std", cpu[r " " k] / sc
		if (f[1] == "new" && b) print f[1], f[2], "new/base", rps[r " " k] / b}}' "$tmp/results" |
	sort -k1,1 -k2,2 -k3,3 -k4,4g |
	awk '{k = $1 " " $2 " " $3; v[k, ++c[k]] = $4} END {for (k in c) {m = c[k]
		print k, ((m % 2) ? v[k, (m + 1) / 2] : (v[k, m / 2] + v[k, m / 2 + 1]) / 2), v[k, 1], v[k, m], m}}' |
	awk '{k = $1 " " $2; if (!(k in seen)) {seen[k] = 1; order[++n] = k}; med[k, $3] = $4; lo[k, $3] = $5; hi[k, $3] = $6; }
		function r(k, what) {return (k, what) in med ? sprintf("%.3f (%.3f-%.3f)", med[k, what], lo[k, what], hi[k, what]) : "-"}
		END {for (i = 1; i <= n; i++) {k = order[i]
				printf "median %-16s %6.0f req/s  vs predict %s  vs predict-std %s  CPU %.1f us/req, vs predict %s, vs predict-std %s  new/base %s\n",
					k, med[k, "req/s"], r(k, "vs_predict"), r(k, "vs_predict-std"), med[k, "cpu_us/req"], r(k, "cpu_vs_predict"), r(k, "cpu_vs_predict-std"), r(k, "new/base")}}' |
	sort -k2,2r -k3,3
