#!/usr/bin/env python3
"""test_boot.py - a real Linux guest boots under QEMU (TCG), gets its lease from
vmnetd over -netdev stream with virtio-net, and fetches a file from the host.

The guest is Debian's cloud kernel with a busybox initramfs (guest.py): its
init loads the virtio-net modules, runs udhcpc, fetches the file from
10.0.2.2 (the daemon host's loopback) and prints what it got on the serial
console, which the test reads.
"""
import hashlib
import os
import sys

import guest
from harness import Lab, check, require, run_steps

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

def main():
    require("dnsmasq", "ip")
    vmlinuz, kver = guest.require_guest()

    with Lab("boot") as lab:
        host, _ = lab.outside()
        webroot = os.path.join(lab.dir, "www")
        os.makedirs(webroot)
        payload = os.urandom(2 * 1024 * 1024)
        with open(os.path.join(webroot, "payload"), "wb") as f:
            f.write(payload)
        lab.serve(host, "serve-http", webroot, "127.0.0.1", "8080", name="http")
        initrd = guest.build_initramfs(lab.dir, kver, INIT.replace("{port}", "8080"),
                                       files={"udhcpc.sh": guest.UDHCPC})
        d = lab.daemon()
        vm = None

        def boot_and_lease():
            nonlocal vm
            vm = lab.spawn(host, guest.qemu_argv(vmlinuz, initrd) +
                           guest.stream_args(d.sock, "52:54:00:12:34:77"), name="guest")
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
