#!/usr/bin/env python3
"""test_vmnetctl_fake.py - vmnetctl against a fake API server (no daemon, root or network).

A thread serves a unix socket the way doc/api.md says vmnetd does: one JSON
request a line, one reply line each, canned per "execute". It records every
request and the descriptors that came with it (SCM_RIGHTS). The steps check
the request each command sends, the tables and --json output people and
scripts get, exit status 1 with the daemon's message for an error reply, 2 for
usage errors (before any connection), a clear message for a missing socket or
a daemon that does not answer, and that `capture start` hands over a
descriptor of the very file the user named, opened with the user's rights.
"""
import fcntl
import json
import os
import re
import shlex
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

from harness import StepSkipped, check, run_steps

HERE = os.path.dirname(os.path.abspath(__file__))
VMNETCTL = os.path.abspath(os.environ.get("VMNETCTL", os.path.join(HERE, "../../build/vmnetctl")))
COMPLETION = os.path.join(HERE, "../../data/completion/vmnetctl")
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"

NOW = int(time.time())
FORWARDS = {"entries": [
    {"id": 3, "proto": "tcp", "host_addr": "127.0.0.1", "host_port": 2280,
     "guest_addr": "10.0.2.15", "guest_port": 22},
    {"id": 4, "proto": "tcp6", "host_addr": "::1", "host_port": 8080,
     "guest_addr": "fd00::15", "guest_port": 80}]}
NETWORKS = {"networks": [
    {"name": "default", "mode": "nat", "mtu": 65520, "subnet": "10.0.2.0/24",
     "gateway": "10.0.2.2", "sockets": ["unix:/run/user/1000/vmnetd/default.sock",
                                        "tcp:127.0.0.1:5555"], "ports": 2}]}
LEASES = {"leases": [
    {"network": "default", "ip": "10.0.2.15", "mac": "52:54:00:12:34:01",
     "hostname": "web\u001b[31m", "expires": NOW + 3600, "static": False},
    {"network": "lan", "ip": "192.168.7.9", "mac": "52:54:00:12:34:02",
     "hostname": "", "expires": 0, "static": True}]}
PORTS = {"ports": [
    {"network": "default", "id": 3, "kind": "stream", "peer": "unix client 3",
     "uplink": False, "macs": ["52:54:00:12:34:01"], "addresses": ["10.0.2.15"],
     "rx_frames": 10, "rx_bytes": 1200, "tx_frames": 9, "tx_bytes": 1100,
     "rx_drops": 0, "tx_drops": 0, "since": NOW - 3700},
    {"network": "default", "id": 1, "kind": "nat", "peer": "slirp", "uplink": True,
     "macs": [], "addresses": [], "rx_frames": 0, "rx_bytes": 0, "tx_frames": 0,
     "tx_bytes": 0, "rx_drops": 0, "tx_drops": 0, "since": NOW - 5}]}
FDB = {"fdb": [{"network": "default", "mac": "52:54:00:12:34:01", "port": 3,
                "static": False, "age": 12}]}
COUNTERS = {"rx_frames": 10, "rx_bytes": 1200, "tx_frames": 9, "tx_bytes": 1100,
            "rx_drops": 1, "tx_drops": 2}
STATS = {"networks": [{
    "name": "default", "ports": [dict(COUNTERS, id=3)],
    "totals": {"rx_frames": 11, "rx_bytes": 1300, "tx_frames": 19, "tx_bytes": 2100,
               "rx_drops": 1, "tx_drops": 2},
    "switch": {"flooded": 7, "hairpin_drops": 0, "learn_refused": 0, "runts": 0,
               "filtered": 4, "fdb_entries": 1}}]}

CANNED = {
    "add_hostfwd": {"return": {"id": 3}},
    "list_hostfwd": {"return": FORWARDS},
    "remove_hostfwd": {"return": {}},
    "list_networks": {"return": NETWORKS},
    "list_leases": {"return": LEASES},
    "list_ports": {"return": PORTS},
    "list_fdb": {"return": FDB},
    "stats": {"return": STATS},
    "capture_start": {"return": {}},
    "capture_stop": {"return": {"frames": 42, "bytes": 4200, "dropped": 1}},
    "disconnect_port": {"return": {}},
    "shutdown": {"return": {}},
}


