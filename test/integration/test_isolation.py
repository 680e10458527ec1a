#!/usr/bin/env python3
"""test_isolation.py - one VM cannot capture another's traffic (issue 8, section 1).

A hostile client on the daemon's stream socket (netutil arp-spoof) keeps
telling lies in ARP while it reads everything it is sent:
- to the gateway, "10.0.2.15 is at my MAC" (and at ff:ff:ff:ff:ff:ff, for
  silent sniffing): the VM that holds 10.0.2.15 still talks to the host's
  loopback and is still reached by a host port forward, byte-exact, and the
  attacker sees not one of its frames;
- to that VM, "10.0.2.2 is at my MAC": its neighbour entry for the gateway
  stays 52:55:0a:00:02:02 and its traffic flows;
- the same on a host-only network.
A guest that connects through NAT to the daemon's own TCP listener (10.0.2.2
leads to the host's loopback) is refused and attaches no port; max-ports=
closes extra clients at once, and the VMs inside the cap carry on.

Each step stands alone (VMNETD_STEPS=N runs one), so each can be seen to fail
on a daemon without port security.
"""
import os
import re
import sys

from harness import (DAEMON_TCP_PORT, Lab, NETUTIL, PYTHON, check, require, run_steps,
                     wait_until)

MIB = 1024 * 1024
GW_MAC = "52:55:0a:00:02:02"            # libslirp's MAC for 10.0.2.2
BCAST, ZERO = "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00"
G1_MAC, H1_MAC = "52:54:00:00:00:11", "52:54:00:00:00:21"
ATTACKER_MAC = "52:54:00:00:00:66"
HO_HOST = "192.168.56.1"


def ping_answers(lab, ns, dst, count, interval="0.2"):
    r = lab.run(ns, "ping", "-c", str(count), "-i", interval, "-W", "1", dst, check=False,
                timeout=count * float(interval) + 15)
    m = re.search(r"(\d+) received", r.stdout)
    return int(m.group(1)) if m else 0


def neigh_mac(lab, ns, ip):
    out = lab.run(ns, "ip", "neigh", "show", ip, "dev", "vmt0").stdout
    m = re.search(r"lladdr (\S+)", out)
    return m.group(1) if m else None


