#!/usr/bin/env python3
"""test_cli.py - the daemon's command line and socket life cycle as a user meets them.

Bad options exit 2 with one message naming the option; the unix socket is
created 0600 (--socket-mode widens it) by a bind under the umask, never a
chmod(); a socket directory others may write is refused unless sticky, and
shutdown removes only the socket file the daemon made; stray signals are
logged, SIGQUIT shuts down cleanly; a TCP listener off loopback and a hostfwd
on all addresses are warned about, and a loopback TCP client of another uid
is refused; a stale socket file is replaced, a live one refused; --connect reaches a QEMU running server=on and reconnects;
garbage and thousands of connects leave the daemon serving with no growth in
descriptors or memory.
"""
import os
import re
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys

from harness import (Lab, PYTHON, VMNETD, StepSkipped, check, proc_status_kib, require,
                     run_steps, wait_until)

NOBODY = 65534

# Connects to each HOST:PORT given, then holds the sockets until the daemon
# has closed them all (printing how many) or it is stopped.
HOLD_CLIENT = """
import socket, sys
socks = []
for a in sys.argv[1:]:
    host, port = a.rsplit(":", 1)
    socks.append(socket.create_connection((host, int(port))))
print("connected", flush=True)
closed = 0
for s in socks:
    try:
        closed += s.recv(1) == b""
    except OSError:
        closed += 1
print("closed by the daemon:", closed, flush=True)
"""


