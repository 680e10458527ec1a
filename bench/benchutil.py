#!/usr/bin/env python3
"""benchutil.py - load generators the benchmark runs inside namespaces.

rr HOST PORT COUNT      TCP request/response (1 byte each way, TCP_RR style):
                        prints "median_us p99_us".
storm HOST PORT N       opens N TCP connections at once to an echo server,
                        echoes 100 bytes on each, then closes them all:
                        prints "OK seconds".
"""
import select
import socket
import sys
import time


def rr(host, port, count):
    s = socket.create_connection((host, int(port)), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for _ in range(100):                # warm up
        s.sendall(b"x")
        s.recv(1)
    samples = []
    for _ in range(int(count)):
        t0 = time.perf_counter_ns()
        s.sendall(b"x")
        if s.recv(1) != b"x":
            print("FAIL")
            return 1
        samples.append(time.perf_counter_ns() - t0)
    samples.sort()
    print(f"{samples[len(samples) // 2] / 1000:.1f} {samples[len(samples) * 99 // 100] / 1000:.1f}")
    return 0


def storm(host, port, n):
    n = int(n)
    t0 = time.monotonic()
    socks = []
    for _ in range(n):
        s = socket.create_connection((host, int(port)), timeout=30)
        socks.append(s)
    msg = b"v" * 100
    for s in socks:
        s.sendall(msg)
    pending = {s: b"" for s in socks}
    deadline = time.monotonic() + 60
    while pending and time.monotonic() < deadline:
        r, _, _ = select.select(list(pending)[:1000], [], [], 5)
        for s in r:
            pending[s] += s.recv(200)
            if len(pending[s]) >= 100:
                del pending[s]
    for s in socks:
        s.close()
    if pending:
        print(f"FAIL {len(pending)} connections got no echo")
        return 1
    print(f"OK {time.monotonic() - t0:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit({"rr": rr, "storm": storm}[sys.argv[1]](*sys.argv[2:]) or 0)
