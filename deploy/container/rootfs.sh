#!/bin/sh
# rootfs.sh ROOTFS BINARY... assembles a distroless-style root file system
# for the BINARYs from this machine's files (Debian 12, the glibc the
# binaries were built against): each shared library in their ldd closure at
# the path the loader looks for it, the dynamic loader, CA certificates,
# /etc/passwd, /etc/group and /etc/nsswitch.conf with root and nonroot
# (uid/gid 65532, as distroless has), /tmp (1777) and /home/nonroot. It
# copies nothing else: no shell, no package manager.
set -eu
root=$1
shift
mkdir -p "$root"

copy() { # copy PATH into the rootfs at the same path, following links
	[ -e "$root$1" ] && return
	mkdir -p "$root$(dirname "$1")"
	cp -L "$1" "$root$1"
}

for bin in "$@"; do
	# "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" and "/lib64/ld-linux-x86-64.so.2 (0x...)"
	ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | while read -r lib; do
		copy "$lib"
	done
done

mkdir -p "$root/etc/ssl/certs" "$root/tmp" "$root/home/nonroot" "$root/root"
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
	cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
fi
cat >"$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
PASSWD
cat >"$root/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
nonroot:x:65532:
GROUP
echo "hosts: files dns" >"$root/etc/nsswitch.conf"
