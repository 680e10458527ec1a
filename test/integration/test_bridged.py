#!/usr/bin/env python3
"""test_bridged.py - bridged networks end to end: VMs on a LAN through a TAP
that vmnetd puts on a Linux bridge (bridge=, within the bridge ACL), an
existing TAP (tap=) or a macvtap (macvtap=), against a real daemon, QEMU
stand-in guests and a LAN made of namespaces.

The LAN: namespace "lan" holds the Linux bridge br-lan (MTU 1500) and runs
vmnetd with --network lan,mode=bridged,bridge=br-lan,bridge-acl=LABDIR/...;
namespace "lanhost" is attached to br-lan by a veth and is the LAN's host
192.0.2.1, running dnsmasq as the LAN's DHCP server (192.0.2.100-.150) and a
TCP echo service. Each step starts (and stops) its own daemon and VMs.

What a user sees:
 1. A VM gets its lease from the LAN's dnsmasq (server id 192.0.2.1, not a
    vmnetd address; dnsmasq's lease file lists the VM's MAC), reaches the
    LAN host's echo service byte-exact (1 MiB); the LAN host pings the VM,
    reaches an echo server in it byte-exact and has the VM's MAC in its
    neighbour table. A second VM (over the unix socket) gets a distinct
    lease, and the two VMs reach each other (ping, TCP).
 2. Frames pass unchanged: an 802.1Q-tagged frame of the full MTU goes from
    the VM to the LAN host and another back, byte for byte; IPv6 link-local
    pings both ways; a VM with MTU 9000 gets answers to 1500-byte pings but
    none to 4000-byte pings with DF, and those are counted as tx_drops of
    the bridged uplink (vmnetctl ports, stats).
 3. While running, the TAP vmnetN sits on br-lan with the bridge's MTU;
    after vmnetd shuts down (exit 0) it is gone, and br-lan is still there
    with the LAN host's veth on it.
 4. The bridge vanishes under a running daemon (ip link del br-lan): "link
    down" logged, the daemon runs on, its TAP goes, the VM stays attached
    (its port is in vmnetctl ports) and gets no answer from the LAN; br-lan
    made again and the LAN host's veth put back on it: "link up again"
    logged, one TAP, on the new br-lan, and the VM reaches the LAN host
    again (echo). Then the TAP itself is deleted: down, and up again with a
    new TAP on br-lan by itself.
 5. Errors at start, exit non-zero with a message naming the cause: an ACL
    that denies the bridge ("deny all" only; "allow all" with "deny br-lan";
    an ACL that includes a denying file), no ACL file, a missing bridge, a
    device that is not a bridge, tap= of a TAP that another process holds
    open ("busy"), tap= of no device. No TAP is left behind. And tap= of a
    persistent TAP on br-lan works (a lease from the LAN's dnsmasq).
 6. VXLAN: hosts A and B (namespaces) joined by a veth underlay
    (198.51.100.1, .2), each with a bridge (MTU 1450) and a VXLAN device on
    it; vmnetd bridged on A's bridge; a LAN host on B's bridge (203.0.113.1,
    dnsmasq, echo). The VM gets its lease from B's dnsmasq (with MTU 1450),
    reaches B's LAN host byte-exact and fills that MTU with a ping (DF).
 7. macvtap= on a veth NIC: the VM gets a lease from a DHCP server on the
    other end of the veth and reaches an echo service there; the macvtap
    goes when vmnetd exits. Skipped where the kernel has no macvtap.

Network rule: only inside namespaces made here, on documentation addresses.
"""
import json
import os
import re
import subprocess
import sys

from harness import (Lab, PYTHON, VMNETCTL, VMNETD, StepSkipped, check, require, run_steps,
                     wait_until)

MIB = 1024 * 1024
LAN_BR = "br-lan"
LAN_NET = "192.0.2"             # the LAN: its host .1, dnsmasq's range .100-.150
LANHOST_IF = "lh0"              # the LAN host's end of its veth
LANHOST_PORT = "lhp"            # the other end, on the bridge
ECHO = 7001                     # the LAN hosts' echo service
VM_ECHO = 7200                  # an echo server inside a VM
UNDERLAY = "198.51.100"         # step 6: A is .1, B is .2
VX_NET = "203.0.113"            # step 6: the LAN behind B's bridge
VX_MTU = 1450                   # a 1500 underlay less VXLAN's 50 bytes
MV_NET = "198.51.100"           # step 7: the LAN on the other end of the macvtap's NIC

