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
  veth           a veth pair between two namespaces, no NAT (context only)

Same network rule as the tests: only loopback and namespaces made here.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "integration"))
from harness import (Lab, PYTHON, cpu_seconds, proc_status_kib, require,  # noqa: E402
                     wait_until)

BENCHUTIL = os.path.join(HERE, "benchutil.py")
GBIT = 1e9
IPERF_PORT = 5201


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
    def add_guest(self, i):
        lab = self.lab
        ns = lab.netns(f"s{self.mtu % 10000}{i}")
        holder = lab.spawn(ns, ["sleep", "infinity"], name=f"holder-{ns}")
        s4 = lab.spawn(lab.host_ns, ["slirp4netns", "--configure", f"--mtu={self.mtu}",
                                     str(holder.p.pid), "tap0"], name=f"slirp4netns-{ns}")
        wait_until(lambda: "10.0.2.100" in lab.run(ns, "ip", "addr", "show", "tap0",
                                                   check=False).stdout, 20, "slirp4netns")
        self.nat_pid = s4.p.pid
        self.guests.append(ns)


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

    def median_of(self, fn):
        vals = [v for v in (fn() for _ in range(self.args.runs)) if v is not None]
        return statistics.median(vals) if vals else None

    def measure_path(self, path):
        lab = self.lab
        path.add_guest(0)
        g = path.guests[0]
        server_ns = getattr(path, "server_ns", lab.host_ns)
        self.server(server_ns, IPERF_PORT)
        res = {"mtu": path.mtu}
        cpu = []

        def tcp(streams, reverse):
            def one():
                c0 = cpu_seconds(path.nat_pid) if path.nat_pid else None
                bps = self.iperf(path, g, IPERF_PORT, streams, reverse)
                if bps and c0 is not None:
                    gb = bps * self.args.seconds / 8 / 1e9
                    cpu.append((cpu_seconds(path.nat_pid) - c0) / gb)
                return bps
            v = self.median_of(one)
            return v / GBIT if v else None

        res["g2h_1"] = tcp(1, False)
        res["g2h_4"] = tcp(4, False)
        res["h2g_1"] = tcp(1, True)
        res["h2g_4"] = tcp(4, True)
        pps = self.median_of(lambda: self.iperf(path, g, IPERF_PORT, udp=True))
        res["udp64_kpps"] = pps / 1000 if pps else None
        res["cpu_s_per_gb"] = statistics.median(cpu) if cpu else None
        if path.server_addr == "10.0.2.2":
            echo = lab.serve(lab.host_ns, "serve-echo", "tcp", "127.0.0.1", "7001",
                             name=f"echo-{path.name}") if "echo" not in self.servers else None
            if echo:
                self.servers["echo"] = echo
            rr = []
            for _ in range(self.args.runs):
                r = lab.run(g, PYTHON, BENCHUTIL, "rr", "10.0.2.2", "7001",
                            str(self.args.rr_count), check=False, timeout=120)
                if r.returncode == 0:
                    rr.append([float(x) for x in r.stdout.split()])
            res["rr_median_us"] = statistics.median(x[0] for x in rr) if rr else None
            res["rr_p99_us"] = statistics.median(x[1] for x in rr) if rr else None
        return res

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

    def measure_all(self, results, name, path):
        results["paths"][name] = self.measure_path(path)
        self.log("  " + json.dumps(results["paths"][name]))
        if name == "vmnetd-65520" and not self.args.no_scale:
            results["scale"] = self.scale(path, [1, 2, 4, 8])
        if name in ("vmnetd-65520", "slirp4netns-65520") and not self.args.no_scale:
            results["storm"][name] = self.storm(path)
            self.log("  storm: " + json.dumps(results["storm"][name]))

    def run(self):
        results = {"paths": {}, "scale": {}, "storm": {}, "runs": self.args.runs,
                   "seconds": self.args.seconds, "date": time.strftime("%Y-%m-%d %H:%M")}
        paths = [
            ("qemu-user", QemuUser, 1500),
            ("vmnetd-1500", Vmnetd, 1500),
            ("vmnetd-65520", Vmnetd, 65520),
            ("slirp4netns-1500", Slirp4netns, 1500),
            ("slirp4netns-65520", Slirp4netns, 65520),
            ("veth-65520", Veth, 65520),
        ]
        only = set(self.args.only.split(",")) if self.args.only else None
        for name, cls, mtu in paths:
            if only and name not in only:
                continue
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
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--rr-count", type=int, default=3000)
    ap.add_argument("--connections", type=int, default=1000)
    ap.add_argument("--only", help="comma-separated path names")
    ap.add_argument("--no-scale", action="store_true", help="skip the N-VM and 1,000-connection runs")
    ap.add_argument("--vmnetd-via", choices=["unix", "tcp"], default="unix",
                    help="the socket between QEMU and vmnetd (default unix)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    Vmnetd.via = args.vmnetd_via
    require("qemu-system-x86_64", "iperf3", "slirp4netns", "busybox", "dnsmasq")
    results = Bench(args).run()
    os.makedirs(args.out, exist_ok=True)
    text = table(results)
    with open(os.path.join(args.out, "latest.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "latest.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(text)


if __name__ == "__main__":
    main()
