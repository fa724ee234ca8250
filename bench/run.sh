#!/usr/bin/env bash
# bench/run.sh: one run, one machine: mlserve vs the seed's FastAPI stack vs a
# bare Go JSON handler, same model file, same texts, same load generator.
# Writes results.{json,md,png} into $BENCH_OUT (default bench/results). Extra arguments go to
# bench/cmd/compare (e.g. -duration 10s -sweep 1,8,32,128,256).
# Needs Go and python3 (for the reference server's venv, .cache/bench-venv).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV=.cache/bench-venv
REQ=bench/reference/requirements.txt
if [[ ! -x "$VENV/bin/python" ]] || ! cmp -s "$REQ" "$VENV/.requirements"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -r "$REQ"
  cp "$REQ" "$VENV/.requirements"
fi
mkdir -p .cache/bench
go build -o bin/mlserve ./cmd/mlserve
go build -o .cache/bench/echo ./bench/cmd/echo
go build -o .cache/bench/compare ./bench/cmd/compare
OUT="${BENCH_OUT:-bench/results}"
mkdir -p "$OUT"
.cache/bench/compare -out "$OUT" "$@"
"$VENV/bin/python" bench/plot.py "$OUT/results.json" "$OUT/results.png"
echo "bench: wrote $OUT/results.md, results.json, results.png"