def main():
    require("qemu-system-x86_64", "dnsmasq", "busybox", "ip", "ss", "tc", "ping")
    with Lab("iso") as lab:
        host, _ = lab.outside()
        lab.serve(host, "serve-echo", "tcp", "127.0.0.1", "7001", name="host-echo")
        st = {}

        def nat():
            """The NAT daemon and g1 with its lease and an echo server (once)."""
            if "d" not in st:
                d = lab.daemon("--nat", "hostfwd=tcp:127.0.0.1:2280-:2222")
                g1 = lab.guest("g1", d.tcp, G1_MAC)
                check(g1.dhcp().get("ip") == "10.0.2.15", f"g1's lease {g1.lease}")
                lab.serve(g1.ns, "serve-echo", "tcp", "0.0.0.0", "2222", name="g1-echo")
                st.update(d=d, g1=g1)
            return st["d"], st["g1"]

        def spoof(sock, victim_ip, *forgeries):
            """Start the liar; return once it has lied for a second (ten rounds:
            longer than Linux's 1 s ARP lock time, and libslirp has none)."""
            p = lab.spawn(None, [PYTHON, NETUTIL, "arp-spoof", sock, ATTACKER_MAC, "120",
                                 victim_ip] + list(forgeries), name="arp-spoof")
            p.wait_for("^round 10$")
            return p

        def spoof_end(p):
            check(p.p.poll() is None, f"the attacker was cut off, so it measured nothing:\n"
                  f"{p.output()}")
            p.stop()
            m = p.wait_for(r"^OK rounds=(\d+) read=(\d+) victim=(\d+)")
            return int(m.group(1)), int(m.group(2)), int(m.group(3))

        def arp_to_gateway():
            d, g1 = nat()
            for sha in ("me", BCAST):
                sp = spoof(d.sock, "10.0.2.15",
                           f"{GW_MAC}/2/{sha}/10.0.2.15/{GW_MAC}/10.0.2.2",      # reply
                           f"{BCAST}/1/{sha}/10.0.2.15/{ZERO}/10.0.2.2")          # request
                rc, res = g1.netutil("tcp-check", "10.0.2.2", "7001", str(4 * MIB), "10",
                                     timeout=30)
                check(rc == 0, f"g1 to the host's loopback while another port says "
                      f"10.0.2.15 is at {sha}: {res}")
                rc, res = lab.netutil(host, "tcp-check", "127.0.0.1", "2280", str(4 * MIB),
                                      "10", timeout=30)
                check(rc == 0, f"hostfwd to g1 while another port says 10.0.2.15 is at "
                      f"{sha}: {res}")
                rounds, read, victim = spoof_end(sp)
                print(f"# 10.0.2.15 at {sha}: {rounds} rounds of lies, the attacker read "
                      f"{read} frames, {victim} of them for 10.0.2.15")
                check(victim == 0, f"the attacker received {victim} frames meant for g1 "
                      f"(10.0.2.15 at {sha})")

        def arp_to_guest(g, ns, sock, gateway, gw_mac, victim_ip):
            check(ping_answers(lab, ns, gateway, 1) == 1, f"{g.name} pings {gateway}")
            check(neigh_mac(lab, ns, gateway) == gw_mac,
                  f"{g.name}'s entry for {gateway} before: {neigh_mac(lab, ns, gateway)}")
            sp = spoof(sock, victim_ip,
                       f"{g.mac}/2/me/{gateway}/{g.mac}/{victim_ip}",         # unicast reply
                       f"{BCAST}/2/me/{gateway}/{BCAST}/{gateway}",           # gratuitous
                       f"{BCAST}/1/me/{gateway}/{ZERO}/{victim_ip}")          # request
            pinger = lab.spawn(ns, ["ping", "-c", "15", "-i", "0.2", "-W", "1", gateway],
                               name=f"{g.name}-ping")
            seen = set()
            while pinger.p.poll() is None:          # 3 s: the lies keep coming meanwhile
                seen.add(neigh_mac(lab, ns, gateway))
            pinger.stop()
            seen.add(neigh_mac(lab, ns, gateway))
            check(seen == {gw_mac}, f"{g.name}'s neighbour entry for {gateway} moved: "
                  f"{sorted(map(str, seen))}")
            m = re.search(r"(\d+) received", pinger.output())
            check(m and int(m.group(1)) >= 14, f"{g.name}'s pings of {gateway} among the "
                  f"lies: {pinger.output()}")
            rc, res = g.netutil("tcp-check", gateway, "7001", str(4 * MIB), "10", timeout=30)
            check(rc == 0, f"{g.name} to the host's loopback among the lies: {res}")
            return sp

        def arp_to_g1():
            d, g1 = nat()
            sp = arp_to_guest(g1, g1.ns, d.sock, "10.0.2.2", GW_MAC, "10.0.2.15")
            _, _, victim = spoof_end(sp)
            check(victim == 0, f"the attacker received {victim} frames meant for g1")

        def hostonly():
            sock = os.path.join(lab.dir, "ho.sock")
            hd = lab.daemon("--network", "ho,mode=hostonly",
                            listen=[f"unix:{sock}", "tcp:127.0.0.1:5557"], name="vmnetd-ho")
            h1 = lab.guest("h1", "tcp:127.0.0.1:5557", H1_MAC)
            check(h1.dhcp().get("ip") == "192.168.56.101", f"h1's lease {h1.lease}")
            check(ping_answers(lab, h1.ns, HO_HOST, 1) == 1, "h1 pings the host")
            host_mac = neigh_mac(lab, h1.ns, HO_HOST)
            # Lies to h1 about the host, to the host about h1, and to everyone.
            sp = arp_to_guest(h1, h1.ns, sock, HO_HOST, host_mac, "192.168.56.101")
            sp2 = spoof(sock, "192.168.56.101",
                        f"{host_mac}/2/me/192.168.56.101/{host_mac}/{HO_HOST}",
                        f"{BCAST}/1/me/192.168.56.101/{ZERO}/{HO_HOST}")
            rc, res = h1.netutil("tcp-check", HO_HOST, "7001", str(4 * MIB), "10", timeout=30)
            check(rc == 0, f"h1 to the host's loopback while another port says "
                  f"192.168.56.101 is at its MAC: {res}")
            for p in (sp, sp2):
                _, _, victim = spoof_end(p)
                check(victim == 0, f"an attacker received {victim} frames meant for h1")
            check(hd.stop() == 0, f"exit status {hd.p.returncode}:\n{hd.output()[-2000:]}")

        def own_listener():
            d, g1 = nat()
            connected = lambda: re.findall(r"^.*: connected$", d.output(), re.M)
            before = connected()
            rc, res = g1.netutil("tcp-probe", "10.0.2.2", str(DAEMON_TCP_PORT), "5")
            check(res.startswith("REFUSED") and float(res.split()[-1]) < 1.0,
                  f"a guest's TCP connect to the daemon's own listener via 10.0.2.2: {res} "
                  f"(want REFUSED at once)")
            # A client on the unix socket next: the daemon logs it after anything
            # the guest's attempt could have brought about.
            rc, res = lab.netutil(None, "attach-probe", d.sock, "0.2")
            check(rc == 0 and res.startswith("OPEN"), f"a client on the unix socket: {res}")
            wait_until(lambda: len(connected()) > len(before), 10, "the unix client's log line")
            new = connected()[len(before):]
            check(len(new) == 1 and d.sock in new[0],
                  "the guest attached a port through the NAT:\n" + "\n".join(new))
            check(ping_answers(lab, g1.ns, "10.0.2.2", 3) == 3, "g1 still pings 10.0.2.2")

        def max_ports():
            sock = os.path.join(lab.dir, "mp.sock")
            md = lab.daemon("--network", "default,mode=nat,max-ports=2",
                            listen=[f"unix:{sock}", "tcp:127.0.0.1:5558"], name="vmnetd-mp")
            m1 = lab.guest("m1", "tcp:127.0.0.1:5558", "52:54:00:00:00:31")
            m2 = lab.guest("m2", "tcp:127.0.0.1:5558", "52:54:00:00:00:32")
            check(m1.dhcp().get("ip") == "10.0.2.15", f"m1's lease {m1.lease}")
            check(m2.dhcp().get("ip") == "10.0.2.16", f"m2's lease {m2.lease}")
            for via in (sock, "tcp:127.0.0.1:5558"):
                rc, res = lab.netutil(host if via.startswith("tcp:") else None,
                                      "attach-probe", via, "5")
                check(res.startswith("CLOSED") and float(res.split()[-1]) < 1.0,
                      f"a third client on {via}: {res} (want CLOSED at once)")
            md.wait_for(r"refused: the network has its 2 ports \(max-ports=\)")
            for g, ip in ((m1, "10.0.2.15"), (m2, "10.0.2.16")):
                check(g.dhcp().get("ip") == ip, f"{g.name}'s lease after the refusals "
                      f"{g.lease}")
                rc, res = g.netutil("tcp-check", "10.0.2.2", "7001", str(4 * MIB), "10",
                                    timeout=30)
                check(rc == 0, f"{g.name}'s traffic after the refusals: {res}")
            check(md.stop() == 0, f"exit status {md.p.returncode}:\n{md.output()[-2000:]}")

        def clean_exit():
            d, _ = nat()
            check(d.stop() == 0, f"exit status {d.p.returncode}:\n{d.output()[-2000:]}")

        return run_steps([
            ("ARP to the gateway: '10.0.2.15 is at' the attacker or ff:ff:ff:ff:ff:ff; g1 "
             "to the host and hostfwd to g1 byte-exact, the attacker gets none of g1's "
             "frames", arp_to_gateway),
            ("ARP to a guest: '10.0.2.2 is at' the attacker; g1's neighbour entry stays "
             "52:55:0a:00:02:02, its pings and TCP flow", arp_to_g1),
            ("host-only: the same lies to the host and to a VM change nothing", hostonly),
            ("a guest's TCP to the daemon's own listener via 10.0.2.2: refused at once, no "
             "port attached", own_listener),
            ("max-ports=2: a third client is closed at once, the two VMs keep leases and "
             "traffic", max_ports),
            ("SIGTERM: exit 0", clean_exit),
        ], lab)


if __name__ == "__main__":
    sys.exit(main())
