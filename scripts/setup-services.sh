#!/bin/sh
# setup-services.sh installs, from Debian's packages, the real servers the
# tests run on loopback when they are missing: redis-server (the Redis cache
# tier), prometheus (the monitoring test scrapes mlserve with it) and haproxy
# (the multi-replica test balances three replicas behind it). It does
# nothing for a program already on PATH, and starts nothing: each test starts
# its own instance on a free loopback port. Run as root or with sudo.
set -eu

# have CMD: on PATH, or in /usr/sbin (where Debian puts haproxy, and which a
# user's PATH often lacks; the tests look there too).
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

missing=""
for pair in redis-server:redis-server prometheus:prometheus haproxy:haproxy; do
	cmd=${pair%%:*}
	pkg=${pair#*:}
	if have "$cmd"; then
		echo "$cmd already installed"
	else
		missing="$missing $pkg"
	fi
done
[ -n "$missing" ] || exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "setup-services.sh: need root (or sudo) to install:$missing" >&2
		exit 1
	fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086 # word splitting of the package list is intended
$SUDO apt-get install -y -q --no-install-recommends $missing

# Where systemd runs, the packages also start system-wide instances (Redis on
# 6379, Prometheus on 9090, HAProxy with an empty config); the tests use none of
# them, and pick free ports.
for cmd in redis-server prometheus haproxy; do
	have "$cmd" || {
		echo "setup-services.sh: $cmd still missing after install" >&2
		exit 1
	}
done
echo "installed:$missing"
