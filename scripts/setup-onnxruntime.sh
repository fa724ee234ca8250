#!/bin/sh
# setup-onnxruntime.sh installs the ONNX Runtime shared library that mlserve's
# ONNX backend loads (lazily, only when an ONNX model loads) into
# .cache/onnxruntime/libonnxruntime.so. The library comes from the PyPI wheel
# onnxruntime==1.32.0, fetched with pip (no dependencies, no install), checked
# against its pinned sha256, and unzipped. Running it again does nothing once
# the library is there with the right sha256. Linux x86_64 only; elsewhere set
# onnx.library_path (or MLSERVE_ONNX_LIBRARY_PATH) to an ONNX Runtime >= 1.24.
set -eu

VERSION=1.32.0
# The wheel is pinned to one build (CPython 3.11 ABI, manylinux_2_28): the
# shared library inside does not depend on Python, and pinning the build makes
# the download, and so its sha256, the same whatever python3 runs pip.
WHEEL=onnxruntime-$VERSION-cp311-cp311-manylinux_2_28_x86_64.whl
WHEEL_SHA256=5a34fc4dfeb5a7b4a74c95dcba1e773d722abda720b474edf1b0c419dc6d163d
LIB_SHA256=6c1585d1bbf45b0712ea4a21b705c5fcb4ba04ff2e30f1fbf81a49faf658638f
MEMBER=onnxruntime/capi/libonnxruntime.so.$VERSION

cd "$(dirname "$0")/.."
case "$(uname -s)-$(uname -m)" in
Linux-x86_64) ;;
*)
	echo "setup-onnxruntime.sh: no pinned ONNX Runtime wheel for $(uname -s)-$(uname -m);" \
		"install ONNX Runtime >= 1.24 and set onnx.library_path" >&2
	exit 1
	;;
esac
sh scripts/wheel-file.sh .cache/onnxruntime/libonnxruntime.so "$LIB_SHA256" "$MEMBER" \
	.cache/onnxruntime/wheel "$WHEEL" "$WHEEL_SHA256" "onnxruntime==$VERSION" \
	--python-version 3.11 --implementation cp --abi cp311 --platform manylinux_2_28_x86_64
