"""guest.py - a real Linux guest for vmnetd's integration tests and benchmarks.

The guest is the host's own kernel from /boot (Debian's cloud kernel) booted
under QEMU with TCG, with an initramfs built here: static busybox, the
virtio-net modules, an /init the caller writes, and any host programs the
caller names (with their shared libraries).

CONSOLE_INIT is an /init that takes orders on the serial console: QEMU runs
with `-serial stdio`, Console feeds its stdin through a FIFO, and each line
"ID COMMAND" runs COMMAND in a shell, then prints "VMNETD-DONE ID STATUS".
Tests wait for those printed lines (with a timeout), never for time to pass.
"""
import glob
import json
import os
import shutil
import socket
import subprocess

from harness import check, require, skip

MODULES = ["virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev",
           "virtio_pci", "failover", "net_failover", "virtio_net"]

# udhcpc's script: apply the lease and keep it in /tmp/lease as one line.
UDHCPC = """#!/bin/sh
[ "$1" = bound ] || exit 0
echo "ip=$ip router=$router dns=$dns mtu=$mtu" > /tmp/lease
ip addr add "$ip/$subnet" dev "$interface"
[ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
ip route add default via "$router"
"""

CONSOLE_INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin:/sbin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo 1 > /proc/sys/kernel/printk
for m in /lib/modules/*.ko; do insmod "$m" 2>/dev/null; done
ip link set lo up
ip link set eth0 up
stty -echo
echo "VMNETD-BOOTED mtu=$(cat /sys/class/net/eth0/mtu)"
while read -r id cmd; do
    (eval "$cmd") </dev/null
    echo "VMNETD-DONE $id $?"
done
poweroff -f
"""


def kernel():
    """The newest kernel in /boot and its version, or (None, None)."""
    kernels = sorted(glob.glob("/boot/vmlinuz-*"))
    if not kernels:
        return None, None
    path = kernels[-1]
    return path, path.split("vmlinuz-", 1)[1]


def require_guest():
    """Skip the test unless a guest can be built and booted here; returns
    kernel()."""
    require("qemu-system-x86_64", "busybox", "cpio", "modinfo", "ldd")
    vmlinuz, kver = kernel()
    if not vmlinuz:
        skip("no kernel in /boot (apt-get install linux-image-cloud-amd64)")
    ldd = subprocess.run(["ldd", shutil.which("busybox")], capture_output=True, text=True)
    if "not a dynamic executable" not in ldd.stdout + ldd.stderr:
        skip("busybox is not static (apt-get install busybox-static)")
    return vmlinuz, kver


def module_path(kver, name):
    r = subprocess.run(["modinfo", "-k", kver, "-F", "filename", name],
                       capture_output=True, text=True)
    path = r.stdout.strip()
    return path if r.returncode == 0 and path.endswith(".ko") else None


def shared_libraries(binary):
    """The files `ldd` says a program loads: its libraries and the ELF
    interpreter (none for a static program)."""
    r = subprocess.run(["ldd", binary], capture_output=True, text=True)
    return [word for line in r.stdout.splitlines() for word in line.split()
            if word.startswith("/")]


def _copy_into(root, path):
    dest = os.path.join(root, path.lstrip("/"))
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    shutil.copy(path, dest)            # follows links: the file itself


def build_initramfs(workdir, kver, init_text, files=None, binaries=()):
    """A newc cpio in workdir: busybox, the virtio-net modules of kernel kver,
    /init = init_text, each of `files` ({path in the root: text}, mode 0755),
    and each host program in `binaries` at its own path with its libraries."""
    root = os.path.join(workdir, "initramfs")
    shutil.rmtree(root, ignore_errors=True)
    for d in ("bin", "proc", "sys", "tmp", "dev", "lib/modules"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    shutil.copy(shutil.which("busybox"), os.path.join(root, "bin/busybox"))
    for i, name in enumerate(MODULES):
        path = module_path(kver, name)
        if path:                        # absent: built into this kernel
            shutil.copy(path, os.path.join(root, f"lib/modules/{i:02d}-{name}.ko"))
    for binary in binaries:
        check(os.path.isabs(binary), f"{binary}: give the program's full path")
        for path in [binary] + shared_libraries(binary):
            _copy_into(root, path)
    for name, text in dict(files or {}, init=init_text).items():
        path = os.path.join(root, name.lstrip("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o755)
    out = os.path.join(workdir, "initrd.cpio")
    listing = subprocess.run(["find", "."], cwd=root, capture_output=True, text=True,
                             check=True).stdout
    with open(out, "wb") as f:
        subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root,
                       input=listing.encode(), stdout=f, check=True)
    return out


def qemu_argv(vmlinuz, initrd, mem_mb=256, append="console=ttyS0 quiet panic=-1"):
    """QEMU for a TCG guest with its console on stdio; the caller adds netdevs
    (and, for vhost-user, vhost_user_args() with the same mem_mb)."""
    return ["qemu-system-x86_64", "-M", "pc", "-accel", "tcg", "-m", str(mem_mb),
            "-kernel", vmlinuz, "-initrd", initrd, "-append", append,
            "-serial", "stdio", "-no-reboot", "-nodefaults", "-display", "none"]


def vhost_user_args(sock, mac, mem_mb=256, mtu=65520, reconnect=1):
    """A virtio-net NIC on vhost-user socket `sock`: guest RAM shared
    (memfd, mem_mb as in qemu_argv) and the MTU in the virtio config.

    vectors=0 (no MSI-X, the guest uses the legacy interrupt): under TCG,
    QEMU 7.2 segfaults in vhost_net_start when the guest enables an MSI-X
    vhost-user NIC (msix_set_vector_notifiers -> virtio_pci_vector_unmask
    reaches the irqfd path, which only KVM sets up). With KVM it is not
    needed."""
    return ["-object", f"memory-backend-memfd,id=mem,size={mem_mb}M,share=on",
            "-machine", "memory-backend=mem",
            "-chardev", f"socket,id=c0,path={sock},reconnect={reconnect}",
            "-netdev", "vhost-user,id=n0,chardev=c0",
            "-device", f"virtio-net-pci,netdev=n0,host_mtu={mtu},mac={mac},romfile=,vectors=0"]


def stream_args(sock, mac, mtu=None):
    """A virtio-net NIC on vmnetd's stream socket (unix path)."""
    dev = f"virtio-net-pci,netdev=n0,mac={mac},romfile="
    return ["-netdev", f"stream,id=n0,server=off,addr.type=unix,addr.path={sock}",
            "-device", dev + (f",host_mtu={mtu}" if mtu else "")]


class Console:
    """A guest booted with CONSOLE_INIT: run() sends it a shell command on its
    serial console and waits for the command's end.

    harness.Proc gives its child no stdin, so QEMU's stdin is a FIFO that
    this object holds open for writing (O_RDWR: opening never blocks, and
    QEMU never sees end of file)."""

    def __init__(self, lab, ns, argv, name="guest"):
        fifo = os.path.join(lab.dir, f"{name}.console")
        os.mkfifo(fifo)
        self.fd = os.open(fifo, os.O_RDWR)
        self.seq = 0
        self.proc = lab.spawn(ns, ["sh", "-c", 'exec "$@" <"$0"', fifo] + list(argv),
                              name=name)

    def booted(self, timeout=180):
        """Wait for init's first line; returns its KEY=VALUE fields."""
        m = self.proc.wait_for(r"VMNETD-BOOTED (.*?)\r?$", timeout=timeout)
        return dict(f.split("=", 1) for f in m.group(1).split() if "=" in f)

    def run(self, command, timeout=60):
        """Run one shell command (one line) in the guest; returns its exit
        status and the console lines it printed."""
        check("\n" not in command, "one line per command")
        self.seq += 1
        seq, since = self.seq, self._count()
        os.write(self.fd, f"{seq} {command}\n".encode())
        m = self.proc.wait_for(rf"VMNETD-DONE {seq} (\d+)\r?$", timeout=timeout, since=since)
        with self.proc.cond:
            printed = self.proc.lines[since:]
        lines = []
        for line in printed:
            if m.group(0) in line:      # after output with no newline of its own
                line = line[:line.index(m.group(0))]
                lines += [line] if line else []
                break
            lines.append(line.rstrip("\r"))
        return int(m.group(1)), lines

    def _count(self):
        # Proc.lines, not output().splitlines(): a console line may hold a \r.
        with self.proc.cond:
            return len(self.proc.lines)

    def check(self, command, timeout=60):
        """run() that must succeed; returns the printed lines."""
        rc, lines = self.run(command, timeout)
        check(rc == 0, f"guest: `{command}` exited {rc}:\n" + "\n".join(lines[-30:]))
        return lines

    def close(self):
        os.close(self.fd)


def qmp(path, *commands, timeout=10):
    """Run QMP commands (names, or (name, arguments) pairs) on QEMU's monitor
    socket (`-qmp unix:PATH,server=on,wait=off`); returns their results."""
    results = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        f = s.makefile("rwb")
        check("QMP" in json.loads(f.readline()), "no QMP greeting")
        for c in ("qmp_capabilities",) + commands:
            name, args = (c, None) if isinstance(c, str) else c
            f.write(json.dumps({"execute": name, **({"arguments": args} if args else {})})
                    .encode() + b"\n")
            f.flush()
            while True:                 # events may come first
                reply = json.loads(f.readline())
                if "return" in reply or "error" in reply:
                    break
            check("return" in reply, f"QMP {name}: {reply}")
            results.append(reply["return"])
    return results[1:]
