#!/bin/sh
# image.sh builds mlserve's OCI image as localhost/mlserve:<version> and
# localhost/mlserve:latest (make image), with podman, or docker when its
# daemon answers; with neither it installs podman from Debian (apt-get).
#
# Incremental: the binary is rebuilt by go build's cache, the context is
# staged only with files that changed, and both the base and the image
# reuse their layers; a second run with nothing changed takes seconds.
#
# BASE picks the base image. Unset: gcr.io/distroless/cc-debian12 when it is
# already present or can be pulled (20 s at most, tried only while no local
# base was built); otherwise, as on machines that reach no registry, a base
# built here from the binary's ldd closure (deploy/container/Containerfile.base),
# tagged localhost/mlserve-base:<hash of its files>, so it is built once.
# BASE=local always takes the local base.
#
# Environment: ENGINE (podman|docker), BASE, VERSION (default: git describe),
# IMAGE (default localhost/mlserve).
set -eu
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-localhost/mlserve}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
DISTROLESS=gcr.io/distroless/cc-debian12
LIB=.cache/onnxruntime/libonnxruntime.so

engine() {
	if [ -n "${ENGINE:-}" ]; then echo "$ENGINE"; return; fi
	if command -v podman >/dev/null 2>&1; then echo podman; return; fi
	if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then echo docker; return; fi
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "image.sh: no podman or docker; installing podman from Debian" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y podman runc >&2 ||
			{ apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y podman runc >&2; }
		echo podman
		return
	fi
	echo "image.sh: neither podman nor docker is available; install one" >&2
	exit 1
}
ENGINE=$(engine)

# 1. the binary (cgo: the glibc of Debian 12, as the base has) and ONNX Runtime
[ -f "$LIB" ] || sh scripts/setup-onnxruntime.sh
CGO_ENABLED=1 go build -trimpath -ldflags "-s -w -X github.com/mlserve/mlserve/internal/cli.Version=$VERSION" \
	-o dist/mlserve-image-bin ./cmd/mlserve

# 2. the image's build context, with the modes the image keeps
ctx=dist/image
mkdir -p "$ctx/models"
stage() { # stage SRC DST MODE: copy only when it changed (keeps mtimes for the layer cache)
	if ! cmp -s "$1" "$2"; then cp "$1" "$2.tmp" && chmod "$3" "$2.tmp" && mv "$2.tmp" "$2"; fi
}
stage dist/mlserve-image-bin "$ctx/mlserve" 0755
stage "$LIB" "$ctx/libonnxruntime.so" 0644
stage deploy/container/config.yaml "$ctx/config.yaml" 0644
chmod 0755 "$ctx/models"

# 3. the base: distroless when present or pullable, else one built here
has() { $ENGINE image inspect "$1" >/dev/null 2>&1; }
local_base() { # assemble the rootfs, print its tag (named by its files' hash)
	rootfs=dist/base/rootfs
	rm -rf dist/base && mkdir -p "$rootfs"
	sh deploy/container/rootfs.sh "$rootfs" "$ctx/mlserve" "$ctx/libonnxruntime.so"
	cp deploy/container/Containerfile.base dist/base/Containerfile
	hash=$(cd dist/base && find . \( -type f -o -type l \) -print | LC_ALL=C sort |
		while read -r f; do if [ -L "$f" ]; then echo "$f -> $(readlink "$f")"; else sha256sum "$f"; fi; done |
		sha256sum | cut -c1-16)
	echo "localhost/mlserve-base:$hash"
}
if [ "${BASE:-}" = local ] || { [ -z "${BASE:-}" ] && ! has "$DISTROLESS"; }; then
	want=${BASE:-}
	BASE=$(local_base)
	if ! has "$BASE" && [ "$want" != local ] && timeout 20 $ENGINE pull -q "$DISTROLESS" >/dev/null 2>&1; then
		BASE=$DISTROLESS
	elif ! has "$BASE"; then
		echo "image.sh: building the base $BASE from the binary's ldd closure (no registry, or BASE=local)" >&2
		$ENGINE build -q -t "$BASE" dist/base >/dev/null
	fi
fi
BASE=${BASE:-$DISTROLESS}

# 4. the image
$ENGINE build --build-arg "BASE=$BASE" -f deploy/container/Containerfile \
	-t "$IMAGE:$VERSION" -t "$IMAGE:latest" "$ctx"
size=$($ENGINE image inspect --format '{{.Size}}' "$IMAGE:$VERSION")
echo "image.sh: built $IMAGE:$VERSION and $IMAGE:latest on $BASE ($ENGINE), $((size / 1000000)) MB"