class FakeDaemon:
    """The API socket: requests recorded as (raw line, parsed, descriptors)."""

    def __init__(self, path):
        self.path = path
        self.requests = []
        self.replies = dict(CANNED)
        self.raw_reply = None       # bytes sent instead of any reply
        self.silent = False         # read requests, never answer
        self.on_fds = None          # called with (request, fds) before the reply
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        threading.Thread(target=self._accept, daemon=True).start()

    def reset(self):
        with self.lock:
            self.requests = []
        self.replies, self.raw_reply, self.silent, self.on_fds = dict(CANNED), None, False, None

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        buf, fds = b"", []
        with conn:
            while True:
                data, got, _, _ = socket.recv_fds(conn, 65536, 4)
                fds += got
                if not data:
                    return
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    self._answer(conn, line, fds)
                    fds = []

    def _answer(self, conn, line, fds):
        req = json.loads(line)
        with self.lock:
            self.requests.append((line, req, list(fds)))
        if self.on_fds:
            self.on_fds(req, fds)
        for fd in fds:
            os.close(fd)
        if self.silent:
            return
        reply = self.raw_reply or json.dumps(self.replies[req["execute"]],
                                              separators=(",", ":")).encode() + b"\n"
        conn.sendall(reply)

    def sent(self):
        with self.lock:
            return [r for _, r, _ in self.requests]


def ctl(daemon, *args, timeout=20, env=None):
    sock = ["--socket", daemon.path] if daemon else []
    return subprocess.run([VMNETCTL] + sock + list(args), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, env=env)


def ok(r, what):
    check(r.returncode == 0, f"{what}: exit {r.returncode}\n{r.stdout}{r.stderr}")
    check(r.stderr == "", f"{what}: stderr {r.stderr!r}")