# Raw Ethernet inside a namespace: "send IFNAME HEX" sends one frame;
# "recv IFNAME MARKER_HEX SECONDS" prints "ready", then "GOT HEX" for the
# first frame that arrives carrying the marker (an 802.1Q tag the kernel
# took off into the packet's metadata is put back) or "TIMEOUT".
RAW = r"""
import select, socket, struct, sys, time
SOL_PACKET, PACKET_AUXDATA = 263, 8
VLAN_VALID, TPID_VALID = 1 << 4, 1 << 6
mode, ifname = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
if mode == "send":
    s.bind((ifname, 0))
    s.send(bytes.fromhex(sys.argv[3]))
    print("SENT")
    sys.exit(0)
s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
s.bind((ifname, 0))
marker, deadline = bytes.fromhex(sys.argv[3]), time.monotonic() + float(sys.argv[4])
print("ready", flush=True)
while time.monotonic() < deadline:
    if not select.select([s], [], [], max(0, deadline - time.monotonic()))[0]:
        continue
    data, anc, _, addr = s.recvmsg(65536, socket.CMSG_SPACE(32))
    if addr[2] == socket.PACKET_OUTGOING:
        continue
    for level, kind, cd in anc:
        if level == SOL_PACKET and kind == PACKET_AUXDATA:
            status, _, _, _, _, tci, tpid = struct.unpack("IIIHHHH", cd[:20])
            if status & VLAN_VALID:
                tpid = tpid if status & TPID_VALID else 0x8100
                data = data[:12] + struct.pack("!HH", tpid, tci) + data[12:]
    if marker in data:
        print("GOT", data.hex(), flush=True)
        sys.exit(0)
print("TIMEOUT", flush=True)
sys.exit(1)
"""

# Holds TAP argv[1] open (made if need be, not persistent) until killed.
HOLD_TAP = r"""
import fcntl, signal, struct, sys
fd = open("/dev/net/tun", "r+b", buffering=0)
fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", sys.argv[1].encode(), 0x0002 | 0x1000))
print("ready", flush=True)
signal.pause()
"""


def ctl(api, *args):
    r = subprocess.run([VMNETCTL, "--socket", api, *args], capture_output=True, text=True,
                       timeout=30, stdin=subprocess.DEVNULL)
    check(r.returncode == 0, f"vmnetctl {' '.join(args)}: exit {r.returncode}: "
          f"{r.stdout}{r.stderr}")
    return r.stdout


def ctl_json(api, *args):
    out = ctl(api, "--json", *args)
    try:
        return json.loads(out)
    except ValueError:
        raise AssertionError(f"vmnetctl --json {' '.join(args)}: not JSON: {out!r}") from None


def link_names(lab, ns, *filters):
    """The names of the links in `ns` (ip link show FILTERS...)."""
    out = lab.run(ns, "ip", "-o", "link", "show", *filters).stdout
    return [m.group(1) for m in re.finditer(r"^\d+: ([^:@]+)[:@]", out, re.M)]


def mac_of(lab, ns, ifname):
    return lab.run(ns, "cat", f"/sys/class/net/{ifname}/address").stdout.strip()


def mtu_of(lab, ns, ifname):
    return int(lab.run(ns, "cat", f"/sys/class/net/{ifname}/mtu").stdout)


def add_bridge(lab, ns, br, mtu):
    lab.run(ns, "ip", "link", "add", br, "type", "bridge")
    lab.run(ns, "ip", "link", "set", br, "mtu", str(mtu), "up")


