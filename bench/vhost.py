#!/usr/bin/env python3
"""vhost.py - one Linux guest under QEMU (TCG) through vmnetd's vhost-user port
and through its stream socket, in the same run (issue 12's benchmark).

The guest is a real kernel with a busybox initramfs (test/integration/guest.py)
and a virtio-net NIC; only the netdev behind the NIC differs:

  stream  -netdev stream to `vmnetd --listen unix:`: every frame crosses QEMU
          (guest ring -> QEMU -> socket -> vmnetd, and back)
  vhost   -netdev vhost-user to `vmnetd --listen vhost-user:`: vmnetd reads and
          writes the guest's rings in shared memory itself; QEMU is out of the
          data path

Both get the same machine: the same kernel, -m, memfd-backed shared RAM, one
vCPU (--smp), virtio-net with host_mtu=65520 and, under TCG, vectors=0 (INTx:
QEMU 7.2 crashes starting vhost-user on an MSI-X device under TCG), and the
lease's MTU 65520. What differs beside the netdev is what each can offer the
guest: QEMU's stream netdev has no virtio-net header, so the guest gets no
offloads and checksums (and linearizes) every segment itself; vmnetd's
vhost-user port offers checksum offload (CSUM, GUEST_CSUM). The guest's
negotiated feature bits are logged at each boot. The guest runs iperf3 against a server on the loopback of the namespace vmnetd
runs in (10.0.2.2 from the guest): TCP guest->host and host->guest (-R), one
stream and four. Per test it reports Gbit/s; the CPU seconds of vmnetd and of
QEMU (its vCPU thread, and the rest: the main loop that carries the stream
netdev's frames) per GB moved; and the guest's own CPU from its /proc/stat,
because without KVM the emulated CPU may be what bounds both paths. Each run
boots the guest once per path, the paths taking turns (A B, B A, ...), so a
load elsewhere on a shared machine falls on both alike; the tables give
medians. Ratios are vhost / stream measured in the same run, because one
machine's absolute figures (and TCG's speed) mean little. Targets (issue 12):
throughput >= 1.5x both ways, one stream and four, and less CPU per GB for
vmnetd + QEMU together.

The guest is driven over its second serial port (a unix socket here): the
host sends one command a line, the guest answers with marked lines (its
/proc/stat, virtio interrupt and eth0 packet counts before and after, then
iperf3's JSON). --profile DIR, instead of measuring, perf-records vmnetd and
QEMU during one run of each test on each path, and the guest's kernel with
its own perf (copied into the initramfs), since QEMU's translated code has
no symbols. See bench/results-vhost.md.

As root: VMNETD=build-release/vmnetd VMNETCTL=build-release/vmnetctl
bench/vhost.py [--runs 5 --seconds 10] (results in bench/results/vhost.*).

Same network rule as the tests: only loopback and namespaces made here
(harness.Lab).
"""
import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "integration"))
from harness import Lab, VMNETCTL, VMNETD, cpu_seconds, require, wait_until  # noqa: E402
import guest  # noqa: E402

GBIT = 1e9
IPERF_PORT = 5201
MTU = 65520
MAC = "52:54:00:12:34:61"
SERVER = "10.0.2.2"

TESTS = [("g2h_1", 1, False), ("g2h_4", 4, False), ("h2g_1", 1, True), ("h2g_4", 4, True)]
PATHS = ("stream", "vhost")

