#!/usr/bin/env python3
"""test_boot.py - a real Linux guest boots under QEMU (TCG), gets its lease from
vmnetd over -netdev stream with virtio-net, and fetches a file from the host.

The guest is Debian's cloud kernel with a busybox initramfs built here: its
init loads the virtio-net modules, runs udhcpc, fetches the file from
10.0.2.2 (the daemon host's loopback) and prints what it got on the serial
console, which the test reads.
"""
import glob
import hashlib
import os
import shutil
import subprocess
import sys

from harness import Lab, check, require, run_steps, skip

MODULES = ["virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev",
           "virtio_pci", "failover", "net_failover", "virtio_net"]

INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
for m in /lib/modules/*.ko; do insmod "$m" 2>/dev/null; done
ip link set lo up
ip link set eth0 up
if udhcpc -i eth0 -s /udhcpc.sh -q -n -t 20 -T 1; then
    . /tmp/lease
    echo "VMNETD-LEASE ip=$ip router=$router dns=$dns mtu=$(cat /sys/class/net/eth0/mtu)"
    if wget -q -O /tmp/file http://10.0.2.2:{port}/payload; then
        echo "VMNETD-SHA256 $(sha256sum /tmp/file | cut -d' ' -f1)"
    else
        echo "VMNETD-FETCH-FAILED"
    fi
else
    echo "VMNETD-NO-LEASE"
fi
poweroff -f
"""

UDHCPC = """#!/bin/sh
[ "$1" = bound ] || exit 0
echo "ip=$ip router=$router dns=$dns mtu=$mtu" > /tmp/lease
ip addr add "$ip/$subnet" dev "$interface"
[ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
ip route add default via "$router"
"""


def kernel():
    kernels = sorted(glob.glob("/boot/vmlinuz-*"))
    if not kernels:
        return None, None
    path = kernels[-1]
    return path, path.split("vmlinuz-", 1)[1]


def module_path(kver, name):
    r = subprocess.run(["modinfo", "-k", kver, "-F", "filename", name],
                       capture_output=True, text=True)
    path = r.stdout.strip()
    return path if r.returncode == 0 and path.endswith(".ko") else None


def build_initramfs(workdir, kver, port):
    root = os.path.join(workdir, "initramfs")
    for d in ("bin", "proc", "sys", "tmp", "lib/modules"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    shutil.copy("/bin/busybox", os.path.join(root, "bin/busybox"))
    for i, name in enumerate(MODULES):
        path = module_path(kver, name)
        if path:                        # absent: built into this kernel
            shutil.copy(path, os.path.join(root, f"lib/modules/{i:02d}-{name}.ko"))
    for name, text in (("init", INIT.replace("{port}", str(port))), ("udhcpc.sh", UDHCPC)):
        with open(os.path.join(root, name), "w") as f:
            f.write(text)
        os.chmod(os.path.join(root, name), 0o755)
    out = os.path.join(workdir, "initrd.cpio")
    files = subprocess.run(["find", "."], cwd=root, capture_output=True, text=True,
                           check=True).stdout
    with open(out, "wb") as f:
        subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root, input=files.encode(),
                       stdout=f, check=True)
    return out


def main():
    require("qemu-system-x86_64", "busybox", "cpio", "modinfo", "dnsmasq", "ip")
    vmlinuz, kver = kernel()
    if not vmlinuz:
        skip("no kernel in /boot (apt-get install linux-image-cloud-amd64)")
    ldd = subprocess.run(["ldd", "/bin/busybox"], capture_output=True, text=True)
    if "not a dynamic executable" not in ldd.stdout + ldd.stderr:
        skip("/bin/busybox is not static (apt-get install busybox-static)")

    with Lab("boot") as lab:
        host, _ = lab.outside()
        webroot = os.path.join(lab.dir, "www")
        os.makedirs(webroot)
        payload = os.urandom(2 * 1024 * 1024)
        with open(os.path.join(webroot, "payload"), "wb") as f:
            f.write(payload)
        lab.serve(host, "serve-http", webroot, "127.0.0.1", "8080", name="http")
        initrd = build_initramfs(lab.dir, kver, 8080)
        d = lab.daemon()
        vm = None

        def boot_and_lease():
            nonlocal vm
            vm = lab.spawn(host, [
                "qemu-system-x86_64", "-M", "pc", "-accel", "tcg", "-m", "256", "-nodefaults",
                "-display", "none", "-serial", "stdio", "-no-reboot",
                "-kernel", vmlinuz, "-initrd", initrd,
                "-append", "console=ttyS0 quiet panic=-1",
                "-netdev", f"stream,id=n0,server=off,addr.type=unix,addr.path={d.sock}",
                "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:77,romfile="],
                name="guest")
            m = vm.wait_for(r"VMNETD-(LEASE [^\r]*|NO-LEASE)", timeout=300)
            check(m.group(1).startswith("LEASE"), "the guest got no lease")
            check(m.group(1) == "LEASE ip=10.0.2.15 router=10.0.2.2 dns=10.0.2.3 mtu=65520",
                  m.group(1))

        def fetch_from_host():
            m = vm.wait_for(r"VMNETD-(SHA256 \w+|FETCH-FAILED)", timeout=300)
            want = hashlib.sha256(payload).hexdigest()
            check(m.group(1) == f"SHA256 {want}", f"guest got {m.group(1)}, want {want}")
            vm.p.wait(120)

        rc = run_steps([
            ("Linux guest boots and gets its lease from vmnetd", boot_and_lease),
            ("guest fetches a 2 MiB file from the host, byte-exact", fetch_from_host),
        ], lab)
        return rc


if __name__ == "__main__":
    sys.exit(main())