class LanHost:
    """A host on a LAN: a namespace whose veth (IFNAME) has its other end
    (`port`) on `bridge` in `bridge_ns`, with the address NET.1/24, dnsmasq
    serving DHCP (NET.100-.150, lease file in the lab dir) and a TCP echo
    service on NET.1. With bridge=None the `port` end stays bare in bridge_ns
    (for a macvtap on it)."""

    def __init__(self, lab, role, bridge_ns, bridge, net, mtu=1500, dhcp_options=(),
                 port=LANHOST_PORT):
        self.lab, self.net, self.addr = lab, net, f"{net}.1"
        self.ns = lab.netns(role)
        lab.run(bridge_ns, "ip", "link", "add", port, "mtu", str(mtu), "type", "veth",
                "peer", "name", LANHOST_IF, "netns", self.ns)
        if bridge:
            lab.run(bridge_ns, "ip", "link", "set", port, "master", bridge)
        lab.run(bridge_ns, "ip", "link", "set", port, "up")
        lab.run(self.ns, "ip", "link", "set", LANHOST_IF, "mtu", str(mtu), "up")
        lab.run(self.ns, "ip", "addr", "add", f"{self.addr}/24", "dev", LANHOST_IF)
        self.mac = mac_of(lab, self.ns, LANHOST_IF)
        self.lease_file = os.path.join(lab.dir, f"{role}.leases")
        self.dnsmasq = lab.spawn(self.ns, [
            "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
            "--conf-file=/dev/null", "--port=0", "--bind-interfaces",
            f"--interface={LANHOST_IF}", "--log-facility=-", "--log-dhcp", "--pid-file=",
            "--user=root", "--dhcp-authoritative", f"--dhcp-leasefile={self.lease_file}",
            f"--dhcp-range={net}.100,{net}.150,255.255.255.0,10m",
            *[f"--dhcp-option-force={o}" for o in dhcp_options]], name=f"dnsmasq-{role}")
        wait_until(lambda: ":67 " in lab.run(self.ns, "ss", "-lunH").stdout, 10,
                   f"{role}'s dnsmasq")
        self.echo = lab.serve(self.ns, "serve-echo", "tcp", self.addr, str(ECHO),
                              name=f"echo-{role}")

    def leases(self):
        """dnsmasq's lease file: {mac: ip}."""
        try:
            with open(self.lease_file) as f:
                return {w[1]: w[2] for w in (line.split() for line in f) if len(w) >= 3}
        except FileNotFoundError:
            return {}

    def run(self, *argv, **kw):
        return self.lab.run(self.ns, *argv, **kw)


