#!/usr/bin/env python3
"""test_api.py - the control API (doc/api.md) against a real daemon and guest.

vmnetd runs in a namespace with a NAT network and a port forward given at
start; a QEMU stand-in guest takes a DHCP lease (sending a hostname). What a
user of the API socket sees: the lease, the ports with their MACs, addresses
and counters, the MAC table, totals that add up, the network; forwards added
and removed at run time (TCP, UDP, an IPv6 host side), each carrying a
byte-exact echo, listed in slirp4netns's shape and field order; slirp4netns's
framing (no newline, then shutdown) and, when slirp4netns is installed,
byte-identical replies to the same requests; a pcap capture of the network or
of one port that tcpdump reads; vmnetctl's tables, JSON and errors; a port
disconnected through the API, and a shutdown that exits 0 and removes the
sockets. Then, on the daemon started again: an IPv6 forward from [::1] to the
guest's IPv6 address, byte-exact; forwards across families (which libslirp
4.7 closes at once or aborts on) are refused and never listed.
"""
import json
import os
import re
import socket
import struct
import subprocess
import sys
import time

from harness import (HERE, Lab, StepSkipped, check, require, run_steps, wait_until)

VMNETCTL = os.environ.get("VMNETCTL", os.path.join(HERE, "../../build/vmnetctl"))
SLIRP4NETNS = "/usr/bin/slirp4netns"

GUEST_MAC = "52:54:00:12:34:a1"
GUEST_IP = "10.0.2.15"
HOSTNAME = "apiguest"
RAW_MAC = "52:54:00:00:00:77"       # a bare client of the data socket
ECHO_TCP, ECHO_UDP, ECHO_START, ECHO_TCP6 = 7000, 7001, 2222, 7006
START_FWD = 2280                    # --nat hostfwd=tcp:127.0.0.1:2280-:2222
FWD_TCP, FWD_UDP, FWD_TCP6, FWD_CTL, FWD_TO6 = 18080, 18081, 18082, 18083, 18084
COUNTERS = ("rx_frames", "rx_bytes", "tx_frames", "tx_bytes", "rx_drops", "tx_drops")
KIB = 1024


def compact(obj):
    """JSON as the daemon writes it: no spaces, keys in the given order."""
    return json.dumps(obj, separators=(",", ":"))


