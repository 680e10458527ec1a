#!/usr/bin/env python3
"""test_fairness.py - a slow VM slows only itself.

A hostile client on the NAT network's stream socket keeps its own queue full
(60000-byte ICMP echoes to the gateway, answered in full) while reading its
socket at ~640 KiB/s. Beside it a normal VM sends UDP echoes through 10.0.2.2
to a server on the daemon namespace's loopback at a fixed rate: with the
attacker it must get at least 90% of the answers it got without it, each
within 0.5 s, and a TCP transfer to the host must stay byte-exact and quick.
The same across networks: the attacker on a daemon's NAT network, the normal
VM on its host-only network.
"""
import sys

from harness import Lab, NETUTIL, PYTHON, check, require, run_steps

RATE, SECONDS = 100, 5            # UDP echoes per second, seconds per measurement
ATTACKER_MAC, ATTACKER_IP = "52:54:00:00:00:66", "10.0.2.60"
MIB = 1024 * 1024


def answered(res):
    fields = dict(f.split("=") for f in res.split()[1:])
    return int(fields["answered"])


def main():
    require("qemu-system-x86_64", "dnsmasq", "busybox", "ip", "ss", "tc")
    with Lab("fair") as lab:
        host, _ = lab.outside()
        lab.serve(host, "serve-echo", "udp", "127.0.0.1", "7001", name="host-udp-echo")
        lab.serve(host, "serve-echo", "tcp", "127.0.0.1", "7001", name="host-tcp-echo")
        d = lab.daemon()
        g = lab.guest("g1", d.tcp, "52:54:00:00:00:11")
        baseline, st = {}, {}

        def lease():
            check(g.dhcp().get("ip") == "10.0.2.15", f"lease {g.lease}")

        def baseline_of(guest, gateway):
            rc, res = guest.netutil("udp-rate", gateway, "7001", str(RATE), str(SECONDS),
                                    timeout=SECONDS + 20)
            check(rc == 0, res)
            print(f"# baseline: {res}")
            check(answered(res) >= 0.95 * RATE * SECONDS,
                  f"without an attacker the echoes are already lost: {res}")
            return answered(res)

        def beside_attacker(daemon, sock, guest, gateway, attacker_gateway, base):
            attacker = lab.spawn(None, [PYTHON, NETUTIL, "slow-flooder", sock, ATTACKER_MAC,
                                        ATTACKER_IP, attacker_gateway, "60000", "25",
                                        str(640 * 1024), str(SECONDS + 60)],
                                 name="slow-flooder")
            attacker.wait_for("^ready$", timeout=15)
            rc, res = guest.netutil("udp-rate", gateway, "7001", str(RATE), str(SECONDS),
                                    timeout=SECONDS + 20)
            check(rc == 0, res)
            print(f"# with the attacker: {res}")
            check(answered(res) >= 0.9 * base,
                  f"a slow VM slowed another: {answered(res)} answers on time with it, "
                  f"{base} without")
            rc, res = guest.netutil("tcp-check", gateway, "7001", str(4 * MIB), "15",
                                    timeout=30)
            check(rc == 0, f"TCP to the host beside the attacker: {res}")
            check(attacker.p.poll() is None, f"the attacker was cut off early (so it "
                  f"measured nothing): {attacker.output()}")
            attacker.stop()
            # Its queue really was full: the daemon dropped frames at its bound.
            m = daemon.wait_for(r"client \d+: closed \(.*\); rx \d+ frames, tx \d+ frames, "
                                r"(\d+) dropped")
            check(int(m.group(1)) > 0, f"the attacker's queue never filled: {m.group(0)}")
            check(daemon.p.poll() is None, "daemon still running")

        def measure_baseline():
            baseline["nat"] = baseline_of(g, "10.0.2.2")

        def with_attacker():
            beside_attacker(d, d.sock, g, "10.0.2.2", "10.0.2.2", baseline["nat"])

        def other_network():
            check(d.stop() == 0, f"exit status {d.p.returncode}:\n{d.output()[-2000:]}")
            wan, lan = lab.dir + "/wan.sock", lab.dir + "/lan.sock"
            d2 = st["d2"] = lab.daemon("--network", "wan,mode=nat",
                                       "--network", "lan,mode=hostonly",
                                       listen=[f"unix:{wan},network=wan",
                                               f"unix:{lan},network=lan",
                                               "tcp:127.0.0.1:5556,network=lan"],
                                       name="vmnetd-two")
            h = lab.guest("h1", "tcp:127.0.0.1:5556", "52:54:00:00:00:12")
            check(h.dhcp().get("ip") == "192.168.56.101", f"host-only lease {h.lease}")
            base = baseline_of(h, "192.168.56.1")
            beside_attacker(d2, wan, h, "192.168.56.1", "10.0.2.2", base)

        def clean_exit():
            check(st["d2"].stop() == 0, f"exit status {st['d2'].p.returncode}:\n"
                  f"{st['d2'].output()[-2000:]}")

        return run_steps([
            ("DHCP lease for the normal VM", lease),
            (f"baseline: {RATE} UDP echoes/s through 10.0.2.2 for {SECONDS}s", measure_baseline),
            ("beside a VM that keeps its queue full and reads slowly: >= 90% of the "
             "baseline, TCP byte-exact", with_attacker),
            ("one daemon, two networks: a slow VM on the NAT network slows no host-only "
             "VM (UDP via 192.168.56.1 >= 90%, TCP byte-exact)", other_network),
            ("SIGTERM: exit 0", clean_exit),
        ], lab)


if __name__ == "__main__":
    sys.exit(main())
