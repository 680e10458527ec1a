#!/usr/bin/env python3
"""test_netns.py - containers and other peers: --netns, the slirp4netns drop-in,
-netdev dgram and --fd, against a real daemon, QEMU stand-in guests and a fake
outside world (dnsmasq, an HTTP server on a documentation address).

A "container" is a process in a network namespace of its own (unshare --net,
or `ip netns add` for a path). What a user sees:
 1. --netns PID --configure (root): tap0 in the container has 10.0.2.100/24,
    MTU 65520, lo up and a default route via 10.0.2.2; the container resolves
    a name through 10.0.2.3, fetches a file from the outside byte-exact,
    reaches the host's loopback via 10.0.2.2 and gets an answer to a ping
    that fills the MTU; `vmnetctl leases` shows 10.0.2.100 static for the
    TAP's MAC; a forward added with vmnetctl reaches an echo server in the
    container byte-exact; when the container's process dies the port closes
    (logged, gone from `vmnetctl ports`) and the daemon carries on.
 2. --netns PATH --netns-type path, --ifname, --macaddress: the same
    configuration in an `ip netns add` namespace (lo down before), a fetch by
    name under `ip netns exec` (its /etc/netns/NAME/resolv.conf names
    10.0.2.3), the static lease under the given MAC; the TAP goes with the
    daemon.
 3. Rootless: vmnetd as an unprivileged user. A root container's namespace
    is refused; a user namespace's network namespace by path needs --userns
    (the error says so) and works with it; by pid the daemon enters the
    container's user namespace itself, configures tap0, the container
    fetches from the outside byte-exact, and its end closes the port.
 4. The slirp4netns drop-in, run as podman runs slirp4netns (a symlink named
    slirp4netns, --ready-fd 3 --exit-fd 4): "1" on the ready descriptor with
    tap0 already configured, a byte-exact fetch, add_hostfwd sent
    slirp4netns-style forwarding to 10.0.2.100 by default, host loopback
    closed by --disable-host-loopback, exit 0 when the exit descriptor closes
    and, in a second run, when the container's process exits; MTU 1500 by
    default; --enable-sandbox (as a symlink and as `vmnetd slirp4netns`) and
    --macaddress without -c refused by name.
 5. --listen dgram:unix:PATH: the QEMU arguments the daemon prints, used as
    printed, give a guest a lease (MTU 65520; 65493 over dgram:udp, where a
    frame is one UDP datagram), 1 MiB byte-exact to the host's loopback and
    a full-MTU ping.
 6. --fd N: one end of a socket pair, the other QEMU's `-netdev stream` with
    addr.type=fd: the same.
 7. A container and a VM on one network (the DHCP pool starting at .100):
    the VM's lease is not the container's 10.0.2.100, TCP both ways is
    byte-exact and the container pings the VM.
 8. The drop-in as rootless podman uses it, run by the unprivileged user for
    the user's container named by path: --userns-path, --cidr (the TAP at
    .100 of it, route via .2), --macaddress, MTU 1500, -6 (SLAAC in
    fd00::/64, ping fd00::2), --disable-dns (.3 does not answer),
    --enable-seccomp; the exit descriptor ends it with 0.
 9. --listen dgram:udp:127.0.0.1:PORT: as step 5, QEMU on the daemon's
    loopback.
10. dgram:unix peers that go away, and one that swaps its path (raw peers,
    no QEMU; port-security=off): three peers that send an ARP request for
    10.0.2.2 and close at once, then three that do it, wait for the reply,
    send a datagram to a UDP echo on the host's loopback (answered late)
    and close: the answers libslirp sends them fail, those peers are closed
    ("its socket is gone") and the daemon carries on (no use-after-free in
    the switch: the daemon crashes, or ASan stops it, where a delivery
    closed its port). A broadcast that finds a peer gone still reaches the
    peer after it. A peer whose path is replaced by a symlink to another
    socket after its first frame: frames for its MAC (from another peer,
    and libslirp's ARP reply) still reach the peer's own socket and never
    that other socket, also after the peer closed. Last, a new peer still
    gets its ARP reply and the daemon is alive.

One QEMU at a time: each step stops what it started.
"""
import hashlib
import json
import os
import re
import select
import socket
import struct
import subprocess
import sys
import threading
import time

from harness import (Guest, Lab, NETUTIL, PYTHON, Proc, SERVICE_ADDR, StepSkipped, TEST_NAME,
                     VMNETCTL, VMNETD, check, read_to_eof, require, run_steps, wait_until)

NOBODY = 65534
CTR_ADDR, GATEWAY, DNS = "10.0.2.100", "10.0.2.2", "10.0.2.3"
HOST_ECHO = 7001            # on 127.0.0.1 in the daemon's namespace
CTR_ECHO = 7100             # in a container
VM_ECHO = 7200              # in a VM
FWD_PID, FWD_S4 = 18080, 18090
PATH_IFNAME, PATH_MAC = "eth7", "02:00:00:00:02:64"     # --ifname, --macaddress
S4_MAC, S4_NET = "02:00:00:00:04:64", "10.9.0"          # step 8: --macaddress, --cidr
DGRAM_UDP_PORT = 5557
LATE_ECHO = 7301            # UDP, on 127.0.0.1 in the daemon's namespace: answers late
BLOB = "blob.bin"
MIB = 1024 * 1024
SO_SNDBUFFORCE, SO_RCVBUFFORCE = 32, 33

# An HTTP client for inside a namespace: prints the length and SHA-256 of
# what it fetched (no proxy from the environment).
FETCH = r"""
import hashlib, sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
data = opener.open(sys.argv[1], timeout=30).read()
print(len(data), hashlib.sha256(data).hexdigest())
"""

# Runs ARGV with READY_FD as descriptor 3 and EXIT_FD as 4, as podman hands
# them to slirp4netns (exec.Cmd.ExtraFiles): python3 -c WRAP READY EXIT ARGV...
FD34 = r"""
import fcntl, os, sys
ready, ex = int(sys.argv[1]), int(sys.argv[2])
hi = [fcntl.fcntl(ready, fcntl.F_DUPFD, 20), fcntl.fcntl(ex, fcntl.F_DUPFD, 20)]
for fd in {ready, ex}:
    os.close(fd)
os.dup2(hi[0], 3)
os.dup2(hi[1], 4)
for fd in hi:
    os.close(fd)
os.execv(sys.argv[3], sys.argv[3:])
"""