def api_raw(path, data, slirp_style=False, timeout=10):
    """Send `data` to an API socket; return the raw reply bytes. Normally one
    reply line is read; slirp_style sends the request without its newline,
    then shutdown(SHUT_WR), and reads until the server closes."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        if slirp_style:
            s.sendall(data.encode())
            s.shutdown(socket.SHUT_WR)
        else:
            s.sendall(data.encode() + b"\n")
        got = b""
        while slirp_style or not got.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        return got
    finally:
        s.close()


def request(execute, **arguments):
    req = {"execute": execute}
    if arguments:
        req["arguments"] = arguments
    return json.dumps(req)


def ctl(api_path, *args, env=None):
    argv = [VMNETCTL] + (["--socket", api_path] if api_path else []) + list(args)
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env,
                          stdin=subprocess.DEVNULL)


def tcpdump_read(path, *extra):
    r = subprocess.run(["tcpdump", "-r", path, "-nn", *extra], capture_output=True,
                       text=True, timeout=30)
    check(r.returncode == 0, f"tcpdump -r {path}: exit {r.returncode}: {r.stderr}")
    # One line a frame (unknown ethertypes add hex lines that do not start so).
    return [line for line in r.stdout.splitlines() if re.match(r"\d\d:\d\d:\d\d\.\d+ ", line)]


def main():
    require("qemu-system-x86_64", "dnsmasq", "busybox", "ip", "ss", "tc", "tcpdump")
    if not os.access(VMNETCTL, os.X_OK):
        print(f"Bail out! vmnetctl not found at {VMNETCTL} (set VMNETCTL)")
        return 1
    with Lab("api") as lab:
        host, out = lab.outside()
        t_start = int(time.time())
        daemon_args = ("--nat", f"hostfwd=tcp:127.0.0.1:{START_FWD}-:{ECHO_START}")
        d = lab.daemon(*daemon_args)
        api_path = d.sock[:-len(".sock")] + ".api"
        g = lab.guest("g1", d.tcp, GUEST_MAC)
        for proto, addr, port in (("tcp", "0.0.0.0", ECHO_TCP), ("udp", "0.0.0.0", ECHO_UDP),
                                  ("tcp", "0.0.0.0", ECHO_START), ("tcp", "::", ECHO_TCP6)):
            lab.serve(g.ns, "serve-echo", proto, addr, str(port),
                      name=f"guest-{proto}-echo-{port}")
        leased = {}
        restarted = []

        def fresh_daemon():
            """Once: the first daemon gone (the last of its steps shut it
            down), the same daemon again on the same sockets, the guest's
            QEMU restarted against it and a new lease."""
            nonlocal d
            if restarted:
                return
            if d.p.poll() is None:
                d.stop()
            d = lab.daemon(*daemon_args, name="vmnetd-2")
            g.qemu.stop()
            wait_until(lambda: lab.run(g.ns, "ip", "link", "show", "vmt0",
                                       check=False).returncode != 0, 10,
                       "the old QEMU's TAP to go")
            g.start_qemu()
            leased.clear()
            restarted.append(d)

        def lease():
            """The guest's DHCP lease, taken once (steps may run alone)."""
            if not leased:
                leased.update(g.dhcp(hostname=HOSTNAME))
                check(leased.get("ip") == GUEST_IP, f"the guest's lease: {leased}")
            return leased

        def call(execute, **arguments):
            """One request, one reply line; returns it parsed."""
            raw = api_raw(api_path, request(execute, **arguments))
            check(raw.endswith(b"\n") and raw.count(b"\n") == 1,
                  f"{execute}: not one reply line: {raw!r}")
            return json.loads(raw)

        def ok(execute, **arguments):
            reply = call(execute, **arguments)
            check(list(reply) == ["return"], f"{execute} {arguments}: {reply}")
            return reply["return"]

        def error(execute, **arguments):
            reply = call(execute, **arguments)
            check(list(reply) == ["error"] and isinstance(reply["error"].get("desc"), str),
                  f"{execute} {arguments}: want an error, got {reply}")
            return reply["error"]["desc"]

        def ports():
            return ok("list_ports")["ports"]

        def guest_port():
            mine = [p for p in ports() if GUEST_MAC in p["macs"]]
            check(len(mine) == 1, f"one port with the guest's MAC: {ports()}")
            return mine[0]

        def uplink_port():
            ups = [p for p in ports() if p["uplink"]]
            check(len(ups) == 1, f"one uplink: {ports()}")
            return ups[0]

        def echo(addr, port, nbytes, what):
            rc, res = lab.netutil(host, "tcp-check", addr, str(port), str(nbytes), "20")
            check(rc == 0 and res.startswith("OK"), f"{what}: {res}")

        def refused(addr, port, what):
            rc, res = lab.netutil(host, "tcp-probe", addr, str(port), "5")
            check(res.startswith("REFUSED"), f"{what}: {res}")

        # ---- 1 ----
        def inventory():
            m = d.wait_for(r"control socket: unix:(\S+)")
            check(m.group(1) == api_path, f"API socket {m.group(1)}, want {api_path} "
                  "(beside the data socket)")
            lease()
            now = int(time.time())
            leases = ok("list_leases")["leases"]
            mine = [l for l in leases if l["mac"] == GUEST_MAC]
            check(len(mine) == 1, f"one lease for {GUEST_MAC}: {leases}")
            l = mine[0]
            check(l["network"] == "default" and l["ip"] == GUEST_IP, f"lease {l}")
            check(l["hostname"] == HOSTNAME, f"lease hostname: {l}")
            check(l["expires"] > now, f"lease expires in the past ({now}): {l}")
            check(l["static"] is False, f"lease static: {l}")

            gp, up = guest_port(), uplink_port()
            check(gp["network"] == "default" and gp["kind"] == "stream" and
                  gp["uplink"] is False, f"guest's port: {gp}")
            check(gp["macs"] == [GUEST_MAC], f"guest's port MACs: {gp}")
            check(gp["addresses"] == [GUEST_IP], f"guest's port addresses: {gp}")
            check(gp["rx_frames"] > 0 and gp["tx_frames"] > 0 and gp["rx_bytes"] > 0 and
                  gp["tx_bytes"] > 0, f"guest's port counters: {gp}")
            check(t_start - 1 <= gp["since"] <= now + 1,
                  f"guest's port since {gp['since']}, want {t_start}..{now}")
            check(up["kind"] == "nat" and up["uplink"] is True and up["rx_frames"] > 0,
                  f"the uplink: {up}")
            check(len(ports()) == 2, f"two ports: {ports()}")

            fdb = ok("list_fdb")["fdb"]
            check(any(e["mac"] == GUEST_MAC and e["port"] == gp["id"] and
                      e["network"] == "default" and e["static"] is False for e in fdb),
                  f"the guest's MAC on port {gp['id']} in {fdb}")

            nets = ok("stats")["networks"]
            check([n["name"] for n in nets] == ["default"], f"stats networks: {nets}")
            st = nets[0]
            check(sorted(p["id"] for p in st["ports"]) == sorted(p["id"] for p in ports()),
                  f"stats ports {st['ports']} vs list_ports {ports()}")
            for c in COUNTERS:
                total = sum(p[c] for p in st["ports"])
                check(st["totals"][c] == total,
                      f"stats totals {c} = {st['totals'][c]}, ports sum to {total}")
            check(st["switch"]["fdb_entries"] >= 2, f"switch stats: {st['switch']}")

            nets = ok("list_networks")["networks"]
            want = {"name": "default", "mode": "nat", "mtu": 65520, "subnet": "10.0.2.0/24",
                    "gateway": "10.0.2.2", "ports": 1}
            check(len(nets) == 1 and all(nets[0].get(k) == v for k, v in want.items()),
                  f"list_networks: {nets}, want {want}")
            check(f"unix:{d.sock}" in nets[0]["sockets"] and d.tcp in nets[0]["sockets"],
                  f"sockets {nets[0]['sockets']}, want unix:{d.sock} and {d.tcp}")

        # ---- 2 ----
        def forwards():
            lease()
            start_entry = {"id": 1, "proto": "tcp", "host_addr": "127.0.0.1",
                           "host_port": START_FWD, "guest_addr": GUEST_IP,
                           "guest_port": ECHO_START}
            added = []
            for proto, haddr, hport, gport in (("tcp", "127.0.0.1", FWD_TCP, ECHO_TCP),
                                               ("udp", "127.0.0.1", FWD_UDP, ECHO_UDP)):
                raw = api_raw(api_path, request("add_hostfwd", proto=proto, host_addr=haddr,
                                                host_port=hport, guest_addr=GUEST_IP,
                                                guest_port=gport))
                m = re.fullmatch(rb'\{"return":\{"id":(\d+)\}\}\n', raw)
                check(m, f"add_hostfwd {proto} {haddr}:{hport}: {raw!r}")
                added.append({"id": int(m.group(1)), "proto": proto[:3], "host_addr": haddr,
                              "host_port": hport, "guest_addr": GUEST_IP,
                              "guest_port": gport})
            check([e["id"] for e in added] == [2, 3],
                  f"ids {[e['id'] for e in added]}, want 2, 3 (1 is the hostfwd= given "
                  "at start)")
            echo("127.0.0.1", FWD_TCP, 256 * KIB, "TCP through the run-time forward")
            rc, res = lab.netutil(host, "udp-check", "127.0.0.1", str(FWD_UDP), "20")
            check(rc == 0, f"UDP through the run-time forward: {res}")
            echo("127.0.0.1", START_FWD, 64 * KIB, "TCP through the hostfwd= given at start")

            want_list = (compact({"return": {"entries": [start_entry] + added}}) + "\n").encode()
            got = api_raw(api_path, request("list_hostfwd"))
            check(got == want_list, f"list_hostfwd:\n got {got!r}\nwant {want_list!r}")

            desc = error("add_hostfwd", proto="tcp", host_addr="127.0.0.1", host_port=FWD_TCP,
                         guest_addr=GUEST_IP, guest_port=ECHO_UDP)
            check(str(FWD_TCP) in desc, f"the error names port {FWD_TCP}: {desc}")
            got = api_raw(api_path, request("list_hostfwd"))
            check(got == want_list, f"list_hostfwd changed after a failed add:\n{got!r}")
            echo("127.0.0.1", FWD_TCP, 64 * KIB, "the first forward after the failed add")

            got = api_raw(api_path, request("remove_hostfwd", id=added[0]["id"]))
            check(got == b'{"return":{}}\n', f"remove_hostfwd: {got!r}")
            refused("127.0.0.1", FWD_TCP, "connect after remove_hostfwd")
            entries = ok("list_hostfwd")["entries"]
            check([e["id"] for e in entries] == [1, 3], f"after the remove: {entries}")
            for bad in (added[0]["id"], 999):
                desc = error("remove_hostfwd", id=bad)
                check(str(bad) in desc, f"removing unknown forward {bad}: {desc}")
            echo("127.0.0.1", START_FWD, 64 * KIB, "the other forwards after a remove")

        # ---- 3 ----
        def framing():
            raw = api_raw(api_path, request("list_networks"), slirp_style=True)
            check(raw.endswith(b"\n") and raw.count(b"\n") == 1,
                  f"a request without newline, then SHUT_WR: reply {raw!r}")
            check(json.loads(raw)["return"]["networks"][0]["name"] == "default", repr(raw))
            # Several requests on one connection, a bad one among them: the
            # replies come in order and the daemon carries on.
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10)
            with s:
                s.connect(api_path)
                s.sendall((request("list_networks") + "\n{not json\n" +
                           request("no_such_command") + "\n" + request("list_hostfwd") +
                           "\n").encode())
                s.shutdown(socket.SHUT_WR)
                got = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    got += chunk
            lines = [json.loads(line) for line in got.decode().splitlines()]
            check(len(lines) == 4 and got.endswith(b"\n"), f"four replies: {got!r}")
            check("networks" in lines[0].get("return", {}), f"reply 1: {lines[0]}")
            check("error" in lines[1] and "error" in lines[2] and
                  "no_such_command" in lines[2]["error"]["desc"], f"replies 2, 3: {lines}")
            check("entries" in lines[3].get("return", {}), f"reply 4: {lines[3]}")

        # ---- 4 ----
        def slirp4netns_same_replies():
            if not os.access(SLIRP4NETNS, os.X_OK):
                raise StepSkipped(f"{SLIRP4NETNS} is not installed")
            # slirp4netns gives a fresh namespace (that of a sleep) its tap0
            # and listens for forwards in its own namespace; a fresh vmnetd
            # (its ids start at 1 too) in a third.
            target, s4ns, cmp_ns = lab.netns("s4tgt"), lab.netns("s4n"), lab.netns("s4cmp")
            sleeper = lab.spawn(target, ["sleep", "600"], name="s4n-target")
            s4_api = os.path.join(lab.dir, "slirp4netns.api")
            s4 = lab.spawn(s4ns, [SLIRP4NETNS, "--api-socket", s4_api, str(sleeper.p.pid),
                                  "tap0"], name="slirp4netns")
            wait_until(lambda: lab.run(target, "ip", "link", "show", "tap0",
                                       check=False).returncode == 0, 10, "slirp4netns's tap0")
            wait_until(lambda: os.path.exists(s4_api), 10, "slirp4netns's API socket")
            cmp = lab.daemon(ns=cmp_ns, sock=os.path.join(lab.dir, "cmp.sock"), name="vmnetd-cmp")
            cmp_api = os.path.join(lab.dir, "cmp.api")
            cmp.wait_for(r"control socket: unix:" + re.escape(cmp_api))

            def both(req):
                def s4_reply():
                    try:
                        return api_raw(s4_api, req, slirp_style=True)
                    except ConnectionRefusedError:      # bound, not yet listening
                        return None
                return api_raw(cmp_api, req, slirp_style=True), wait_until(
                    s4_reply, 10, "slirp4netns to answer")

            fwd = {"proto": "tcp", "host_addr": "0.0.0.0", "host_port": 8080,
                   "guest_addr": "10.0.2.100", "guest_port": 80}
            same = [request("add_hostfwd", **fwd),
                    request("add_hostfwd", proto="udp", host_addr="127.0.0.1", host_port=8081,
                            guest_addr="10.0.2.100", guest_port=53)]
            for req in same:
                v, s = both(req)
                check(v == s + b"\n", f"{req}:\n vmnetd      {v!r}\n slirp4netns {s!r}")
            # Both refuse a port in use, in their own words, and spend no id.
            v, s = both(request("add_hostfwd", **dict(fwd, host_addr="127.0.0.1")))
            for who, reply in (("vmnetd", v), ("slirp4netns", s)):
                r = json.loads(reply)
                check(list(r) == ["error"] and isinstance(r["error"]["desc"], str),
                      f"{who}: a port in use: {reply!r}")
            v, s = both(request("add_hostfwd", proto="tcp", host_addr="127.0.0.1",
                                host_port=8082, guest_addr="10.0.2.100", guest_port=80))
            check(v == s + b"\n" and v == b'{"return":{"id":3}}\n',
                  f"the add after a failed one:\n vmnetd      {v!r}\n slirp4netns {s!r}")
            v, s = both(request("list_hostfwd"))
            want = [dict(id=1, **fwd),
                    {"id": 2, "proto": "udp", "host_addr": "127.0.0.1", "host_port": 8081,
                     "guest_addr": "10.0.2.100", "guest_port": 53},
                    {"id": 3, "proto": "tcp", "host_addr": "127.0.0.1", "host_port": 8082,
                     "guest_addr": "10.0.2.100", "guest_port": 80}]
            check(v == (compact({"return": {"entries": want}}) + "\n").encode(),
                  f"vmnetd list_hostfwd, not the documented shape: {v!r}")
            s_list = json.loads(s)
            check(s_list.get("return", s_list).get("entries") == want,
                  f"slirp4netns lists other entries: {s!r}")
            for req in (request("remove_hostfwd", id=1), request("remove_hostfwd", id=2)):
                v, s = both(req)
                check(v == s + b"\n", f"{req}:\n vmnetd      {v!r}\n slirp4netns {s!r}")
            v, s = both(request("remove_hostfwd", id=99))
            check(b'"error"' in v and b'"error"' in s, f"unknown id: {v!r} / {s!r}")
            check(cmp.stop() == 0, f"the second vmnetd: {cmp.output()}")
            s4.stop()
            sleeper.stop()

        # ---- 5 ----
        def capture():
            lease()
            gid, up = guest_port()["id"], uplink_port()
            up_macs = [e["mac"] for e in ok("list_fdb")["fdb"] if e["port"] == up["id"]]
            check(up_macs, f"a MAC learned on the uplink: {ok('list_fdb')}")
            # A bare client on the data socket: frames of its own to the
            # uplink's MAC, which never pass the guest's port.
            raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            raw.connect(d.sock)
            frame = (bytes.fromhex(up_macs[0].replace(":", "")) +
                     bytes.fromhex(RAW_MAC.replace(":", "")) + b"\x88\xb5" +
                     b"vmnetd api test".ljust(46, b"\0"))
            sent = 0

            def raw_frames(n):
                nonlocal sent
                for _ in range(n):
                    raw.sendall(struct.pack("!I", len(frame)) + frame)
                sent += n

                def arrived():
                    mine = [p for p in ports() if RAW_MAC in p["macs"]]
                    return mine and mine[0]["rx_frames"] >= sent
                wait_until(arrived, 10, f"the bare client's {sent} frames to arrive")

            def traffic():
                echo("127.0.0.1", START_FWD, 64 * KIB, "TCP echo during the capture")
                raw_frames(5)

            with raw:
                # The whole network, through vmnetctl (it passes the file).
                whole = os.path.join(lab.dir, "whole.pcap")
                r = ctl(api_path, "capture", "start", whole)
                check(r.returncode == 0 and "capturing to" in r.stdout,
                      f"capture start: {r.returncode} {r.stdout}{r.stderr}")
                second = os.path.join(lab.dir, "second.pcap")
                r = ctl(api_path, "capture", "start", second)
                check(r.returncode == 1 and "already being captured" in r.stderr,
                      f"a second capture: {r.returncode} {r.stdout!r} {r.stderr!r}")
                check(not os.path.exists(second), "the refused capture left its file")
                traffic()
                r = ctl(api_path, "capture", "stop")
                m = re.search(r"capture stopped: (\d+) frames, (\d+) bytes, (\d+) dropped",
                              r.stdout)
                check(r.returncode == 0 and m, f"capture stop: {r.stdout}{r.stderr}")
                frames, dropped = int(m.group(1)), int(m.group(3))
                check(frames > 0 and dropped == 0, r.stdout)
                lines = tcpdump_read(whole, "-e")
                check(len(lines) == frames, f"tcpdump read {len(lines)} frames, the daemon "
                      f"reported {frames}")
                text = "\n".join(lines)
                check(f"{GUEST_IP}.{ECHO_START}" in text,
                      f"the guest's echo in the capture:\n{text[-2000:]}")
                check(RAW_MAC in text and "0x88b5" in text,
                      f"the bare client's frames in the capture:\n{text[-2000:]}")

                # One port: the guest's, both ways, and nothing of the other.
                one = os.path.join(lab.dir, "port.pcap")
                r = ctl(api_path, "capture", "start", one, "--port", str(gid))
                check(r.returncode == 0, f"capture start --port: {r.stdout}{r.stderr}")
                traffic()
                r = ctl(api_path, "capture", "stop")
                check(r.returncode == 0, f"capture stop: {r.stdout}{r.stderr}")
                text = "\n".join(tcpdump_read(one, "-e"))
                check(f"{GUEST_IP}.{ECHO_START} >" in text and
                      f"> {GUEST_IP}.{ECHO_START}:" in text,
                      f"both ways of the guest's echo in the port capture:\n{text[-2000:]}")
                check(RAW_MAC not in text,
                      f"--port {gid}: another port's frames in the capture:\n{text[-2000:]}")

            # Without a passed descriptor, the daemon makes the file itself
            # (this client has its uid), but never an existing one.
            own = os.path.join(lab.dir, "own.pcap")
            check(ok("capture_start", file=own) == {}, "capture_start without a descriptor")
            check(os.stat(own).st_mode & 0o777 == 0o600,
                  f"mode {oct(os.stat(own).st_mode)}, want 0600")
            echo("127.0.0.1", START_FWD, 16 * KIB, "TCP echo during the capture")
            st = ok("capture_stop")
            check(st["frames"] > 0, f"capture_stop: {st}")
            check(len(tcpdump_read(own)) == st["frames"], f"{own}: {st}")
            size = os.path.getsize(own)
            desc = error("capture_start", file=own)
            check("exists" in desc, f"an existing file: {desc}")
            check(os.path.getsize(own) == size, "an existing file was written to")
            dangling, target = os.path.join(lab.dir, "link.pcap"), os.path.join(lab.dir, "t")
            os.symlink(target, dangling)
            error("capture_start", file=dangling)
            check(not os.path.exists(target), "the daemon followed a symlink")
            to_own = os.path.join(lab.dir, "link-own.pcap")
            os.symlink(own, to_own)
            error("capture_start", file=to_own)
            check(os.path.getsize(own) == size, "a file written to through a symlink")
            desc = error("capture_stop")
            check("not being captured" in desc, f"after the refusals: {desc}")
            wait_until(lambda: not any(RAW_MAC in p["macs"] for p in ports()), 10,
                       "the bare client's port to go")

        # ---- 6 ----
        def vmnetctl():
            lease()
            r = ctl(api_path, "leases")
            check(r.returncode == 0 and GUEST_IP in r.stdout and GUEST_MAC in r.stdout and
                  HOSTNAME in r.stdout, f"vmnetctl leases: {r.returncode}\n{r.stdout}{r.stderr}")
            r = ctl(api_path, "--json", "ports")
            check(r.returncode == 0, f"vmnetctl --json ports: {r.stderr}")
            try:
                listed = json.loads(r.stdout)
            except ValueError as e:
                raise AssertionError(f"vmnetctl --json ports is not JSON ({e}): {r.stdout!r}")
            check(any(GUEST_MAC in p["macs"] for p in listed["ports"]), r.stdout)
            r = ctl(None, "networks", env=dict(os.environ, VMNETD_API_SOCKET=api_path))
            check(r.returncode == 0 and "default" in r.stdout and "10.0.2.0/24" in r.stdout,
                  f"vmnetctl networks with $VMNETD_API_SOCKET: {r.stdout}{r.stderr}")

            r = ctl(api_path, "forward", "add", f"tcp:127.0.0.1:{FWD_CTL}:{ECHO_TCP}")
            m = re.fullmatch(rf"forward (\d+) added: tcp 127\.0\.0\.1:{FWD_CTL} -> "
                             rf"{re.escape(GUEST_IP)}:{ECHO_TCP}\n", r.stdout)
            check(r.returncode == 0 and m, f"forward add: {r.returncode} {r.stdout!r} "
                  f"{r.stderr!r}")
            fid = m.group(1)
            echo("127.0.0.1", FWD_CTL, 256 * KIB, "TCP through vmnetctl's forward")
            r = ctl(api_path, "forward", "ls")
            row = [line for line in r.stdout.splitlines() if f"127.0.0.1:{FWD_CTL}" in line]
            check(r.returncode == 0 and len(row) == 1 and row[0].split()[0] == fid and
                  f"{GUEST_IP}:{ECHO_TCP}" in row[0], f"forward ls:\n{r.stdout}")
            r = ctl(api_path, "forward", "rm", fid)
            check(r.returncode == 0 and r.stdout == f"forward {fid} removed\n",
                  f"forward rm: {r.stdout!r} {r.stderr!r}")
            r = ctl(api_path, "forward", "ls")
            check(r.returncode == 0 and f":{FWD_CTL}" not in r.stdout,
                  f"forward ls after rm:\n{r.stdout}")
            refused("127.0.0.1", FWD_CTL, "connect after forward rm")
            desc = error("remove_hostfwd", id=999)
            r = ctl(api_path, "forward", "rm", "999")
            check(r.returncode == 1 and r.stdout == "" and desc in r.stderr,
                  f"forward rm 999: {r.returncode} {r.stdout!r} {r.stderr!r}, want the "
                  f"daemon's {desc!r} on stderr")

        # ---- 7 ----
        def disconnect_and_shutdown():
            lease()
            gp, up = guest_port(), uplink_port()
            since = len(d.output().splitlines())
            check(ok("disconnect_port", id=gp["id"]) == {}, "disconnect_port")
            d.wait_for(r"closed \(disconnected through the control API\)", 10, since)
            wait_until(lambda: gp["id"] not in [p["id"] for p in ports()], 10,
                       "the port to leave list_ports")
            check(ok("list_networks")["networks"][0]["ports"] == 0, "list_networks still "
                  "counts the port")
            desc = error("disconnect_port", id=up["id"])
            check("uplink" in desc, f"disconnecting the uplink: {desc}")
            check(up["id"] in [p["id"] for p in ports()], "the uplink is gone")
            error("disconnect_port", id=gp["id"])
            r = ctl(api_path, "shutdown")
            check(r.returncode == 0 and "shutting down" in r.stdout,
                  f"vmnetctl shutdown: {r.returncode} {r.stdout!r} {r.stderr!r}")
            try:
                status = d.p.wait(15)
            except subprocess.TimeoutExpired:
                raise AssertionError("the daemon still runs 15 s after shutdown")
            check(status == 0, f"exit status {status}")
            d.wait_for(r"control API: shutting down \(asked by uid 0", 5, since)
            check(not os.path.exists(d.sock), f"{d.sock} left behind")
            check(not os.path.exists(api_path), f"{api_path} left behind")

        # ---- 8 ----
        def guest_ipv6():
            def slaac():
                out = lab.run(g.ns, "ip", "-6", "addr", "show", "dev", "vmt0").stdout
                addrs = re.findall(r"inet6 (fec0:\S+)/\d+ scope \S+ (?!.*tentative)", out)
                return addrs[0] if addrs else None
            return wait_until(slaac, 20, "the guest's address in fec0::/64")

        def ipv6_forward():
            fresh_daemon()
            lease()
            addr6 = guest_ipv6()
            raw = api_raw(api_path, request("add_hostfwd", proto="tcp6", host_addr="::1",
                                            host_port=FWD_TCP6, guest_addr=addr6,
                                            guest_port=ECHO_TCP6))
            check(raw == b'{"return":{"id":2}}\n', f"add_hostfwd tcp6 [::1]:{FWD_TCP6}: "
                  f"{raw!r}")
            want = compact({"return": {"entries": [
                {"id": 1, "proto": "tcp", "host_addr": "127.0.0.1", "host_port": START_FWD,
                 "guest_addr": GUEST_IP, "guest_port": ECHO_START},
                {"id": 2, "proto": "tcp", "host_addr": "::1", "host_port": FWD_TCP6,
                 "guest_addr": addr6, "guest_port": ECHO_TCP6}]}}) + "\n"
            got = api_raw(api_path, request("list_hostfwd"))
            check(got == want.encode(), f"list_hostfwd:\n got {got!r}\nwant {want!r}")
            rc, res = lab.netutil(host, "tcp-check", "::1", str(FWD_TCP6), str(256 * KIB), "20")
            check(rc == 0 and res.startswith("OK"),
                  f"TCP from [::1]:{FWD_TCP6} to the guest's [{addr6}]:{ECHO_TCP6}:"
                  f"\n{res.splitlines()[-1]}")

        # ---- 9 ----
        def mixed_families_refused():
            fresh_daemon()
            lease()
            addr6 = guest_ipv6()
            for args, word in (
                    (dict(proto="tcp", host_addr="127.0.0.1", host_port=FWD_TO6,
                          guest_addr=addr6, guest_port=ECHO_TCP6), "one family"),
                    (dict(proto="tcp6", host_addr="::1", host_port=FWD_TO6,
                          guest_addr=GUEST_IP, guest_port=ECHO_TCP), "one family"),
                    (dict(proto="tcp6", host_port=FWD_TO6, guest_port=ECHO_TCP),
                     "needs guest_addr")):
                reply = call("add_hostfwd", **args)
                check(word in reply.get("error", {}).get("desc", ""),
                      f"add_hostfwd {args}: {reply}")
            listed = api_raw(api_path, request("list_hostfwd")).decode()
            check(f'"host_port":{FWD_TO6}' not in listed, f"a refused forward is listed: {listed}")
            refused("127.0.0.1", FWD_TO6, "a refused IPv4-to-IPv6 forward")
            check(d.p.poll() is None, f"the daemon died: {d.output()[-500:]}")

        rc = run_steps([
            ("inventory: lease, ports, MAC table, stats, network", inventory),
            ("forwards at run time: TCP, UDP, the one given at start, list, clash, remove",
             forwards),
            ("framing: no newline + SHUT_WR, several requests a connection", framing),
            ("slirp4netns answers the same forward requests byte for byte",
             slirp4netns_same_replies),
            ("capture: network, --port, one at a time, no descriptor", capture),
            ("vmnetctl: leases, --json ports, forward add/ls/rm, errors", vmnetctl),
            ("disconnect_port, then vmnetctl shutdown: exit 0, sockets removed",
             disconnect_and_shutdown),
            ("(daemon restarted) IPv6 forward from [::1] to the guest's IPv6 address",
             ipv6_forward),
            ("forwards across families (libslirp 4.7 cannot) are refused, none listed",
             mixed_families_refused),
        ], lab)
    return rc


if __name__ == "__main__":
    sys.exit(main())