# The guest's /init. Its console (ttyS0) carries only the kernel's messages;
# ttyS1 (raw, no echo) is the command channel. "snap" prints the counters a
# test is judged by: the cpu line of /proc/stat, the virtio-net interrupts
# (MSI-X queue vectors or the INTx line, config changes left out) and eth0's
# packet and drop counts.
INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
echo 1 > /proc/sys/kernel/printk
echo 0 > /proc/sys/kernel/kptr_restrict
echo -1 > /proc/sys/kernel/perf_event_paranoid
export HOME=/tmp PATH=/bin:/usr/bin
for m in /lib/modules/*.ko; do insmod "$m" 2>/dev/null; done     # guest.py's, in order
ip link set lo up
ip link set eth0 up
MTU0=$(cat /sys/class/net/eth0/mtu)
udhcpc -i eth0 -s /vb-udhcpc.sh -q -n -t 20 -T 1 >/dev/null 2>&1
stty -F /dev/ttyS1 raw -echo
exec 3<>/dev/ttyS1
irqs() {
    awk '/virtio[0-9]/ && !/-config/ { for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i }
         END { print s + 0 }' /proc/interrupts
}
snap() {
    st=/sys/class/net/eth0/statistics
    echo "VB-SNAP $1 $2 $(head -n1 /proc/stat | cut -c4-) $(irqs) $(cat $st/rx_packets $st/tx_packets $st/rx_dropped $st/tx_dropped | tr '\n' ' ')" >&3
}
. /tmp/lease 2>/dev/null
echo "VB-READY ip=${ip:-none} mtu_virtio=$MTU0 mtu=$(cat /sys/class/net/eth0/mtu) cpus=$(grep -c ^processor /proc/cpuinfo) features=$(cat /sys/bus/virtio/devices/*/features 2>/dev/null | tr '\n' ,)" >&3
while read -r cmd id a b c; do
    case "$cmd" in
    iperf|perf)  # id streams R|- seconds; perf: under the guest's own perf record
        rev=; [ "$b" = R ] && rev=-R
        wrap=; [ "$cmd" = perf ] && wrap="perf record -q -N -a -e cpu-clock -F 250 -o /tmp/p.data --"
        snap 0 "$id"
        echo "VB-GO $id" >&3
        $wrap iperf3 -c {server} -p {port} -t "$c" -P "$a" $rev -J >/tmp/r.json 2>/tmp/r.err
        echo "VB-DONE $id" >&3
        snap 1 "$id"
        echo "VB-JSON $id" >&3
        cat /tmp/r.json /tmp/r.err >&3
        if [ "$cmd" = perf ]; then
            echo "VB-PERF $id" >&3
            perf report -i /tmp/p.data --no-children --stdio -g none --sort dso,sym \
                --percent-limit 0.7 2>/dev/null | grep -v '^#' | grep . >&3
        fi
        echo "VB-END $id" >&3
        ;;
    warm)
        iperf3 -c {server} -p {port} -t 1 >/dev/null 2>&1
        echo "VB-END $id" >&3
        ;;
    sh)     # for a person debugging this script
        eval "$a $b $c" >&3 2>&1
        echo "VB-END $id" >&3
        ;;
    off)
        poweroff -f
        ;;
    esac
done <&3
"""

def log(msg):
    print(msg, file=sys.stderr, flush=True)


def qemu_threads(pid):
    """CPU seconds of QEMU's vCPU threads and of all its other threads."""
    tck = os.sysconf("SC_CLK_TCK")
    vcpu = other = 0.0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                s = f.read()
        except FileNotFoundError:       # a worker thread that just ended
            continue
        comm = s[s.index("(") + 1:s.rindex(")")]
        fields = s.rsplit(")", 1)[1].split()
        t = (int(fields[11]) + int(fields[12])) / tck
        if comm.startswith("CPU "):     # "CPU 0/TCG" (debug-threads=on)
            vcpu += t
        else:
            other += t
    # Threads that ended took their time with them into the process's
    # total only: count it as "other".
    return vcpu, max(cpu_seconds(pid) - vcpu, other)


