#!/usr/bin/env python3
"""bench.py - vmnetd against QEMU's -netdev user and slirp4netns, side by side, in one run.

Every path puts a Linux network stack (a namespace) behind a NAT and runs the
same load through it: iperf3 TCP guest->host and host->guest (1 and 4
streams), a UDP rate with 64-byte payloads, and TCP request/response
latency; each several times, reporting the median. The "host" is the
namespace where the NAT's own sockets live; its loopback is reached from the
guest as 10.0.2.2. Ratios are against QEMU's built-in user networking
measured in the same run, because one machine's absolute figures mean little.

Paths:
  qemu-user      QEMU -netdev user, MTU 1500 (QEMU -M none, hub, TAP): the baseline
  vmnetd-1500    vmnetd via QEMU -netdev stream (hub, TAP), MTU 1500
  vmnetd-65520   the same at MTU 65520 (vmnetd's default)
  slirp4netns-*  slirp4netns with its TAP in the guest namespace, both MTUs
  vmnetd-netns-* vmnetd in slirp4netns's place: its TAP in the guest namespace
                 (--netns PID --configure), run through the slirp4netns drop-in
                 with slirp4netns's exact command line (--netns-via native:
                 vmnetd's own options instead), both MTUs
  veth           a veth pair between two namespaces, no NAT (context only)

--only takes path names or shell patterns; "netns" names the four
slirp4netns-* and vmnetd-netns-* paths, whose ratios get a table of their own
(with the NAT process's load, the whole machine's, and the frames through the
guest's TAP per MB). --paired measures each slirp4netns/vmnetd-netns pair in
one lab, taking turns run by run, so that a load elsewhere on a shared machine
falls on both alike; --profile DIR perf-records the NAT process instead of
measuring. See bench/results-netns.md.

Same network rule as the tests: only loopback and namespaces made here.
"""
import argparse
import fnmatch
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "integration"))
from harness import (Lab, PYTHON, VMNETD, cpu_seconds, proc_status_kib,  # noqa: E402
                     require, wait_until)

BENCHUTIL = os.path.join(HERE, "benchutil.py")
GBIT = 1e9
IPERF_PORT = 5201


def machine_busy():
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]          # idle + iowait
    return sum(v) - idle, sum(v)


class Path:
    """One way for guest namespaces to reach the host namespace through NAT."""

    def __init__(self, lab, name, mtu):
        self.lab, self.name, self.mtu = lab, name, mtu
        self.guests = []            # namespace names
        self.nat_pid = None         # the process doing the NAT work, for CPU accounting
        self.server_addr = "10.0.2.2"

    def add_guest(self, i):
        raise NotImplementedError


class QemuUser(Path):
    def add_guest(self, i):
        g = self.lab.guest(f"{self.name[:4]}{i}", "user", f"52:54:00:00:01:{i:02x}", rate=None)
        g.dhcp()
        self.nat_pid = g.qemu.p.pid
        self.guests.append(g.ns)


class Vmnetd(Path):
    via = "unix"                # how QEMU reaches vmnetd: unix (the default) or tcp

    def add_guest(self, i):
        if not self.guests:
            self.daemon = self.lab.daemon("--nat", f"mtu={self.mtu},ipv6=off",
                                          sock=os.path.join(self.lab.dir, f"{self.name}.sock"))
            self.nat_pid = self.daemon.p.pid
        via = self.daemon.tcp if self.via == "tcp" else self.daemon.sock
        g = self.lab.guest(f"v{self.mtu % 10000}{i}", via, f"52:54:00:00:02:{i:02x}", rate=None)
        g.dhcp()
        self.guests.append(g.ns)


