#!/usr/bin/env bash
# run-all.sh - install what the tests need (Debian), then build and run the whole
# suite twice: a normal build, and one under AddressSanitizer + UBSan.
# Integration tests need root (network namespaces, TAP devices).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(meson ninja-build pkg-config gcc libglib2.0-dev libslirp-dev
          libcap-ng-dev libseccomp-dev libjson-glib-dev libsystemd-dev libnl-route-3-dev
          qemu-system-x86 dnsmasq-base busybox-static iproute2 iputils-ping
          python3 cpio kmod linux-image-cloud-amd64 isc-dhcp-client tcpdump
          slirp4netns bash-completion util-linux)
# FUZZ=1: the libFuzzer targets too (fuzz/run.sh), FUZZ_SECONDS each.
[ "${FUZZ:-0}" != 1 ] || PACKAGES+=(clang libclang-rt-14-dev)

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing: ${missing[*]}"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi

run_suite() {
    local dir=$1; shift
    if [ -d "$dir" ]; then meson setup --reconfigure "$dir" "$@" >/dev/null
    else meson setup "$dir" "$@" >/dev/null; fi
    ninja -C "$dir"
    $SUDO meson test -C "$dir" --print-errorlogs --num-processes 2
}

status=0
echo "== normal build"
run_suite build || status=1
echo "== AddressSanitizer + UndefinedBehaviorSanitizer build"
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    run_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false || status=1

fuzz_log=
if [ "${FUZZ:-0}" = 1 ]; then
    echo "== libFuzzer targets, ${FUZZ_SECONDS:-60} s each"
    fuzz/run.sh "${FUZZ_SECONDS:-60}" || status=1
    fuzz_log=build-fuzz/fuzz-results.json	# one line per target, as meson's
fi

# One closing line over both builds (and the fuzz targets), from meson's own logs.
/usr/bin/python3 - build/meson-logs/testlog.json build-asan/meson-logs/testlog.json $fuzz_log <<'PY'
import json, sys
counts = {"passed": 0, "failed": 0, "skipped": 0}
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    for line in lines:
        result = json.loads(line).get("result")
        key = {"OK": "passed", "SKIP": "skipped", "EXPECTEDFAIL": "passed"}.get(result, "failed")
        counts[key] += 1
print(f"vmnetd: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
PY
exit $status
