"""harness.py - network namespaces, processes and waits for vmnetd's integration tests.

A Lab owns everything a test creates: namespaces (with a per-run tag in their
names), /etc/netns entries, processes and a temporary directory. Leaving the
`with` block removes all of it, whether the test passed, failed or was killed.

Network rule: traffic goes only to loopback or to addresses inside the
namespaces made here, and the "outside" uses documentation prefixes:
  host  ns  192.0.2.1/24  (the daemon runs here; default route via .2)
  out   ns  192.0.2.2/24, plus 203.0.113.10 (services) and dnsmasq on 192.0.2.2
"""
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
NETUTIL = os.path.join(HERE, "netutil.py")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
VMNETD = os.environ.get("VMNETD", os.path.join(HERE, "../../build/vmnetd"))
VMNETCTL = os.environ.get("VMNETCTL", os.path.join(HERE, "../../build/vmnetctl"))
NETWORKD = "/lib/systemd/systemd-networkd"

OUT_ADDR = "192.0.2.2"
HOST_ADDR = "192.0.2.1"
SERVICE_ADDR = "203.0.113.10"
TEST_NAME = "test.vmnetd.example"
DAEMON_TCP_PORT = 5555       # inside the daemon's own namespace
SKIP = 77


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(SKIP)


def require(*programs):
    if os.geteuid() != 0:
        skip("needs root (network namespaces)")
    for p in programs:
        if not shutil.which(p):
            skip(f"{p} is not installed")


def _sigterm(signum, frame):
    # meson's timeout sends SIGTERM: unwind so every Lab cleans up.
    raise SystemExit(f"killed by signal {signum}")


signal.signal(signal.SIGTERM, _sigterm)