class Slirp4netns(Path):
    """A TAP in the guest's namespace, made by a NAT process in the host
    namespace: slirp4netns itself, or (subclass) vmnetd in its place."""
    program = "slirp4netns"
    prefix = "s"

    def argv(self, holder_pid):
        return [self.program, "--configure", f"--mtu={self.mtu}", str(holder_pid), "tap0"]

    def add_guest(self, i):
        lab = self.lab
        ns = lab.netns(f"{self.prefix}{self.mtu % 10000}{i}")
        holder = lab.spawn(ns, ["sleep", "infinity"], name=f"holder-{ns}")
        nat = lab.spawn(lab.host_ns, self.argv(holder.p.pid), name=f"{self.name}-{ns}")
        wait_until(lambda: "10.0.2.100" in lab.run(ns, "ip", "addr", "show", "tap0",
                                                   check=False).stdout, 20, self.name)
        # The address is set before the NAT reads the TAP: wait until the
        # gateway answers, so the first measurement does not start early.
        wait_until(lambda: lab.run(ns, "ping", "-c1", "-W1", "10.0.2.2",
                                   check=False).returncode == 0, 20, f"{self.name} gateway")
        self.nat_pid = nat.p.pid
        self.guests.append(ns)

    def guest_if_stats(self):
        """tap0's packet counters in the guest namespace: (tx, rx)."""
        r = self.lab.run(self.guests[0], "ip", "-j", "-s", "link", "show", "tap0", check=False)
        try:
            st = json.loads(r.stdout)[0]["stats64"]
            return st["tx"]["packets"], st["rx"]["packets"]
        except (json.JSONDecodeError, KeyError, IndexError):
            return None


class VmnetdNetns(Slirp4netns):
    via = "dropin"      # dropin: slirp4netns's command line, run as slirp4netns; native
    prefix = "n"

    def argv(self, holder_pid):
        if self.via == "native":
            return [VMNETD, "--netns", str(holder_pid), "--configure", "--network",
                    f"default,mode=nat,mtu={self.mtu},ipv6=off", "--api-socket", "none"]
        link = os.path.join(self.lab.dir, "slirp4netns")
        if not os.path.exists(link):
            os.symlink(os.path.abspath(VMNETD), link)
        self.program = link
        return super().argv(holder_pid)


class Veth(Path):
    def add_guest(self, i):
        lab = self.lab
        a, b = lab.netns(f"va{i}"), lab.netns(f"vb{i}")
        subprocess.run(["ip", "link", "add", "vbench0", "netns", a, "mtu", "65520", "type",
                        "veth", "peer", "name", "vbench1", "netns", b, "mtu", "65520"],
                       check=True)
        lab.run(a, "ip", "addr", "add", "198.51.100.1/24", "dev", "vbench0")
        lab.run(b, "ip", "addr", "add", "198.51.100.2/24", "dev", "vbench1")
        lab.run(a, "ip", "link", "set", "vbench0", "up")
        lab.run(b, "ip", "link", "set", "vbench1", "up")
        self.server_ns = a
        self.server_addr = "198.51.100.1"
        self.guests.append(b)


