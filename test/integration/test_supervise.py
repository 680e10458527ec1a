#!/usr/bin/env python3
"""test_supervise.py - what supervisors and the control socket's clients see of a running vmnetd.

--ready-fd says "1" and closes once both sockets take connections; closing
the other end of --exit-fd shuts it down cleanly (a bad descriptor is exit 2);
--pid-file holds its pid while it runs; sd_notify says READY=1, RELOADING=1
then READY=1 around a SIGHUP, and STOPPING=1; sockets handed over by systemd
(LISTEN_FDS, names default and api) serve the network and the API, no default
socket is made, and the passed files stay after exit; SIGHUP reloads
--config, keeping an unchanged network's VMs and changing only its forwards,
rebuilding a changed network and starting a new one, and a broken file
changes nothing; a network whose only VM came by --fd keeps it (and gets
no default socket) through a reload of an unchanged file, and once its
section changes it is rebuilt in the file's place (still the first network)
with forward ids that go on from those given before; stray signals do not kill it; --socket-group gives both
sockets to the group and the API refuses other users; the API survives
garbage, deep nesting, long lines, too many clients, a stalled client and
thousands of connections; the QEMU arguments printed carry distinct MACs.

No QEMU: a VM is a raw stream client (one frame, QEMU's framing) and the
control socket's client is a unix socket in this process.
"""
import fcntl
import json
import os
import re
import select
import signal
import socket
import stat
import struct
import subprocess
import sys
import threading
import time

from harness import (Lab, PYTHON, VMNETD, Proc, StepSkipped, check, proc_status_kib,
                     read_to_eof, require, run_steps, wait_until)

NOBODY = 65534
# Host ports inside the lab namespace: the file's forward before a reload,
# after it, in a broken file; and one added through the API.
HOSTFWD_X, HOSTFWD_Y, HOSTFWD_Z, HOSTFWD_API = 2201, 2202, 2203, 2204
# The --fd reload step's: the file's forward, two from the API before the
# reload, one after.
FDFWD_FILE, FDFWD_API1, FDFWD_API2, FDFWD_AFTER = 2211, 2212, 2213, 2214

# A control-socket client for another user: one request, prints the reply.
API_CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
try:
    s.sendall(sys.argv[2].encode() + b"\n")
except OSError:
    pass                            # a refused client may be closed already
buf = b""
while not buf.endswith(b"\n"):
    try:
        chunk = s.recv(65536)
    except ConnectionResetError:
        break
    if not chunk:
        break
    buf += chunk
sys.stdout.write(buf.decode())
"""


def have_systemd():
    """Whether this vmnetd was built with libsystemd (sd_notify, LISTEN_FDS)."""
    config_h = os.path.join(os.path.dirname(os.path.abspath(VMNETD)), "config.h")
    try:
        with open(config_h) as f:
            m = re.search(r"#define VMNETD_HAVE_SYSTEMD (\d)", f.read())
        if m:
            return m.group(1) == "1"
    except FileNotFoundError:
        pass
    r = subprocess.run(["ldd", VMNETD], capture_output=True, text=True)
    return "libsystemd" in r.stdout


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class FdProc(Proc):
    """A Proc that inherits some descriptors (pass_fds)."""

    def __init__(self, name, argv, env=None, pass_fds=()):
        self.name, self.argv, self.lines = name, argv, []
        self.cond = threading.Condition()
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, env=env, start_new_session=True,
                                  pass_fds=pass_fds)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()


def spawn_fds(lab, ns, argv, name, pass_fds, env=None):
    p = FdProc(name, ["ip", "netns", "exec", ns] + list(argv), env=env, pass_fds=pass_fds)
    lab.procs.append(p)             # the Lab stops it, whatever happens
    return p


def fds_back(pid, target, slack, what, timeout=20):
    """Wait until the daemon holds `target` descriptors, give or take `slack`."""
    try:
        wait_until(lambda: abs(fd_count(pid) - target) <= slack, timeout,
                   f"{what}: descriptors back to {target}")
    except AssertionError as e:
        raise AssertionError(f"{e}; it holds {fd_count(pid)}") from None


class Api:
    """One connection to the control socket."""

    def __init__(self, path, timeout=10):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.s.close()

    def send(self, data):
        self.s.sendall(data)

    def line(self):
        """The next reply line, as text."""
        while b"\n" not in self.buf:
            try:
                chunk = self.s.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise AssertionError(f"control socket closed without a reply "
                                     f"(got {self.buf!r})")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def reply(self):
        return json.loads(self.line())

    def request(self, execute, **arguments):
        req = {"execute": execute}
        if arguments:
            req["arguments"] = arguments
        self.send(json.dumps(req).encode() + b"\n")
        return self.reply()

    def at_eof(self, timeout=10):
        """Whether the daemon closes the connection within `timeout` (replies
        that come first are kept for line())."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select([self.s], [], [], left)
            if not r:
                continue
            try:
                chunk = self.s.recv(65536)
            except ConnectionResetError:
                return True
            if not chunk:
                return True
            self.buf += chunk


