#!/usr/bin/env python3
"""test_vhost.py - a real Linux guest attached to vmnetd with vhost-user (issue 12).

One TCG guest (guest.py, CONSOLE_INIT: the test sends shell commands on its
serial console) is booted once with `-netdev vhost-user` on vmnetd's
`--listen vhost-user:` socket, reconnect=1, and a QMP socket; the steps reuse it:
1. eth0 has MTU 65520 from the virtio config before DHCP; then the lease;
2. 8 MiB from the host (its loopback, as 10.0.2.2) and 8 MiB to it, byte-exact;
3. a stream VM (harness Guest: a namespace behind QEMU -M none) on the same
   network: TCP byte-exact both ways, each side opening once;
4. the guest stopped (QMP `stop`) while the stream VM floods UDP at it: the
   stream VM still fetches from the host byte-exact and keeps its pings; after
   `cont` the guest works again;
5. vmnetd stopped (SIGTERM) and started again on the same socket path: QEMU
   reconnects by itself and the guest fetches again.
The daemon's restart comes last: the stream VM's QEMU (7.2, no reconnect)
does not come back from it.
"""
import hashlib
import json
import os
import re
import sys

import guest
from harness import (Lab, NETUTIL, PYTHON, VMNETCTL, check, require, run_steps,
                     wait_until)

MIB = 1024 * 1024
VM_MAC = "52:54:00:12:34:56"
SG_MAC = "52:54:00:12:34:57"
HTTP_PORT, SINK_PORT, SG_ECHO_PORT, VM_ECHO_PORT = 8080, 9000, 7, 7007
VHOST_LINE = r"connected \(vhost-user\)"

# A TCP sink on the host: for each connection, what it received.
SINK = """import hashlib, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(8)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    h, n = hashlib.sha256(), 0
    while True:
        b = c.recv(1 << 16)
        if not b:
            break
        h.update(b)
        n += len(b)
    print(f"received {n} sha256 {h.hexdigest()}", flush=True)
    c.close()
"""


def sha_lines(lines):
    """The sha256sum hashes among console lines, in order."""
    return [m.group(1) for m in (re.match(r"([0-9a-f]{64})\s", line) for line in lines) if m]


def ping_received(output):
    m = re.search(r"(\d+) packets transmitted, (\d+) (packets )?received", output)
    check(m, f"no ping summary:\n{output}")
    return int(m.group(1)), int(m.group(2))


