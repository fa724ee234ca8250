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
DIR=.cache/onnxruntime
LIB=$DIR/libonnxruntime.so

sha() { sha256sum "$1" | cut -d' ' -f1; }

if [ -f "$LIB" ] && [ "$(sha "$LIB")" = "$LIB_SHA256" ]; then
	echo "ONNX Runtime $VERSION already installed: $LIB"
	exit 0
fi

case "$(uname -s)-$(uname -m)" in
Linux-x86_64) ;;
*)
	echo "setup-onnxruntime.sh: no pinned ONNX Runtime wheel for $(uname -s)-$(uname -m);" \
		"install ONNX Runtime >= 1.24 and set onnx.library_path" >&2
	exit 1
	;;
esac

mkdir -p "$DIR/wheel"
if [ ! -f "$DIR/wheel/$WHEEL" ] || [ "$(sha "$DIR/wheel/$WHEEL")" != "$WHEEL_SHA256" ]; then
	rm -f "$DIR/wheel/$WHEEL"
	python3 -m pip download "onnxruntime==$VERSION" --no-deps --only-binary=:all: \
		--python-version 3.11 --implementation cp --abi cp311 --platform manylinux_2_28_x86_64 \
		--disable-pip-version-check -q -d "$DIR/wheel"
fi
got=$(sha "$DIR/wheel/$WHEEL")
if [ "$got" != "$WHEEL_SHA256" ]; then
	echo "setup-onnxruntime.sh: $WHEEL has sha256 $got, want $WHEEL_SHA256" >&2
	rm -f "$DIR/wheel/$WHEEL"
	exit 1
fi

python3 - "$DIR/wheel/$WHEEL" "$MEMBER" "$LIB.tmp" <<'EOF'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
EOF
got=$(sha "$LIB.tmp")
if [ "$got" != "$LIB_SHA256" ]; then
	echo "setup-onnxruntime.sh: $MEMBER has sha256 $got, want $LIB_SHA256" >&2
	rm -f "$LIB.tmp"
	exit 1
fi
mv "$LIB.tmp" "$LIB"
echo "ONNX Runtime $VERSION installed: $LIB"