def wait_until(cond, timeout, what, interval=0.05):
    """Poll a condition (not sleep-and-hope): fail with `what` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def read_to_eof(fd, timeout, what):
    """All a pipe gives until its writer closes it."""
    data = b""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} "
                                 f"(read {data!r} so far)")
        r, _, _ = select.select([fd], [], [], left)
        if r:
            chunk = os.read(fd, 64)
            if not chunk:
                return data
            data += chunk


class Proc:
    """A child process whose merged output is collected line by line."""

    def __init__(self, name, argv, env=None):
        self.name = name
        self.argv = argv
        self.lines = []
        self.cond = threading.Condition()
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.p.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def output(self):
        with self.cond:
            return "\n".join(self.lines)

    def wait_for(self, pattern, timeout=20, since=0):
        """Wait for an output line matching `pattern` (from line `since` on,
        as counted by len(output().splitlines()) earlier); returns the match."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            seen = since
            while True:
                for line in self.lines[seen:]:
                    m = rx.search(line)
                    if m:
                        return m
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if self.p.poll() is not None and not self.reader.is_alive():
                    raise AssertionError(f"{self.name} exited ({self.p.returncode}) before "
                                         f"printing /{pattern}/:\n{self.output()}")
                if left <= 0:
                    raise AssertionError(f"{self.name}: no /{pattern}/ within {timeout}s:\n"
                                         f"{self.output()}")
                self.cond.wait(min(left, 0.5))

    def stop(self, timeout=10):
        """SIGTERM, then SIGKILL; returns the exit status."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
        self.reader.join(5)
        return self.p.returncode


class Guest:
    """A Linux network stack standing in for a VM: a namespace with a TAP that
    QEMU (-M none, no CPU) joins through a hub to vmnetd's stream socket.

    QEMU 7.2's hub ignores a stream netdev's "sent nothing, queue it" answer,
    so after a partial write to its socket it sends the next frame from the
    wrong offset and aborts (iov_copy assertion); a real NIC waits properly.
    So these stand-ins keep QEMU far from a full socket buffer: they attach
    over TCP (QEMU then runs in the daemon's namespace, which gets 4 MiB send
    buffers, and its TAP is moved into the guest's namespace) and their
    egress is rate-limited. `via` may name a unix socket path instead, for
    light traffic only.
    """

    def __init__(self, lab, name, via, mac, rate="200mbit"):
        self.lab, self.name, self.mac, self.via, self.rate = lab, name, mac, via, rate
        self.ns = lab.netns(name)
        self.lease = None
        self.start_qemu()

    def _stream_arg(self):
        if self.via == "user":                  # QEMU's built-in slirp, for comparison
            return "user,id=up,ipv6=off"
        if self.via.startswith("tcp:"):
            host, port = self.via[4:].rsplit(":", 1)
            return f"stream,id=up,server=off,addr.type=inet,addr.host={host},addr.port={port}"
        return f"stream,id=up,server=off,addr.type=unix,addr.path={self.via}"

    def start_qemu(self):
        """(Re)start QEMU: the TAP comes and goes with it, the namespace stays."""
        lab = self.lab
        tcp = self.via.startswith("tcp:") or self.via == "user"
        qemu_ns = lab.host_ns if tcp else self.ns
        tap = f"t{self.name}{lab.tag}"[:15] if tcp else "vmt0"
        self.qemu = lab.spawn(qemu_ns, [
            "qemu-system-x86_64", "-M", "none", "-nodefaults", "-display", "none",
            "-monitor", "none", "-serial", "none",
            "-netdev", self._stream_arg(),
            "-netdev", f"tap,id=tp,ifname={tap},script=no,downscript=no",
            "-netdev", "hubport,id=h0,hubid=0,netdev=up",
            "-netdev", "hubport,id=h1,hubid=0,netdev=tp"], name=f"qemu-{self.name}")
        wait_until(lambda: lab.run(qemu_ns, "ip", "link", "show", tap, check=False)
                   .returncode == 0, 20, f"{self.name}'s TAP")
        if tcp:
            lab.run(qemu_ns, "ip", "link", "set", tap, "netns", self.ns)
            lab.run(self.ns, "ip", "link", "set", tap, "name", "vmt0")
        lab.run(self.ns, "ip", "link", "set", "vmt0", "address", self.mac)
        lab.run(self.ns, "ip", "link", "set", "vmt0", "up")
        if self.rate:
            lab.run(self.ns, "tc", "qdisc", "add", "dev", "vmt0", "root", "tbf", "rate",
                    self.rate, "burst", "256k", "latency", "100ms")

    def dhcp(self, timeout=20, hostname=None):
        """Run busybox udhcpc (sending option 12 when `hostname` is given);
        returns the lease's options as a dict."""
        lease_file = os.path.join(self.lab.dir, f"lease-{self.name}")
        if os.path.exists(lease_file):
            os.unlink(lease_file)
        env = dict(os.environ, LEASE_FILE=lease_file)
        extra = ["-x", f"hostname:{hostname}"] if hostname else []
        self.lab.run(self.ns, "busybox", "udhcpc", "-i", "vmt0", "-s", self.lab.udhcpc_script,
                     "-q", "-n", "-t", "10", "-T", "1", "-f", *extra, env=env, timeout=timeout)
        with open(lease_file) as f:
            self.lease = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
        return self.lease

    def dhclient(self, timeout=20):
        """Run ISC dhclient (one try, in the foreground, with its own script,
        lease and pid files) until it has bound; returns the lease as the
        script saw it (dhclient's new_* variables, without the prefix)."""
        lab = self.lab
        base = os.path.join(lab.dir, f"dhclient-{self.name}")
        for suffix in (".env", ".leases", ".pid"):
            if os.path.exists(base + suffix):
                os.unlink(base + suffix)
        with open(base + ".conf", "w") as f:
            f.write(DHCLIENT_CONF)
        # dhclient gives its script a clean environment, plus what -e says.
        p = lab.spawn(self.ns, ["dhclient", "-d", "-1", "-v", "-cf", base + ".conf",
                                "-sf", lab.dhclient_script, "-lf", base + ".leases",
                                "-pf", base + ".pid", "-e", f"LEASE_FILE={base}.env", "vmt0"],
                      name=f"dhclient-{self.name}")
        try:
            wait_until(lambda: os.path.exists(base + ".env") or p.p.poll() is not None,
                       timeout, f"{self.name}'s dhclient to bind")
        except AssertionError as e:
            raise AssertionError(f"{e}:\n{p.output()}") from None
        finally:
            p.stop()
        check(os.path.exists(base + ".env"), f"dhclient did not bind:\n{p.output()}")
        with open(base + ".env") as f:
            return dict(line.rstrip("\n")[4:].split("=", 1) for line in f
                        if line.startswith("new_") and "=" in line)

    def networkd(self, timeout=30, limit=120):
        """Run systemd-networkd (DHCP=ipv4 on vmt0 only) in the guest's
        namespace until it has configured vmt0 from a DHCP lease; returns the
        lease file networkd wrote (KEY=value, as a dict) and the running
        networkd's Proc. Stop it when done (it then releases the lease and
        unconfigures vmt0); the Lab stops it otherwise, and it is killed
        after `limit` seconds whatever happens to this process.

        It runs in its own mount and UTS namespaces (unshare), where a
        directory of the Lab is bound over /run/systemd (its configuration,
        then its state and leases, readable from here), the directories of
        .network files and /run/dbus are hidden behind empty tmpfs (only our
        file applies, no system bus is reached) and /sys is read-only: that
        makes networkd take udev as absent, as in a container, and not wait
        for udev to initialize links. The host's /run/systemd, /etc and
        hostname are not touched; the mounts go with the process."""
        lab = self.lab
        run = os.path.join(lab.dir, f"networkd-{self.name}")
        shutil.rmtree(run, ignore_errors=True)
        os.makedirs(os.path.join(run, "network"))
        os.chmod(run, 0o755)
        with open(os.path.join(run, "network", "10-vmt0.network"), "w") as f:
            f.write(NETWORKD_NETWORK)
        ifindex = int(lab.run(self.ns, "cat", "/sys/class/net/vmt0/ifindex").stdout)
        lease_file = os.path.join(run, "netif", "leases", str(ifindex))
        state_file = os.path.join(run, "netif", "links", str(ifindex))
        env = dict(os.environ, SYSTEMD_LOG_TARGET="console", SYSTEMD_LOG_LEVEL="debug",
                   SYSTEMD_LOG_COLOR="0")
        p = lab.spawn(self.ns, ["unshare", "--mount", "--uts", "--propagation", "private",
                                "sh", "-ec", NETWORKD_SH, "networkd", run, str(limit), NETWORKD],
                      name=f"networkd-{self.name}", env=env)

        def configured():           # networkd's own word: address, routes, MTU set
            if p.p.poll() is not None:
                return True
            try:
                with open(state_file) as f:
                    return "ADMIN_STATE=configured\n" in f.read()
            except FileNotFoundError:
                return False
        try:
            wait_until(configured, timeout, f"{self.name}'s systemd-networkd to configure vmt0")
            check(p.p.poll() is None, f"systemd-networkd exited ({p.p.returncode})")
            with open(lease_file) as f:
                return dict(line.rstrip("\n").split("=", 1) for line in f
                            if "=" in line and not line.startswith("#")), p
        except BaseException as e:
            p.stop()
            if isinstance(e, AssertionError):
                raise AssertionError(f"{e}:\n{p.output()[-3000:]}") from None
            raise

    def netutil(self, *args, timeout=120):
        return self.lab.netutil(self.ns, *args, timeout=timeout)


UDHCPC_SCRIPT = """#!/bin/sh
# Applies a lease the way a distribution's script does, and records it.
case "$1" in
bound|renew)
    env | grep -E '^(ip|subnet|router|dns|mtu|interface|domain|search|hostname|lease|serverid|boot_file)=' > "$LEASE_FILE"
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/$subnet" dev "$interface"
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
    ip route add default via "$router"
    ;;
esac
exit 0
"""


DHCLIENT_CONF = """# As Debian's /etc/dhcp/dhclient.conf asks.
request subnet-mask, broadcast-address, time-offset, routers,
        domain-name, domain-name-servers, domain-search, host-name,
        interface-mtu;
"""

DHCLIENT_SCRIPT = """#!/bin/sh
# A minimal dhclient-script: applies the lease and records it.
case "$reason" in
PREINIT)
    ip link set "$interface" up
    ;;
BOUND|RENEW|REBIND|REBOOT)
    ip -4 addr flush dev "$interface"
    ip addr add "$new_ip_address/$new_subnet_mask" dev "$interface"
    [ -n "$new_interface_mtu" ] && ip link set "$interface" mtu "$new_interface_mtu"
    for r in $new_routers; do ip route add default via "$r"; break; done
    env | grep '^new_' > "$LEASE_FILE.tmp" && mv "$LEASE_FILE.tmp" "$LEASE_FILE"
    ;;
esac
exit 0
"""


NETWORKD_NETWORK = """[Match]
Name=vmt0

[Network]
DHCP=ipv4
LinkLocalAddressing=no
IPv6AcceptRA=no

[DHCPv4]
UseMTU=yes
# It would ask hostnamed, or set the (unshared) hostname itself.
UseHostname=no
"""

# $1: the directory bound over /run/systemd; $2: seconds before SIGKILL;
# $3: systemd-networkd.
# `ip netns exec` gave us a fresh sysfs of the namespace; unshare a private
# mount namespace, so nothing here propagates to the host's mounts.
NETWORKD_SH = """
mount -o remount,bind,ro /sys
mount --bind "$1" /run/systemd
for d in /run/dbus /etc/systemd/network /usr/local/lib/systemd/network \\
         /usr/lib/systemd/network /lib/systemd/network; do
    if [ -d "$d" ]; then mount -t tmpfs -o ro,mode=0755 tmpfs "$d"; fi
done
exec timeout -s KILL "$2" "$3"
"""


class Lab:
    def __init__(self, name):
        self.tag = f"{name[:5]}{os.getpid() % 100000}"
        self.dir = tempfile.mkdtemp(prefix=f"vmnetd-{name}-")
        os.chmod(self.dir, 0o755)
        self.namespaces, self.procs, self.etc_netns = [], [], []
        self.udhcpc_script = os.path.join(self.dir, "udhcpc.sh")
        with open(self.udhcpc_script, "w") as f:
            f.write(UDHCPC_SCRIPT)
        os.chmod(self.udhcpc_script, 0o755)
        self.dhclient_script = os.path.join(self.dir, "dhclient.sh")
        with open(self.dhclient_script, "w") as f:
            f.write(DHCLIENT_SCRIPT)
        os.chmod(self.dhclient_script, 0o755)
        self.host_ns = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in reversed(self.procs):
            try:
                p.stop(5)
            except Exception as e:          # keep cleaning whatever happens
                print(f"cleanup: {p.name}: {e}")
        for ns in self.namespaces:
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True,
                                  text=True).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        for d in self.etc_netns:
            shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def dump_outputs(self, tail=40):
        """After a failure: what every process said, as TAP comments."""
        for p in self.procs:
            lines = p.output().splitlines()[-tail:]
            print(f"# --- {p.name} (exit {p.p.poll()}):")
            for line in lines:
                print(f"#   {line}")

    def netns(self, role):
        ns = f"vmn-{role}-{self.tag}"
        subprocess.run(["ip", "netns", "add", ns], check=True)
        self.namespaces.append(ns)
        self.run(ns, "ip", "link", "set", "lo", "up")
        return ns

    def _in_ns(self, ns, argv):
        return ["ip", "netns", "exec", ns] + list(argv) if ns else list(argv)

    def run(self, ns, *argv, check=True, timeout=30, env=None):
        r = subprocess.run(self._in_ns(ns, argv), capture_output=True, text=True,
                           timeout=timeout, env=env)
        if check and r.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} failed ({r.returncode}):\n"
                                 f"{r.stdout}{r.stderr}")
        return r

    def spawn(self, ns, argv, name, env=None):
        p = Proc(name, self._in_ns(ns, argv), env=env)
        self.procs.append(p)
        return p

    def netutil(self, ns, *args, timeout=120):
        r = self.run(ns, PYTHON, NETUTIL, *args, check=False, timeout=timeout)
        return r.returncode, (r.stdout + r.stderr).strip()

    def serve(self, ns, *args, name):
        p = self.spawn(ns, [PYTHON, NETUTIL] + list(args), name=name)
        p.wait_for("^ready$")
        return p

    def outside(self):
        """The daemon's host namespace and a fake outside world behind a veth."""
        host, out = self.netns("host"), self.netns("out")
        veth_h, veth_o = f"vh{self.tag}"[:15], f"vo{self.tag}"[:15]
        subprocess.run(["ip", "link", "add", veth_h, "netns", host, "type", "veth",
                        "peer", "name", veth_o, "netns", out], check=True)
        self.run(host, "ip", "addr", "add", f"{HOST_ADDR}/24", "dev", veth_h)
        self.run(host, "ip", "link", "set", veth_h, "up")
        self.run(host, "ip", "route", "add", "default", "via", OUT_ADDR)
        # Deep TCP send buffers on loopback here: see Guest.
        self.run(host, "sh", "-c", "echo 4194304 4194304 4194304 > /proc/sys/net/ipv4/tcp_wmem")
        self.run(out, "ip", "addr", "add", f"{OUT_ADDR}/24", "dev", veth_o)
        self.run(out, "ip", "addr", "add", f"{SERVICE_ADDR}/32", "dev", "lo")
        self.run(out, "ip", "link", "set", veth_o, "up")
        etc = f"/etc/netns/{host}"
        os.makedirs(etc, exist_ok=True)
        self.etc_netns.append(etc)
        with open(f"{etc}/resolv.conf", "w") as f:
            f.write(f"nameserver {OUT_ADDR}\n")
        dns = self.spawn(out, ["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
                               "--conf-file=/dev/null", "--bind-interfaces",
                               f"--listen-address={OUT_ADDR}", "--log-facility=-",
                               "--pid-file=", "--user=root",
                               f"--address=/{TEST_NAME}/{SERVICE_ADDR}"], name="dnsmasq")
        wait_until(lambda: ":53 " in self.run(out, "ss", "-lun").stdout, 10, "dnsmasq")
        self.host_ns, self.out_ns, self.dnsmasq = host, out, dns
        return host, out

    def daemon(self, *args, ns=None, sock=None, listen=None, name="vmnetd"):
        """Start vmnetd and wait until it prints how to attach QEMU.
        `listen`, if given, replaces the default --listen options."""
        sock = sock or os.path.join(self.dir, "vmnetd.sock")
        argv = [VMNETD, "--listen", f"unix:{sock}"]
        if ns is None:
            argv += ["--listen", f"tcp:127.0.0.1:{DAEMON_TCP_PORT}"]
        if listen is not None:
            argv = [VMNETD] + [a for l in listen for a in ("--listen", l)]
        d = self.spawn(self.host_ns if ns is None else ns, argv + list(args), name=name)
        d.wait_for("Attach a VM to")
        d.sock = sock
        d.tcp = f"tcp:127.0.0.1:{DAEMON_TCP_PORT}"
        return d

    def guest(self, name, via, mac, **kw):
        return Guest(self, name, via, mac, **kw)

    def capture(self, ns, iface, *bpf, name):
        """tcpdump (one line per packet, with MACs) until the Lab ends;
        packets() of the returned Proc lists what it has seen so far."""
        p = self.spawn(ns, ["tcpdump", "-n", "-l", "-e", "-i", iface] + list(bpf), name=name)
        p.wait_for("listening on")
        p.packets = lambda: [line for line in p.output().splitlines()
                             if re.match(r"\d\d:\d\d:\d\d\.\d+ ", line)]
        return p


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def cpu_seconds(pid):
    """User + system CPU time of a process (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_status_kib(pid, field):
    """A memory figure from /proc/PID/status (VmRSS, VmHWM, ...), in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class StepSkipped(Exception):
    """Raised by a step that cannot run here; run_steps reports it as a TAP SKIP."""


def run_steps(steps, lab=None):
    """Run named steps in order, printing TAP; stops at the first failure,
    and then shows what every process of `lab` said. VMNETD_STEPS=2,5 runs
    only those steps (the others are reported skipped), for steps that stand
    alone: to see one fail on an older daemon, say."""
    print(f"1..{len(steps)}")
    only = {int(n) for n in os.environ.get("VMNETD_STEPS", "").split(",") if n.strip()}
    for i, (name, fn) in enumerate(steps, 1):
        if only and i not in only:
            print(f"ok {i} - {name} # SKIP not in VMNETD_STEPS", flush=True)
            continue
        try:
            t0 = time.monotonic()
            fn()
            print(f"ok {i} - {name} ({time.monotonic() - t0:.1f}s)", flush=True)
        except StepSkipped as e:
            print(f"ok {i} - {name} # SKIP {e}", flush=True)
        except Exception as e:
            print(f"not ok {i} - {name}\n# " + str(e).replace("\n", "\n# "), flush=True)
            for j in range(i + 1, len(steps) + 1):
                print(f"not ok {j} - {steps[j - 1][0]} # not run after a failure")
            if lab:
                lab.dump_outputs()
            return 1
    return 0