class FdProc(Proc):
    """A Proc that inherits some descriptors (pass_fds)."""

    def __init__(self, name, argv, env=None, pass_fds=()):
        self.name, self.argv, self.lines = name, argv, []
        self.cond = threading.Condition()
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, env=env, start_new_session=True,
                                  pass_fds=pass_fds)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()


def spawn_fds(lab, ns, argv, name, pass_fds, env=None):
    p = FdProc(name, lab._in_ns(ns, argv), env=env, pass_fds=pass_fds)
    lab.procs.append(p)             # the Lab stops it, whatever happens
    return p


# A UDP echo that answers each datagram only after a delay (argv: port, seconds).
LATE_ECHO_PY = r"""
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
print("ready", flush=True)
while True:
    data, addr = s.recvfrom(65536)
    time.sleep(float(sys.argv[2]))
    s.sendto(data, addr)
"""


def arp_frame(op, src_mac, src_ip, dst_mac, dst_ip):
    """An ARP request (op 1, broadcast) or reply, padded to 60 bytes."""
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, src_mac, socket.inet_aton(src_ip),
                       b"\0" * 6 if op == 1 else dst_mac, socket.inet_aton(dst_ip))
    eth_dst = b"\xff" * 6 if op == 1 else dst_mac
    return (eth_dst + src_mac + b"\x08\x06" + body).ljust(60, b"\0")


def ip_checksum(data):
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def udp_frame(dst_mac, src_mac, src_ip, dst_ip, sport, dport, payload):
    """An IPv4 UDP datagram in a frame (no UDP checksum, as IPv4 allows)."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                      socket.inet_aton(src_ip), socket.inet_aton(dst_ip))
    iph = iph[:10] + struct.pack("!H", ip_checksum(iph)) + iph[12:]
    return (dst_mac + src_mac + b"\x08\x00" + iph + udp).ljust(60, b"\0")


class DgramPeer:
    """A raw peer of a dgram:unix listener, as QEMU's -netdev dgram is one: a
    unix datagram socket bound to `path`, a frame per datagram, sent to the
    daemon's socket (not connected: the daemon answers from a socket of its
    own)."""

    def __init__(self, path, server, mac, ip):
        self.path, self.server, self.ip = path, server, ip
        self.mac = bytes.fromhex(mac.replace(":", ""))
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(path)

    def send(self, frame):
        self.s.sendto(frame, self.server)

    def frames(self, timeout):
        """What arrives within `timeout` seconds."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            r, _, _ = select.select([self.s], [], [], max(left, 0))
            if not r:
                return got
            got.append(self.s.recv(65536))

    def who_has_gateway(self):
        self.send(arp_frame(1, self.mac, self.ip, None, GATEWAY))

    def arp_reply(self, timeout=5):
        """The gateway's answer to who_has_gateway(), or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for f in self.frames(min(0.2, max(deadline - time.monotonic(), 0))):
                if (len(f) >= 42 and f[12:14] == b"\x08\x06" and f[20:22] == b"\0\x02" and
                        f[28:32] == socket.inet_aton(GATEWAY) and f[0:6] == self.mac):
                    return f
        return None

    def close(self):
        self.s.close()


def ctl(api, *args):
    r = subprocess.run([VMNETCTL, "--socket", api, *args], capture_output=True, text=True,
                       timeout=30, stdin=subprocess.DEVNULL)
    return r


def ctl_ok(api, *args):
    r = ctl(api, *args)
    check(r.returncode == 0, f"vmnetctl {' '.join(args)}: exit {r.returncode}: "
          f"{r.stdout}{r.stderr}")
    return r.stdout


def slirp_request(path, obj, timeout=10):
    """A request as slirp4netns's clients send it (no newline, then
    shutdown(SHUT_WR)); the reply, read until the server closes."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall(json.dumps(obj).encode())
        s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    finally:
        s.close()
    try:
        return json.loads(got)
    except ValueError:
        raise AssertionError(f"not a JSON reply: {got!r}") from None


def pid_of_ns(pid, kind="net"):
    return os.readlink(f"/proc/{pid}/ns/{kind}")


class Where:
    """A network namespace to run things in, through a command prefix
    (nsenter into a process's namespace, or ip netns exec)."""

    def __init__(self, lab, prefix, label):
        self.lab, self.prefix, self.label = lab, list(prefix), label
        self.servers = []

    def run(self, *argv, check=True, timeout=60):
        return self.lab.run(None, *self.prefix, *argv, check=check, timeout=timeout)

    def netutil(self, *args, timeout=120):
        r = self.run(PYTHON, NETUTIL, *args, check=False, timeout=timeout)
        return r.returncode, (r.stdout + r.stderr).strip()

    def serve(self, *args, name):
        p = self.lab.spawn(None, self.prefix + [PYTHON, NETUTIL, *args], name=name)
        p.wait_for("^ready$")
        self.servers.append(p)
        return p

    def fetch(self, url):
        r = self.run(PYTHON, "-c", FETCH, url, check=False)
        return (r.stdout + r.stderr).strip()

    def stop_servers(self):
        for p in self.servers:
            p.stop()
        self.servers = []


class Container(Where):
    """A process in a new network namespace, as a container runtime starts
    one; with `user`, rootless: that user's user namespace (mapped to root)
    owns the network namespace."""

    def __init__(self, lab, name, user=None):
        argv = ["unshare", "--net", "sleep", "infinity"]
        if user is not None:
            argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups",
                    "unshare", "--user", "--map-root-user", "--net", "sleep", "infinity"]
        self.proc = lab.spawn(None, argv, name=name)
        self.pid = self.proc.p.pid

        def started():
            try:
                with open(f"/proc/{self.pid}/comm") as f:
                    return f.read().strip() == "sleep"
            except FileNotFoundError:
                raise AssertionError(f"{name} exited: {self.proc.output()}") from None
        wait_until(started, 10, f"{name} to be in its namespace")
        check(pid_of_ns(self.pid) != pid_of_ns("self"), f"{name}: a network namespace of its own")
        super().__init__(lab, ["nsenter", "-t", str(self.pid), "-n"], name)

    def kill(self):
        self.proc.p.kill()
        self.proc.p.wait(10)


