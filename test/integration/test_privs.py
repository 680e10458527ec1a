#!/usr/bin/env python3
"""test_privs.py - least privilege: --user/--group, capabilities, --seccomp.

A daemon started as root with --user nobody --group nogroup runs, once its
networks are built, as nobody:nogroup with no supplementary groups, no
capabilities (CAP_NET_ADMIN alone when a network has host-iface=), an empty
bounding set and no_new_privs, all read from /proc/PID/status; its VMs still
get leases and reach the host. Under --seccomp (release builds only) traffic,
guestfwd relays, lease-file writes and shutdown still work, and a forbidden
call kills the daemon with SIGSYS.
"""
import os
import pwd
import grp
import signal
import subprocess
import sys

from harness import (Lab, SERVICE_ADDR, VMNETD, VMNETCTL, StepSkipped, check, require,
                     run_steps, wait_until)

MIB = 1024 * 1024
CAP_NET_ADMIN = 1 << 12
SANITIZED = bool(os.environ.get("VMNETD_SANITIZED"))
DROP = ("--user", "nobody", "--group", "nogroup")


def status(pid):
    """/proc/PID/status as a dict of stripped strings."""
    with open(f"/proc/{pid}/status") as f:
        return dict((k, v.strip()) for k, v in (line.split(":", 1) for line in f))


def check_dropped(pid, caps):
    s = status(pid)
    uid, gid = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
    check(s["Uid"].split() == [str(uid)] * 4, f"Uid: {s['Uid']}")
    check(s["Gid"].split() == [str(gid)] * 4, f"Gid: {s['Gid']}")
    check(s["Groups"] == "", f"supplementary groups left: {s['Groups']}")
    for field in ("CapEff", "CapPrm"):
        check(int(s[field], 16) == caps, f"{field}: {s[field]}, expected {caps:#x}")
    # An empty bounding set: no exec'd relay can ever regain a capability.
    for field in ("CapBnd", "CapAmb", "CapInh"):
        check(int(s[field], 16) == 0, f"{field}: {s[field]}")
    check(s["NoNewPrivs"] == "1", f"NoNewPrivs: {s['NoNewPrivs']}")
    return s


