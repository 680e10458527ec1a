#!/usr/bin/env bash
# run.sh - one command for the benchmark: installs what it needs (Debian), builds
# an optimised vmnetd, and runs bench.py (arguments pass through, e.g. --runs 5).
# Needs root (namespaces, TAP). Results: bench/results/latest.{txt,json}.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
PACKAGES=(meson ninja-build pkg-config gcc libglib2.0-dev libslirp-dev qemu-system-x86
          dnsmasq-base busybox-static iproute2 iperf3 slirp4netns python3)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi
[ -d build-release ] || meson setup build-release --buildtype=release >/dev/null
ninja -C build-release
$SUDO env VMNETD="$PWD/build-release/vmnetd" /usr/bin/python3 bench/bench.py "$@"
