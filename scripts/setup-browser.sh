#!/bin/sh
# setup-browser.sh installs headless Chromium from Debian's packages when it
# is missing: the dashboard's browser tests (internal/ui/browser) drive it
# with chromedp. It does nothing when a chromium is already on PATH, and
# starts nothing: each test starts its own headless instance. Run as root or
# with sudo.
set -eu

for cmd in chromium chromium-browser; do
	if command -v "$cmd" >/dev/null 2>&1; then
		echo "$cmd already installed: $(command -v "$cmd")"
		exit 0
	fi
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "setup-browser.sh: need root (or sudo) to install chromium" >&2
		exit 1
	fi
fi

export DEBIAN_FRONTEND=noninteractive
# Other installs may hold the dpkg lock for a while: wait for it.
$SUDO apt-get -o DPkg::Lock::Timeout=300 update -q
$SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends chromium fonts-dejavu-core

command -v chromium >/dev/null 2>&1 || {
	echo "setup-browser.sh: chromium still missing after install" >&2
	exit 1
}
echo "installed: $(chromium --version 2>/dev/null || echo chromium)"
