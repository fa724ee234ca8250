#!/usr/bin/env bash
# setup-venv.sh VENV REQUIREMENTS [PACKAGE ...]: a Python virtual environment at VENV (relative to the repo
# root) from the pinned REQUIREMENTS file, reporting the versions of the PACKAGEs it holds. Idempotent: a stamp
# holding the hash of the requirements file skips the install when nothing changed. Python is for training the
# sample models and for the suites that check mlserve against the real libraries; serving needs none.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/${1:?usage: setup-venv.sh VENV REQUIREMENTS [PACKAGE ...]}"
REQ="$ROOT/${2:?usage: setup-venv.sh VENV REQUIREMENTS [PACKAGE ...]}"
shift 2
STAMP="$VENV/.requirements.sha256"
PYTHON="${PYTHON:-python3}"
name="$(basename "$VENV")"

want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  echo "setup-venv: $name is up to date"
  exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ"
echo "$want" > "$STAMP"
versions="$("$VENV/bin/python" - "$@" <<'PY'
import importlib.metadata as m, sys
print(", ".join(f"{p} {m.version(p)}" for p in sys.argv[1:]))
PY
)"
echo "setup-venv: $name ready ($("$VENV/bin/python" --version)${versions:+, $versions})"