def complete(line):
    """What bash would offer after `line` (vmnetctl's path stands first):
    COMP_WORDS split as readline does, at blanks and at ':' and '='."""
    words = re.findall(r"[=:]+|[^\s=:]+", line) + ([""] if line.endswith(" ") else [])
    script = f"""
source {BASH_COMPLETION}
source {shlex.quote(COMPLETION)}
compopt() {{ :; }}      # the builtin works only inside a real completion
COMP_LINE={shlex.quote(line)}; COMP_POINT=${{#COMP_LINE}}
COMP_WORDS=({" ".join(shlex.quote(w) for w in words)}); COMP_CWORD={len(words) - 1}
_vmnetctl vmnetctl "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    r = subprocess.run(["bash", "--norc", "-c", script], capture_output=True, text=True,
                       timeout=30)
    check(r.returncode == 0, f"{line!r}: bash said {r.stderr}")
    return sorted(w for w in r.stdout.split("\n") if w)


def main():
    with tempfile.TemporaryDirectory(prefix="vmnetctl-") as tmp:
        d = FakeDaemon(os.path.join(tmp, "fake.api"))

        def expect_request(args, want, *more):
            """Run vmnetctl; its requests must be `want` and then `more`."""
            d.reset()
            r = ctl(d, *args)
            ok(r, args)
            sent = d.sent()
            check(sent[:1 + len(more)] == [want, *more] and len(sent) == 1 + len(more),
                  f"{args}: sent {sent}, want {[want, *more]}")
            return r

        def version_and_help():
            r = ctl(None, "--version")
            ok(r, "--version")
            check(r.stdout.startswith("vmnetctl "), r.stdout)
            r = ctl(None, "--help")
            ok(r, "--help")
            for word in ("forward add", "capture start", "Examples", "Exit status",
                         "--socket", "--json", "--network"):
                check(word in r.stdout, f"--help lacks {word!r}:\n{r.stdout}")

        def forward_add():
            r = expect_request(["forward", "add", "tcp:127.0.0.1:2280:22"],
                               {"execute": "add_hostfwd", "arguments": {
                                   "proto": "tcp", "host_addr": "127.0.0.1",
                                   "host_port": 2280, "guest_port": 22}},
                               {"execute": "list_hostfwd"})
            check(r.stdout == "forward 3 added: tcp 127.0.0.1:2280 -> 10.0.2.15:22\n",
                  r.stdout)
            line = d.requests[0][0]
            check(b"\n" not in line and line.startswith(b"{"), f"one line: {line!r}")

        def forward_specs():
            cases = [
                ("udp:5353:53", {"proto": "udp", "host_port": 5353, "guest_port": 53}),
                ("tcp:127.0.0.1:2280:10.0.2.16:22",
                 {"proto": "tcp", "host_addr": "127.0.0.1", "host_port": 2280,
                  "guest_addr": "10.0.2.16", "guest_port": 22}),
                ("tcp:[::1]:2280:22", {"proto": "tcp", "host_addr": "::1",
                                       "host_port": 2280, "guest_port": 22}),
                ("tcp6:2280:[fd00::16]:22", {"proto": "tcp6", "host_port": 2280,
                                             "guest_addr": "fd00::16", "guest_port": 22}),
                ("udp4::5353::53", {"proto": "udp4", "host_port": 5353, "guest_port": 53}),
            ]
            for spec, args in cases:
                expect_request(["--json", "forward", "add", spec],
                               {"execute": "add_hostfwd", "arguments": args})
            expect_request(["--network", "lan", "--json", "forward", "add", "udp:5353:53"],
                           {"execute": "add_hostfwd", "arguments": {
                               "proto": "udp", "host_port": 5353, "guest_port": 53,
                               "network": "lan"}})

        def json_output():
            for args, execute in [(["forward", "add", "udp:5353:53"], "add_hostfwd"),
                                  (["forward", "ls"], "list_hostfwd"),
                                  (["networks"], "list_networks"), (["leases"], "list_leases"),
                                  (["ports"], "list_ports"), (["fdb"], "list_fdb"),
                                  (["stats"], "stats"), (["capture", "stop"], "capture_stop"),
                                  (["forward", "rm", "3"], "remove_hostfwd"),
                                  (["shutdown"], "shutdown")]:
                d.reset()
                r = ctl(d, "--json", *args)
                ok(r, args)
                check(json.loads(r.stdout) == CANNED[execute]["return"],
                      f"{args} --json printed {r.stdout!r}")

        def listings():
            for args, execute in [(["forward", "ls"], "list_hostfwd"),
                                  (["networks"], "list_networks"), (["leases"], "list_leases"),
                                  (["ports"], "list_ports"), (["fdb"], "list_fdb"),
                                  (["stats"], "stats")]:
                expect_request(args, {"execute": execute})
            expect_request(["--network", "lan", "leases"],
                           {"execute": "list_leases", "arguments": {"network": "lan"}})

        def table(args, headers, *fields):
            d.reset()
            r = ctl(d, *args)
            ok(r, args)
            out = r.stdout.replace("\u00a0", " ")     # glib's sizes: "1.2\u00a0KiB"
            lines = out.splitlines()
            check(lines[0].split() == headers, f"{args} headers: {lines[0]!r}")
            for f in fields:
                check(f in out, f"{args}: no {f!r} in\n{out}")
            check(all(line == line.rstrip() for line in lines), "trailing blanks")
            return lines

        def tables():
            lines = table(["forward", "ls"], ["ID", "PROTO", "HOST", "GUEST"],
                          "127.0.0.1:2280", "10.0.2.15:22", "[::1]:8080", "[fd00::15]:80")
            check(len(lines) == 3, lines)
            # Columns line up: every row's GUEST starts where its title does.
            col = lines[0].index("GUEST")
            check(lines[1][col:].startswith("10.0.2.15:22"), lines)
            table(["networks"], ["NAME", "MODE", "MTU", "SUBNET", "GATEWAY", "PORTS", "SOCKETS"],
                  "default", "nat", "65520", "10.0.2.0/24", "10.0.2.2",
                  "unix:/run/user/1000/vmnetd/default.sock,tcp:127.0.0.1:5555")
            expires = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(NOW + 3600))
            lines = table(["leases"], ["NETWORK", "IP", "MAC", "HOSTNAME", "STATIC", "EXPIRES"],
                          "10.0.2.15", "52:54:00:12:34:01", "web?[31m", expires, "never")
            check("\x1b" not in "".join(lines), "a guest's escape reached the terminal")
            table(["ports"], ["NETWORK", "ID", "KIND", "PEER", "MACS", "ADDRESSES", "RX",
                              "TX", "UP"],
                  "unix client 3", "stream", "52:54:00:12:34:01", "10.0.2.15", "1h01m",
                  "1.2 KiB")
            table(["fdb"], ["NETWORK", "MAC", "PORT", "STATIC", "AGE"],
                  "52:54:00:12:34:01", "12s")
            lines = table(["stats"], ["NETWORK", "PORT", "RX_FRAMES", "RX_BYTES", "TX_FRAMES",
                                      "TX_BYTES", "RX_DROPS", "TX_DROPS"],
                          "FLOODED", "HAIRPIN_DROPS", "FDB_ENTRIES")
            check(any(line.split() == ["default", "total", "11", "1300", "19", "2100", "1",
                                       "2"] for line in lines), "no totals row:\n" + "\n".join(lines))
            check(any(line.split() == ["default", "7", "0", "0", "0", "4", "1"]
                      for line in lines), "no switch row:\n" + "\n".join(lines))

        def actions():
            r = expect_request(["forward", "rm", "3"],
                               {"execute": "remove_hostfwd", "arguments": {"id": 3}})
            check("forward 3 removed" in r.stdout, r.stdout)
            r = expect_request(["--network", "lan", "disconnect", "5"],
                               {"execute": "disconnect_port",
                                "arguments": {"id": 5, "network": "lan"}})
            check("port 5 disconnected" in r.stdout, r.stdout)
            r = expect_request(["capture", "stop"], {"execute": "capture_stop"})
            check("42 frames" in r.stdout and "1 dropped" in r.stdout, r.stdout)
            expect_request(["shutdown"], {"execute": "shutdown"})

        def daemon_error():
            d.reset()
            d.replies["add_hostfwd"] = {"error": {"desc": "host port 2280 is in use"}}
            r = ctl(d, "forward", "add", "tcp:127.0.0.1:2280:22")
            check(r.returncode == 1, f"exit {r.returncode}")
            check(r.stderr == "vmnetctl: host port 2280 is in use\n", repr(r.stderr))
            check(r.stdout == "", repr(r.stdout))
            d.reset()
            d.replies["list_ports"] = {"error": {"desc": "no network 'x'"}}
            r = ctl(d, "--json", "ports")
            check(r.returncode == 1 and "no network 'x'" in r.stderr and r.stdout == "",
                  f"--json error: {r.returncode} {r.stdout!r} {r.stderr!r}")

        def usage_errors():
            d.reset()
            for args in (["forward", "add", "tcp:2280"], ["forward", "add", "sctp:1:2"],
                         ["forward", "add", "tcp:1:99999"], ["forward", "add", "tcp:0:22"],
                         ["forward", "add", "tcp:::1:22:22"], ["forward", "add", "tcp:x:1:2"],
                         ["forward", "add", "tcp:[::1:22:22"],
                         ["forward", "add", "tcp:[10.0.0.1]:1:2"],
                         ["forward", "add", "tcp:1:2:3:4:5:6"],
                         ["forward", "add"], ["forward", "rm", "x"], ["forward", "rm", "0"],
                         ["forward", "frob"], ["forward"], ["frob"], [], ["leases", "x"],
                         ["--port", "3", "leases"], ["capture", "start"],
                         ["capture", "start", os.path.join(tmp, "u.pcap"), "--snaplen", "0"],
                         ["--timeout", "0", "leases"], ["--bogus"]):
                r = ctl(d, *args)
                check(r.returncode == 2, f"{args}: exit {r.returncode} {r.stderr!r}")
                check(r.stderr.startswith("vmnetctl: "), f"{args}: {r.stderr!r}")
            check(d.sent() == [], f"usage errors sent {d.sent()}")
            check(not os.path.exists(os.path.join(tmp, "u.pcap")), "a bad capture made a file")

        def no_daemon():
            missing = os.path.join(tmp, "none.api")
            r = subprocess.run([VMNETCTL, "--socket", missing, "leases"], capture_output=True,
                               text=True, timeout=20)
            check(r.returncode == 1, f"exit {r.returncode}")
            check(r.stderr.startswith(f"vmnetctl: cannot connect to {missing}: "
                                      "No such file or directory\n"), repr(r.stderr))
            check("--socket" in r.stderr, "no hint of --socket")
            env = dict(os.environ, VMNETD_API_SOCKET=d.path)
            d.reset()
            r = subprocess.run([VMNETCTL, "fdb"], capture_output=True, text=True,
                               timeout=20, env=env)
            ok(r, "VMNETD_API_SOCKET")
            check(d.sent() == [{"execute": "list_fdb"}], d.sent())

        def bad_replies():
            d.reset()
            d.silent = True
            t0 = time.monotonic()
            r = ctl(d, "--timeout", "1", "ports")
            took = time.monotonic() - t0
            check(r.returncode == 1 and "no reply" in r.stderr, f"{r.returncode} {r.stderr!r}")
            check(took < 5, f"the timeout took {took:.1f}s")
            d.reset()
            d.raw_reply = b"not json\n"
            r = ctl(d, "ports")
            check(r.returncode == 1 and "not JSON" in r.stderr, f"{r.returncode} {r.stderr!r}")
            d.reset()
            d.raw_reply = b'{"what": 1}\n'
            r = ctl(d, "ports")
            check(r.returncode == 1 and "neither" in r.stderr, f"{r.returncode} {r.stderr!r}")

        def capture_start():
            path = os.path.join(tmp, "cap.pcap")
            with open(path, "w") as f:
                f.write("old contents, longer than what the daemon writes\n")
            seen = {}

            def write_through(req, fds):
                seen["fds"] = len(fds)
                if fds:
                    seen["ino"] = os.fstat(fds[0]).st_ino
                    seen["flags"] = fcntl.fcntl(fds[0], fcntl.F_GETFL)
                    os.write(fds[0], b"pcap via the passed fd\n")
            d.reset()
            d.on_fds = write_through
            r = ctl(d, "capture", "start", path, "--port", "3", "--snaplen", "128")
            ok(r, "capture start")
            check(d.sent() == [{"execute": "capture_start", "arguments": {
                "file": path, "port": 3, "snaplen": 128}}], d.sent())
            check(seen.get("fds") == 1, f"{seen.get('fds')} descriptors came")
            check(seen["ino"] == os.stat(path).st_ino, "the descriptor is another file")
            check(seen["flags"] & os.O_ACCMODE == os.O_WRONLY, "not opened write-only")
            with open(path, "rb") as f:
                data = f.read()
            check(data == b"pcap via the passed fd\n", f"file holds {data!r} (not truncated?)")
            check("capturing to" in r.stdout, r.stdout)
            # A new file is created 0600; a refused capture removes it again.
            new = os.path.join(tmp, "new.pcap")
            d.reset()
            d.replies["capture_start"] = {"error": {"desc": "a capture runs already"}}
            r = ctl(d, "capture", "start", new)
            check(r.returncode == 1 and "a capture runs already" in r.stderr, r.stderr)
            check(not os.path.exists(new), "a refused capture left its new file")
            d.reset()
            r = ctl(d, "capture", "start", new)
            ok(r, "capture start (new file)")
            mode = stat.S_IMODE(os.stat(new).st_mode)
            check(mode == 0o600, f"new capture file mode {oct(mode)}")
            r = ctl(d, "capture", "start", os.path.join(tmp, "no", "such", "dir.pcap"))
            check(r.returncode == 1 and "cannot open" in r.stderr, r.stderr)

        def completion():
            if not os.path.exists(BASH_COMPLETION):
                raise StepSkipped("bash-completion is not installed")
            d.reset()
            vm, sock = VMNETCTL, d.path
            open(os.path.join(tmp, "cap.pcap"), "w").close()
            cases = [
                (f"{vm} ", sorted("forward networks leases ports fdb stats capture "
                                  "disconnect shutdown".split())),
                (f"{vm} forward ", ["add", "ls", "rm"]),
                (f"{vm} --json capture s", ["start", "stop"]),
                (f"{vm} forward add t", ["tcp4:", "tcp6:", "tcp:"]),
                (f"{vm} --socket {sock} forward rm ", ["3", "4"]),
                (f"{vm} --socket={sock} disconnect ", ["1", "3"]),
                (f"{vm} --socket {sock} --network ", ["default"]),
                (f"{vm} --socket {sock} capture start x.pcap --port ", ["1", "3"]),
                (f"{vm} capture start {tmp}/ca", [f"{tmp}/cap.pcap"]),
                (f"{vm} --socket {tmp}/fa", [f"{tmp}/fake.api"]),
                (f"{vm} leases --j", ["--json"]),
                (f"{vm} capture start --s", ["--snaplen", "--socket"]),
                (f"{vm} leases --s", ["--socket"]),
                (f"{vm} --socket {tmp}/none.api forward rm ", []),
            ]
            for line, want in cases:
                got = complete(line)
                check(got == want, f"{line!r}: offered {got}, want {want}")

        return run_steps([
            ("--version and --help", version_and_help),
            ("forward add sends add_hostfwd and says where the forward goes", forward_add),
            ("forward specs: optional addresses, IPv6 in brackets, --network", forward_specs),
            ("--json prints the reply's return value", json_output),
            ("listings send their command, --network as an argument", listings),
            ("tables: capital headers, aligned columns, times, no guest escapes", tables),
            ("forward rm, disconnect, capture stop, shutdown", actions),
            ("a daemon error: its message on stderr, exit 1", daemon_error),
            ("usage errors and bad specs: exit 2, nothing sent", usage_errors),
            ("no daemon: exit 1 naming the socket; VMNETD_API_SOCKET", no_daemon),
            ("silent and garbled daemons: exit 1", bad_replies),
            ("capture start passes the named file's descriptor", capture_start),
            ("bash completion: commands, options, files, the daemon's IDs", completion),
        ])


if __name__ == "__main__":
    sys.exit(main())