def machine_busy():
    """(busy, total) jiffies of all host CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


class Console:
    """The guest's command channel: QEMU's ttyS1 as a unix socket, read by a
    thread. Host CPU is sampled in that thread the moment a VB-GO or VB-DONE
    line arrives, so the window is the guest's iperf3 run and no more."""

    def __init__(self, path, on_marker):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        wait_until(lambda: os.path.exists(path), 20, "QEMU's control socket")
        self.sock.connect(path)
        self.on_marker = on_marker
        self.lines = []
        self.cond = threading.Condition()
        self.closed = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        buf = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buf += chunk
            *done, buf = buf.split(b"\n")
            for raw in done:
                line = raw.decode(errors="replace").rstrip("\r")
                if line.startswith(("VB-GO ", "VB-DONE ")):
                    self.on_marker(line)
                with self.cond:
                    self.lines.append(line)
                    self.cond.notify_all()
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def send(self, line):
        self.sock.sendall(line.encode() + b"\n")

    def until(self, pattern, timeout, since=0):
        """Lines from `since` up to the first matching `pattern` (inclusive)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(since, len(self.lines)):
                    if rx.search(self.lines[i]):
                        return self.lines[since:i + 1], i + 1
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    raise AssertionError(f"guest: no /{pattern}/ within {timeout}s "
                                         f"(closed={self.closed}); last lines: "
                                         f"{self.lines[-5:]}")
                self.cond.wait(min(left, 0.5))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class VM:
    """One boot of the guest on one path."""

    def __init__(self, bench, path):
        self.bench, self.path = bench, path
        lab, args = bench.lab, bench.args
        self.ctl = os.path.join(lab.dir, f"ctl-{path}-{bench.boots}.sock")
        bench.boots += 1
        mem = args.mem
        if path == "stream":
            # The same shared RAM as vhost-user needs, so only the netdev differs.
            net = ["-object", f"memory-backend-memfd,id=mem,size={mem}M,share=on",
                   "-machine", "memory-backend=mem"] + guest.stream_args(bench.sock, MAC, MTU)
        else:
            net = guest.vhost_user_args(bench.vsock, MAC, mem, MTU)
        if args.device:         # extra virtio-net-pci properties, on both paths alike
            net = [a + "," + args.device if a.startswith("virtio-net-pci,") else a for a in net]
        argv = guest.qemu_argv(bench.vmlinuz, bench.initrd, mem_mb=mem,
                               append="console=ttyS0 quiet panic=-1 " + args.append)
        if args.accel != "tcg":
            argv = [args.accel if a == "tcg" and argv[i - 1] in ("-accel", "accel") else a
                    for i, a in enumerate(argv)]
            if args.accel not in argv:
                argv += ["-accel", args.accel]
        argv += ["-name", f"vb-{path},debug-threads=on", "-smp", str(args.smp),
                 "-chardev", f"socket,id=ctl,path={self.ctl},server=on,wait=off",
                 "-serial", "chardev:ctl"] + net
        self.snaps = {}
        self.on_done = None         # called at VB-DONE (profile: stop perf there)
        self.qemu = lab.spawn(lab.host_ns, argv, name=f"qemu-{path}")
        self.pid = self.qemu.p.pid
        try:
            self.con = Console(self.ctl, self.marker)
            lines, self.pos = self.con.until(r"^VB-READY ", args.boot_timeout)
        except AssertionError as e:
            raise AssertionError(f"{e}\nQEMU console:\n{self.qemu.output()[-3000:]}") from None
        self.ready = lines[-1]
        log(f"  {path}: {self.ready}")
        if "ip=10.0.2." not in self.ready:
            raise AssertionError(f"{path}: the guest got no lease: {self.ready}")

    def marker(self, line):
        """Runs in the console's thread: host-side counters at GO and DONE."""
        kind, tid = line.split()[:2]
        self.snaps[(kind, tid)] = {
            "t": time.monotonic(), "vmnetd": cpu_seconds(self.bench.daemon.p.pid),
            "qemu": qemu_threads(self.pid), "machine": machine_busy()}
        if kind == "VB-DONE" and self.on_done:
            self.on_done()

    def command(self, line, end, timeout):
        self.con.send(line)
        lines, self.pos = self.con.until(end, timeout, self.pos)
        return lines

    def iperf(self, tid, streams, reverse, secs, perf=False):
        """One iperf3 client run in the guest: (iperf3's JSON, the guest's
        counters before and after, the guest's perf top list if `perf`)."""
        lines = self.command(f"{'perf' if perf else 'iperf'} {tid} {streams} "
                             f"{'R' if reverse else '-'} {secs}",
                             rf"^VB-END {tid}$", secs + (600 if perf else 120))
        snap, section = {}, {"VB-JSON": [], "VB-PERF": []}
        part = None
        for line in lines:
            f = line.split()
            if line.startswith("VB-SNAP "):
                snap[f[1]] = [int(x) for x in f[3:]]
            elif f and f[0] in section:
                part = section[f[0]]
            elif line.startswith("VB-"):
                part = None
            elif part is not None:
                part.append(line)
        self.guest_perf = section["VB-PERF"]
        text = "\n".join(section["VB-JSON"])
        try:
            res = json.loads(text[:text.rindex("}") + 1])
        except ValueError:
            raise AssertionError(f"iperf3 {tid}: no JSON: {text[-500:]}") from None
        if "error" in res:
            raise AssertionError(f"iperf3 {tid}: {res['error']}")
        return res, snap

    def stop(self):
        try:
            self.con.send("off")
            self.qemu.p.wait(60)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.qemu.stop()
        self.con.close()


