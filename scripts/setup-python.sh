#!/usr/bin/env bash
# Create the project's Python environment (.venv at the repo root) from the
# pinned python/requirements.txt. Python is only for training the sample models
# and for the scikit-learn parity suite; serving needs none. Idempotent: a stamp
# holding the hash of requirements.txt skips the install when nothing changed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
REQ="$ROOT/python/requirements.txt"
STAMP="$VENV/.requirements.sha256"
PYTHON="${PYTHON:-python3}"

want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  echo "setup-python: $VENV is up to date"
  exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ"
echo "$want" > "$STAMP"
echo "setup-python: $VENV ready ($("$VENV/bin/python" --version), scikit-learn $("$VENV/bin/python" -c 'import sklearn; print(sklearn.__version__)'))"