def api_call(path, execute, **arguments):
    with Api(path) as c:
        return c.request(execute, **arguments)


def returned(reply, what):
    check("return" in reply, f"{what}: {reply}")
    return reply["return"]


def error_desc(reply, what):
    check(set(reply) == {"error"} and set(reply["error"]) == {"desc"}, f"{what}: {reply}")
    return reply["error"]["desc"]


def stream_ports(api_path, network=None):
    ports = returned(api_call(api_path, "list_ports"), "list_ports")["ports"]
    return [p for p in ports if p["kind"] == "stream" and network in (None, p["network"])]


def accepts_now(sock, api, when):
    """Both sockets take a client at once (no retry): the data socket a
    connection, the API socket a request it answers."""
    try:
        vm = socket.socket(socket.AF_UNIX)
        vm.connect(sock)
        vm.close()
    except OSError as e:
        raise AssertionError(f"{when}: data socket {sock}: {e}") from None
    try:
        return networks(api)
    except OSError as e:
        raise AssertionError(f"{when}: API socket {api}: {e}") from None


def networks(api_path):
    return {n["name"]: n for n in
            returned(api_call(api_path, "list_networks"), "list_networks")["networks"]}


class VmClient:
    """A VM as the daemon sees it: a stream connection that sent one frame."""

    def __init__(self, path, last_byte):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        mac = bytes([0x52, 0x54, 0x00, 0x00, 0x5e, last_byte])
        frame = b"\xff" * 6 + mac + b"\x88\xb5" + b"vmnetd supervise test".ljust(46, b"\0")
        self.s.sendall(struct.pack("!I", len(frame)) + frame)

    def closed(self):
        """Whether the daemon has closed it (what it sent is dropped)."""
        while True:
            try:
                data = self.s.recv(65536, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return False
            except ConnectionResetError:
                return True
            if not data:
                return True

    def close(self):
        self.s.close()


def main():
    require("ip", "bash", "setpriv", "groupadd", "groupdel")
    systemd = have_systemd()
    with Lab("supervise") as lab:
        ns = lab.netns("sup")

        def path(name):
            return os.path.join(lab.dir, name)

        def daemon(*args, sock, name):
            d = lab.daemon(*args, ns=ns, sock=sock, name=name)
            check(os.path.realpath(f"/proc/{d.p.pid}/exe") == os.path.realpath(VMNETD),
                  "the spawned process is the daemon itself")
            return d

        def probe(port):
            rc, out = lab.netutil(ns, "tcp-probe", "127.0.0.1", str(port), "5", timeout=20)
            check(rc == 0, out)
            return out.split()[0]

        def ready_fd():
            sock, api = path("ready.sock"), path("ready.api")
            r, w = os.pipe()
            try:
                d = spawn_fds(lab, ns, [VMNETD, "--listen", f"unix:{sock}", "--ready-fd", str(w)],
                              name="vmnetd-ready", pass_fds=(w,))
                os.close(w)
                w = None
                said = read_to_eof(r, 20, "--ready-fd to say 1 and close")
            finally:
                os.close(r)
                if w is not None:
                    os.close(w)
            nets = accepts_now(sock, api, "at --ready-fd")
            check(said == b"1", f"--ready-fd got {said!r}, want b'1' then the end")
            check(list(nets) == ["default"], f"list_networks: {nets}")
            check(d.p.poll() is None, f"daemon exited: {d.output()}")
            check(d.stop() == 0, d.output())

        def exit_fd():
            sock, api = path("exit.sock"), path("exit.api")
            r, w = os.pipe()
            try:
                d = spawn_fds(lab, ns, [VMNETD, "--listen", f"unix:{sock}", "--exit-fd", str(r)],
                              name="vmnetd-exit", pass_fds=(r,))
                os.close(r)
                r = None
                d.wait_for("Attach a VM to")
                os.write(w, b"bytes on the pipe are not its end\n")
                returned(api_call(api, "list_networks"), "after bytes on --exit-fd")
                check(d.p.poll() is None and "--exit-fd closed" not in d.output(),
                      f"bytes on --exit-fd shut the daemon down:\n{d.output()}")
                os.close(w)
                w = None
                d.wait_for(r"--exit-fd closed: shutting down")
                check(d.p.wait(10) == 0, f"exit {d.p.returncode} after --exit-fd:\n{d.output()}")
            finally:
                for fd in (r, w):
                    if fd is not None:
                        os.close(fd)
            check(not os.path.exists(sock), "data socket removed after --exit-fd")
            check(not os.path.exists(api), "API socket removed after --exit-fd")
            bad = path("badfd.sock")
            for opt in ("--exit-fd", "--ready-fd"):
                res = lab.run(ns, VMNETD, "--listen", f"unix:{bad}", opt, "57", check=False)
                check(res.returncode == 2, f"{opt} 57 (not open): exit {res.returncode}, want 2")
                check(res.stderr.startswith(f"vmnetd: {opt} 57: not an open descriptor"),
                      f"{opt} 57: said {res.stderr!r}")
                check(not os.path.exists(bad), f"{opt} 57: a socket was made")

        def pid_file():
            pidf = path("vmnetd.pid")
            d = daemon("--pid-file", pidf, sock=path("pid.sock"), name="vmnetd-pid")
            with open(pidf) as f:
                text = f.read()
            check(text == f"{d.p.pid}\n", f"pid file says {text!r}, daemon is {d.p.pid}")
            check(d.stop() == 0, d.output())
            check(not os.path.exists(pidf), "pid file removed after a clean exit")

        def sd_notify():
            if not systemd:
                raise StepSkipped("vmnetd built without libsystemd (VMNETD_HAVE_SYSTEMD 0)")
            nsock, sock, api = path("notify"), path("notify.sock"), path("notify.api")
            conf = path("notify.conf")
            with open(conf, "w") as f:
                f.write(f"[n]\nmode=nat\nlisten=unix:{sock}\n")
            n = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            n.bind(nsock)

            def message(what, timeout=20):
                r, _, _ = select.select([n], [], [], timeout)
                check(r, f"no sd_notify message within {timeout}s ({what})")
                return n.recv(4096).decode().split("\n")

            def nothing_more():
                try:
                    extra = n.recv(4096, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    return
                raise AssertionError(f"unexpected sd_notify message {extra!r}")

            try:
                d = lab.spawn(ns, [VMNETD, "--config", conf], name="vmnetd-notify",
                              env=dict(os.environ, NOTIFY_SOCKET=nsock))
                got = message("READY=1")
                accepts_now(sock, api, "at READY=1")
                check(got == ["READY=1"], f"first message {got}, want READY=1")
                nothing_more()
                d.p.send_signal(signal.SIGHUP)
                got = message("RELOADING=1")
                check("RELOADING=1" in got, f"after SIGHUP: {got}, want RELOADING=1")
                got = message("READY=1 after the reload")
                check(got == ["READY=1"], f"after RELOADING=1: {got}, want READY=1")
                d.wait_for("reload: done")
                nothing_more()
                d.p.send_signal(signal.SIGTERM)
                got = message("STOPPING=1")
                check(got == ["STOPPING=1"], f"at SIGTERM: {got}, want STOPPING=1")
                check(d.p.wait(10) == 0, f"exit {d.p.returncode}:\n{d.output()}")
            finally:
                n.close()

        def socket_activation():
            if not systemd:
                raise StepSkipped("vmnetd built without libsystemd (no socket activation)")
            # As the user units do it: systemd made $XDG_RUNTIME_DIR/vmnetd
            # and listens on default.sock and default.api there; the daemon
            # runs as that user (nobody here), whose default directory it is.
            xdg, home = path("xdg"), path("home")
            default_dir = os.path.join(xdg, "vmnetd")
            for d in (xdg, home, default_dir):
                os.mkdir(d, 0o700)
                os.chown(d, NOBODY, NOBODY)
            sock = os.path.join(default_dir, "default.sock")
            api = os.path.join(default_dir, "default.api")
            listeners, fds = [], []
            try:
                for p in (sock, api):
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    listeners.append(s)
                    s.bind(p)
                    s.listen(16)
                    os.chown(p, NOBODY, NOBODY)
                inodes = {p: os.stat(p).st_ino for p in (sock, api)}

                def same_files(when):
                    names = sorted(os.listdir(default_dir))
                    check(names == ["default.api", "default.sock"],
                          f"{when}: the default directory holds {names}")
                    for p, ino in inodes.items():
                        st = os.stat(p)
                        check(stat.S_ISSOCK(st.st_mode) and st.st_ino == ino,
                              f"{when}: {p}, systemd's socket, was replaced")

                # Copies away from 3 and 4 (this process may use those); the
                # shell puts them there, and the daemon is the shell's pid.
                for i, s in enumerate(listeners):
                    fds.append(fcntl.fcntl(s.fileno(), fcntl.F_DUPFD, 40 + i))
                r, w = os.pipe()
                fds += [r, w]
                env = dict(os.environ, LISTEN_FDS="2", LISTEN_FDNAMES="default:api",
                           XDG_RUNTIME_DIR=xdg, HOME=home)
                env.pop("LISTEN_PID", None)
                d = spawn_fds(lab, ns, [
                    "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                    "bash", "-c", f'exec 3<&{fds[0]} 4<&{fds[1]} {fds[0]}<&- {fds[1]}<&-; '
                    'LISTEN_PID=$$ exec "$@"', "vmnetd-wrapper",
                    VMNETD, "--ready-fd", str(w)], name="vmnetd-activated",
                    pass_fds=(fds[0], fds[1], w), env=env)
                for fd in (fds[0], fds[1], w):
                    os.close(fd)
                    fds.remove(fd)
                said = read_to_eof(r, 20, "the activated daemon's --ready-fd")
                check(said == b"1", f"--ready-fd got {said!r}:\n{d.output()}")
                vm = VmClient(sock, 1)
                wait_until(lambda: stream_ports(api, "default"), 10,
                           "the client of the passed socket in list_ports (asked through the "
                           "passed API socket)")
                nets = networks(api)
                check(list(nets) == ["default"] and nets["default"]["ports"] >= 1,
                      f"list_networks: {nets}")
                same_files("while it runs")
                check("control socket: unix:" not in d.output(),
                      f"a control socket of its own:\n{d.output()}")
                vm.close()
                check(d.stop() == 0, d.output())
                same_files("after the daemon's exit")
                check(os.listdir(xdg) == ["vmnetd"], f"left in $XDG_RUNTIME_DIR: "
                      f"{os.listdir(xdg)}")
                for p in (sock, api):
                    c = socket.socket(socket.AF_UNIX)
                    c.connect(p)        # still systemd's, listening for the next start
                    c.close()
            finally:
                for fd in fds:
                    os.close(fd)
                for s in listeners:
                    s.close()

        def reload_config():
            conf = path("reload.conf")
            sock = {n: path(f"{n}.sock") for n in "abc"}
            api = path("a.api")

            def write(a_fwd, b_net, c=True, extra=""):
                with open(conf, "w") as f:
                    f.write(f"[a]\nmode=nat\nlisten=unix:{sock['a']}\n"
                            f"hostfwd=tcp:127.0.0.1:{a_fwd}-:22\n{extra}\n"
                            f"[b]\nmode=hostonly\nnet={b_net}\nlisten=unix:{sock['b']}\n")
                    if c:
                        f.write(f"\n[c]\nmode=hostonly\nnet=192.168.79.0/24\n"
                                f"listen=unix:{sock['c']}\n")

            write(HOSTFWD_X, "192.168.77.0/24", c=False)
            d = lab.spawn(ns, [VMNETD, "--config", conf], name="vmnetd-reload")
            d.wait_for("Attach a VM to network b ")
            va, vb = VmClient(sock["a"], 1), VmClient(sock["b"], 2)
            pa = wait_until(lambda: stream_ports(api, "a"), 10, "a's client in list_ports")
            wait_until(lambda: stream_ports(api, "b"), 10, "b's client in list_ports")
            returned(api_call(api, "add_hostfwd", network="a", proto="tcp",
                              host_addr="127.0.0.1", host_port=HOSTFWD_API, guest_port=80),
                     "add_hostfwd")
            check(probe(HOSTFWD_X) == "CONNECTED", f"hostfwd {HOSTFWD_X} before the reload")
            check(probe(HOSTFWD_Y) == "REFUSED", f"port {HOSTFWD_Y} before the reload")

            write(HOSTFWD_Y, "192.168.78.0/24")
            mark = len(d.lines)
            d.p.send_signal(signal.SIGHUP)
            d.wait_for("reload: done", since=mark)
            d.wait_for(r"network c: started", since=mark)
            pa2 = stream_ports(api, "a")
            check([p["id"] for p in pa2] == [pa[0]["id"]],
                  f"a's client after the reload: {pa2}, before {pa}")
            check(not va.closed(), "a (forwards changed only) closed its VM's connection")
            fwds = returned(api_call(api, "list_hostfwd", network="a"), "list_hostfwd")
            check(sorted(e["host_port"] for e in fwds["entries"]) == [HOSTFWD_Y, HOSTFWD_API],
                  f"a's forwards after the reload (the file's moved, the API's kept): {fwds}")
            check(probe(HOSTFWD_X) == "REFUSED", f"old hostfwd {HOSTFWD_X} still accepts")
            check(probe(HOSTFWD_Y) == "CONNECTED", f"new hostfwd {HOSTFWD_Y} refuses")
            check(probe(HOSTFWD_API) == "CONNECTED", "the API's forward was lost in the reload")
            wait_until(vb.closed, 10, "b (net= changed) to close its VM's connection")
            vb2 = VmClient(sock["b"], 3)
            wait_until(lambda: stream_ports(api, "b"), 10, "a new client of b in list_ports")
            nets = networks(api)
            check(sorted(nets) == ["a", "b", "c"], f"networks after the reload: {list(nets)}")
            check(nets["b"]["subnet"] == "192.168.78.0/24", f"b after the reload: {nets['b']}")
            check(stat.S_ISSOCK(os.stat(sock["c"]).st_mode), "c's socket")
            vc = VmClient(sock["c"], 4)
            wait_until(lambda: stream_ports(api, "c"), 10, "c's client in list_ports")

            # A broken file: a warning, and none of its changes (c removed,
            # a's forward moved) is made.
            for why, extra in (("an unknown key", "frobnicate=1"),
                               ("a line that is no key", "this line is no key")):
                write(HOSTFWD_Z, "192.168.78.0/24", c=False, extra=extra)
                mark = len(d.lines)
                d.p.send_signal(signal.SIGHUP)
                m = d.wait_for(r"reload: .*; nothing changed|reload: done", since=mark)
                check("WARNING" in m.string and "nothing changed" in m.string,
                      f"a file with {why} gave {m.string!r}")
                check(sorted(networks(api)) == ["a", "b", "c"], f"networks after {why}")
                check(probe(HOSTFWD_Y) == "CONNECTED" and probe(HOSTFWD_Z) == "REFUSED",
                      f"forwards after {why}")
                check(not (va.closed() or vb2.closed() or vc.closed()),
                      f"a VM disconnected by a file with {why}")
                check(len(stream_ports(api)) == 3, f"ports after {why}")
            for v in (va, vb, vb2, vc):
                v.close()
            check(d.stop() == 0, d.output())

        def reload_fd_network():
            # As the user's daemon (nobody), so that its default socket
            # directory is one of ours: $XDG_RUNTIME_DIR/vmnetd.
            home = path("fdr")
            xdg = os.path.join(home, "run")
            default_dir = os.path.join(xdg, "vmnetd")
            for dr in (home, xdg, default_dir):
                os.mkdir(dr, 0o700)
                os.chown(dr, NOBODY, NOBODY)
            default_sock = os.path.join(default_dir, "default.sock")
            conf, api = path("fdr.conf"), os.path.join(home, "fdr.api")
            lab_sock = os.path.join(home, "lab.sock")

            def write(extra=""):
                with open(conf, "w") as f:
                    f.write(f"[default]\nmode=nat\nhostfwd=tcp:127.0.0.1:{FDFWD_FILE}-:22\n"
                            f"{extra}\n"
                            f"[lab]\nmode=hostonly\nnet=192.168.81.0/24\n"
                            f"listen=unix:{lab_sock}\n")

            def fwd_ids():
                return sorted(e["id"] for n in ("default", "lab") for e in returned(
                    api_call(api, "list_hostfwd", network=n), "list_hostfwd")["entries"])

            def reload(what):
                mark = len(d.lines)
                d.p.send_signal(signal.SIGHUP)
                m = d.wait_for(r"reload: ", since=mark)
                check(m.string.endswith("reload: done"), f"{what}: {m.string!r}")
                return mark

            write()
            vm, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                n = theirs.fileno()
                d = spawn_fds(lab, ns, [
                    "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                    VMNETD, "--config", conf, "--fd", f"{n},network=default",
                    "--api-socket", api], name="vmnetd-fd-reload", pass_fds=(n,),
                    env=dict(os.environ, XDG_RUNTIME_DIR=xdg, HOME=home))
                theirs.close()
                d.wait_for(rf"default: fd {n}: connected")
                d.wait_for("Attach a VM to network lab ")
                mac = bytes([0x52, 0x54, 0x00, 0x00, 0x5f, 0x01])
                frame = b"\xff" * 6 + mac + b"\x88\xb5" + b"the --fd VM".ljust(46, b"\0")
                vm.sendall(struct.pack("!I", len(frame)) + frame)
                fd_port = wait_until(lambda: [p for p in returned(api_call(
                    api, "list_ports", network="default"), "list_ports")["ports"]
                    if not p["uplink"]], 10, "the --fd VM in list_ports")
                check(len(fd_port) == 1 and fd_port[0]["macs"] == ["52:54:00:00:5f:01"],
                      f"the --fd VM's port: {fd_port}")
                lab_vm = VmClient(lab_sock, 0x21)
                wait_until(lambda: stream_ports(api, "lab"), 10, "lab's VM in list_ports")
                for port in (FDFWD_API1, FDFWD_API2):
                    returned(api_call(api, "add_hostfwd", network="default", proto="tcp",
                                      host_addr="127.0.0.1", host_port=port, guest_port=80),
                             "add_hostfwd before the reload")
                before = fwd_ids()
                check(len(before) == 3, f"forwards before the reload: {before}")
                check(list(networks(api)) == ["default", "lab"],
                      f"networks at start: {list(networks(api))}")
                check(not os.path.exists(default_sock), "a default socket at start")

                # The same file again: nothing to do for either network.
                mark = reload("an unchanged file")
                said = "\n".join(d.lines[mark:])
                check("closed with its VMs" not in said and "started" not in said,
                      f"an unchanged file rebuilt a network:\n{said}")
                check(not os.path.exists(default_sock),
                      f"an unchanged file gave default a socket: {default_sock}")
                vm.setblocking(False)
                try:
                    got = vm.recv(65536)
                    check(got != b"", "the --fd VM's connection was closed by a reload of "
                          "an unchanged file")
                except BlockingIOError:
                    pass
                ports = [p for p in returned(api_call(api, "list_ports", network="default"),
                                             "list_ports")["ports"] if not p["uplink"]]
                check([p["id"] for p in ports] == [fd_port[0]["id"]],
                      f"default's ports after the reload: {ports}, before {fd_port}")
                check(fwd_ids() == before, f"forwards after an unchanged reload: {fwd_ids()}")
                check(list(networks(api)) == ["default", "lab"],
                      f"networks after an unchanged reload: {list(networks(api))}")
                check(not lab_vm.closed(), "lab's VM closed by an unchanged reload")

                # default's section changes: it is rebuilt (its --fd VM goes:
                # descriptors count at start only), still first, still
                # without a socket, and its forward ids go on.
                write("domainname=x.example")
                mark = reload("default changed")
                d.wait_for(r"network default changed: closed with its VMs", since=mark)
                d.wait_for(r"network default: started", since=mark)
                vm.setblocking(True)
                vm.settimeout(10)
                try:
                    while vm.recv(65536):
                        pass
                except socket.timeout:
                    raise AssertionError("the --fd VM still connected after default was "
                                         "rebuilt") from None
                names = list(networks(api))
                check(names == ["default", "lab"],
                      f"list_networks after default was rebuilt: {names}, want default first")
                check(not os.path.exists(default_sock),
                      f"the rebuilt default got a default socket: {default_sock}")
                after = fwd_ids()
                check(len(after) == 1 and after[0] > max(before),
                      f"the file's forward of the rebuilt default: id {after}, ids given "
                      f"before {before}")
                new_id = returned(api_call(api, "add_hostfwd", network="default", proto="tcp",
                                           host_addr="127.0.0.1", host_port=FDFWD_AFTER,
                                           guest_port=80), "add_hostfwd after the rebuild")["id"]
                check(new_id > max(before + after),
                      f"add_hostfwd after the rebuild gave id {new_id}; ids given before: "
                      f"{before + after}")
                # The API's "first network" is still default.
                first = returned(api_call(api, "list_hostfwd"), "list_hostfwd")["entries"]
                check(sorted(e["id"] for e in first) == sorted(after + [new_id]),
                      f"list_hostfwd without a network lists {first}, not default's")
                check(not lab_vm.closed(), "lab's VM closed when only default changed")
                lab_vm.close()
                check(d.stop() == 0, d.output())
            finally:
                vm.close()

        def stray_signals():
            sock = path("sig.sock")
            d = daemon(sock=sock, name="vmnetd-signals")
            mark = len(d.lines)
            d.p.send_signal(signal.SIGHUP)
            d.wait_for(r"SIGHUP: ignored \(no --config file to reload\)", since=mark)
            for sig in (signal.SIGPIPE, signal.SIGUSR1, signal.SIGUSR2):
                d.p.send_signal(sig)
            # Once it has logged the last, it has run past the others.
            d.wait_for(r"SIGUSR1: ignored", since=mark)
            d.wait_for(r"SIGUSR2: ignored", since=mark)
            check(d.p.poll() is None, f"killed by a stray signal: {d.output()}")
            returned(api_call(path("sig.api"), "list_networks"), "after stray signals")
            check(d.stop() == 0, d.output())

        def socket_group():
            group = f"vmnsup{os.getpid() % 100000}"
            subprocess.run(["groupadd", group], check=True, capture_output=True)
            try:
                gid = int(subprocess.run(["getent", "group", group], capture_output=True,
                                         text=True, check=True).stdout.split(":")[2])
                gdir = path("grp")
                os.mkdir(gdir, 0o755)
                sock, api = os.path.join(gdir, "x.sock"), os.path.join(gdir, "x.api")
                d = daemon("--socket-group", group, sock=sock, name="vmnetd-group")
                for p in (sock, api):
                    st = os.stat(p)
                    check(stat.S_IMODE(st.st_mode) == 0o660 and st.st_gid == gid,
                          f"{p}: mode {oct(stat.S_IMODE(st.st_mode))} gid {st.st_gid}, "
                          f"want 0660 gid {gid}")

                def client(*groups):
                    ids = ["--groups", ",".join(map(str, groups))] if groups else \
                        ["--clear-groups"]
                    r = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
                                        *ids, PYTHON, "-c", API_CLIENT, api,
                                        '{"execute": "list_networks"}'],
                                       capture_output=True, text=True, timeout=20)
                    check(r.returncode == 0, f"client: {r.stderr}")
                    return r.stdout

                os.chmod(api, 0o666)    # the file lets anyone connect: the daemon must not
                try:
                    out = client()
                finally:
                    os.chmod(api, 0o660)
                check(out == '{"error":{"desc":"permission denied"}}\n',
                      f"uid {NOBODY} outside the group got {out!r}")
                d.wait_for(rf"control socket: uid {NOBODY} refused")
                out = client(gid)       # through the file's group and the daemon's
                check(json.loads(out).get("return", {}).get("networks"),
                      f"uid {NOBODY} in the group got {out!r}")
                check(d.stop() == 0, d.output())
            finally:
                subprocess.run(["groupdel", group], capture_output=True)

        def api_robustness():
            sock, api = path("rob.sock"), path("rob.api")
            d = daemon(sock=sock, name="vmnetd-api")
            pid = d.p.pid
            idle_fds = fd_count(pid)

            def serving(what):
                check(d.p.poll() is None, f"daemon gone after {what}: {d.output()}")
                with Api(api, timeout=5) as c:
                    returned(c.request("list_networks"), f"a new client after {what}")

            with Api(api) as c:
                c.send(b"this is not json\n")
                desc = error_desc(c.reply(), "garbage")
                check(desc.startswith("cannot parse JSON"), f"garbage: {desc!r}")
                desc = error_desc(c.request("frobnicate"), "unknown command")
                check(desc == "unknown command frobnicate", f"unknown command: {desc!r}")
                for req, want in (
                        ({"execute": "remove_hostfwd", "arguments": {"id": "1"}},
                         "remove_hostfwd: id must be an integer"),
                        ({"execute": "list_ports", "arguments": {"network": 7}},
                         "list_ports: network must be a string"),
                        ({"execute": "add_hostfwd", "arguments": {
                            "proto": "tcp", "host_port": [2222], "guest_port": 22}},
                         "add_hostfwd: host_port must be an integer"),
                        ({"execute": 7}, 'a request is an object with a string "execute"'),
                        ({"execute": "list_ports", "arguments": [1]},
                         '"arguments" must be an object'),
                        ([1, 2], 'a request is an object with a string "execute"')):
                    c.send(json.dumps(req).encode() + b"\n")
                    desc = error_desc(c.reply(), f"bad types {req}")
                    check(desc == want, f"{req}: {desc!r}, want {want!r}")
                returned(c.request("list_networks"), "the same connection after errors")
            serving("garbage and bad arguments")

            with Api(api) as c:
                try:
                    c.send(b"x" * (100 << 10))
                except (BrokenPipeError, ConnectionResetError):
                    pass                # closed while we wrote: the reply came first
                desc = error_desc(c.reply(), "100 KiB without a newline")
                check(desc.startswith("request too long"), f"100 KiB line: {desc!r}")
                check(c.at_eof(10), "connection still open after a request too long")
            serving("a request too long")

            with Api(api) as c:
                c.send(b"[" * 40000 + b"\n")
                desc = error_desc(c.reply(), "40000 '['")
                check(desc == "cannot parse JSON: nested too deep", f"40000 '[': {desc!r}")
                returned(c.request("list_networks"), "the same connection after deep nesting")
            serving("deep nesting")

            # 32 clients at once; the 33rd is turned away.
            fds_back(pid, idle_fds, 0, "the clients so far closed")
            held = []
            try:
                for _ in range(32):
                    held.append(Api(api))
                with Api(api) as extra:
                    desc = error_desc(extra.reply(), "the 33rd client")
                    check(desc == "too many clients", f"33rd client: {desc!r}")
                    check(extra.at_eof(5), "the 33rd client was not closed")
                vm = VmClient(sock, 9)
                d.wait_for(r"client 1: connected")
                ports = returned(held[0].request("list_ports"), "list_ports, 32 clients")
                check([p["kind"] for p in ports["ports"]].count("stream") == 1,
                      f"the VM among 32 API clients: {ports}")
                for i, c in enumerate(held):
                    returned(c.request("list_networks"), f"held client {i + 1}")
                vm.close()
            finally:
                for c in held:
                    c.close()
            serving("33 clients")

            # A client that stalls mid-request holds up nobody.
            with Api(api) as stalled:
                stalled.send(b'{"execute": "list_netw')
                with Api(api, timeout=5) as other:
                    t0 = time.monotonic()
                    returned(other.request("list_networks"), "while another client stalls")
                    check(time.monotonic() - t0 < 5, "answer delayed by a stalled client")
                stalled.send(b'orks"}\n')
                returned(stalled.reply(), "the stalled request, completed")
            serving("a stalled client")

            # Several requests in one write: replies in order (an empty line
            # asks nothing); one without a newline, then the end: answered.
            with Api(api) as c:
                c.send(b'{"execute": "list_networks"}\n{"execute": "nope"}\n\n'
                       b'{"execute": "list_hostfwd"}\n')
                check("networks" in returned(c.reply(), "1st of 3"), "1st reply")
                check(error_desc(c.reply(), "2nd of 3") == "unknown command nope", "2nd reply")
                check("entries" in returned(c.reply(), "3rd of 3"), "3rd reply")
                c.send(b'{"execute": "list_hostfwd"}')
                c.s.shutdown(socket.SHUT_WR)
                check("entries" in returned(c.reply(), "a request ended by EOF"), "EOF request")
                check(c.at_eof(5) and c.buf == b"", f"after the last reply: {c.buf!r}")
            serving("pipelined requests")

            # 2000 connect/request/close: no descriptor or memory kept.
            for _ in range(20):
                api_call(api, "list_ports")
            fds_back(pid, idle_fds, 0, "warm-up clients closed")
            fds, rss = fd_count(pid), proc_status_kib(pid, "VmRSS")
            for i in range(2000):
                with Api(api) as c:
                    returned(c.request("list_ports" if i % 2 else "stats"), f"cycle {i}")
            fds_back(pid, fds, 3, "2000 clients closed")
            grown = proc_status_kib(pid, "VmRSS") - rss
            if not os.environ.get("VMNETD_SANITIZED"):
                check(grown < 4 * 1024, f"RSS grew by {grown} KiB over 2000 API clients")
            serving("2000 clients")
            check(d.stop() == 0, d.output()[-3000:])

        def qemu_macs():
            d = lab.spawn(ns, [VMNETD, "--listen", f"unix:{path('m1.sock')}",
                               "--listen", f"unix:{path('m2.sock')}",
                               "--listen", "tcp:127.0.0.1:5560"], name="vmnetd-macs")
            d.wait_for("Several VMs may share a socket")
            lines = d.output().splitlines()
            args = [lines[i + 1] for i, line in enumerate(lines)
                    if line.startswith("Attach a VM to")]
            check(len(args) == 3, f"QEMU arguments for 3 listeners:\n{d.output()}")
            macs = []
            for a in args:
                m = re.search(r",mac=([0-9a-f]{2}(:[0-9a-f]{2}){5})(\s|$)", a)
                check(m, f"no mac= in {a!r}")
                check(int(m.group(1)[:2], 16) & 1 == 0, f"multicast MAC in {a!r}")
                macs.append(m.group(1))
            check(len(set(macs)) == 3, f"MACs not distinct: {macs}")
            check(d.stop() == 0, d.output())

        return run_steps([
            ("--ready-fd: \"1\", then closed, once both sockets accept", ready_fd),
            ("--exit-fd: its end shuts down cleanly; a bad descriptor is exit 2", exit_fd),
            ("--pid-file: the daemon's pid while it runs, removed after", pid_file),
            ("sd_notify: READY=1, RELOADING=1 then READY=1 on SIGHUP, STOPPING=1", sd_notify),
            ("socket activation: passed data and API sockets served, none made, both left",
             socket_activation),
            ("SIGHUP reloads --config: forwards changed in place, changed network rebuilt, "
             "new one started, a broken file changes nothing", reload_config),
            ("SIGHUP without --config, SIGPIPE, SIGUSR1, SIGUSR2: ignored", stray_signals),
            ("--socket-group: sockets 0660 of the group; API refuses others", socket_group),
            ("API: garbage, bad types, long lines, deep nesting, 33 clients, a stalled client, "
             "pipelining, 2000 clients", api_robustness),
            ("QEMU arguments: a distinct mac= for each listener", qemu_macs),
            ("SIGHUP with a network attached by --fd only: an unchanged file keeps its VM and "
             "makes no socket; a changed one rebuilds it first in order, forward ids go on",
             reload_fd_network),
        ], lab)


if __name__ == "__main__":
    sys.exit(main())