def guest_deltas(snap):
    """From the guest's two VB-SNAP lines: vCPU busy share and its parts,
    virtio interrupts, eth0 packets and drops."""
    a, b = snap["0"], snap["1"]
    if len(a) != len(b) or len(a) < 13:
        raise AssertionError(f"guest counters garbled: {snap}")
    d = [y - x for x, y in zip(a, b)]
    cpu = d[:-5]            # user nice system idle iowait irq softirq steal [guest guest_nice]
    irqs, rxp, txp, rxd, txd = d[-5:]
    total = sum(cpu[:8]) or 1
    return {"busy": (total - cpu[3] - cpu[4]) / total, "user": (cpu[0] + cpu[1]) / total,
            "sys": cpu[2] / total, "softirq": (cpu[5] + cpu[6]) / total,
            "irqs": irqs, "rx_packets": rxp, "tx_packets": txp,
            "rx_dropped": rxd, "tx_dropped": txd}


class Bench:
    def __init__(self, args):
        self.args = args
        self.tests = [t for t in TESTS if t[0] in args.tests]
        self.boots = 0
        self.errors = []
        self.samples = {p: {} for p in PATHS}

    def setup(self, lab):
        args = self.args
        self.lab = lab
        lab.outside()
        self.vmlinuz, kver = guest.kernel()
        if not self.vmlinuz:
            raise SystemExit("no kernel in /boot")
        init = (INIT.replace("{server}", SERVER)
                .replace("{port}", str(IPERF_PORT)))
        # perf in the guest only when profiling: its libraries make the
        # initramfs five times larger.
        self.initrd = guest.build_initramfs(
            lab.dir, kver, init, files={"vb-udhcpc.sh": guest.UDHCPC},
            binaries=("/usr/bin/iperf3",) + (("/usr/bin/perf",) if args.profile else ()))
        self.sock = os.path.join(lab.dir, "stream.sock")
        self.vsock = os.path.join(lab.dir, "vhost.sock")
        self.api = os.path.join(lab.dir, "vmnetd.api")
        listen = [f"unix:{self.sock}"]
        if "vhost" in args.paths:
            listen.append(f"vhost-user:{self.vsock}")
        self.daemon = lab.daemon("--nat", f"mtu={MTU},ipv6=off", "--api-socket", self.api,
                                 listen=listen)
        lab.spawn(lab.host_ns, ["iperf3", "-s", "-B", "127.0.0.1", "-p", str(IPERF_PORT)],
                  name="iperf3")
        wait_until(lambda: f":{IPERF_PORT} " in lab.run(lab.host_ns, "ss", "-ltnH").stdout,
                   10, "iperf3 server")

    def port_stats(self):
        """vmnetd's counters: drops of all ports summed, and frames to and
        from the VM (its ports other than the NAT's)."""
        r = subprocess.run([VMNETCTL, "-s", self.api, "-j", "stats"], capture_output=True,
                           text=True, timeout=20)
        try:
            net = json.loads(r.stdout)["networks"][0]
            vm = [p for p in net["ports"] if p["kind"] != "nat"]
            return {"drops": net["totals"]["rx_drops"] + net["totals"]["tx_drops"],
                    "to_vm": sum(p["tx_frames"] for p in vm),
                    "from_vm": sum(p["rx_frames"] for p in vm)}
        except (ValueError, KeyError, IndexError):
            return None

    def boot(self, path):
        vm = VM(self, path)
        vm.command("warm w", r"^VB-END w$", 60)     # TCG translates iperf3's code once
        return vm

    def sample(self, vm, key, streams, reverse, perf=False):
        secs = self.args.seconds
        ps0 = self.port_stats()
        res, snap = vm.iperf(key, streams, reverse, secs, perf)
        ps1 = self.port_stats()
        psd = {k: ps1[k] - ps0[k] for k in ps0} if ps0 and ps1 else {}
        go, done = vm.snaps[("VB-GO", key)], vm.snaps[("VB-DONE", key)]
        end = res["end"]
        nbytes = end["sum_received"]["bytes"]
        gb = nbytes / 1e9
        wall = done["t"] - go["t"]
        vmnetd = done["vmnetd"] - go["vmnetd"]
        vcpu = done["qemu"][0] - go["qemu"][0]
        qother = done["qemu"][1] - go["qemu"][1]
        mb, mt = (y - x for x, y in zip(go["machine"], done["machine"]))
        g = guest_deltas(snap)
        rates = [iv["sum"]["bits_per_second"] / GBIT for iv in res.get("intervals", [])
                 if iv["sum"]["seconds"] > 0.2]
        out = {
            "gbit": end["sum_received"]["bits_per_second"] / GBIT,
            "cpu_per_gb": (vmnetd + vcpu + qother) / gb if gb else None,
            "vmnetd_per_gb": vmnetd / gb if gb else None,
            "qemu_per_gb": (vcpu + qother) / gb if gb else None,
            "qemu_vcpu_per_gb": vcpu / gb if gb else None,
            "qemu_other_per_gb": qother / gb if gb else None,
            "vmnetd_cores": vmnetd / wall, "qemu_vcpu_cores": vcpu / wall,
            "qemu_other_cores": qother / wall,
            "machine_busy": mb / mt if mt else 0,
            "guest_busy": g["busy"], "guest_sys": g["sys"], "guest_softirq": g["softirq"],
            "guest_user": g["user"],
            "guest_irqs_per_mb": g["irqs"] / (nbytes / 1e6) if nbytes else None,
            "guest_pkts_per_mb": (g["rx_packets"] + g["tx_packets"]) / (nbytes / 1e6)
            if nbytes else None,
            "guest_drops": g["rx_dropped"] + g["tx_dropped"],
            "vmnetd_drops": psd.get("drops"),
            # Frames vmnetd sent the VM and got from it, against the guest's
            # eth0 count: a frame lost between the two shows as a difference.
            "vmnetd_to_vm": psd.get("to_vm"), "vmnetd_from_vm": psd.get("from_vm"),
            "guest_rx_packets": g["rx_packets"], "guest_tx_packets": g["tx_packets"],
            "bytes": nbytes, "intervals": [round(x, 3) for x in rates],
            "retransmits": end.get("sum_sent", {}).get("retransmits"),
            "min_interval_gbit": min(rates) if rates else None,
            "wall_s": wall,
        }
        return out

    def run_boot(self, path):
        try:
            vm = self.boot(path)
        except Exception as e:          # one failed boot must not lose the others
            log(f"  {path}: boot failed: {e}")
            self.errors.append(f"{path} boot: {e}")
            return
        try:
            for key, streams, reverse in self.tests:
                try:
                    s = self.sample(vm, key, streams, reverse)
                except Exception as e:  # nor one failed test
                    log(f"  {path} {key} failed: {e}")
                    self.errors.append(f"{path} {key}: {e}")
                    continue
                smp = self.samples[path].setdefault(key, {})
                for k, v in s.items():
                    smp.setdefault(k, []).append(v)
                log(f"  {path} {key}: {s['gbit']:.2f} Gbit/s, {s['cpu_per_gb']:.2f} s/GB "
                    f"(vmnetd {s['vmnetd_cores']:.2f} cores, QEMU vCPU "
                    f"{s['qemu_vcpu_cores']:.2f} + other {s['qemu_other_cores']:.2f}), guest "
                    f"busy {s['guest_busy']:.2f}, min 1-s {s['min_interval_gbit']:.2f}, "
                    f"retr {s['retransmits']}, drops {s['vmnetd_drops']}/{s['guest_drops']}")
        finally:
            vm.stop()

    def measure(self):
        paths = [p for p in PATHS if p in self.args.paths]
        for r in range(self.args.runs):
            for path in (paths if r % 2 == 0 else paths[::-1]):
                log(f"== run {r + 1}/{self.args.runs}: {path}")
                self.run_boot(path)
        return {p: {k: {m: statistics.median(v) for m, v in smp.items()
                        if all(isinstance(x, (int, float)) for x in v)}
                    for k, smp in self.samples[p].items()} for p in paths}

    def profile(self):
        """perf record of vmnetd and QEMU together during one run of each test
        on each path: DIR/PATH-TEST.data, and flat top lists (.txt) by
        thread name (comm) and by symbol for each process. Throughput under
        perf is reported, not used: perf costs some."""
        out, secs = self.args.profile, self.args.seconds
        os.makedirs(out, exist_ok=True)
        res = {}
        for path in [p for p in PATHS if p in self.args.paths]:
            vm = self.boot(path)
            try:
                for key, streams, reverse in self.tests:
                    data = os.path.join(out, f"{path}-{key}.data")
                    pids = f"{self.daemon.p.pid},{vm.pid}"
                    perf = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F",
                                             str(self.args.freq), "--call-graph",
                                             self.args.call_graph, "-o", data, "-p", pids],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    time.sleep(1)
                    # Stopped when the guest's iperf3 ends, before its own perf
                    # report (minutes of guest CPU) runs.
                    vm.on_done = lambda p=perf: p.send_signal(2)
                    s = self.sample(vm, key, streams, reverse, perf=True)
                    vm.on_done = None
                    perf.wait(timeout=120)
                    self.report(data, path, key, s, vm.pid, vm.guest_perf)
                    res[f"{path}-{key}"] = s
                    log(f"  {path} {key}: {s['gbit']:.2f} Gbit/s under perf -> {data}")
            finally:
                vm.stop()
        return res

    def report(self, data, path, key, s, qemu_pid, guest_perf):
        def perf_report(*extra):
            out = subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio",
                                  "-g", "none", "--percent-limit", "0.7",
                                  "--percentage", "relative"] + list(extra),
                                 capture_output=True, text=True).stdout
            return "\n".join(x for x in out.splitlines() if x and not x.startswith("#")) + "\n"
        with open(data.replace(".data", ".txt"), "w") as f:
            f.write(f"{path} {key}: {s['gbit']:.2f} Gbit/s under perf; cores: vmnetd "
                    f"{s['vmnetd_cores']:.2f}, QEMU vCPU {s['qemu_vcpu_cores']:.2f}, QEMU other "
                    f"{s['qemu_other_cores']:.2f}; guest vCPU busy {s['guest_busy']:.2f} "
                    f"(sys {s['guest_sys']:.2f}, softirq {s['guest_softirq']:.2f}, user "
                    f"{s['guest_user']:.2f})\n\n== by thread (comm) and object\n")
            f.write(perf_report("--sort", "comm,dso"))
            f.write("\n== vmnetd (100% = vmnetd's samples), by symbol\n")
            f.write(perf_report("--pid", str(self.daemon.p.pid), "--sort", "dso,symbol"))
            f.write("\n== QEMU (100% = QEMU's samples), by thread and symbol "
                    "([JIT]: the guest's code as TCG translated it)\n")
            f.write(perf_report("--pid", str(qemu_pid), "--sort", "comm,dso,symbol"))
            f.write("\n== the guest's own perf (cpu-clock, all of the guest), by symbol\n")
            f.write("\n".join(guest_perf) + "\n")