class Bench:
    def __init__(self, args):
        self.args = args
        self.lab = None
        self.servers = {}

    def log(self, msg):
        print(msg, file=sys.stderr, flush=True)

    def server(self, ns, port):
        """An iperf3 server (one test at a time) on the host namespace's loopback."""
        key = (ns, port)
        if key not in self.servers:
            addr = "198.51.100.1" if ns != self.lab.host_ns else "127.0.0.1"
            self.servers[key] = self.lab.spawn(ns, ["iperf3", "-s", "-B", addr, "-p", str(port)],
                                               name=f"iperf3-{port}")
            wait_until(lambda: f":{port} " in self.lab.run(ns, "ss", "-ltnH").stdout, 10,
                       "iperf3 server")
        return self.servers[key]

    def iperf(self, path, guest_ns, port, streams=1, reverse=False, udp=False):
        secs = self.args.seconds
        argv = ["iperf3", "-c", path.server_addr, "-p", str(port), "-t", str(secs), "-J",
                "-P", str(streams)]
        if reverse:
            argv.append("-R")
        if udp:
            argv += ["-u", "-l", "64", "-b", "0"]
        r = self.lab.run(guest_ns, *argv, check=False, timeout=secs + 60)
        try:
            res = json.loads(r.stdout)
        except json.JSONDecodeError:
            return None
        if "error" in res:
            self.log(f"  iperf3: {res['error']}")
            return None
        end = res["end"]
        if udp:
            s = end["sum"]
            return (s["packets"] - s["lost_packets"]) / s["seconds"]
        return end["sum_received"]["bits_per_second"]

    TESTS = [("g2h_1", 1, False), ("g2h_4", 4, False), ("h2g_1", 1, True), ("h2g_4", 4, True),
             ("udp64", None, None), ("rr", None, None)]

    def setup(self, path):
        lab = self.lab
        path.add_guest(0)
        self.server(getattr(path, "server_ns", lab.host_ns), IPERF_PORT)
        if path.server_addr == "10.0.2.2" and "echo" not in self.servers:
            self.servers["echo"] = lab.serve(lab.host_ns, "serve-echo", "tcp", "127.0.0.1",
                                             "7001", name="echo")
        path.samples = {}

    def sample(self, path, key, streams, reverse):
        """One run of one test on one path, appended to path.samples."""
        g, smp = path.guests[0], path.samples
        add = lambda k, v: smp.setdefault(k, []).append(v)     # noqa: E731
        if key == "udp64":
            pps = self.iperf(path, g, IPERF_PORT, udp=True)
            if pps:
                add("udp64_kpps", pps / 1000)
        elif key == "rr":
            if path.server_addr != "10.0.2.2":
                return
            r = self.lab.run(g, PYTHON, BENCHUTIL, "rr", "10.0.2.2", "7001",
                             str(self.args.rr_count), check=False, timeout=120)
            if r.returncode == 0:
                med, p99 = (float(x) for x in r.stdout.split())
                add("rr_median_us", med)
                add("rr_p99_us", p99)
        else:
            stats = getattr(path, "guest_if_stats", lambda: None)
            f0 = stats()
            c0 = cpu_seconds(path.nat_pid) if path.nat_pid else None
            b0, t0 = machine_busy()
            bps = self.iperf(path, g, IPERF_PORT, streams, reverse)
            b1, t1 = machine_busy()
            f1 = stats()
            if not bps:
                return
            if f0 and f1:
                # Frames through the guest's TAP per MB of payload, each way:
                # how the NAT's timing shapes the guest's TCP (ACK rate, sizes).
                mb = bps * self.args.seconds / 8 / 1e6
                add(f"guest_tx_frames_per_mb_{key}", (f1[0] - f0[0]) / mb)
                add(f"guest_rx_frames_per_mb_{key}", (f1[1] - f0[1]) / mb)
            add(key, bps / GBIT)
            # How busy the whole machine was (1.0 = every core, iperf3's
            # start and end included): another load shows here.
            add(f"machine_busy_{key}", (b1 - b0) / (t1 - t0) if t1 > t0 else 0)
            if c0 is not None:
                c = cpu_seconds(path.nat_pid) - c0
                # CPU per GB moved, per test, and the NAT process's load (1.0 = a core)
                add(f"cpu_{key}", c / (bps * self.args.seconds / 8 / 1e9))
                add(f"nat_cores_{key}", c / self.args.seconds)

    def summary(self, path):
        smp = path.samples
        res = {k: statistics.median(v) for k, v in smp.items()}
        res["mtu"] = path.mtu
        cpu = [x for k, v in smp.items() if k.startswith("cpu_") for x in v]
        res["cpu_s_per_gb"] = statistics.median(cpu) if cpu else None
        res["samples"] = smp
        return res

    def measure_path(self, path):
        self.setup(path)
        for key, streams, reverse in self.TESTS:
            for _ in range(self.args.runs):
                self.sample(path, key, streams, reverse)
        return self.summary(path)

    def measure_paired(self, paths):
        """Several paths in one lab, taking turns run by run (A B, B A, ...),
        so that a load elsewhere on the machine falls on all of them alike."""
        for path in paths:
            self.setup(path)
        for key, streams, reverse in self.TESTS:
            for r in range(self.args.runs):
                for path in (paths if r % 2 == 0 else paths[::-1]):
                    self.sample(path, key, streams, reverse)
            self.log(f"  {key}: " + ", ".join(
                f"{p.name} " + " ".join(f"{x:.2f}" for x in p.samples.get(
                    {"udp64": "udp64_kpps", "rr": "rr_median_us"}.get(key, key), []))
                for p in paths))
        return [self.summary(p) for p in paths]

    def scale(self, path, counts):
        """N VMs at once, each its own iperf3 guest->host: aggregate and spread."""
        out = {}
        for n in counts:
            while len(path.guests) < n:
                path.add_guest(len(path.guests))
            for i in range(n):
                self.server(self.lab.host_ns, IPERF_PORT + 1 + i)
            runs = []
            for _ in range(self.args.runs):
                procs = []
                for i in range(n):
                    argv = ["iperf3", "-c", "10.0.2.2", "-p", str(IPERF_PORT + 1 + i), "-t",
                            str(self.args.seconds), "-J"]
                    procs.append(subprocess.Popen(["ip", "netns", "exec", path.guests[i]] + argv,
                                                  stdout=subprocess.PIPE, text=True))
                rates = []
                for p in procs:
                    stdout, _ = p.communicate(timeout=self.args.seconds + 60)
                    try:
                        rates.append(json.loads(stdout)["end"]["sum_received"]
                                     ["bits_per_second"] / GBIT)
                    except (json.JSONDecodeError, KeyError):
                        rates.append(0.0)
                runs.append(rates)
            runs.sort(key=sum)
            rates = runs[len(runs) // 2]
            out[n] = {"aggregate": sum(rates), "per_vm": rates,
                      "min_over_max": min(rates) / max(rates) if max(rates) else 0}
            self.log(f"  {n} VMs: aggregate {sum(rates):.2f} Gbit/s, per VM "
                     + " ".join(f"{r:.2f}" for r in rates))
        return out

    def storm(self, path):
        """1,000 concurrent TCP connections through NAT, opened and closed."""
        lab = self.lab
        if not path.guests:
            path.add_guest(0)
        if "storm-echo" not in self.servers:
            self.servers["storm-echo"] = lab.serve(lab.host_ns, "serve-echo", "tcp", "127.0.0.1",
                                                   "7002", name="storm-echo")
        c0 = cpu_seconds(path.nat_pid)
        r = lab.run(path.guests[0], PYTHON, BENCHUTIL, "storm", "10.0.2.2", "7002",
                    str(self.args.connections), check=False, timeout=300)
        return {"result": r.stdout.strip(), "cpu_s": cpu_seconds(path.nat_pid) - c0,
                "peak_rss_kib": proc_status_kib(path.nat_pid, "VmHWM")}

    def profile(self, name, path):
        """perf record -g of the NAT process during one iperf3 run of each
        TCP test: DIR/NAME-TEST.data, and the flat top of it in .txt. The
        throughput under perf is reported, not used: perf costs some."""
        out = self.args.profile
        os.makedirs(out, exist_ok=True)
        path.add_guest(0)
        self.server(getattr(path, "server_ns", self.lab.host_ns), IPERF_PORT)
        res = {}
        for key, streams, reverse in (("g2h_1", 1, False), ("h2g_1", 1, True),
                                      ("g2h_4", 4, False), ("h2g_4", 4, True)):
            data = os.path.join(out, f"{name}-{key}.data")
            perf = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", "2000",
                                     "--call-graph", self.args.call_graph, "-o", data,
                                     "-p", str(path.nat_pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            c0 = cpu_seconds(path.nat_pid)
            bps = self.iperf(path, path.guests[0], IPERF_PORT, streams, reverse)
            cpu = cpu_seconds(path.nat_pid) - c0
            perf.send_signal(2)
            perf.wait(timeout=60)
            report = subprocess.run(["perf", "report", "-i", data, "--no-children",
                                     "--sort", "dso,symbol", "--stdio", "-g", "none",
                                     "--percent-limit", "0.5"],
                                    capture_output=True, text=True).stdout
            with open(os.path.join(out, f"{name}-{key}.txt"), "w") as f:
                f.write(f"{name} {key}: {bps / GBIT if bps else 0:.2f} Gbit/s under perf, "
                        f"NAT process {cpu / self.args.seconds * 100:.0f}% of a core\n\n")
                f.write(report)
            res[key] = {"gbit": bps / GBIT if bps else None,
                        "nat_cpu_pct": cpu / self.args.seconds * 100}
            self.log(f"  {key}: {json.dumps(res[key])} -> {data}")
        return res

    def measure_all(self, results, name, path):
        if self.args.profile:
            results["paths"][name] = {"mtu": path.mtu, "profile": self.profile(name, path)}
            return
        results["paths"][name] = self.measure_path(path)
        self.log("  " + json.dumps({k: v for k, v in results["paths"][name].items()
                                    if k != "samples"}))
        if name == "vmnetd-65520" and not self.args.no_scale:
            results["scale"] = self.scale(path, [1, 2, 4, 8])
        if name in ("vmnetd-65520", "slirp4netns-65520",
                    "vmnetd-netns-65520") and not self.args.no_scale:
            results["storm"][name] = self.storm(path)
            self.log("  storm: " + json.dumps(results["storm"][name]))

    def run(self):
        results = {"paths": {}, "scale": {}, "storm": {}, "runs": self.args.runs,
                   "seconds": self.args.seconds, "date": time.strftime("%Y-%m-%d %H:%M")}
        paths = [
            ("qemu-user", QemuUser, 1500),
            ("vmnetd-1500", Vmnetd, 1500),
            ("vmnetd-65520", Vmnetd, 65520),
            # Each vmnetd-netns right after the slirp4netns it is compared with.
            ("slirp4netns-1500", Slirp4netns, 1500),
            ("vmnetd-netns-1500", VmnetdNetns, 1500),
            ("slirp4netns-65520", Slirp4netns, 65520),
            ("vmnetd-netns-65520", VmnetdNetns, 65520),
            ("veth-65520", Veth, 65520),
        ]
        only = None
        if self.args.only:
            only = [o for o in self.args.only.split(",") if o != "netns"]
            if "netns" in self.args.only.split(","):
                only += ["slirp4netns-*", "vmnetd-netns-*"]
        paths = [p for p in paths
                 if only is None or any(fnmatch.fnmatchcase(p[0], o) for o in only)]
        if self.args.paired:
            for mtu in (1500, 65520):
                pair = [p for p in paths if p[0] in (f"slirp4netns-{mtu}",
                                                     f"vmnetd-netns-{mtu}")]
                if len(pair) == 2:
                    paths = [p for p in paths if p not in pair]
                    self.run_paired(results, pair)
        for name, cls, mtu in paths:
            with Lab("bench") as lab:
                self.lab, self.servers = lab, {}
                lab.outside()
                self.log(f"== {name}")
                path = cls(lab, name, mtu)
                try:
                    self.measure_all(results, name, path)
                except Exception as e:      # one broken path must not lose the others
                    self.log(f"  {name} failed: {e}")
                    results["paths"].setdefault(name, {})["error"] = str(e)
        return results

    def run_paired(self, results, pair):
        names = [p[0] for p in pair]
        with Lab("bench") as lab:
            self.lab, self.servers = lab, {}
            lab.outside()
            self.log("== " + " + ".join(names) + ", taking turns")
            try:
                paths = [cls(lab, name, mtu) for name, cls, mtu in pair]
                for name, res in zip(names, self.measure_paired(paths)):
                    results["paths"][name] = res
                    self.log(f"  {name}: " + json.dumps(
                        {k: v for k, v in res.items() if k != "samples"}))
                for name, path in zip(names, paths):
                    if name.endswith("-65520") and not self.args.no_scale:
                        results["storm"][name] = self.storm(path)
                        self.log("  storm: " + json.dumps(results["storm"][name]))
            except Exception as e:
                self.log(f"  {names} failed: {e}")
                for name in names:
                    results["paths"].setdefault(name, {})["error"] = str(e)


def fmt(v, base=None, digits=2):
    if v is None:
        return "-"
    s = f"{v:.{digits}f}"
    if base:
        s += f" ({v / base:.1f}x)"
    return s


def table(results):
    paths = results["paths"]
    base = paths.get("qemu-user", {})
    cols = [("g2h_1", "g->h 1"), ("g2h_4", "g->h 4"), ("h2g_1", "h->g 1"), ("h2g_4", "h->g 4"),
            ("udp64_kpps", "UDP64 kpps"), ("rr_median_us", "RR us"), ("cpu_s_per_gb", "CPU s/GB")]
    lines = [f"vmnetd benchmark, {results['date']}: median of {results['runs']} runs of "
             f"{results['seconds']} s; TCP in Gbit/s; (Nx) = ratio to qemu-user in this run",
             "",
             "| path | " + " | ".join(c[1] for c in cols) + " |",
             "|---" * (len(cols) + 1) + "|"]
    for name, r in paths.items():
        cells = []
        for key, _ in cols:
            digits = 0 if key == "udp64_kpps" else (0 if key == "rr_median_us" else 2)
            cells.append(fmt(r.get(key), base.get(key) if name != "qemu-user" else None, digits))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if results["scale"]:
        lines += ["", "vmnetd-65520, N VMs at once (iperf3 guest->host each):", "",
                  "| VMs | aggregate Gbit/s | per VM | slowest/fastest |", "|---|---|---|---|"]
        for n, s in results["scale"].items():
            lines.append(f"| {n} | {s['aggregate']:.2f} | "
                         + " ".join(f"{r:.2f}" for r in s["per_vm"])
                         + f" | {s['min_over_max']:.2f} |")
    if results["storm"]:
        lines += ["", "1,000 concurrent TCP connections through NAT:", "",
                  "| path | result | NAT process CPU s | peak RSS MiB |", "|---|---|---|---|"]
        for name, s in results["storm"].items():
            lines.append(f"| {name} | {s['result']} | {s['cpu_s']:.2f} | "
                         f"{s['peak_rss_kib'] / 1024:.1f} |")
    lines += netns_table(results)
    return "\n".join(lines) + "\n"


NETNS_ROWS = [  # key, label, target: "tput" (>= 1.3x), "cpu" (< 1.0x) or None
    ("g2h_1", "TCP g->h 1 stream, Gbit/s", "tput"),
    ("g2h_4", "TCP g->h 4 streams, Gbit/s", "tput"),
    ("h2g_1", "TCP h->g 1 stream, Gbit/s", "tput"),
    ("h2g_4", "TCP h->g 4 streams, Gbit/s", "tput"),
    ("cpu_s_per_gb", "NAT CPU s/GB, all TCP tests", "cpu"),
    ("cpu_g2h_1", "NAT CPU s/GB, g->h 1", "cpu"),
    ("cpu_g2h_4", "NAT CPU s/GB, g->h 4", "cpu"),
    ("cpu_h2g_1", "NAT CPU s/GB, h->g 1", "cpu"),
    ("cpu_h2g_4", "NAT CPU s/GB, h->g 4", "cpu"),
    ("udp64_kpps", "UDP 64 B, kpps", None),
    ("rr_median_us", "TCP RR median, us", None),
    ("nat_cores_g2h_1", "NAT process, cores busy, g->h 1", None),
    ("nat_cores_g2h_4", "NAT process, cores busy, g->h 4", None),
    ("nat_cores_h2g_1", "NAT process, cores busy, h->g 1", None),
    ("nat_cores_h2g_4", "NAT process, cores busy, h->g 4", None),
    ("machine_busy_g2h_1", "machine busy (share of all cores), g->h 1", None),
    ("machine_busy_g2h_4", "machine busy (share of all cores), g->h 4", None),
    ("machine_busy_h2g_1", "machine busy (share of all cores), h->g 1", None),
    ("machine_busy_h2g_4", "machine busy (share of all cores), h->g 4", None),
] + [(f"guest_{d}_frames_per_mb_{k}", f"guest TAP {d} frames per MB, {k}", None)
     for k in ("g2h_1", "g2h_4", "h2g_1", "h2g_4") for d in ("tx", "rx")]


def netns_table(results):
    """vmnetd-netns against slirp4netns at the same MTU, in this run."""
    paths = results["paths"]
    lines = []
    for mtu in (1500, 65520):
        a, b = paths.get(f"slirp4netns-{mtu}"), paths.get(f"vmnetd-netns-{mtu}")
        if not a or not b or "error" in a or "error" in b:
            continue
        lines += ["", f"vmnetd-netns-{mtu} / slirp4netns-{mtu} (target: throughput >= 1.3x, "
                  "CPU per GB < 1.0x):", "",
                  "| measure | slirp4netns | vmnetd-netns | ratio | target |",
                  "|---|---|---|---|---|"]
        for key, label, target in NETNS_ROWS:
            x, y = a.get(key), b.get(key)
            digits = 0 if key in ("udp64_kpps", "rr_median_us") else 2
            ratio = y / x if x and y is not None else None
            verdict = ""
            if ratio is not None and target == "tput":
                verdict = "met" if ratio >= 1.3 else "missed"
            elif ratio is not None and target == "cpu":
                verdict = "met" if ratio < 1.0 else "missed"
            lines.append(f"| {label} | {fmt(x, digits=digits)} | {fmt(y, digits=digits)} | "
                         f"{fmt(ratio)}x | {verdict} |" if ratio is not None else
                         f"| {label} | {fmt(x, digits=digits)} | {fmt(y, digits=digits)} | - | |")
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--rr-count", type=int, default=3000)
    ap.add_argument("--connections", type=int, default=1000)
    ap.add_argument("--only", help="comma-separated path names or patterns (slirp4netns-*); "
                    "netns: the slirp4netns and vmnetd-netns paths")
    ap.add_argument("--paired", action="store_true",
                    help="slirp4netns-MTU and vmnetd-netns-MTU in one lab, taking turns run "
                    "by run, so that other load on the machine falls on both alike")
    ap.add_argument("--netns-via", choices=["dropin", "native"], default="dropin",
                    help="how vmnetd-netns starts vmnetd: the slirp4netns drop-in with "
                    "slirp4netns's arguments (default), or vmnetd's own --netns options")
    ap.add_argument("--no-scale", action="store_true", help="skip the N-VM and 1,000-connection runs")
    ap.add_argument("--vmnetd-via", choices=["unix", "tcp"], default="unix",
                    help="the socket between QEMU and vmnetd (default unix)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--profile", metavar="DIR",
                    help="instead of measuring: perf record the NAT process of each path "
                    "during one run of each TCP test, into DIR")
    ap.add_argument("--call-graph", default="dwarf,16384",
                    help="perf record --call-graph for --profile (default dwarf,16384)")
    args = ap.parse_args()
    Vmnetd.via = args.vmnetd_via
    VmnetdNetns.via = args.netns_via
    require("qemu-system-x86_64", "iperf3", "slirp4netns", "busybox", "dnsmasq")
    results = Bench(args).run()
    if args.profile:
        print(json.dumps(results["paths"], indent=1))
        return
    os.makedirs(args.out, exist_ok=True)
    text = table(results)
    with open(os.path.join(args.out, "latest.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "latest.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(text)


if __name__ == "__main__":
    main()