def vmnetd(*args, timeout=10):
    return subprocess.run([VMNETD] + list(args), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


BAD_OPTIONS = [
    (["--nat", "mtu=70000"], "vmnetd: --nat mtu=70000: must be a number from 68 to 65521"),
    (["--nat", "hostfwd=tcp::x-:22"], "vmnetd: --nat hostfwd=tcp::x-:22: host port must be"),
    (["--nat", "frobnicate=1"], "vmnetd: --nat: unknown option 'frobnicate'"),
    (["--listen", "udp:1"], "vmnetd: --listen udp:1: expected unix:PATH, tcp:[HOST:]PORT, "
                            "dgram:unix:PATH, dgram:udp:[HOST:]PORT or vhost-user:PATH"),
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

        def socket_born_with_mode():
            # The file must never exist with another mode, and its path must
            # never be chmod()ed: by then it may be a link to any file.
            if not shutil.which("strace"):
                raise StepSkipped("strace is not installed")
            sock = os.path.join(lab.dir, "born.sock")
            # LeakSanitizer cannot stop the world under a tracer.
            env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
            st = lab.spawn("", ["strace", "-f", "-e", "trace=umask,bind,chmod,fchmodat,fchmod",
                                VMNETD, "--listen", f"unix:{sock}", "--socket-mode", "0660"],
                           name="strace-vmnetd", env=env)
            st.wait_for("Attach a VM to")
            mode = stat.S_IMODE(os.stat(sock).st_mode)
            check(mode == 0o660, f"--socket-mode 0660 gave {oct(mode)}")
            with open(f"/proc/{st.p.pid}/task/{st.p.pid}/children") as f:
                daemon = int(f.read().split()[0])
            os.kill(daemon, signal.SIGTERM)
            st.p.wait(10)
            out = st.output()
            chmods = [line for line in out.splitlines() if re.search(r"\bf?chmod(at)?\(", line)]
            check(not chmods, f"chmod calls: {chmods}")
            calls = [line for line in out.splitlines()
                     if re.search(r"\b(umask|bind)\(", line) and "resumed" not in line]
            bind = next(i for i, c in enumerate(calls) if f'"{sock}"' in c)
            check(bind > 0 and calls[bind - 1].split("(")[-1].startswith("0117)"),
                  f"bind under umask 0117: {calls}")
            check(not os.path.exists(sock), "socket removed on exit")

        def socket_dirs():
            for name, mode in (("world", 0o777), ("group", 0o770)):
                d = os.path.join(lab.dir, name)
                os.mkdir(d)
                os.chmod(d, mode)
                r = vmnetd("--listen", f"unix:{d}/x.sock", timeout=5)
                check(r.returncode == 1, f"{oct(mode)} directory: exit {r.returncode}")
                check(f"directory {d} is writable by group or others and not sticky"
                      in r.stderr, f"{oct(mode)} directory: said {r.stderr!r}")
                check(not os.path.exists(f"{d}/x.sock"), "no socket made there")
            sticky = os.path.join(lab.dir, "sticky")
            os.mkdir(sticky)
            os.chmod(sticky, 0o1777)        # as /tmp
            d = lab.daemon(ns="", sock=os.path.join(sticky, "x.sock"))
            check(d.stop() == 0, d.output())
            check(not os.path.exists(d.sock), "socket removed on exit")

        def replaced_socket_kept():
            d = lab.daemon(ns="", sock=os.path.join(lab.dir, "replaced.sock"))
            other = os.path.join(lab.dir, "someone-elses")
            with open(other, "w") as f:
                f.write("not vmnetd's\n")
            os.rename(other, d.sock)        # what a user who can write the directory does
            check(d.stop() == 0, d.output())
            check(os.path.exists(d.sock) and open(d.sock).read() == "not vmnetd's\n",
                  "the file put in the socket's place was removed at shutdown")
            check("is no longer the socket vmnetd made" in d.output(), d.output())
            os.unlink(d.sock)

        def signals():
            d = lab.daemon(ns="", sock=os.path.join(lab.dir, "signals.sock"))
            for sig in (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM):
                d.p.send_signal(sig)
                d.wait_for(rf"{sig.name}: ignored")
                check(d.p.poll() is None, f"{sig.name} ended the daemon: {d.output()}")
                s = socket.socket(socket.AF_UNIX)
                s.connect(d.sock)           # still serving
                s.close()
            check("SIGHUP: ignored (no --config file to reload)" in d.output(), d.output())
            d.p.send_signal(signal.SIGQUIT)
            check(d.p.wait(10) == 0, f"SIGQUIT: exit {d.p.returncode}: {d.output()}")
            check("SIGQUIT: shutting down" in d.output(), d.output())
            check(not os.path.exists(d.sock), "socket removed after SIGQUIT")

        def exposure_warnings():
            # Binding all addresses only inside a namespace made here.
            ns = lab.netns("expose")
            d = lab.spawn(ns, [VMNETD, "--listen", "tcp:0.0.0.0:5556",
                               "--listen", "tcp:[::]:5557", "--listen", "tcp:127.0.0.1:5558",
                               "--nat", "hostfwd=tcp::2222-:22",
                               "--nat", "hostfwd=udp:127.0.0.1:2223-:53"], name="vmnetd-exposed")
            d.wait_for("Attach a VM to")
            out = d.output()
            for text in ("any host that reaches 0.0.0.0:5556 can attach a VM",
                         "any host that reaches [::]:5557 can attach a VM",
                         "hostfwd=tcp::2222-:22: listening on all addresses: reachable from "
                         "other machines"):
                check(text in out, f"no warning {text!r}:\n{out}")
            check("5558 can attach" not in out and "2223-:53: listening" not in out,
                  f"a warning for a loopback address:\n{out}")
            check(d.stop() == 0, d.output())

        def tcp_listeners():
            ns = lab.netns("tcp")
            d = lab.spawn(ns, [VMNETD, "--listen", "tcp:5556", "--listen", "tcp:[::1]:5557"],
                          name="vmnetd-tcp")
            d.wait_for(r"addr.host=::1,addr.port=5557")
            check("addr.type=inet,addr.host=127.0.0.1,addr.port=5556" in d.output(),
                  "QEMU arguments for the IPv4 listener")
            # The client holds its sockets: the daemon asks the kernel who
            # owns them (a loopback peer must be our uid or root).
            c = lab.spawn(ns, [PYTHON, "-c", HOLD_CLIENT, "127.0.0.1:5556", "::1:5557"],
                          name="client-root")
            d.wait_for(r"tcp:127\.0\.0\.1:5556 client 1 \(127\.0\.0\.1:\d+\): connected")
            d.wait_for(r"tcp:\[::1\]:5557 client 1 \(\[::1\]:\d+\): connected")
            c.stop()
            check("not on loopback" not in d.output(), "no exposure warning on loopback")
            if not shutil.which("setpriv"):
                raise StepSkipped("setpriv is not installed (other uid on loopback)")
            c = lab.spawn(ns, ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
                               "--clear-groups", PYTHON, "-c", HOLD_CLIENT, "127.0.0.1:5556",
                               "::1:5557"], name="client-nobody")
            d.wait_for(rf"tcp:127\.0\.0\.1:5556 client 2 .*: refused: uid {NOBODY}, only "
                       rf"uid 0 \(and root\) may attach here")
            d.wait_for(rf"tcp:\[::1\]:5557 client 2 .*: refused: uid {NOBODY}")
            c.wait_for("closed by the daemon: 2")
            check(not re.search(r"client 2 .*: connected", d.output()),
                  "another uid's client was attached")
            c.stop()
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
            # Room for every client at once (max-ports= would refuse the
            # excess, and a refused client's write fails): the daemon may
            # accept hundreds before it reads the first one's end.
            d = lab.daemon("--network", "default,mode=nat,max-ports=2048,port-macs=1", ns="",
                           sock=os.path.join(lab.dir, "churn.sock"))
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
            # Every descriptor back (generous: each broadcast goes to every
            # client still attached, and a sanitizer build on a loaded
            # machine falls well behind the clients), then one more client
            # through: the iterations that closed the others (and freed
            # their ports after them) are over, however the daemon batched
            # its events and whichever clients max-ports= turned away.
            wait_until(lambda: fd_count(pid) <= fds, 120,
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

        def relay_slots():
            # libslirp starts one relay process per guestfwd connection; one
            # daemon's relays take at most 64 slots, the rest end at once.
            srv = socket.socket()
            srv.bind(("127.0.0.1", 0))
            srv.listen(128)
            target = f"tcp:127.0.0.1:{srv.getsockname()[1]}"
            key = f"test{os.getpid()}"
            relays = []
            try:
                for _ in range(70):
                    r, w = os.pipe()
                    relays.append((subprocess.Popen(
                        [VMNETD, "--relay-slots", key, "--guestfwd-relay", target],
                        stdin=r, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE), r, w))
                    os.close(r)
                wait_until(lambda: sum(p.poll() is not None for p, _, _ in relays) >= 6, 20,
                           "the relays past 64 to end")
                ended = [p for p, _, _ in relays if p.poll() is not None]
                check(len(ended) == 6, f"{len(ended)} relays ended, want 6")
                check(all(p.returncode == 1 for p in ended), "refused relays exit 1")
                # Its stderr is the guest's socket under libslirp: nothing there.
                check(ended[0].stderr.read() == b"", "a refused relay writes to its stderr")
            finally:
                for p, _, w in relays:
                    p.kill()
                    p.wait()
                    p.stderr.close()
                    os.close(w)
                srv.close()

        return run_steps([
            ("--version and --help", version_and_help),
            ("bad options: exit 2, one message naming the option", bad_options),
            ("unix socket 0600 by default, --socket-mode widens it", socket_modes),
            ("stale socket replaced, live socket refused", stale_and_live),
            ("unix socket made with its mode under umask, never chmod()ed", socket_born_with_mode),
            ("socket directory writable by others refused unless sticky", socket_dirs),
            ("a file put in the socket's place is not removed at shutdown", replaced_socket_kept),
            ("SIGHUP, SIGUSR1/2, SIGALRM ignored; SIGQUIT shuts down cleanly", signals),
            ("warnings for a TCP listener off loopback and hostfwd on all addresses",
             exposure_warnings),
            ("TCP listeners on 127.0.0.1 and [::1]; another uid on loopback refused",
             tcp_listeners),
            ("--connect reaches QEMU server=on once it appears", connect_to_qemu_server),
            ("garbage and 3000 connects: no leak, still serving", garbage_and_many_connects),
            ("guestfwd relays: at most 64 at once per daemon", relay_slots),
        ], lab)


if __name__ == "__main__":
    sys.exit(main())