def main():
    require("qemu-system-x86_64", "dnsmasq", "busybox", "ip", "ss", "tc", "setpriv")
    try:
        pwd.getpwnam("nobody")
        grp.getgrnam("nogroup")
    except KeyError:
        print("SKIP: needs user nobody and group nogroup")
        return 77
    with Lab("privs") as lab:
        host, out = lab.outside()
        lab.serve(host, "serve-echo", "tcp", "127.0.0.1", "7001", name="host-echo")
        lab.serve(out, "serve-echo", "tcp", SERVICE_ADDR, "7", name="out-echo")
        # Where nobody may remove its sockets and write its leases, as a
        # service manager's runtime directory would be.
        run = os.path.join(lab.dir, "run")
        os.makedirs(run)
        os.chown(run, pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid)

        def refused(args, words, code=2):
            r = subprocess.run(args, capture_output=True, text=True, timeout=10)
            check(r.returncode == code and words in r.stderr,
                  f"{args[1:]}: exit {r.returncode}, {r.stderr!r}; expected {code}, {words!r}")

        def bad_options():
            sock = f"unix:{run}/bad.sock"
            refused([VMNETD, "--listen", sock, "--user", "no-such-user-vmnetd"],
                    "--user no-such-user-vmnetd: no such user")
            refused([VMNETD, "--listen", sock, "--user", "nobody", "--group", "no-such-grp"],
                    "--group no-such-grp: no such group")
            refused([VMNETD, "--listen", sock, "--group", "nogroup"], "needs --user")
            refused(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", VMNETD,
                     "--listen", sock, "--user", "nobody"], "only a daemon started as root")
            check(not os.path.exists(f"{run}/bad.sock"), "a refused start left a socket")
            r = subprocess.run([VMNETD, "--help"], capture_output=True, text=True)
            check("--user" in r.stdout and "--seccomp" in r.stdout, r.stdout)
            check("selftest" not in r.stdout, "--seccomp-selftest is shown in --help")

        def nat_dropped():
            d = lab.daemon(*DROP, sock=os.path.join(run, "nat.sock"))
            check_dropped(d.p.pid, 0)
            g = lab.guest("g1", d.tcp, "52:54:00:00:00:11")
            check(g.dhcp().get("ip") == "10.0.2.15", f"lease after the drop {g.lease}")
            rc, res = g.netutil("tcp-check", "10.0.2.2", "7001", str(10 * MIB))
            check(rc == 0, f"TCP to the host's loopback: {res}")
            check(d.stop() == 0, f"exit status {d.p.returncode}:\n{d.output()}")
            check(not os.path.exists(d.sock), "the socket file was removed")
            g.qemu.stop()

        def host_iface_keeps_net_admin():
            ns = lab.netns("hif")
            lab.serve(ns, "serve-echo", "tcp", "127.0.0.1", "7001", name="hif-echo")
            nat_sock, ho_sock = os.path.join(run, "hif-nat.sock"), os.path.join(run, "hif.sock")
            d = lab.daemon(*DROP, "--network", "nat,mode=nat",
                           "--network", "ho,mode=hostonly,host-iface=vmnet1", ns=ns,
                           listen=[f"unix:{nat_sock},network=nat", f"unix:{ho_sock},network=ho"],
                           name="vmnetd-hif")
            check_dropped(d.p.pid, CAP_NET_ADMIN)
            g = lab.guest("g2", nat_sock, "52:54:00:00:00:22")
            check(g.dhcp().get("ip") == "10.0.2.15", f"NAT lease {g.lease}")
            rc, res = g.netutil("tcp-check", "10.0.2.2", "7001", str(1 * MIB))
            check(rc == 0, f"TCP to the host's loopback: {res}")
            g3 = lab.guest("g3", ho_sock, "52:54:00:00:00:33")
            check(g3.dhcp().get("ip") == "192.168.56.101", f"host-only lease {g3.lease}")
            lab.run(ns, "ping", "-c", "2", "-i", "0.2", "-W", "2", "192.168.56.101")
            check(d.stop() == 0, f"exit status {d.p.returncode}:\n{d.output()}")
            r = lab.run(ns, "ip", "link", "show", "vmnet1", check=False)
            check(r.returncode != 0, f"vmnet1 outlived the daemon: {r.stdout}")
            g.qemu.stop()
            g3.qemu.stop()

        def seccomp_traffic():
            if SANITIZED:
                raise StepSkipped("--seccomp is for release builds")
            leases = os.path.join(run, "ho.leases")
            tftp_dir = os.path.join(lab.dir, "tftp")
            os.makedirs(tftp_dir)
            payload = os.urandom(100 * 1024)
            with open(os.path.join(tftp_dir, "boot.img"), "wb") as f:
                f.write(payload)
            api = os.path.join(run, "sc.api")
            d = lab.daemon(*DROP, "--seccomp",
                           "--network", "nat,mode=nat,guestfwd=tcp:10.0.2.100:8000-"
                           f"tcp:127.0.0.1:7001,tftp={tftp_dir}",
                           "--network", f"ho,mode=hostonly,lease-file={leases}",
                           "--api-socket", api,
                           listen=[f"tcp:127.0.0.1:5555,network=nat",
                                   f"unix:{run}/sc-ho.sock,network=ho"], name="vmnetd-seccomp")
            s = check_dropped(d.p.pid, 0)
            check(s["Seccomp"] == "2", f"Seccomp: {s['Seccomp']} (2 is a filter)")
            g = lab.guest("g4", "tcp:127.0.0.1:5555", "52:54:00:00:00:44")
            check(g.dhcp().get("ip") == "10.0.2.15", f"NAT lease under seccomp {g.lease}")
            rc, res = g.netutil("tcp-check", "10.0.2.2", "7001", str(10 * MIB))
            check(rc == 0, f"TCP to the host's loopback: {res}")
            rc, res = g.netutil("tcp-check", SERVICE_ADDR, "7", str(10 * MIB))
            check(rc == 0, f"TCP to the outside: {res}")
            rc, res = g.netutil("tcp-check", "10.0.2.100", "8000", str(1 * MIB))
            check(rc == 0, f"guestfwd (a forked relay under the filter): {res}")
            got = os.path.join(lab.dir, "tftp-got")
            lab.run(g.ns, "busybox", "tftp", "-g", "-r", "boot.img", "-l", got, "10.0.2.2")
            with open(got, "rb") as f:
                check(f.read() == payload, "the file fetched over TFTP differs")
            g5 = lab.guest("g5", f"{run}/sc-ho.sock", "52:54:00:00:00:55")
            check(g5.dhcp().get("ip") == "192.168.56.101", f"host-only lease {g5.lease}")
            wait_until(lambda: os.path.exists(leases), 10, "the lease file")
            # The control socket under the filter: listings, a forward, a capture.
            pcap = os.path.join(lab.dir, "sc.pcap")
            for args in (["leases"], ["ports"], ["stats"], ["fdb"],
                         ["forward", "add", "tcp:127.0.0.1:7100:7"], ["forward", "rm", "1"],
                         ["capture", "start", pcap], ["capture", "stop"]):
                r = subprocess.run([VMNETCTL, "--socket", api, *args], capture_output=True,
                                   text=True, timeout=20)
                check(r.returncode == 0, f"vmnetctl {args} under seccomp: {r.stderr}")
            check(d.p.poll() is None, f"the daemon died:\n{d.output()}")
            check(d.stop() == 0, f"shutdown under seccomp: exit {d.p.returncode}\n{d.output()}")
            g.qemu.stop()
            g5.qemu.stop()

        def forbidden_call_kills():
            if SANITIZED:
                r = subprocess.run([VMNETD, "--listen", f"unix:{run}/san.sock", "--seccomp"],
                                   capture_output=True, text=True, timeout=10)
                check(r.returncode == 1 and "for release builds" in r.stderr,
                      f"--seccomp under sanitizers: exit {r.returncode} {r.stderr!r}")
                raise StepSkipped("--seccomp is for release builds")
            ns = lab.netns("sc")
            argv = [VMNETD, "--listen", f"unix:{run}/sc.sock", "--seccomp-selftest"]
            # The same call without the filter is harmless: the filter is what kills.
            alive = lab.daemon("--seccomp-selftest", ns=ns, listen=[f"unix:{run}/ok.sock"],
                               name="vmnetd-nofilter")
            check(alive.stop() == 0, f"without --seccomp: {alive.output()}")
            p = lab.spawn(ns, argv + list(DROP) + ["--seccomp"], name="vmnetd-selftest")
            wait_until(lambda: p.p.poll() is not None, 10, "the daemon to die")
            check(p.p.returncode == -signal.SIGSYS,
                  f"exit {p.p.returncode}, expected death by SIGSYS:\n{p.output()}")

        return run_steps([
            ("bad --user/--group, not root, --help: exit 2 and one clear line", bad_options),
            ("NAT as nobody:nogroup: no groups, no capabilities, no_new_privs; "
             "lease, TCP 10 MiB to the host's loopback, clean exit", nat_dropped),
            ("host-iface=: only CAP_NET_ADMIN kept; NAT and host-only leases; TAP gone at exit",
             host_iface_keeps_net_admin),
            ("--seccomp: leases, TCP 10 MiB, guestfwd relay, TFTP, lease file, control API, "
             "clean exit",
             seccomp_traffic),
            ("--seccomp: a forbidden call kills the daemon with SIGSYS", forbidden_call_kills),
        ], lab)


if __name__ == "__main__":
    sys.exit(main())
