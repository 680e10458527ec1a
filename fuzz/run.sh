#!/usr/bin/env bash
# run.sh - build the libFuzzer targets (clang, ASan+UBSan) in build-fuzz and run each for N seconds.
#
#   fuzz/run.sh [SECONDS] [TARGET...]     (default 60 s each, every target)
#
# Each target starts from its seeds in fuzz/corpus/<target>/ and keeps what it
# finds in build-fuzz/corpus/<target>/ (not committed). One target at a time:
# they share the machine with the build and the tests. Exits non-zero if any
# target crashes, leaks, times out or fails to build; the input that did it
# is left in build-fuzz/artifacts/<target>/ and its path printed.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(stream_parser switch dhcp_server dns frame uplink_hostonly
                                     netconf netopts fraglimit portsec tftp_guard api vring
                                     vhost_user)
dir=build-fuzz

# Longest input per target: room for one maximal message plus a few more,
# not so long that libFuzzer wastes its time on megabytes of padding.
declare -A max_len=(
    [stream_parser]=4096	# records repeat themselves (fuzz_stream_parser.c)
    [switch]=2048		# a handful of frames with their headers
    [dhcp_server]=4096		# a conversation of 576-byte BOOTP messages
    [dns]=512			# DNS_UDP_MAX
    [frame]=2048		# a frame at MTU 1500, a DHCP reply
    [uplink_hostonly]=4096	# a few frames: DHCP, DNS, TCP
    [netconf]=2048		# a command line and a key file
    [netopts]=1024		# one --nat string
    [fraglimit]=4096		# a few fragments of a datagram, from a few sources
    [portsec]=2048		# a few ARP, IPv4 and IPv6 frames from a few ports
    [tftp_guard]=1024		# one request: a name of up to 512 bytes and its options
    [api]=4096			# a few request lines: a forward's is ~150 bytes
    [vring]=8208		# a 16-byte header and two 4 KiB regions of guest memory
    [vhost_user]=8192		# a QEMU set-up (~1.5 KiB), rings, a few frames
)

# One JSON line per target, in the shape of meson's testlog.json, so
# test/run-all.sh counts the targets in its closing line.
mkdir -p "$dir"
results=$dir/fuzz-results.json
: >"$results"

reconf=
[ ! -f "$dir/build.ninja" ] || reconf=--reconfigure
if ! CC=clang meson setup $reconf "$dir" -Dfuzzing=true -Db_sanitize=address,undefined \
        -Db_lundef=false >"$dir/fuzz-setup.log" 2>&1 ||
   ! ninja -C "$dir" $(printf 'fuzz/fuzz_%s ' "${targets[@]}"); then
    tail -n 20 "$dir/fuzz-setup.log"
    echo '{"name": "fuzz_build", "result": "FAIL"}' >>"$results"
    echo "fuzz: the targets did not build"
    exit 1
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
status=0
failed=()
for t in "${targets[@]}"; do
    corpus=$dir/corpus/$t
    artifacts=$dir/artifacts/$t
    mkdir -p "$corpus" "$artifacts"
    echo "== fuzz $t: ${secs}s"
    # -timeout: one input longer than 10 s is a hang; -rss_limit_mb: one
    # that grows past 2 GiB is a leak worth a look.
    if "$dir/fuzz/fuzz_$t" "$corpus" "fuzz/corpus/$t" -max_total_time="$secs" \
        -max_len="${max_len[$t]:-4096}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" >"$dir/fuzz-$t.log" 2>&1; then
        grep -E '^(stat::number_of_executed_units|stat::new_units_added)' "$dir/fuzz-$t.log" |
            tr '\n' ' '
        echo
        echo "{\"name\": \"fuzz_$t\", \"result\": \"OK\"}" >>"$results"
    else
        status=1
        echo "{\"name\": \"fuzz_$t\", \"result\": \"FAIL\"}" >>"$results"
        failed+=("$t")
        tail -n 40 "$dir/fuzz-$t.log"
        echo "fuzz $t: FAILED; input in $artifacts/, log in $dir/fuzz-$t.log"
    fi
done
if [ $status -eq 0 ]; then
    echo "fuzz: ${#targets[@]} targets, ${secs}s each, no crash"
else
    echo "fuzz: ${#failed[@]} of ${#targets[@]} targets crashed: ${failed[*]}"
fi
exit $status
