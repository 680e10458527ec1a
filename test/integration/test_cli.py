#!/usr/bin/env python3
"""test_cli.py - the daemon's command line and socket life cycle as a user meets them.

Bad options exit 2 with one message naming the option; the unix socket is
created 0600 (--socket-mode widens it); a stale socket file is replaced, a
live one refused; --connect reaches a QEMU running server=on and reconnects;
garbage and thousands of connects leave the daemon serving with no growth in
descriptors or memory.
"""
import os
import socket
import stat
import struct
import subprocess
import sys

from harness import (Lab, PYTHON, VMNETD, check, proc_status_kib, require, run_steps,
                     wait_until)


def vmnetd(*args, timeout=10):
    return subprocess.run([VMNETD] + list(args), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


BAD_OPTIONS = [
    (["--nat", "mtu=70000"], "vmnetd: --nat mtu=70000: must be a number from 68 to 65521"),
    (["--nat", "hostfwd=tcp::x-:22"], "vmnetd: --nat hostfwd=tcp::x-:22: host port must be"),
    (["--nat", "frobnicate=1"], "vmnetd: --nat: unknown option 'frobnicate'"),
    (["--listen", "udp:1"], "vmnetd: --listen udp:1: expected unix:PATH or tcp:[HOST:]PORT"),
    (["--listen", "tcp:127.0.0.1:0"], "vmnetd: --listen tcp:127.0.0.1:0: port must be"),
    (["--connect", "tcp:host:99999"], "vmnetd: --connect tcp:host:99999: port must be"),
    (["--socket-mode", "999"], "vmnetd: --socket-mode 999: expected an octal mode"),
    (["--bogus"], "vmnetd: Unknown option --bogus"),
    (["extra"], "vmnetd: unexpected argument 'extra'"),
]


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def main():
    require("qemu-system-x86_64", "ip")
    with Lab("cli") as lab:
        def version_and_help():
            r = vmnetd("--version")
            check(r.returncode == 0 and r.stdout.startswith("vmnetd "), r.stdout + r.stderr)
            r = vmnetd("--help")
            check(r.returncode == 0 and "--listen" in r.stdout and "--nat" in r.stdout,
                  r.stdout)

        def bad_options():
            for args, message in BAD_OPTIONS:
                r = vmnetd(*args)
                check(r.returncode == 2, f"{args}: exit {r.returncode}, want 2")
                check(r.stderr.startswith(message), f"{args}: said {r.stderr!r}")
                check(r.stdout == "", f"{args}: printed {r.stdout!r}")

        def socket_modes():
            d = lab.daemon(ns="")
            mode = stat.S_IMODE(os.stat(d.sock).st_mode)
            check(mode == 0o600, f"default mode {oct(mode)}")
            check(d.stop() == 0, d.output())
            sock = os.path.join(lab.dir, "wide.sock")
            d = lab.daemon("--socket-mode", "0660", ns="", sock=sock)
            mode = stat.S_IMODE(os.stat(sock).st_mode)
            check(mode == 0o660, f"--socket-mode 0660 gave {oct(mode)}")
            check(d.stop() == 0, d.output())

        def stale_and_live():
            sock = os.path.join(lab.dir, "stale.sock")
            s = socket.socket(socket.AF_UNIX)
            s.bind(sock)
            s.close()                       # a socket file nobody listens on
            d = lab.daemon(ns="", sock=sock)
            d.wait_for("replacing stale socket")
            r = vmnetd("--listen", f"unix:{sock}")
            check(r.returncode == 1 and "in use by a running program" in r.stderr,
                  f"second daemon on a live socket: {r.returncode} {r.stderr!r}")
            check(os.path.exists(sock), "the live daemon's socket survived")
            check(d.stop() == 0, d.output())
            check(not os.path.exists(sock), "socket removed on exit")
            plain = os.path.join(lab.dir, "plain-file")
            open(plain, "w").close()
            r = vmnetd("--listen", f"unix:{plain}")
            check(r.returncode == 1 and "is not a socket" in r.stderr, r.stderr)
            check(os.path.exists(plain), "a regular file is never removed")

        def tcp_listeners():
            ns = lab.netns("tcp")
            d = lab.spawn(ns, [VMNETD, "--listen", "tcp:5556", "--listen", "tcp:[::1]:5557"],
                          name="vmnetd-tcp")
            d.wait_for(r"addr.host=::1,addr.port=5557")
            check("addr.type=inet,addr.host=127.0.0.1,addr.port=5556" in d.output(),
                  "QEMU arguments for the IPv4 listener")
            client = ("import socket,sys\n"
                      "for host, port in (('127.0.0.1', 5556), ('::1', 5557)):\n"
                      "    socket.create_connection((host, port)).close()\n")
            lab.run(ns, PYTHON, "-c", client)
            d.wait_for(r"tcp:127\.0\.0\.1:5556 client 1 \(127\.0\.0\.1:\d+\): connected")
            d.wait_for(r"tcp:\[::1\]:5557 client 1 \(\[::1\]:\d+\): connected")
            check(d.stop() == 0, d.output())

        def connect_to_qemu_server():
            ns = lab.netns("srv")
            sock = os.path.join(lab.dir, "qemu-server.sock")
            d = lab.spawn("", [VMNETD, "--connect", f"unix:{sock}"], name="vmnetd-connect")
            d.wait_for("retrying every second")       # QEMU is not there yet
            q = lab.spawn(ns, ["qemu-system-x86_64", "-M", "none", "-nodefaults",
                               "-display", "none", "-monitor", "none", "-serial", "none",
                               "-netdev", f"stream,id=up,server=on,addr.type=unix,"
                               f"addr.path={sock}",
                               "-netdev", "tap,id=tp,ifname=vmt0,script=no,downscript=no",
                               "-netdev", "hubport,id=h0,hubid=0,netdev=up",
                               "-netdev", "hubport,id=h1,hubid=0,netdev=tp"], name="qemu-srv")
            d.wait_for(rf"unix:{sock}: connected", timeout=15)
            wait_until(lambda: lab.run(ns, "ip", "link", "show", "vmt0", check=False)
                       .returncode == 0, 20, "the TAP")
            lab.run(ns, "ip", "link", "set", "vmt0", "up")
            guest_env = dict(os.environ, LEASE_FILE=os.path.join(lab.dir, "lease-srv"))
            lab.run(ns, "busybox", "udhcpc", "-i", "vmt0", "-s", lab.udhcpc_script, "-q",
                    "-n", "-t", "10", "-T", "1", "-f", env=guest_env, timeout=20)
            check("ip=10.0.2.15" in open(guest_env["LEASE_FILE"]).read(), "lease over --connect")
            q.stop()
            d.wait_for(rf"unix:{sock}: closed")
            check(d.stop() == 0, d.output())

        def garbage_and_many_connects():
            d = lab.daemon(ns="", sock=os.path.join(lab.dir, "churn.sock"))
            pid = d.p.pid
            # Warm up once so that lazily allocated state is counted as base.
            for _ in range(20):
                s = socket.socket(socket.AF_UNIX)
                s.connect(d.sock)
                s.close()
            wait_until(lambda: "client 20: closed" in d.output(), 10, "warm-up clients")
            fds, rss = fd_count(pid), proc_status_kib(pid, "VmRSS")
            for i in range(3000):
                s = socket.socket(socket.AF_UNIX)
                s.connect(d.sock)
                if i % 3 == 0:
                    s.sendall(os.urandom(64))                    # garbage
                elif i % 3 == 1:
                    frame = b"\xff" * 6 + b"\x52\x54\x00\x00\x01" + bytes([i % 256]) + \
                        b"\x08\x06" + b"\0" * 46
                    s.sendall(struct.pack("!I", len(frame)) + frame + b"\0\0")  # split
                s.close()
            wait_until(lambda: "client 3020: closed" in d.output(), 30, "all clients closed")
            # Every descriptor back, then one more client through: the
            # iterations that closed the others (and freed their ports
            # after them) are over, however the daemon batched its events.
            wait_until(lambda: fd_count(pid) <= fds, 30,
                       f"descriptors back to {fds} (now {fd_count(pid)})")
            s = socket.socket(socket.AF_UNIX)
            s.connect(d.sock)
            d.wait_for("client 3021: connected")
            s.close()
            d.wait_for("client 3021: closed")
            grown = proc_status_kib(pid, "VmRSS") - rss
            # ASan keeps freed memory in quarantine; its leak check at exit
            # (the exit status below) stands in for this one there.
            if not os.environ.get("VMNETD_SANITIZED"):
                check(grown < 8 * 1024, f"RSS grew by {grown} KiB over 3000 connects")
            check(d.p.poll() is None, "daemon still running")
            check(d.stop() == 0, d.output()[-2000:])

        return run_steps([
            ("--version and --help", version_and_help),
            ("bad options: exit 2, one message naming the option", bad_options),
            ("unix socket 0600 by default, --socket-mode widens it", socket_modes),
            ("stale socket replaced, live socket refused", stale_and_live),
            ("TCP listeners on 127.0.0.1 and [::1]", tcp_listeners),
            ("--connect reaches QEMU server=on once it appears", connect_to_qemu_server),
            ("garbage and 3000 connects: no leak, still serving", garbage_and_many_connects),
        ], lab)


if __name__ == "__main__":
    sys.exit(main())
