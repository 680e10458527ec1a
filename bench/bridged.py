#!/usr/bin/env python3
"""bridged.py - vmnetd's bridged mode against QEMU's own -netdev tap on the same bridge, in one run.

The LAN: namespace "lan" holds a Linux bridge br0 (MTU 1500, --mtu to
change); namespace "lanhost" hangs on it by a veth as 192.0.2.1, with
dnsmasq (the LAN's DHCP), an iperf3 server and a TCP echo service. Two VMs,
the same stand-ins bench.py uses (harness.Guest: QEMU -M none, a hub and a
TAP in the guest's namespace, no rate limit), each leasing from dnsmasq:

  vmnetd    the VM's QEMU joins vmnetd through -netdev stream (a unix socket,
            as bench.py; --vmnetd-via tcp for TCP), and vmnetd
            --network lan,mode=bridged,bridge=br0 puts its TAP on br0
  qemu-tap  the VM's QEMU hub has a -netdev tap of its own, a TAP on br0
            (what QEMU's bridge helper sets up)

Both run the same load against the LAN host, taking turns run by run (A B,
B A, ...) so that other load on the machine falls on both alike: iperf3 TCP
VM->LAN host and LAN host->VM with 1 and 4 streams, and TCP request/response
latency (benchutil.py rr). Medians of --runs runs; the ratios are
vmnetd/qemu-tap (target: throughput >= 0.8x). CPU per GB counts the
processes that move the VM's frames, as bench.py counts the NAT process:
vmnetd and its VM's QEMU on one side, the VM's QEMU on the other (each
process's kernel time included: TAP and bridge work done in its context).

--profile DIR: perf record -g of those processes during one run of each TCP
test, instead of measuring; the flat top of each profile in DIR/*.txt.

Same network rule as the tests: only namespaces made here, documentation
addresses. Needs root. Results: --out (bench/results/bridged.{txt,json}).
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
from harness import (Guest, Lab, PYTHON, VMNETD, cpu_seconds, require,  # noqa: E402
                     wait_until)

BENCHUTIL = os.path.join(HERE, "benchutil.py")
GBIT = 1e9
BRIDGE = "br0"
LAN = "192.0.2"
SERVER = f"{LAN}.1"
IPERF_PORT = 5201
ECHO_PORT = 7001
TESTS = [("g2h_1", 1, False), ("g2h_4", 4, False), ("h2g_1", 1, True), ("h2g_4", 4, True)]
LABELS = {"g2h_1": "TCP VM->LAN 1 stream", "g2h_4": "TCP VM->LAN 4 streams",
          "h2g_1": "TCP LAN->VM 1 stream", "h2g_4": "TCP LAN->VM 4 streams"}
TARGET = 0.8


def machine_busy():
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v) - v[3] - v[4], sum(v)


class TapGuest(Guest):
    """The same stand-in VM, but its hub's other netdev is QEMU's own
    -netdev tap: a TAP made in the LAN namespace (where QEMU runs) and put
    on the bridge, as QEMU's bridge helper would; the guest's TAP is moved
    into the guest's namespace as harness.Guest does over TCP."""

    def __init__(self, lab, name, mac, lan_ns, mtu):
        self.lan_ns, self.mtu = lan_ns, mtu
        super().__init__(lab, name, "qemu-tap", mac, rate=None)

    def start_qemu(self):
        lab = self.lab
        up, tp = f"q{self.name}{lab.tag}"[:15], f"t{self.name}{lab.tag}"[:15]
        self.qemu = lab.spawn(self.lan_ns, [
            "qemu-system-x86_64", "-M", "none", "-nodefaults", "-display", "none",
            "-monitor", "none", "-serial", "none",
            "-netdev", f"tap,id=up,ifname={up},script=no,downscript=no",
            "-netdev", f"tap,id=tp,ifname={tp},script=no,downscript=no",
            "-netdev", "hubport,id=h0,hubid=0,netdev=up",
            "-netdev", "hubport,id=h1,hubid=0,netdev=tp"], name=f"qemu-{self.name}")
        wait_until(lambda: all(lab.run(self.lan_ns, "ip", "link", "show", t, check=False)
                               .returncode == 0 for t in (up, tp)), 20, f"{self.name}'s TAPs")
        lab.run(self.lan_ns, "ip", "link", "set", up, "mtu", str(self.mtu), "master", BRIDGE,
                "up")
        lab.run(self.lan_ns, "ip", "link", "set", tp, "netns", self.ns)
        lab.run(self.ns, "ip", "link", "set", tp, "name", "vmt0")
        lab.run(self.ns, "ip", "link", "set", "vmt0", "address", self.mac)
        lab.run(self.ns, "ip", "link", "set", "vmt0", "up")