class VM(Guest):
    """A Guest whose QEMU joins the daemon through `netdev` (a -netdev option
    with id=up) instead of the harness's stream socket. QEMU runs in the
    guest's namespace, or in `qemu_ns` (the daemon's, for a socket on its
    loopback) with its TAP then moved into the guest's; `pass_fds` go to it."""

    def __init__(self, lab, name, netdev, mac, qemu_ns=None, pass_fds=(), rate="200mbit"):
        self.netdev, self.qemu_in, self.pass_fds = netdev, qemu_ns, tuple(pass_fds)
        super().__init__(lab, name, netdev, mac, rate=rate)

    def start_qemu(self):
        lab = self.lab
        qemu_ns = self.qemu_in or self.ns
        moved = qemu_ns != self.ns
        tap = f"t{self.name}{lab.tag}"[:15] if moved else "vmt0"
        self.qemu = spawn_fds(lab, qemu_ns, [
            "qemu-system-x86_64", "-M", "none", "-nodefaults", "-display", "none",
            "-monitor", "none", "-serial", "none",
            "-netdev", self.netdev,
            "-netdev", f"tap,id=tp,ifname={tap},script=no,downscript=no",
            "-netdev", "hubport,id=h0,hubid=0,netdev=up",
            "-netdev", "hubport,id=h1,hubid=0,netdev=tp"], name=f"qemu-{self.name}",
            pass_fds=self.pass_fds)
        wait_until(lambda: self.qemu.p.poll() is not None or
                   lab.run(qemu_ns, "ip", "link", "show", tap, check=False).returncode == 0,
                   20, f"{self.name}'s TAP")
        check(self.qemu.p.poll() is None, f"QEMU exited: {self.qemu.output()}")
        if moved:
            lab.run(qemu_ns, "ip", "link", "set", tap, "netns", self.ns)
            lab.run(self.ns, "ip", "link", "set", tap, "name", "vmt0")
        lab.run(self.ns, "ip", "link", "set", "vmt0", "address", self.mac)
        lab.run(self.ns, "ip", "link", "set", "vmt0", "up")
        if self.rate:
            lab.run(self.ns, "tc", "qdisc", "add", "dev", "vmt0", "root", "tbf", "rate",
                    self.rate, "burst", "256k", "latency", "100ms")