ROWS = [  # key, label, target: "tput" (>= 1.5x) or "cpu" (< 1.0x)
    ("gbit", "Gbit/s", "tput"),
    ("cpu_per_gb", "CPU s/GB, vmnetd + QEMU", "cpu"),
    ("vmnetd_per_gb", "  vmnetd s/GB", None),
    ("qemu_vcpu_per_gb", "  QEMU vCPU thread s/GB", None),
    ("qemu_other_per_gb", "  QEMU other threads s/GB", None),
    ("guest_busy", "guest vCPU busy (1.0 = saturated)", None),
    ("guest_sys", "  of which kernel (sys)", None),
    ("guest_softirq", "  of which irq + softirq", None),
    ("guest_user", "  of which user (iperf3)", None),
    ("qemu_vcpu_cores", "QEMU vCPU thread, host cores", None),
    ("qemu_other_cores", "QEMU other threads, host cores", None),
    ("vmnetd_cores", "vmnetd, host cores", None),
    ("machine_busy", "host busy (share of all cores)", None),
    ("guest_irqs_per_mb", "guest virtio interrupts per MB", None),
    ("guest_pkts_per_mb", "guest eth0 packets per MB", None),
    ("min_interval_gbit", "slowest 1-s interval, Gbit/s", None),
    ("retransmits", "TCP retransmits", None),
    ("vmnetd_drops", "vmnetd drops (all ports)", None),
    ("guest_drops", "guest eth0 drops", None),
]