def main():
    require("dnsmasq", "ip", "tc", "ping")
    vmlinuz, kver = guest.require_guest()
    with Lab("vhost") as lab:
        host, _ = lab.outside()
        webroot = os.path.join(lab.dir, "www")
        os.makedirs(webroot)
        payload = os.urandom(8 * MIB)
        want = hashlib.sha256(payload).hexdigest()
        with open(os.path.join(webroot, "payload"), "wb") as f:
            f.write(payload)
        lab.serve(host, "serve-http", webroot, "127.0.0.1", str(HTTP_PORT), name="http")
        sink = lab.spawn(host, [PYTHON, "-c", SINK, "127.0.0.1", str(SINK_PORT)], name="sink")
        sink.wait_for("^ready$")
        initrd = guest.build_initramfs(lab.dir, kver, guest.CONSOLE_INIT,
                                       files={"udhcpc.sh": guest.UDHCPC})
        sock = os.path.join(lab.dir, "vmnetd.sock")
        vsock = os.path.join(lab.dir, "vhost.sock")
        api = os.path.join(lab.dir, "vmnetd.api")
        qmp_path = os.path.join(lab.dir, "qmp.sock")
        st = {}

        def start_daemon(name):
            st["d"] = lab.daemon("--api-socket", api, sock=sock, name=name,
                                 listen=[f"unix:{sock}", "tcp:127.0.0.1:5555",
                                         f"vhost-user:{vsock}"])
            return st["d"]

        def vm_port():
            r = lab.run(None, VMNETCTL, "-s", api, "--json", "ports")
            mine = [p for p in json.loads(r.stdout)["ports"] if VM_MAC in p["macs"]]
            check(len(mine) == 1, f"one port with the guest's MAC {VM_MAC}:\n{r.stdout}")
            return mine[0]

        def guest_fetch(what, timeout=120):
            lines = st["vm"].check("set -o pipefail; wget -q -O - "
                                   f"http://10.0.2.2:{HTTP_PORT}/payload | sha256sum", timeout)
            check(sha_lines(lines) == [want], f"{what}: the guest got {lines}, want {want}")

        def boot_and_lease():
            d = start_daemon("vmnetd")
            vm = st["vm"] = guest.Console(lab, host, guest.qemu_argv(vmlinuz, initrd) +
                                          guest.vhost_user_args(vsock, VM_MAC) +
                                          ["-qmp", f"unix:{qmp_path},server=on,wait=off"])
            booted = vm.booted(timeout=180)
            d.wait_for(VHOST_LINE, timeout=10)
            check(booted.get("mtu") == "65520",
                  f"eth0's MTU before DHCP is {booted.get('mtu')}, want 65520 from the virtio "
                  "config (host_mtu)")
            lines = vm.check("udhcpc -i eth0 -s /udhcpc.sh -q -n -t 10 -T 1 && cat /tmp/lease")
            check(lines and lines[-1] == "ip=10.0.2.15 router=10.0.2.2 dns=10.0.2.3 mtu=65520",
                  f"the guest's lease: {lines}")
            check(vm_port()["kind"] == "vhost-user", f"the guest's port: {vm_port()}")

        def to_and_from_host():
            guest_fetch("8 MiB from the host")
            since = len(sink.lines)
            lines = st["vm"].check("dd if=/dev/urandom of=/tmp/up bs=1M count=8 2>/dev/null && "
                                   f"sha256sum /tmp/up && nc 10.0.2.2 {SINK_PORT} </tmp/up", 120)
            sent = sha_lines(lines)
            m = sink.wait_for(r"^received (\d+) sha256 (\w+)$", timeout=30, since=since)
            check(len(sent) == 1 and m.groups() == (str(8 * MIB), sent[0]),
                  f"the guest sent {sent} ({lines}); the host received {m.group(0)}")

        def with_stream_vm():
            sg = st["sg"] = lab.guest("sg", st["d"].tcp, SG_MAC)
            check(sg.dhcp().get("ip") == "10.0.2.16", f"the stream VM's lease: {sg.lease}")
            lab.serve(sg.ns, "serve-echo", "tcp", "0.0.0.0", str(SG_ECHO_PORT), name="sg-echo")
            lines = st["vm"].check("set -o pipefail; dd if=/dev/urandom of=/tmp/e bs=1M count=4 "
                                   "2>/dev/null && sha256sum </tmp/e && "
                                   f"nc 10.0.2.16 {SG_ECHO_PORT} </tmp/e | sha256sum", 120)
            sums = sha_lines(lines)
            check(len(sums) == 2 and sums[0] == sums[1],
                  f"4 MiB from the guest through the stream VM's echo came back as {lines}")
            st["vm"].check(f"nc -ll -p {VM_ECHO_PORT} -e cat & "
                           f"until netstat -ltn | grep -q ':{VM_ECHO_PORT} '; do usleep 20000; done")
            rc, out = sg.netutil("tcp-check", "10.0.2.15", str(VM_ECHO_PORT), str(4 * MIB), "60")
            check(rc == 0 and out.startswith("OK"),
                  f"4 MiB from the stream VM through the guest's echo: {out}")

        def stopped_vm_holds_nobody():
            sg, vm = st["sg"], st["vm"]
            # The stopped guest answers no ARP: aim at its MAC regardless.
            lab.run(sg.ns, "ip", "neigh", "replace", "10.0.2.15", "lladdr", VM_MAC, "dev",
                    "vmt0", "nud", "permanent")
            drops = vm_port()["tx_drops"]
            guest.qmp(qmp_path, "stop")
            check(guest.qmp(qmp_path, "query-status")[0]["status"] == "paused", "not paused")
            flood = lab.spawn(sg.ns, [PYTHON, NETUTIL, "udp-blast", "10.0.2.15", "9",
                                      "10000000", "8000"], name="flood")
            try:
                wait_until(lambda: vm_port()["tx_drops"] > drops, 30,
                           "the flood to fill the stopped guest's queue (its port's tx_drops)",
                           interval=0.2)
                pings = lab.spawn(sg.ns, ["ping", "-c", "30", "-i", "0.1", "-W", "1",
                                          "10.0.2.2"], name="sg-ping")
                r = lab.run(sg.ns, "sh", "-c", f"busybox wget -q -O - "
                            f"http://10.0.2.2:{HTTP_PORT}/payload | sha256sum", timeout=30)
                check(r.stdout.split()[:1] == [want],
                      f"the stream VM's fetch while the guest is stopped: {r.stdout}{r.stderr}")
                pings.p.wait(30)
                sent, got = ping_received(pings.output())
                check(got >= 0.9 * sent, f"the stream VM's pings of 10.0.2.2 while the guest is "
                      f"stopped: {got} of {sent} answered")
                check(flood.p.poll() is None, f"the flood ended early:\n{flood.output()}")
                print(f"# guest stopped: {vm_port()['tx_drops'] - drops} frames for it dropped; "
                      f"the stream VM's pings {got}/{sent}")
            finally:
                flood.stop()
            guest.qmp(qmp_path, "cont")
            check(guest.qmp(qmp_path, "query-status")[0]["status"] == "running", "not running")
            guest_fetch("after cont")
            rc, out = sg.netutil("tcp-check", "10.0.2.15", str(VM_ECHO_PORT), str(MIB), "60")
            check(rc == 0, f"the stream VM to the guest after cont: {out}")

        def daemon_restart():
            vm = st["vm"]
            rc = st["d"].stop()
            check(rc == 0, f"vmnetd exited {rc} on SIGTERM")
            d = start_daemon("vmnetd-2")
            d.wait_for(VHOST_LINE, timeout=30)
            check(vm.proc.p.poll() is None, "QEMU exited with the daemon")
            guest_fetch("after vmnetd's restart")
            check(vm_port()["kind"] == "vhost-user", f"the guest's port: {vm_port()}")

        rc = run_steps([
            ("vhost-user guest: MTU 65520 from virtio before DHCP, then its lease",
             boot_and_lease),
            ("guest fetches 8 MiB from the host and sends 8 MiB to it, byte-exact",
             to_and_from_host),
            ("vhost-user guest and a stream VM: TCP byte-exact both ways", with_stream_vm),
            ("a stopped guest flooded with UDP holds the stream VM back in nothing; "
             "it works after cont", stopped_vm_holds_nobody),
            ("vmnetd restarts: QEMU reconnects and the guest is back online",
             daemon_restart),
        ], lab)
        if "vm" in st:
            st["vm"].close()
        return rc


if __name__ == "__main__":
    sys.exit(main())