def main():
    require("qemu-system-x86_64", "dnsmasq", "busybox", "ip", "ss", "tc", "ping")
    if not os.access(VMNETCTL, os.X_OK):
        print(f"Bail out! vmnetctl not found at {VMNETCTL} (set VMNETCTL)")
        return 1
    with Lab("bridged") as lab:
        def path(name):
            return os.path.join(lab.dir, name)

        lan = lab.netns("lan")
        add_bridge(lab, lan, LAN_BR, 1500)
        lanhost = LanHost(lab, "lanhost", lan, LAN_BR, LAN_NET)
        acl = path("bridge.conf")
        with open(acl, "w") as f:
            f.write(f"# the test's own ACL\nallow {LAN_BR}\n")
        counter = iter(range(1, 100))

        def daemon(ns, spec, name):
            """vmnetd with one bridged network in `ns`, a unix and a TCP
            listener and an API socket; d.tap, d.master, d.mtu from its log."""
            lab.host_ns = ns            # a Guest over TCP runs its QEMU here
            d = lab.daemon("--network", spec, "--api-socket", path(f"{name}.api"),
                           sock=path(f"{name}.sock"), name=name)
            d.api = path(f"{name}.api")
            m = d.wait_for(r"bridged through (\S+)(?: on (\S+))? \(MTU (\d+)\)")
            d.tap, d.master, d.mtu = m.group(1), m.group(2), int(m.group(3))
            return d

        def lan_daemon(name):
            return daemon(lan, f"lan,mode=bridged,bridge={LAN_BR},bridge-acl={acl}", name)

        def stop(d):
            check(d.p.poll() is None, f"{d.name} exited early:\n{d.output()}")
            rc = d.stop()
            check(rc == 0, f"{d.name}: exit status {rc} after SIGTERM:\n{d.output()}")

        def vm(via, name=None, mac=None):
            n = next(counter)
            return lab.guest(name or f"vm{n}", via, mac or f"52:54:00:b0:00:{n:02x}")

        def online(g, host, what):
            """A lease from `host`'s dnsmasq, with that dnsmasq as the server."""
            lease = g.dhcp()
            ip = lease.get("ip", "")
            check(ip.startswith(host.net + ".") and 100 <= int(ip.rsplit(".", 1)[1]) <= 150,
                  f"{what}: the lease is not from {host.net}.100-.150: {lease}")
            check(lease.get("serverid") == host.addr,
                  f"{what}: the lease's server id is {lease.get('serverid')}, want the LAN's "
                  f"DHCP server {host.addr}: {lease}")
            wait_until(lambda: host.leases().get(g.mac) == ip, 10,
                       f"{what}: dnsmasq's lease file to list {g.mac} with {ip} "
                       f"(it has {host.leases()})")
            return ip

        def echo_to(g, host, nbytes, what):
            rc, res = g.netutil("tcp-check", host.addr, str(ECHO), str(nbytes), "60")
            check(rc == 0, f"{what}: {nbytes} bytes to {host.addr}:{ECHO} and back: {res}")

        def ping(ns, dst, *opts, count=3, want=True, what=""):
            r = lab.run(ns, "ping", "-c", str(count), "-i", "0.2", "-W", "2", *opts, dst,
                        check=False, timeout=30)
            if want:
                check(r.returncode == 0, f"{what}: no answer to ping {' '.join(opts)} {dst}:\n"
                      f"{r.stdout[-400:]}{r.stderr}")
            else:
                check(r.returncode != 0 and " 0 received" in r.stdout,
                      f"{what}: ping {' '.join(opts)} {dst} was answered:\n{r.stdout[-400:]}")
            return r

        def bridged_port(d):
            ports = ctl_json(d.api, "ports").get("ports", [])
            mine = [p for p in ports if p.get("kind") == "bridged"]
            check(len(mine) == 1 and mine[0].get("uplink") is True,
                  f"one bridged uplink in vmnetctl ports: {ports}")
            return mine[0]

        def vm_port(d, mac):
            return [p for p in ctl_json(d.api, "ports").get("ports", [])
                    if mac in p.get("macs", []) and not p.get("uplink")]

        # ---- 1 ----
        def lease_and_reach():
            d = lan_daemon("vmnetd-1")
            check(d.master == LAN_BR and d.mtu == 1500,
                  f"bridged through {d.tap} on {d.master} (MTU {d.mtu}), want on {LAN_BR} "
                  "with MTU 1500")
            g1 = vm(d.tcp)
            ip1 = online(g1, lanhost, "vm over TCP")
            echo_to(g1, lanhost, MIB, "the VM to the LAN host")

            lab.serve(g1.ns, "serve-echo", "tcp", "0.0.0.0", str(VM_ECHO), name="vm1-echo")
            ping(lanhost.ns, ip1, what="the LAN host to the VM")
            rc, res = lab.netutil(lanhost.ns, "tcp-check", ip1, str(VM_ECHO), str(MIB), "60")
            check(rc == 0, f"the LAN host to the VM's echo server {ip1}:{VM_ECHO}: {res}")
            neigh = lanhost.run("ip", "neigh", "show", ip1, "dev", LANHOST_IF).stdout
            check(f"lladdr {g1.mac}" in neigh,
                  f"the LAN host's neighbour table has {ip1} at {g1.mac}: {neigh!r}")

            g2 = vm(d.sock)
            ip2 = online(g2, lanhost, "second VM over unix")
            check(ip2 != ip1, f"the second VM's lease {ip2} is the first's")
            ping(g2.ns, ip1, what="the second VM to the first")
            ping(g1.ns, ip2, what="the first VM to the second")
            rc, res = g2.netutil("tcp-check", ip1, str(VM_ECHO), str(256 * 1024), "60")
            check(rc == 0, f"the second VM to the first's echo server: {res}")
            echo_to(g2, lanhost, 256 * 1024, "the second VM to the LAN host")

            ports = ctl(d.api, "ports")
            for g in (g1, g2):
                check(len(vm_port(d, g.mac)) == 1, f"a port with {g.mac} in vmnetctl ports:\n"
                      f"{ports}")
            leases = ctl_json(d.api, "leases").get("leases", [])
            check(not [l for l in leases if l.get("network") == "lan"],
                  f"vmnetd itself leased nothing on the bridged network: {leases}")
            for g in (g1, g2):
                g.qemu.stop()
            stop(d)

        # ---- 2 ----
        def frames_unchanged():
            d = lan_daemon("vmnetd-2")
            g = vm(d.tcp)
            online(g, lanhost, "the VM")

            def raw_pass(src_ns, src_if, dst_ns, dst_if, frame, what):
                """`frame` sent on src_if arrives on dst_if byte for byte."""
                marker = frame[-24:]
                rx = lab.spawn(dst_ns, [PYTHON, "-c", RAW, "recv", dst_if, marker.hex(), "10"],
                               name=f"raw-recv-{what}")
                rx.wait_for("^ready$")
                lab.run(src_ns, PYTHON, "-c", RAW, "send", src_if, frame.hex())
                m = rx.wait_for(r"^(GOT|TIMEOUT)", timeout=15)
                check(m.group(1) == "GOT", f"{what}: the frame did not arrive")
                got = bytes.fromhex(rx.wait_for(r"^GOT (\S+)").group(1))
                check(got == frame, f"{what}: changed on the way:\n sent {frame.hex()}\n"
                      f" got  {got.hex()}")

            def tagged(dst, src, vid, size):
                marker = os.urandom(24)
                head = dst + src + bytes.fromhex("8100") + vid.to_bytes(2, "big") + b"\x88\xb5"
                return head + b"\x00" * (size - len(head) - len(marker)) + marker

            vm_mac, lh_mac = bytes.fromhex(g.mac.replace(":", "")), \
                bytes.fromhex(lanhost.mac.replace(":", ""))
            # 1518 bytes: a full 1500-byte payload under the tag.
            raw_pass(g.ns, "vmt0", lanhost.ns, LANHOST_IF, tagged(lh_mac, vm_mac, 42, 1518),
                     "an 802.1Q frame (VLAN 42, 1518 bytes) from the VM to the LAN host")
            raw_pass(lanhost.ns, LANHOST_IF, g.ns, "vmt0", tagged(vm_mac, lh_mac, 7, 1518),
                     "an 802.1Q frame (VLAN 7, 1518 bytes) from the LAN host to the VM")

            def link_local(ns, ifname):
                def ready():
                    a = lab.run(ns, "ip", "-6", "-o", "addr", "show", "dev", ifname,
                                "scope", "link").stdout
                    m = re.search(r"inet6 (fe80::[0-9a-f:]+)/64 scope link(?!.*tentative)", a)
                    return m and m.group(1)
                return wait_until(ready, 15, f"an IPv6 link-local address on {ifname}")
            vm_ll, lh_ll = link_local(g.ns, "vmt0"), link_local(lanhost.ns, LANHOST_IF)
            ping(g.ns, f"{lh_ll}%vmt0", "-6", what="IPv6 link-local, the VM to the LAN host")
            ping(lanhost.ns, f"{vm_ll}%{LANHOST_IF}", "-6",
                 what="IPv6 link-local, the LAN host to the VM")

            # Too big for the bridge: dropped by vmnetd and counted.
            lab.run(g.ns, "ip", "link", "set", "vmt0", "mtu", "9000")
            ping(g.ns, lanhost.addr, "-M", "do", "-s", str(1500 - 28),
                 what="a 1500-byte ping (DF) with the VM at MTU 9000")
            before = bridged_port(d)
            ping(g.ns, lanhost.addr, "-M", "do", "-s", str(4000 - 28), count=3, want=False,
                 what="a 4000-byte ping (DF) over a 1500-byte bridge")
            after = bridged_port(d)
            check(after["tx_drops"] - before["tx_drops"] >= 3,
                  f"the 4000-byte frames are counted as tx_drops of the bridged uplink: "
                  f"before {before}, after {after}")
            stats = ctl_json(d.api, "stats")
            up = [p for n in stats.get("networks", []) if n.get("name") == "lan"
                  for p in n.get("ports", []) if p.get("id") == after["id"]]
            check(up and up[0].get("tx_drops", 0) >= after["tx_drops"],
                  f"vmnetctl stats counts them too: {stats}")
            lab.run(g.ns, "ip", "link", "set", "vmt0", "mtu", "1500")
            ping(g.ns, lanhost.addr, what="the VM after the big ones")
            g.qemu.stop()
            stop(d)

        # ---- 3 ----
        def tap_goes_with_daemon():
            d = lan_daemon("vmnetd-3")
            check(re.fullmatch(r"vmnet\d+", d.tap or ""), f"the TAP's name: {d.tap}")
            on_br = link_names(lab, lan, "master", LAN_BR)
            check(d.tap in on_br and LANHOST_PORT in on_br,
                  f"{d.tap} and the LAN host's {LANHOST_PORT} on {LAN_BR}: {on_br}")
            check(mtu_of(lab, lan, d.tap) == mtu_of(lab, lan, LAN_BR) == 1500,
                  f"{d.tap} has {LAN_BR}'s MTU")
            g = vm(d.tcp)
            online(g, lanhost, "the VM")
            g.qemu.stop()
            stop(d)
            wait_until(lambda: d.tap not in link_names(lab, lan), 10,
                       f"{d.tap} to go from the LAN namespace")
            check(not [n for n in link_names(lab, lan) if n.startswith("vmnet")],
                  f"no vmnet TAP left: {link_names(lab, lan)}")
            check(LAN_BR in link_names(lab, lan, "type", "bridge"), f"{LAN_BR} is still there")
            check(link_names(lab, lan, "master", LAN_BR) == [LANHOST_PORT],
                  f"{LAN_BR} keeps the LAN host's veth, and only it: "
                  f"{link_names(lab, lan, 'master', LAN_BR)}")

        # ---- 4 ----
        def bridge_vanishes():
            d = lan_daemon("vmnetd-4")
            g = vm(d.tcp)
            online(g, lanhost, "the VM")
            echo_to(g, lanhost, 64 * 1024, "before the bridge goes")
            since = len(d.output().splitlines())
            lab.run(lan, "ip", "link", "del", LAN_BR)
            d.wait_for(r"lan: link down", timeout=10, since=since)
            check(d.p.poll() is None, f"the daemon exited when the bridge went:\n{d.output()}")
            wait_until(lambda: not [n for n in link_names(lab, lan) if n.startswith("vmnet")],
                       10, f"the old TAP {d.tap} to go while the link is down "
                       f"(links: {link_names(lab, lan)})")
            check(len(vm_port(d, g.mac)) == 1,
                  f"the VM's port stays in vmnetctl ports:\n{ctl(d.api, 'ports')}")
            ping(g.ns, lanhost.addr, count=2, want=False, what="the VM while the link is down")

            since = len(d.output().splitlines())
            add_bridge(lab, lan, LAN_BR, 1500)
            lab.run(lan, "ip", "link", "set", LANHOST_PORT, "master", LAN_BR)
            m = d.wait_for(r"lan: link up again: (\S+) \(MTU (\d+)\)", timeout=10, since=since)
            check(m.group(1) in link_names(lab, lan, "master", LAN_BR),
                  f"the new TAP {m.group(1)} is on the new {LAN_BR}: "
                  f"{link_names(lab, lan, 'master', LAN_BR)}")
            check(m.group(2) == "1500", f"the new TAP's MTU: {m.group(0)}")
            check(len(vm_port(d, g.mac)) == 1, "the VM's port is still there")
            check([n for n in link_names(lab, lan) if n.startswith("vmnet")] == [m.group(1)],
                  f"one TAP, {m.group(1)}: {link_names(lab, lan)}")
            echo_to(g, lanhost, MIB, "after the bridge is back")

            # The TAP itself deleted under the daemon: made again by itself.
            since = len(d.output().splitlines())
            lab.run(lan, "ip", "link", "del", m.group(1))
            d.wait_for(r"lan: link down", timeout=10, since=since)
            m = d.wait_for(r"lan: link up again: (\S+)", timeout=10, since=since)
            check(m.group(1) in link_names(lab, lan, "master", LAN_BR),
                  f"the TAP made again, {m.group(1)}, is on {LAN_BR}")
            echo_to(g, lanhost, 64 * 1024, "after the TAP was made again")
            g.qemu.stop()
            stop(d)
            check(link_names(lab, lan, "master", LAN_BR) == [LANHOST_PORT],
                  f"only the LAN host's veth on {LAN_BR} after the daemon: "
                  f"{link_names(lab, lan, 'master', LAN_BR)}")

        # ---- 5 ----
        def start_errors():
            def refused(spec, *want):
                r = lab.run(lan, VMNETD, "--network", spec, "--listen",
                            f"unix:{path('err.sock')}", "--api-socket", "none", check=False)
                out = r.stdout + r.stderr
                check(r.returncode != 0, f"{spec}: exit 0:\n{out}")
                for w in want:
                    check(w in out, f"{spec}: exit {r.returncode}, no {w!r} in:\n{out}")
                left = [n for n in link_names(lab, lan) if n.startswith("vmnet")]
                check(not left, f"{spec}: TAPs left behind: {left}")
                check(link_names(lab, lan, "master", LAN_BR) == [LANHOST_PORT],
                      f"{spec}: {LAN_BR} changed: {link_names(lab, lan, 'master', LAN_BR)}")
                return out

            def acl_file(name, text):
                with open(path(name), "w") as f:
                    f.write(text)
                return path(name)

            bridged = f"lan,mode=bridged,bridge={LAN_BR},bridge-acl="
            refused(bridged + acl_file("deny-all.conf", "deny all\n"),
                    "is not allowed by the bridge ACL", LAN_BR)
            refused(bridged + acl_file("deny-br.conf", f"allow all\ndeny {LAN_BR}\n"),
                    "is not allowed by the bridge ACL")
            inner = acl_file("inner.conf", f"deny {LAN_BR}\n")
            refused(bridged + acl_file("outer.conf", f"allow {LAN_BR}\ninclude {inner}\n"),
                    "is not allowed by the bridge ACL")
            refused(bridged + path("no-such.conf"), "no-such.conf")
            refused(f"lan,mode=bridged,bridge=br-none,bridge-acl={acl}", "no such bridge",
                    "br-none")
            refused(f"lan,mode=bridged,bridge={LANHOST_PORT},bridge-acl={acl}",
                    "not a Linux bridge")

            holder = lab.spawn(lan, [PYTHON, "-c", HOLD_TAP, "tbusy"], name="tap-holder")
            holder.wait_for("^ready$")
            refused("lan,mode=bridged,tap=tbusy", "busy", "tbusy")
            holder.stop()
            refused("lan,mode=bridged,tap=tnone", "no such device")

            # A persistent TAP of one's own on br-lan, by tap=.
            lab.run(lan, "ip", "tuntap", "add", "dev", "tmine", "mode", "tap")
            lab.run(lan, "ip", "link", "set", "tmine", "master", LAN_BR, "up")
            try:
                d = daemon(lan, "lan,mode=bridged,tap=tmine", "vmnetd-5")
                check(d.tap == "tmine" and d.mtu == 1500, f"tap=tmine: {d.tap}, MTU {d.mtu}")
                g = vm(d.tcp)
                online(g, lanhost, "a VM through tap=")
                echo_to(g, lanhost, 64 * 1024, "a VM through tap=")
                g.qemu.stop()
                stop(d)
                check("tmine" in link_names(lab, lan, "master", LAN_BR),
                      "the persistent TAP stays after the daemon")
            finally:
                lab.run(lan, "ip", "link", "del", "tmine", check=False)

        # ---- 6 ----
        def vxlan():
            a, b = lab.netns("hosta"), lab.netns("hostb")
            lab.run(a, "ip", "link", "add", "ul0", "type", "veth", "peer", "name", "ul0",
                    "netns", b)
            for ns, me, peer in ((a, 1, 2), (b, 2, 1)):
                lab.run(ns, "ip", "addr", "add", f"{UNDERLAY}.{me}/24", "dev", "ul0")
                lab.run(ns, "ip", "link", "set", "ul0", "up")
                add_bridge(lab, ns, "br0", VX_MTU)
                lab.run(ns, "ip", "link", "add", "vx0", "type", "vxlan", "id", "42", "local",
                        f"{UNDERLAY}.{me}", "remote", f"{UNDERLAY}.{peer}", "dstport", "4789",
                        "dev", "ul0")
                lab.run(ns, "ip", "link", "set", "vx0", "mtu", str(VX_MTU), "master", "br0",
                        "up")
            ping(a, f"{UNDERLAY}.2", count=1, what="the underlay")
            hostb = LanHost(lab, "lanb", b, "br0", VX_NET, mtu=VX_MTU,
                            dhcp_options=[f"26,{VX_MTU}"])
            with open(path("vx.conf"), "w") as f:
                f.write("allow br0\n")
            d = daemon(a, f"lan,mode=bridged,bridge=br0,bridge-acl={path('vx.conf')}",
                       "vmnetd-6")
            check(d.mtu == VX_MTU and mtu_of(lab, a, d.tap) == VX_MTU,
                  f"the TAP {d.tap} on A's br0: MTU {d.mtu}, want the bridge's {VX_MTU}")
            check(d.tap in link_names(lab, a, "master", "br0"), f"{d.tap} is on A's br0")
            g = vm(d.tcp)
            ip = online(g, hostb, "the VM on A, from B's dnsmasq")
            check(g.lease.get("mtu") == str(VX_MTU), f"the lease's MTU: {g.lease}")
            check(mtu_of(lab, g.ns, "vmt0") == VX_MTU, "the VM took the MTU")
            echo_to(g, hostb, MIB, "the VM on A to B's LAN host over VXLAN")
            ping(g.ns, hostb.addr, "-M", "do", "-s", str(VX_MTU - 28),
                 what=f"a {VX_MTU}-byte ping (DF) over VXLAN")
            ping(hostb.ns, ip, what="B's LAN host to the VM on A")
            g.qemu.stop()
            stop(d)

        # ---- 7 ----
        def macvtap():
            host = lab.netns("mvhost")
            # The NIC: eth-m in vmnetd's namespace, its veth peer the LAN.
            probe = lab.run(host, "ip", "link", "add", "probe0", "type", "veth", "peer", "name",
                            "probe1", check=False)
            check(probe.returncode == 0, f"veth: {probe.stderr}")
            r = lab.run(host, "ip", "link", "add", "link", "probe0", "name", "mvprobe", "type",
                        "macvtap", check=False)
            if r.returncode != 0:
                raise StepSkipped(f"no macvtap in this kernel: {r.stderr.strip()}")
            lab.run(host, "ip", "link", "del", "probe0")
            mvlan = LanHost(lab, "mvlan", host, None, MV_NET, port="eth-m")
            d = daemon(host, "lan,mode=bridged,macvtap=eth-m", "vmnetd-7")
            check(d.master == "eth-m", f"bridged through {d.tap} on {d.master}")
            check(d.tap in link_names(lab, host, "type", "macvtap"),
                  f"{d.tap} is a macvtap: {link_names(lab, host, 'type', 'macvtap')}")
            g = vm(d.tcp)
            online(g, mvlan, "a VM through the macvtap")
            echo_to(g, mvlan, 256 * 1024, "a VM through the macvtap")
            g.qemu.stop()
            stop(d)
            wait_until(lambda: not link_names(lab, host, "type", "macvtap"), 10,
                       "the macvtap to go with the daemon")

        rc = run_steps([
            ("bridge=: leases from the LAN's dnsmasq, 1 MiB both ways, LAN host reaches the "
             "VM, two VMs", lease_and_reach),
            ("frames pass unchanged: 802.1Q (full MTU) both ways, IPv6 link-local, too big "
             "dropped and counted", frames_unchanged),
            ("the TAP vmnetN is on the bridge with its MTU and goes with the daemon; the "
             "bridge stays", tap_goes_with_daemon),
            ("the bridge vanishes: link down, VM stays; bridge back: link up again, VM "
             "reaches the LAN", bridge_vanishes),
            ("errors: ACL denies, no ACL, no such bridge, not a bridge, TAP busy, no TAP; "
             "tap= of a persistent TAP works", start_errors),
            ("VXLAN: a VM on host A leases from and reaches a LAN host behind B's bridge",
             vxlan),
            ("macvtap=: a VM leases from and reaches the other end of a veth NIC",
             macvtap),
        ], lab)
    return rc


if __name__ == "__main__":
    sys.exit(main())
