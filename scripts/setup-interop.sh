#!/usr/bin/env bash
# Create the interoperability suite's Python environment (.venv-interop at the repo root) from the pinned
# python/requirements-interop.txt: tritonclient[http,grpc] and the KServe SDK, the protocol clients the suite
# (python/interop/) drives against the real binary. Kept apart from .venv (the parity suite's), whose pins
# the KServe SDK's dependencies would fight. Idempotent: a stamp holding the hash of the requirements file
# skips the install when nothing changed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-interop"
REQ="$ROOT/python/requirements-interop.txt"
STAMP="$VENV/.requirements.sha256"
PYTHON="${PYTHON:-python3}"

want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  echo "setup-interop: $VENV is up to date"
  exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ"
echo "$want" > "$STAMP"
echo "setup-interop: $VENV ready ($("$VENV/bin/python" --version), tritonclient $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("tritonclient"))'), kserve $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("kserve"))'))"
