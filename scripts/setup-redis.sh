#!/bin/sh
# setup-redis.sh installs Debian's redis-server when it is missing, so the
# cache tests (internal/cache/redis) can start a real Redis. It does nothing
# when redis-server is already on PATH. Run as root or with sudo available.
set -eu

if command -v redis-server >/dev/null 2>&1; then
	echo "redis-server already installed: $(command -v redis-server)"
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "setup-redis.sh: need root (or sudo) to install redis-server" >&2
		exit 1
	fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends redis-server

# The package may start a system-wide instance on port 6379; the tests do not
# use it (each test runs its own redis-server on a free loopback port).
command -v redis-server >/dev/null 2>&1 || {
	echo "setup-redis.sh: redis-server still missing after install" >&2
	exit 1
}
echo "installed: $(redis-server --version)"