TEST_NAMES = {"g2h_1": "guest->host, 1 stream", "g2h_4": "guest->host, 4 streams",
              "h2g_1": "host->guest, 1 stream", "h2g_4": "host->guest, 4 streams"}


def fmt(v, digits=2):
    return "-" if v is None else f"{v:.{digits}f}"


def table(results):
    med = results["medians"]
    a, b = med.get("stream", {}), med.get("vhost", {})
    lines = [f"vmnetd vhost-user vs stream, {results['date']}: median of {results['runs']} "
             f"boots per path of {results['seconds']} s tests; accel {results['accel']}, "
             f"{results['smp']} vCPU, -m {results['mem']}, MTU {MTU}"
             + (f", virtio-net-pci {results['device']}" if results.get("device") else "")
             + (f", guest kernel {results['append']}" if results.get("append") else ""),
             f"vmnetd: {results['vmnetd']}", f"host: {results['host']}", "",
             "Ratio: vhost / stream (throughput target >= 1.5x, CPU per GB target < 1.0x).",
             ""]
    for key, _, _ in TESTS:
        x, y = a.get(key, {}), b.get(key, {})
        if not x and not y:
            continue
        lines += [f"{TEST_NAMES[key]}:", "", "| measure | stream | vhost | ratio | target |",
                  "|---|---|---|---|---|"]
        for m, label, target in ROWS:
            digits = 0 if m in ("retransmits", "vmnetd_drops", "guest_drops",
                                "guest_irqs_per_mb", "guest_pkts_per_mb") else 2
            u, v = x.get(m), y.get(m)
            ratio = v / u if u and v is not None else None
            verdict = ""
            if ratio is not None and target == "tput":
                verdict = "met" if ratio >= 1.5 else "missed"
            elif ratio is not None and target == "cpu":
                verdict = "met" if ratio < 1.0 else "missed"
            lines.append(f"| {label} | {fmt(u, digits)} | {fmt(v, digits)} | "
                         f"{fmt(ratio) + 'x' if ratio is not None else '-'} | {verdict} |")
        lines.append("")
    lines += ["Per boot, in run order (Gbit/s / slowest 1-s interval / CPU s/GB vmnetd + "
              "QEMU / guest vCPU busy / host busy):", ""]
    for path in ("stream", "vhost"):
        for key, _, _ in TESTS:
            s = results["samples"].get(path, {}).get(key)
            if s:
                lines.append(f"  {path:6} {key}: " + "  ".join(
                    f"{g:.2f}/{m:.2f}/{c:.1f}/{u:.2f}/{h:.2f}" for g, m, c, u, h in
                    zip(s["gbit"], s["min_interval_gbit"], s["cpu_per_gb"], s["guest_busy"],
                        s["machine_busy"])))
    if results.get("errors"):
        lines += ["", "Failed (left out of the medians):"] + [f"  {e}" for e in results["errors"]]
    return "\n".join(lines) + "\n"