class Bench:
    def __init__(self, args):
        self.args = args

    def log(self, msg):
        print(msg, file=sys.stderr, flush=True)

    def setup(self, lab):
        a = self.args
        lan, lanhost = lab.netns("lan"), lab.netns("lanhost")
        lab.run(lan, "ip", "link", "add", BRIDGE, "type", "bridge")
        lab.run(lan, "ip", "link", "set", BRIDGE, "mtu", str(a.mtu), "up")
        lab.run(lan, "ip", "link", "add", "lhp", "mtu", str(a.mtu), "type", "veth", "peer",
                "name", "lh0", "netns", lanhost)
        lab.run(lan, "ip", "link", "set", "lhp", "master", BRIDGE, "up")
        lab.run(lanhost, "ip", "link", "set", "lh0", "mtu", str(a.mtu), "up")
        lab.run(lanhost, "ip", "addr", "add", f"{SERVER}/24", "dev", "lh0")
        # Deep TCP send buffers where QEMU meets vmnetd over TCP (see harness.Guest).
        lab.run(lan, "sh", "-c", "echo 4194304 4194304 4194304 > /proc/sys/net/ipv4/tcp_wmem")
        lab.spawn(lanhost, [
            "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
            "--conf-file=/dev/null", "--port=0", "--bind-interfaces", "--interface=lh0",
            "--log-facility=-", "--pid-file=", "--user=root", "--dhcp-authoritative",
            f"--dhcp-leasefile={os.path.join(lab.dir, 'leases')}",
            f"--dhcp-range={LAN}.100,{LAN}.150,255.255.255.0,1h",
            f"--dhcp-option-force=26,{a.mtu}"], name="dnsmasq")
        wait_until(lambda: ":67 " in lab.run(lanhost, "ss", "-lunH").stdout, 10, "dnsmasq")
        lab.spawn(lanhost, ["iperf3", "-s", "-B", SERVER, "-p", str(IPERF_PORT)], name="iperf3")
        wait_until(lambda: f":{IPERF_PORT} " in lab.run(lanhost, "ss", "-ltnH").stdout, 10,
                   "iperf3 server")
        lab.serve(lanhost, "serve-echo", "tcp", SERVER, str(ECHO_PORT), name="echo")

        acl = os.path.join(lab.dir, "bridge.conf")
        with open(acl, "w") as f:
            f.write(f"allow {BRIDGE}\n")
        lab.host_ns = lan           # a Guest over TCP runs its QEMU beside vmnetd
        d = lab.daemon("--network", f"lan,mode=bridged,bridge={BRIDGE},bridge-acl={acl}",
                       "--api-socket", "none", name="vmnetd")
        d.wait_for(rf"bridged through vmnet\d+ on {BRIDGE} \(MTU {a.mtu}\)")
        g = lab.guest("bv", d.tcp if a.vmnetd_via == "tcp" else d.sock, "52:54:00:b1:00:01",
                      rate=None)
        t = TapGuest(lab, "bq", "52:54:00:b1:00:02", lan, a.mtu)
        paths = []
        for name, guest, pids in (("vmnetd", g, {"vmnetd": d.p.pid, "qemu": g.qemu.p.pid}),
                                  ("qemu-tap", t, {"qemu": t.qemu.p.pid})):
            lease = guest.dhcp()
            if not lease.get("ip", "").startswith(f"{LAN}.") or \
                    lease.get("mtu", str(a.mtu)) != str(a.mtu):
                raise RuntimeError(f"{name}: lease {lease}")
            paths.append({"name": name, "ns": guest.ns, "pids": pids, "samples": {}})
            self.log(f"  {name}: {lease['ip']}, MTU {a.mtu}, processes {pids}")
        return paths

    def iperf(self, lab, ns, streams, reverse):
        secs = self.args.seconds
        argv = ["iperf3", "-c", SERVER, "-p", str(IPERF_PORT), "-t", str(secs), "-J",
                "-P", str(streams)] + (["-R"] if reverse else [])
        r = lab.run(ns, *argv, check=False, timeout=secs + 60)
        try:
            res = json.loads(r.stdout)
        except json.JSONDecodeError:
            self.log(f"  iperf3: {r.stdout[-300:]}{r.stderr[-300:]}")
            return None
        if "error" in res:
            self.log(f"  iperf3: {res['error']}")
            return None
        return res["end"]["sum_received"]["bits_per_second"]

    def sample(self, lab, path, key, streams, reverse):
        add = lambda k, v: path["samples"].setdefault(k, []).append(v)     # noqa: E731
        c0 = {n: cpu_seconds(p) for n, p in path["pids"].items()}
        b0, t0 = machine_busy()
        bps = self.iperf(lab, path["ns"], streams, reverse)
        b1, t1 = machine_busy()
        if not bps:
            add(f"failed_{key}", 1)
            return
        gb = bps * self.args.seconds / 8 / 1e9
        cpu = {n: cpu_seconds(p) - c0[n] for n, p in path["pids"].items()}
        add(key, bps / GBIT)
        add(f"cpu_{key}", sum(cpu.values()) / gb)
        for n, c in cpu.items():
            add(f"cpu_{n}_{key}", c / gb)
            add(f"cores_{n}_{key}", c / self.args.seconds)
        add(f"machine_busy_{key}", (b1 - b0) / (t1 - t0) if t1 > t0 else 0)

    def rr(self, lab, path):
        r = lab.run(path["ns"], PYTHON, BENCHUTIL, "rr", SERVER, str(ECHO_PORT),
                    str(self.args.rr_count), check=False, timeout=120)
        if r.returncode == 0:
            med, p99 = (float(x) for x in r.stdout.split())
            path["samples"].setdefault("rr_median_us", []).append(med)
            path["samples"].setdefault("rr_p99_us", []).append(p99)

    def measure(self, lab, paths):
        for key, streams, reverse in TESTS:
            for r in range(self.args.runs):
                for path in (paths if r % 2 == 0 else paths[::-1]):
                    self.sample(lab, path, key, streams, reverse)
            self.log(f"  {key}: " + ", ".join(
                f"{p['name']} " + " ".join(f"{x:.2f}" for x in p["samples"].get(key, []))
                for p in paths))
        for r in range(self.args.runs):
            for path in (paths if r % 2 == 0 else paths[::-1]):
                self.rr(lab, path)
        out = {}
        for p in paths:
            res = {k: statistics.median(v) for k, v in p["samples"].items()}
            cpu = [x for k, v in p["samples"].items()
                   if k.startswith("cpu_") and k.count("_") == 2 for x in v]
            res["cpu_s_per_gb"] = statistics.median(cpu) if cpu else None
            res["samples"] = p["samples"]
            out[p["name"]] = res
        return out

    def profile(self, lab, paths):
        """perf record -g of each path's processes during one run of each
        TCP test; the flat top of each profile, by process and symbol."""
        outdir = self.args.profile
        os.makedirs(outdir, exist_ok=True)
        res = {}
        for p in paths:
            for key, streams, reverse in TESTS:
                data = os.path.join(outdir, f"{p['name']}-{key}.data")
                perf = subprocess.Popen(
                    ["perf", "record", "-q", "-e", "cpu-clock", "-F", "2000", "--call-graph",
                     self.args.call_graph, "-o", data, "-p",
                     ",".join(str(x) for x in p["pids"].values())],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(0.5)
                c0 = {n: cpu_seconds(x) for n, x in p["pids"].items()}
                bps = self.iperf(lab, p["ns"], streams, reverse)
                cpu = {n: (cpu_seconds(x) - c0[n]) / self.args.seconds * 100
                       for n, x in p["pids"].items()}
                perf.send_signal(2)
                perf.wait(timeout=60)
                report = subprocess.run(
                    ["perf", "report", "-i", data, "--no-children", "--sort",
                     "comm,dso,symbol", "--stdio", "-g", "none", "--percent-limit", "0.7"],
                    capture_output=True, text=True).stdout
                gbit = bps / GBIT if bps else 0
                with open(os.path.join(outdir, f"{p['name']}-{key}.txt"), "w") as f:
                    f.write(f"{p['name']} {key}: {gbit:.2f} Gbit/s under perf; "
                            + ", ".join(f"{n} {c:.0f}% of a core" for n, c in cpu.items())
                            + "\n\n" + report)
                label = f"{p['name']} {key}"
                res[label] = {"gbit": gbit, "cpu_pct": cpu}
                self.log(f"  {label}: {json.dumps(res[label])}")
        return res

    def run(self):
        with Lab("brbench") as lab:
            self.log("== LAN, vmnetd bridged and QEMU -netdev tap on one bridge")
            paths = self.setup(lab)
            if self.args.profile:
                return {"profile": self.profile(lab, paths)}
            return {"paths": self.measure(lab, paths), "runs": self.args.runs,
                    "seconds": self.args.seconds, "mtu": self.args.mtu,
                    "vmnetd_via": self.args.vmnetd_via,
                    "loadavg_at_start": self.loadavg, "date": time.strftime("%Y-%m-%d %H:%M")}


def fmt(v, digits=2):
    return "-" if v is None else f"{v:.{digits}f}"


def table(results):
    q, v = results["paths"]["qemu-tap"], results["paths"]["vmnetd"]
    lines = [f"vmnetd bridged vs QEMU -netdev tap on one bridge, {results['date']}: median of "
             f"{results['runs']} runs of {results['seconds']} s, MTU {results['mtu']}, QEMU to "
             f"vmnetd over {results['vmnetd_via']}; load average at start "
             f"{results['loadavg_at_start']}",
             "", "| measure | qemu-tap | vmnetd | vmnetd/qemu-tap | target |",
             "|---|---|---|---|---|"]

    def row(label, key, digits=2, target=None):
        x, y = q.get(key), v.get(key)
        ratio = y / x if x and y is not None else None
        verdict = ""
        if ratio is not None and target == "tput":
            verdict = f"met (>= {TARGET})" if ratio >= TARGET else f"missed (< {TARGET})"
        lines.append(f"| {label} | {fmt(x, digits)} | {fmt(y, digits)} | "
                     f"{fmt(ratio)}{'x' if ratio is not None else ''} | {verdict} |")

    for key, _, _ in TESTS:
        row(f"{LABELS[key]}, Gbit/s", key, target="tput")
    row("CPU s/GB, all TCP tests (vmnetd: vmnetd + its QEMU)", "cpu_s_per_gb", 3)
    for key, _, _ in TESTS:
        row(f"CPU s/GB, {LABELS[key]}", f"cpu_{key}", 3)
    for key, _, _ in TESTS:
        row(f"  of which QEMU, {LABELS[key]}", f"cpu_qemu_{key}", 3)
    for key, _, _ in TESTS:
        row(f"cores busy: vmnetd, {LABELS[key]}", f"cores_vmnetd_{key}", 2)
        row(f"cores busy: QEMU, {LABELS[key]}", f"cores_qemu_{key}", 2)
    row("TCP RR median, us (lower is better)", "rr_median_us", 0)
    row("TCP RR p99, us", "rr_p99_us", 0)
    for key, _, _ in TESTS:
        row(f"machine busy (share of all cores), {LABELS[key]}", f"machine_busy_{key}", 2)
    failed = {n: {k: len(s) for k, s in r["samples"].items() if k.startswith("failed_")}
              for n, r in results["paths"].items()}
    if any(failed.values()):
        lines += ["", f"failed runs: {failed}"]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--rr-count", type=int, default=3000)
    ap.add_argument("--mtu", type=int, default=1500, help="the bridge's MTU (default 1500)")
    ap.add_argument("--vmnetd-via", choices=["unix", "tcp"], default="unix",
                    help="the socket between QEMU and vmnetd (default unix, as bench.py)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--profile", metavar="DIR",
                    help="instead of measuring: perf record each path's processes during "
                    "one run of each TCP test, into DIR")
    ap.add_argument("--call-graph", default="dwarf,16384",
                    help="perf record --call-graph for --profile (default dwarf,16384)")
    args = ap.parse_args()
    require("qemu-system-x86_64", "iperf3", "busybox", "dnsmasq", "ip", "ss")
    bench = Bench(args)
    bench.loadavg = " ".join(open("/proc/loadavg").read().split()[:3])
    results = bench.run()
    if args.profile:
        print(json.dumps(results["profile"], indent=1))
        return
    os.makedirs(args.out, exist_ok=True)
    text = table(results)
    with open(os.path.join(args.out, "bridged.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "bridged.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(text)


if __name__ == "__main__":
    main()