def main():
    require("qemu-system-x86_64", "dnsmasq", "busybox", "ip", "ss", "tc", "ping", "unshare",
            "nsenter", "setpriv")
    if not os.access(VMNETCTL, os.X_OK):
        print(f"Bail out! vmnetctl not found at {VMNETCTL} (set VMNETCTL)")
        return 1
    with Lab("netns") as lab:
        host, out = lab.outside()
        www = os.path.join(lab.dir, "www")
        os.makedirs(www)
        blob = os.urandom(MIB + 4321)
        with open(os.path.join(www, BLOB), "wb") as f:
            f.write(blob)
        want_blob = f"{len(blob)} {hashlib.sha256(blob).hexdigest()}"
        lab.serve(out, "serve-http", www, SERVICE_ADDR, "80", name="out-http")
        lab.serve(host, "serve-echo", "tcp", "127.0.0.1", str(HOST_ECHO), name="host-echo")

        def path(name):
            return os.path.join(lab.dir, name)

        def netns_daemon(*args, name, prefix=(), env=None, target, ifname="tap0"):
            """vmnetd in the lab's host namespace, until its --netns port is up."""
            d = lab.spawn(host, [*prefix, VMNETD, *args], name=name, env=env)
            d.wait_for(rf"netns {re.escape(target)} {ifname}: connected")
            return d

        def tap_config(c, mtu, ifname="tap0", addr=CTR_ADDR, gateway=GATEWAY, mac=None):
            """The TAP as --configure leaves it: address/24, MTU, up, lo up,
            the default route; returns its MAC (checked against `mac`)."""
            a = c.run("ip", "-o", "-4", "addr", "show", "dev", ifname).stdout
            check(re.search(rf"\binet {re.escape(addr)}/24\b", a),
                  f"{c.label}: {ifname}'s address, want {addr}/24: {a!r}")
            link = c.run("ip", "-o", "link", "show", "dev", ifname).stdout
            m = re.search(r"<([^>]*)> mtu (\d+) .*link/ether (\S+)", link)
            check(m and "UP" in m.group(1).split(","), f"{c.label}: {ifname} up: {link!r}")
            check(m.group(2) == str(mtu), f"{c.label}: {ifname}'s MTU {m.group(2)}, want {mtu}")
            check(mac is None or m.group(3) == mac,
                  f"{c.label}: {ifname}'s MAC {m.group(3)}, want {mac}")
            lo = c.run("ip", "-o", "link", "show", "dev", "lo").stdout
            check(re.search(r"<[^>]*\bUP\b[^>]*>", lo), f"{c.label}: lo up: {lo!r}")
            route = c.run("ip", "-4", "route", "show", "default").stdout.strip()
            check(route.startswith(f"default via {gateway} dev {ifname}"),
                  f"{c.label}: default route {route!r}, want via {gateway} dev {ifname}")
            return m.group(3)

        def reaches_outside(c, by_name=False):
            """A name resolved through 10.0.2.3, then a file fetched byte-exact
            from the outside's HTTP server (by that name with by_name: the
            namespace's resolv.conf must name 10.0.2.3)."""
            rc, res = c.netutil("dns-query", DNS, TEST_NAME)
            check(rc == 0 and res == SERVICE_ADDR, f"{c.label}: {TEST_NAME} via {DNS} -> {res}")
            got = c.fetch(f"http://{TEST_NAME if by_name else res}/{BLOB}")
            check(got == want_blob, f"{c.label}: fetched {got!r}, want {want_blob!r}")

        def full_mtu_ping(run, label, mtu):
            """The MTU the network gave is usable: a ping that fills it (IP
            length = MTU, don't fragment) is answered by the gateway."""
            r = run("ping", "-c", "3", "-i", "0.2", "-W", "3", "-M", "do", "-s", str(mtu - 28),
                    GATEWAY, check=False)
            check(r.returncode == 0, f"{label}: no answer to a ping of {mtu} bytes of IP (the "
                  f"MTU it was given, DF) to {GATEWAY}: {r.stdout[-300:]}{r.stderr}")

        def tap_gone(c, ifname="tap0", timeout=10):
            wait_until(lambda: c.run("ip", "link", "show", "dev", ifname,
                                     check=False).returncode != 0, timeout,
                       f"{c.label}: {ifname} to go")

        # ---- 1 ----
        def pid_mode():
            c = Container(lab, "ctr1")
            api = path("pid.api")
            pid = str(c.pid)
            d = netns_daemon("--netns", pid, "--configure", "--api-socket", api,
                             name="vmnetd-pid", target=pid)
            mac = tap_config(c, 65520)
            reaches_outside(c)
            full_mtu_ping(c.run, "the container", 65520)
            rc, res = c.netutil("tcp-check", GATEWAY, str(HOST_ECHO), str(MIB), "30")
            check(rc == 0, f"the host's loopback via {GATEWAY}: {res}")

            leases = ctl_ok(api, "leases")
            rows = [l.split() for l in leases.splitlines()[1:]]
            mine = [r for r in rows if len(r) >= 5 and r[1] == CTR_ADDR]
            check(len(mine) == 1 and mine[0][2] == mac and mine[0][4] == "yes",
                  f"vmnetctl leases: want {CTR_ADDR} static for {mac}:\n{leases}")

            c.serve("serve-echo", "tcp", "0.0.0.0", str(CTR_ECHO), name="ctr1-echo")
            ctl_ok(api, "forward", "add", f"tcp:127.0.0.1:{FWD_PID}:{CTR_ADDR}:{CTR_ECHO}")
            rc, res = lab.netutil(host, "tcp-check", "127.0.0.1", str(FWD_PID), str(MIB), "30")
            check(rc == 0, f"forward 127.0.0.1:{FWD_PID} -> {CTR_ADDR}:{CTR_ECHO}: {res}")

            ports = ctl_ok(api, "ports")
            check(f"netns {pid} tap0" in ports, f"vmnetctl ports lists the TAP:\n{ports}")
            since = len(d.output().splitlines())
            c.kill()
            d.wait_for(rf"netns {pid} tap0: closed \(the namespace's process exited\)",
                       since=since)
            ports = ctl_ok(api, "ports")
            check("netns" not in ports, f"the port is gone from vmnetctl ports:\n{ports}")
            check(d.p.poll() is None, f"the daemon exited: {d.output()}")
            c.stop_servers()
            check(d.stop() == 0, f"exit status {d.p.returncode}:\n{d.output()}")

        # ---- 2 ----
        def path_mode():
            name = f"vmn-ctr2-{lab.tag}"
            subprocess.run(["ip", "netns", "add", name], check=True)
            lab.namespaces.append(name)
            etc = f"/etc/netns/{name}"
            os.makedirs(etc, exist_ok=True)
            lab.etc_netns.append(etc)
            with open(f"{etc}/resolv.conf", "w") as f:
                f.write(f"nameserver {DNS}\n")
            c = Where(lab, ["ip", "netns", "exec", name], name)
            lo = c.run("ip", "-o", "link", "show", "dev", "lo").stdout
            check("UP" not in lo.split(">")[0], f"lo starts down: {lo!r}")
            target, api = f"/run/netns/{name}", path("path.api")
            d = netns_daemon("--netns", target, "--netns-type", "path", "--configure",
                             "--ifname", PATH_IFNAME, "--macaddress", PATH_MAC,
                             "--api-socket", api, name="vmnetd-path", target=target,
                             ifname=PATH_IFNAME)
            tap_config(c, 65520, ifname=PATH_IFNAME, mac=PATH_MAC)
            reaches_outside(c, by_name=True)
            leases = ctl_ok(api, "leases")
            check(re.search(rf"^default\s+{re.escape(CTR_ADDR)}\s+{PATH_MAC}\s+\S+\s+yes\b",
                            leases, re.M), f"static lease for {PATH_MAC}:\n{leases}")
            check(d.stop() == 0, f"exit status {d.p.returncode}:\n{d.output()}")
            tap_gone(c, PATH_IFNAME)

        # ---- 3 ----
        as_nobody = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]

        def unprivileged():
            """Skips the step when the kernel keeps an unprivileged user from
            making a user namespace; else the user's runtime directory (a
            HOME and XDG_RUNTIME_DIR of its own) and environment."""
            probe = subprocess.run([*as_nobody, "unshare", "--user", "--map-root-user", "--net",
                                    "true"], capture_output=True, text=True)
            if probe.returncode != 0:
                raise StepSkipped("unprivileged user namespaces are not allowed here: "
                                  + probe.stderr.strip())
            udir = path("nobody")
            if not os.path.isdir(udir):
                os.makedirs(udir)
                os.chown(udir, NOBODY, NOBODY)
                os.chmod(udir, 0o700)
            return udir, dict(os.environ, HOME=udir, XDG_RUNTIME_DIR=udir)

        def runs_as_nobody(d):
            with open(f"/proc/{d.p.pid}/status") as f:
                uids = re.search(r"^Uid:\s+(.*)$", f.read(), re.M).group(1).split()
            check(uids == [str(NOBODY)] * 4, f"the daemon runs as {NOBODY}: Uid {uids}")

        def rootless():
            udir, env = unprivileged()

            # A root container's namespace is not an unprivileged user's to enter.
            root_ctr = Container(lab, "ctr3-root")
            r = lab.run(host, *as_nobody, VMNETD, "--netns", str(root_ctr.pid), "--configure",
                        "--api-socket", "none", check=False, env=env)
            check(r.returncode == 1 and re.search(rf"\b{root_ctr.pid}\b", r.stderr),
                  f"nobody given a root container: exit {r.returncode}: {r.stdout}{r.stderr}")
            check(root_ctr.run("ip", "link", "show", "tap0", check=False).returncode != 0,
                  "no tap0 in the root container")
            root_ctr.kill()

            c = Container(lab, "ctr3", user=NOBODY)
            pid = str(c.pid)
            check(pid_of_ns(pid, "user") != pid_of_ns("self", "user"),
                  "the container has a user namespace of its own")
            api = os.path.join(udir, "api")

            # By path, the user namespace is not guessed: without --userns
            # the user is told to give it; with it, the TAP is made.
            net, user = f"/proc/{pid}/ns/net", f"/proc/{pid}/ns/user"
            r = lab.run(host, *as_nobody, VMNETD, "--netns", net, "--netns-type", "path",
                        "--configure", "--api-socket", "none", check=False, env=env)
            check(r.returncode == 1 and "give --userns" in r.stderr,
                  f"a rootless namespace by path without --userns: exit {r.returncode}: "
                  f"{r.stdout}{r.stderr}")
            d = netns_daemon("--netns", net, "--netns-type", "path", "--userns", user,
                             "--configure", "--api-socket", api, name="vmnetd-userns",
                             prefix=as_nobody, env=env, target=net)
            runs_as_nobody(d)
            tap_config(c, 65520)
            rc, res = c.netutil("dns-query", DNS, TEST_NAME)
            check(rc == 0 and res == SERVICE_ADDR, f"--userns: {TEST_NAME} via {DNS}: {res}")
            check(d.stop() == 0, f"exit status {d.p.returncode}:\n{d.output()}")
            tap_gone(c)

            # By pid: the daemon finds and enters the user namespace itself.
            d = netns_daemon("--netns", pid, "--configure", "--api-socket", api,
                             name="vmnetd-rootless", prefix=as_nobody, env=env, target=pid)
            runs_as_nobody(d)
            tap_config(c, 65520)
            reaches_outside(c)
            leases = ctl_ok(api, "leases")
            check(re.search(rf"^default\s+{re.escape(CTR_ADDR)}\s+\S+\s+\S+\s+yes\b", leases,
                            re.M), f"static lease for the container:\n{leases}")
            since = len(d.output().splitlines())
            c.kill()
            d.wait_for(rf"netns {pid} tap0: closed \(the namespace's process exited\)",
                       since=since)
            check(d.stop() == 0, f"exit status {d.p.returncode}:\n{d.output()}")

        # ---- 4 ----
        slirp = path("slirp4netns")
        if not os.path.exists(slirp):
            os.symlink(os.path.abspath(VMNETD), slirp)

        def run_s4(name, *args, prefix=(), env=None):
            """The drop-in as podman runs slirp4netns: ready pipe on 3, exit
            pipe on 4. Returns the Proc, the ready read end and the exit
            write end."""
            ready_r, ready_w = os.pipe()
            exit_r, exit_w = os.pipe()
            try:
                p = spawn_fds(lab, host, [*prefix, PYTHON, "-c", FD34, str(ready_w), str(exit_r),
                                          slirp, "--ready-fd", "3", "--exit-fd", "4", *args],
                              name=name, pass_fds=(ready_w, exit_r), env=env)
            except BaseException:
                for fd in (ready_r, exit_w):
                    os.close(fd)
                raise
            finally:
                os.close(ready_w)
                os.close(exit_r)
            return p, ready_r, exit_w

        def slirp4netns():
            c = Container(lab, "ctr4")
            pid = str(c.pid)
            s4api = path("s4.sock")
            d, ready_r, exit_w = run_s4("slirp4netns-1", "--configure", "--mtu=65520",
                                        "--disable-host-loopback", "--api-socket", s4api,
                                        pid, "tap0")
            try:
                try:
                    said = read_to_eof(ready_r, 20, "the ready descriptor to say 1 and close")
                finally:
                    os.close(ready_r)
                check(said == b"1", f"ready descriptor: {said!r}, want b'1':\n{d.output()}")
                # Ready means configured: podman goes on at once.
                tap_config(c, 65520)
                reaches_outside(c)

                c.serve("serve-echo", "tcp", "0.0.0.0", str(CTR_ECHO), name="ctr4-echo")
                reply = slirp_request(s4api, {"execute": "add_hostfwd", "arguments": {
                    "proto": "tcp", "host_addr": "127.0.0.1", "host_port": FWD_S4,
                    "guest_port": CTR_ECHO}})
                check(isinstance(reply.get("return", {}).get("id"), int),
                      f"add_hostfwd: {reply}")
                fid = reply["return"]["id"]
                entries = slirp_request(s4api, {"execute": "list_hostfwd"})
                entries = entries.get("return", {}).get("entries", [])
                mine = [e for e in entries if e.get("id") == fid]
                check(len(mine) == 1 and mine[0].get("guest_addr") == CTR_ADDR,
                      f"the forward's guest address defaults to {CTR_ADDR}: {entries}")
                rc, res = lab.netutil(host, "tcp-check", "127.0.0.1", str(FWD_S4), str(MIB),
                                      "30")
                check(rc == 0, f"add_hostfwd 127.0.0.1:{FWD_S4} -> container: {res}")

                rc, res = c.netutil("tcp-probe", GATEWAY, str(HOST_ECHO), "3")
                # libslirp answers ICMP net unreachable, as under slirp4netns.
                check(rc == 0 and res.split()[0] in ("REFUSED", "TIMEOUT", "UNREACHABLE"),
                      f"--disable-host-loopback: {GATEWAY}:{HOST_ECHO} from the container: "
                      f"{res}")

                since = len(d.output().splitlines())
                check(d.p.poll() is None, f"exited early: {d.output()}")
            finally:
                os.close(exit_w)
            d.wait_for(r"--exit-fd closed: shutting down", since=since)
            check(d.p.wait(10) == 0, f"exit {d.p.returncode} after the exit descriptor "
                  f"closed:\n{d.output()}")
            c.stop_servers()
            tap_gone(c)

            # Again, without --mtu: slirp4netns's 1500; the container's end
            # ends the daemon.
            d, ready_r, exit_w = run_s4("slirp4netns-2", "--configure", pid, "tap0")
            try:
                try:
                    said = read_to_eof(ready_r, 20, "the ready descriptor (second run)")
                finally:
                    os.close(ready_r)
                check(said == b"1", f"ready descriptor: {said!r}:\n{d.output()}")
                tap_config(c, 1500)
                full_mtu_ping(c.run, "the container at MTU 1500", 1500)
                rc, res = c.netutil("dns-query", DNS, TEST_NAME)
                check(rc == 0 and res == SERVICE_ADDR, f"DNS at MTU 1500: {res}")
                c.kill()
                d.wait_for(r"its namespace's TAP is gone: shutting down")
                check(d.p.wait(10) == 0, f"exit {d.p.returncode} after the container's "
                      f"process exited:\n{d.output()}")
            finally:
                os.close(exit_w)

            c2 = Container(lab, "ctr4b")
            for argv, opt in (
                    ([slirp, "--configure", "--enable-sandbox", str(c2.pid), "tap0"],
                     "--enable-sandbox"),
                    ([VMNETD, "slirp4netns", "--enable-sandbox", str(c2.pid), "tap0"],
                     "--enable-sandbox"),
                    ([slirp, "--macaddress", S4_MAC, str(c2.pid), "tap0"], "--macaddress")):
                r = lab.run(host, *argv, check=False)
                check(r.returncode != 0 and opt in r.stderr,
                      f"{' '.join(argv[1:])}: exit {r.returncode}: {r.stdout}{r.stderr}")
            check(c2.run("ip", "link", "show", "tap0", check=False).returncode != 0,
                  "no tap0 after the refusal")
            c2.kill()

        # ---- 8 ----
        def slirp4netns_rootless():
            """As rootless podman: the user's own drop-in for the user's
            container, named by path with its user namespace, and more of
            slirp4netns's options."""
            udir, env = unprivileged()
            c = Container(lab, "ctr8", user=NOBODY)
            pid = str(c.pid)
            gw, dns = f"{S4_NET}.2", f"{S4_NET}.3"
            seccomp = [] if os.environ.get("VMNETD_SANITIZED") else ["--enable-seccomp"]
            d, ready_r, exit_w = run_s4(
                "slirp4netns-rootless", "-c", "-6", "--disable-dns", f"--cidr={S4_NET}.0/24",
                f"--macaddress={S4_MAC}", "--netns-type=path",
                f"--userns-path=/proc/{pid}/ns/user", *seccomp, f"/proc/{pid}/ns/net", "tap1",
                prefix=as_nobody, env=env)
            try:
                try:
                    said = read_to_eof(ready_r, 20, "the ready descriptor")
                finally:
                    os.close(ready_r)
                check(said == b"1", f"ready descriptor: {said!r}:\n{d.output()}")
                runs_as_nobody(d)
                tap_config(c, 1500, ifname="tap1", addr=f"{S4_NET}.100", gateway=gw, mac=S4_MAC)
                got = c.fetch(f"http://{SERVICE_ADDR}/{BLOB}")
                check(got == want_blob, f"--cidr: fetched {got!r}, want {want_blob!r}")
                rc, res = c.netutil("dns-lookup", dns, TEST_NAME)
                # No forwarder: the query goes to 10.9.0.3 itself, which is nowhere.
                check(rc != 0 and SERVICE_ADDR not in res, f"--disable-dns: {dns} answered: {res}")

                def slaac():
                    a = c.run("ip", "-6", "-o", "addr", "show", "dev", "tap1").stdout
                    return re.search(r"inet6 fd00::\S+ scope global(?!.*tentative)", a)
                wait_until(slaac, 20, "-6: an address from fd00::/64 on tap1")
                c.run("ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", "fd00::2")
                since = len(d.output().splitlines())
                check(d.p.poll() is None, f"exited early: {d.output()}")
            finally:
                os.close(exit_w)
            d.wait_for(r"--exit-fd closed: shutting down", since=since)
            check(d.p.wait(10) == 0, f"exit {d.p.returncode}:\n{d.output()}")
            tap_gone(c, "tap1")
            c.kill()

        # ---- 5 ----
        def printed_netdev(d, want):
            """The -netdev option the daemon printed for QEMU (with id=up for
            our hub), after checking it reads `want`; and the MAC it gave."""
            m = d.wait_for(r"(-netdev (dgram,id=(vmnet\d+),\S+)) -device virtio-net-pci,"
                           r"netdev=(vmnet\d+),mac=(\S+)")
            check(m.group(1) == want.format(id=m.group(3)),
                  f"printed QEMU arguments:\n  {m.group(1)}\nwant\n  {want}")
            netdev = m.group(2).replace(f"id={m.group(3)},", "id=up,", 1)
            return netdev, m.group(5)

        def vm_online(vm, ip="10.0.2.15", mtu=65520):
            lease = vm.dhcp()
            check(lease.get("ip") == ip and lease.get("router") == GATEWAY and
                  lease.get("mtu") == str(mtu), f"{vm.name}'s lease: {lease}")
            rc, res = vm.netutil("tcp-check", GATEWAY, str(HOST_ECHO), str(MIB), "60")
            check(rc == 0, f"{vm.name}: 1 MiB to the host's loopback via {GATEWAY}: {res}")
            full_mtu_ping(lambda *a, **kw: lab.run(vm.ns, *a, **kw), vm.name, mtu)
            return lease

        def dgram_unix():
            dsock = path("d.sock")
            d = lab.daemon("--api-socket", path("d.api"), ns=host, sock=dsock,
                           listen=[f"dgram:unix:{dsock}"], name="vmnetd-dgram")
            netdev, mac = printed_netdev(
                d, f"-netdev dgram,id={{id}},local.type=unix,local.path={dsock}.{{id}},"
                   f"remote.type=unix,remote.path={dsock}")
            vm = VM(lab, "vm5", netdev, mac)
            vm_online(vm)
            ports = ctl_ok(path("d.api"), "ports")
            check(re.search(r"\bdgram\b", ports) and mac in ports,
                  f"a dgram port with the VM's MAC:\n{ports}")
            vm.qemu.stop()
            check(d.stop() == 0, f"exit status {d.p.returncode}:\n{d.output()}")
            check(not os.path.exists(dsock), "the dgram socket file was removed")

        # ---- 6 ----
        def fd_passed():
            a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                # Deep buffers: QEMU 7.2's stream netdev mishandles a full
                # socket (see harness.Guest).
                for s in (a, b):
                    s.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, 4 * MIB)
                    s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 4 * MIB)
                na, nb = a.fileno(), b.fileno()
                api = path("fd.api")
                d = spawn_fds(lab, host, [VMNETD, "--fd", str(na), "--api-socket", api],
                              name="vmnetd-fd", pass_fds=(na,))
                d.wait_for(rf"fd {na}: connected")
                vm = VM(lab, "vm6", f"stream,id=up,server=off,addr.type=fd,addr.str={nb}",
                        "52:54:00:00:06:01", pass_fds=(nb,))
            finally:
                a.close()
                b.close()
            vm_online(vm)
            ports = ctl_ok(api, "ports")
            check(re.search(rf"\bfd {na}\b", ports) and "52:54:00:00:06:01" in ports,
                  f"the fd port with the VM's MAC:\n{ports}")
            since = len(d.output().splitlines())
            vm.qemu.stop()
            d.wait_for(rf"fd {na}: closed", since=since)
            check(d.stop() == 0, f"exit status {d.p.returncode}:\n{d.output()}")

        # ---- 7 ----
        def container_and_vm():
            c = Container(lab, "ctr7")
            pid = str(c.pid)
            # The pool starts at .100: the container's address must be kept
            # from DHCP all the same.
            d = lab.daemon("--netns", pid, "--configure", "--nat", "dhcpstart=10.0.2.100",
                           "--api-socket", path("mixed.api"), name="vmnetd-mixed")
            d.wait_for(rf"netns {pid} tap0: connected")
            tap_config(c, 65520)
            vm = lab.guest("vm7", d.tcp, "52:54:00:00:07:01")
            lease = vm.dhcp()
            check(lease.get("ip") not in (None, CTR_ADDR),
                  f"the VM's lease must not be the container's {CTR_ADDR}: {lease}")
            check(lease.get("ip") == "10.0.2.101", f"the VM's lease: {lease}")
            vm_ip = lease["ip"]
            c.serve("serve-echo", "tcp", CTR_ADDR, str(CTR_ECHO), name="ctr7-echo")
            rc, res = vm.netutil("tcp-check", CTR_ADDR, str(CTR_ECHO), str(MIB), "60")
            check(rc == 0, f"VM -> container {CTR_ADDR}:{CTR_ECHO}: {res}")
            lab.serve(vm.ns, "serve-echo", "tcp", "0.0.0.0", str(VM_ECHO), name="vm7-echo")
            c.run("ping", "-c", "3", "-i", "0.2", "-W", "2", vm_ip)
            rc, res = c.netutil("tcp-check", vm_ip, str(VM_ECHO), str(MIB), "60")
            check(rc == 0, f"container -> VM {vm_ip}:{VM_ECHO}: {res}")
            vm.qemu.stop()
            c.stop_servers()
            check(d.stop() == 0, f"exit status {d.p.returncode}:\n{d.output()}")
            c.kill()

        # ---- 9 ----
        def dgram_udp():
            d = lab.daemon("--api-socket", path("u.api"), ns=host, sock=path("u.none"),
                           listen=[f"dgram:udp:127.0.0.1:{DGRAM_UDP_PORT}"], name="vmnetd-udp")
            netdev, mac = printed_netdev(
                d, "-netdev dgram,id={id},local.type=inet,local.host=127.0.0.1,local.port=0,"
                   f"remote.type=inet,remote.host=127.0.0.1,remote.port={DGRAM_UDP_PORT}")
            vm = VM(lab, "vm9", netdev, mac, qemu_ns=host)
            # A UDP datagram over IPv4 carries at most 65507 bytes: the
            # network offers MTU 65493 (a 65507-byte frame), and that much
            # gets through (full-MTU ping with DF).
            vm_online(vm, mtu=65493)
            vm.qemu.stop()
            check(d.stop() == 0, f"exit status {d.p.returncode}:\n{d.output()}")

        # ---- 10 ----
        def dgram_peers_gone():
            ddir = path("dg")
            os.makedirs(ddir, exist_ok=True)
            dsock, api = os.path.join(ddir, "d.sock"), path("dg.api")
            echo = lab.spawn(host, [PYTHON, "-c", LATE_ECHO_PY, str(LATE_ECHO), "0.5"],
                             name="late-echo")
            echo.wait_for("^ready$")
            d = lab.daemon("--network", "default,mode=nat,port-security=off",
                           "--api-socket", api, ns=host, sock=path("dg.none"),
                           listen=[f"dgram:unix:{dsock}"], name="vmnetd-dgram-gone")
            n = [0]

            def peer(tag=None):
                n[0] += 1
                return DgramPeer(os.path.join(ddir, tag or f"p{n[0]}"), dsock,
                                 f"52:54:00:00:0a:{n[0]:02x}", f"10.0.2.{100 + n[0]}")

            def found_gone(since, *peers):
                """Each of `peers` was closed for its socket being gone (or
                the daemon died: the caller checks)."""
                lines = [line for line in d.output().splitlines()[since:]
                         if re.search(r"closed \(its socket is gone\)", line)]
                return d.p.poll() is not None or all(
                    any(f"({p.path}): closed" in line for line in lines) for p in peers)

            def dgram_ports():
                ports = slirp_request(api, {"execute": "list_ports"})["return"]["ports"]
                return [p for p in ports if p["kind"] == "dgram"]

            def alive(what):
                check(d.p.poll() is None, f"the daemon died {what}:\n{d.output()[-4000:]}")

            # Send and close at once: libslirp's reply, sent while the frame
            # is handled, may find the peer gone (a daemon that pins a peer's
            # socket when it reads the first frame ignores one gone by then).
            for _ in range(3):
                p = peer()
                p.who_has_gateway()
                p.close()
            time.sleep(0.5)
            alive("after three peers closed right after their ARP request")

            def known(*peers):
                """Each sends its ARP request and gets the answer: the daemon
                has a port for it with its MAC, libslirp knows its address."""
                replies = []
                for p in peers:
                    p.who_has_gateway()
                    reply = p.arp_reply()
                    check(reply is not None, f"no ARP reply for {p.path}:\n"
                          f"{d.output()[-3000:]}")
                    replies.append(reply)
                return replies

            # Known to the daemon and to libslirp, then gone before libslirp's
            # late UDP answer (no frame in between): each answer, a unicast
            # from libslirp, fails to be sent, and the peer is closed after.
            since = len(d.output().splitlines())
            late = [peer() for _ in range(3)]
            for i, (p, reply) in enumerate(zip(late, known(*late))):
                p.send(udp_frame(reply[6:12], p.mac, p.ip, GATEWAY, 40000 + i, LATE_ECHO,
                                 b"answer me late"))
                p.close()
            wait_until(lambda: found_gone(since, *late), 20,
                       "three peers closed for their socket being gone")
            alive("when libslirp's answers found their peers gone")
            check(dgram_ports() == [], f"gone peers still listed: {dgram_ports()}")

            # A broadcast that finds a peer gone still reaches the peer after
            # it (the last one attached).
            sender, gone, after = peer(), peer(), peer()
            known(sender, gone, after)
            gone.close()
            since = len(d.output().splitlines())
            marker = b"\x88\xb5a broadcast for all"
            sender.send((b"\xff" * 6 + sender.mac + marker).ljust(60, b"\0"))
            got = after.frames(2)
            check(any(marker in f for f in got), "a broadcast sent when a peer before it was "
                  f"found gone did not reach the peer after it: {got}")
            wait_until(lambda: found_gone(since, gone), 10,
                       "the peer that closed to be found gone")
            alive("after a broadcast found a peer gone")
            sender.close()
            after.close()

            # A peer that swaps its path for a symlink to a socket of ours
            # after its first frame: the daemon keeps writing to the peer's
            # own socket, never through the link.
            victim_path = os.path.join(ddir, "victim")
            victim = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            victim.bind(victim_path)

            def victim_silent(what, timeout):
                r, _, _ = select.select([victim], [], [], timeout)
                if r:
                    raise AssertionError(f"{what}: the daemon wrote through the swapped path "
                                         f"to the symlink's target: {victim.recv(65536)!r}")

            try:
                sw = peer("swapper")
                other = peer()
                known(sw, other)
                os.unlink(sw.path)
                os.symlink(victim_path, sw.path)
                marker = b"\x88\xb5frame for the swapping peer"
                other.send((sw.mac + other.mac + marker).ljust(60, b"\0"))
                victim_silent("a frame from another peer for the swapped peer's MAC", 1)
                got = sw.frames(1)
                check(any(marker in f for f in got),
                      f"the peer's own socket did not get the frame for its MAC: {got}")
                sw.who_has_gateway()        # sent from the same (swapped) address
                victim_silent("libslirp's ARP reply to the swapped peer", 1)
                check(sw.arp_reply() is not None,
                      "the swapping peer's second ARP request got no reply")
                since = len(d.output().splitlines())
                sw.close()
                other.send((sw.mac + other.mac + marker).ljust(60, b"\0"))
                victim_silent("a frame for the swapped peer's MAC after it closed", 1)
                wait_until(lambda: found_gone(since, sw), 10,
                           "the swapping peer to be closed once its socket is gone")
                other.close()
            finally:
                victim.close()
            alive("after the symlink swap")

            # And a new peer is served as ever; the ones that closed before
            # it are found gone by its broadcast and closed.
            last = peer()
            last.who_has_gateway()
            check(last.arp_reply() is not None,
                  f"a new peer got no ARP reply:\n{d.output()[-3000:]}")
            alive("at the end")
            wait_until(lambda: [p["macs"] for p in dgram_ports()] ==
                       [["52:54:00:00:0a:%02x" % n[0]]], 10, "only the last peer listed")
            last.close()
            check(d.stop() == 0, f"exit status {d.p.returncode}:\n{d.output()[-4000:]}")
            echo.stop()

        rc = run_steps([
            ("--netns PID --configure: tap0, DNS, fetch, full-MTU ping, lease, forward, "
             "process exit", pid_mode),
            ("--netns PATH --netns-type path, --ifname, --macaddress: fetch by name via "
             "resolv.conf", path_mode),
            ("rootless: vmnetd as a user enters the container's user namespace (--userns by "
             "path)", rootless),
            ("slirp4netns drop-in: ready/exit fds, hostfwd, no host loopback, MTU 1500, "
             "refusals", slirp4netns),
            ("--listen dgram:unix: printed QEMU arguments, lease, 1 MiB byte-exact, full-MTU "
             "ping", dgram_unix),
            ("--fd: a socket pair with QEMU, lease, 1 MiB byte-exact, full-MTU ping",
             fd_passed),
            ("a container and a VM on one network reach each other", container_and_vm),
            ("slirp4netns drop-in, rootless by path: --userns-path, --cidr, --macaddress, -6, "
             "--disable-dns, --enable-seccomp", slirp4netns_rootless),
            ("--listen dgram:udp: printed QEMU arguments, lease, 1 MiB byte-exact, full-MTU "
             "ping", dgram_udp),
            ("dgram:unix: peers gone while frames are delivered to them, a peer's path swapped "
             "for a symlink: nothing written through it, the daemon carries on", dgram_peers_gone),
        ], lab)
    return rc


if __name__ == "__main__":
    sys.exit(main())