def describe_host():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    qemu = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True,
                          text=True).stdout.split("\n")[0]
    return f"{os.cpu_count()} CPUs ({cpu}), Linux {os.uname().release}, {qemu}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="boots per path (default 5)")
    ap.add_argument("--seconds", type=int, default=10, help="iperf3 -t (default 10)")
    ap.add_argument("--paths", default="stream,vhost", help="stream,vhost (default both)")
    ap.add_argument("--tests", default=",".join(t[0] for t in TESTS),
                    help="which of " + ",".join(t[0] for t in TESTS) + " (default all)")
    ap.add_argument("--accel", default="tcg", help="QEMU accelerator (default tcg, as issue 12)")
    ap.add_argument("--smp", type=int, default=1, help="guest vCPUs (default 1)")
    ap.add_argument("--mem", type=int, default=512, help="guest RAM, MiB (default 512)")
    ap.add_argument("--device", metavar="PROPS",
                    help="extra virtio-net-pci properties for both paths; default under TCG "
                    "vectors=0 (QEMU 7.2 crashes starting vhost-user on an MSI-X device "
                    "under TCG, so both paths use INTx), none otherwise")
    ap.add_argument("--append", default="",
                    help="more guest kernel arguments (e.g. init_on_alloc=0: Debian's kernel "
                    "zeroes every page it allocates, a large share of the emulated CPU)")
    ap.add_argument("--boot-timeout", type=int, default=300)
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--profile", metavar="DIR",
                    help="instead of measuring: perf record vmnetd and QEMU during one run of "
                    "each test on each path, into DIR")
    ap.add_argument("--call-graph", default="fp",
                    help="perf record --call-graph for --profile (default fp, as -g)")
    ap.add_argument("--freq", type=int, default=1000, help="perf sampling Hz (default 1000)")
    args = ap.parse_args()
    if args.device is None:
        args.device = "vectors=0" if args.accel == "tcg" else ""
    args.paths = [p for p in args.paths.split(",") if p]
    args.tests = [t for t in args.tests.split(",") if t]
    if any(p not in PATHS for p in args.paths):
        ap.error(f"--paths: {args.paths}; known: {', '.join(PATHS)}")
    require("qemu-system-x86_64", "iperf3", "busybox", "cpio", "dnsmasq",
            *(["perf"] if args.profile else []))
    bench = Bench(args)
    with Lab("vhost") as lab:
        bench.setup(lab)
        if args.profile:
            print(json.dumps(bench.profile(), indent=1))
            return
        medians = bench.measure()
    ver = subprocess.run([VMNETD, "--version"],
                         capture_output=True, text=True).stdout.strip()
    results = {"date": time.strftime("%Y-%m-%d %H:%M"), "runs": args.runs,
               "seconds": args.seconds, "accel": args.accel, "smp": args.smp, "mem": args.mem,
               "device": args.device, "append": args.append,
               "vmnetd": ver, "host": describe_host(), "medians": medians,
               "samples": bench.samples, "errors": bench.errors}
    os.makedirs(args.out, exist_ok=True)
    text = table(results)
    with open(os.path.join(args.out, "vhost.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "vhost.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(text)


if __name__ == "__main__":
    main()
