#!/bin/sh
# setup-moto.sh installs moto's S3-compatible server (moto[server], pinned,
# from PyPI) into its own virtual environment, .cache/moto, for the tests of
# an s3:// models_dir (internal/mirror, e2e/s3_test.go). Serving needs none
# of it. Running it again does nothing once moto_server is there.
set -eu
VERSION=5.2.5
cd "$(dirname "$0")/.."
VENV=${MOTO_VENV:-.cache/moto}
if [ -x "$VENV/bin/moto_server" ] && "$VENV/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$VERSION')" 2>/dev/null; then
	exit 0
fi
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q "moto[server]==$VERSION"
