#!/usr/bin/env python3
"""test_networks.py - one daemon, several named networks, as a user declares them.

--network NAME,mode=nat|hostonly,... and --listen ADDR,network=NAME, or the
same in a key file (--config). Bad declarations exit 2 with one line naming
the network and the key. A NAT and a host-only network in one daemon stay
apart: not one frame of one reaches a VM of the other. A network with no
socket gets DIR/NAME.sock in the default socket directory.
"""
import os
import pwd
import subprocess
import sys

from harness import (Lab, SERVICE_ADDR, TEST_NAME, VMNETD, check, require, run_steps,
                     wait_until)

MIB = 1024 * 1024


def vmnetd(*args, timeout=10):
    return subprocess.run([VMNETD] + list(args), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def main():
    require("qemu-system-x86_64", "dnsmasq", "busybox", "ip", "ss", "tc", "ping", "tcpdump",
            "setpriv")
    with Lab("nets") as lab:
        def path(name):
            return os.path.join(lab.dir, name)

        def help_text():
            r = vmnetd("--help")
            check(r.returncode == 0 and "--network" in r.stdout and "--config" in r.stdout,
                  r.stdout)

        def bad_configs():
            conf_key, conf_mode = path("bad-key.conf"), path("bad-mode.conf")
            with open(conf_key, "w") as f:
                f.write("[cf1]\nmode=hostonly\nbogus=1\n")
            with open(conf_mode, "w") as f:
                f.write("[cf2]\nmode=switch\n")
            x, y, z = path("x.sock"), path("y.sock"), path("z.sock")
            # Each case: arguments, then words the message must name (a tuple:
            # any one of them).
            cases = [
                (["--network", "twin,mode=nat", "--network", "twin,mode=hostonly",
                  "--listen", f"unix:{x},network=twin"], ["twin"]),
                (["--network", "m1,mode=bridge", "--listen", f"unix:{x}"], ["m1", "mode"]),
                (["--network", "k1,mode=hostonly,frobnicate=1", "--listen", f"unix:{x}"],
                 ["k1", "frobnicate"]),
                (["--network", "o1,mode=hostonly,net=192.168.56.0/24",
                  "--network", "o2,mode=hostonly,net=192.168.56.128/25",
                  "--listen", f"unix:{x},network=o1", "--listen", f"unix:{y},network=o2"],
                 [("o1", "o2"), "net"]),
                (["--network", "o3,mode=nat", "--network", "o4,mode=hostonly,net=10.0.2.0/24",
                  "--listen", f"unix:{x},network=o3", "--listen", f"unix:{y},network=o4"],
                 [("o3", "o4"), "net"]),
                (["--network", "p1,mode=hostonly,dhcpstart=192.168.57.10",
                  "--listen", f"unix:{x}"], ["p1", "dhcpstart"]),
                (["--network", "p2,mode=hostonly,dhcpend=10.0.0.5", "--listen", f"unix:{x}"],
                 ["p2", "dhcpend"]),
                (["--network", "s1,mode=nat", "--network", "s2,mode=hostonly",
                  "--listen", f"unix:{x}", "--listen", f"unix:{y},network=s1",
                  "--listen", f"unix:{z},network=s2"], [(x, "--listen"), "network"]),
                (["--network", "s3,mode=nat", "--network", "s4,mode=hostonly",
                  "--listen", f"unix:{x},network=s3", "--listen", f"unix:{x},network=s4"],
                 [("s3", "s4", x)]),
                (["--network", "s5,mode=nat", "--listen", f"unix:{x},network=nosuch"],
                 ["nosuch"]),
                (["--config", conf_key, "--listen", f"unix:{x}"], ["cf1", "bogus"]),
                (["--config", conf_mode, "--listen", f"unix:{x}"], ["cf2", "mode"]),
            ]
            for args, words in cases:
                r = vmnetd(*args)
                what = " ".join(args).replace(lab.dir + "/", "")
                check(r.returncode == 2, f"{what}: exit {r.returncode}, want 2: {r.stderr!r}")
                check(r.stderr.startswith("vmnetd: ") and r.stderr.count("\n") == 1,
                      f"{what}: want one line 'vmnetd: ...', got {r.stderr!r}")
                for w in words:
                    alts = w if isinstance(w, tuple) else (w,)
                    check(any(a in r.stderr for a in alts),
                          f"{what}: the message does not name {' or '.join(alts)}: "
                          f"{r.stderr!r}")
                for s in (x, y, z):
                    check(not os.path.exists(s), f"{what}: left a socket file behind")

        host, out = lab.outside()
        lab.serve(out, "serve-echo", "tcp", SERVICE_ADDR, "7", name="out-echo")
        st = {}

        def nat_and_hostonly():
            d = lab.daemon("--network", "wan,mode=nat",
                           "--network", "lan,mode=hostonly",
                           listen=[f"unix:{path('wan.sock')},network=wan",
                                   "tcp:127.0.0.1:5555,network=wan",
                                   f"unix:{path('lan.sock')},network=lan"])
            st["d"] = d
            n1 = st["n1"] = lab.guest("n1", d.tcp, "52:54:00:00:01:11")
            h1 = st["h1"] = lab.guest("h1", path("lan.sock"), "52:54:00:00:02:11")
            h2 = st["h2"] = lab.guest("h2", path("lan.sock"), "52:54:00:00:02:22")
            l = n1.dhcp()
            check(l.get("ip") == "10.0.2.15" and l.get("router") == "10.0.2.2",
                  f"NAT network lease {l}")
            check(h1.dhcp().get("ip") == "192.168.56.101", f"host-only lease {h1.lease}")
            check(h2.dhcp().get("ip") == "192.168.56.102", f"host-only lease {h2.lease}")
            check("router" not in h1.lease, f"host-only lease has a router {h1.lease}")
            rc, res = n1.netutil("tcp-check", SERVICE_ADDR, "7", str(1 * MIB))
            check(rc == 0, f"the NAT VM reaches the outside: {res}")
            lab.run(h1.ns, "ping", "-c", "2", "-i", "0.2", "-W", "2", "192.168.56.102")
            lab.run(h1.ns, "ip", "route", "replace", "default", "via", "192.168.56.1")
            rc, res = h1.netutil("tcp-probe", SERVICE_ADDR, "7", "3")
            check(res.startswith("REFUSED"), f"the host-only VM reached out: {res}")
            rc, res = h1.netutil("dns-lookup", "192.168.56.1", TEST_NAME)
            check(res.startswith("rcode=5"), f"host-only DNS answered {TEST_NAME}: {res}")
            # The NAT VM cannot reach the host-only VMs either, even when it tries.
            lab.run(n1.ns, "ip", "route", "add", "192.168.56.0/24", "dev", "vmt0")
            lab.run(n1.ns, "ip", "neigh", "replace", "192.168.56.101", "lladdr",
                    h1.mac, "dev", "vmt0")
            r = lab.run(n1.ns, "ping", "-c", "2", "-i", "0.2", "-W", "1", "192.168.56.101",
                        check=False)
            check(r.returncode != 0, f"the NAT VM pinged a host-only VM:\n{r.stdout}")

        def apart():
            n1, h1, h2 = st["n1"], st["h1"], st["h2"]
            cap_n = lab.capture(n1.ns, "vmt0", name="tcpdump-n1")
            cap_h = lab.capture(h2.ns, "vmt0", name="tcpdump-h2")
            # Broadcasts, DHCP and unknown unicast (flooded) on both sides.
            lab.run(h1.ns, "ping", "-b", "-c", "3", "-i", "0.2", "-W", "1",
                    "192.168.56.255", check=False)
            lab.run(h1.ns, "ip", "neigh", "replace", "192.168.56.77", "lladdr",
                    "52:54:00:00:02:77", "dev", "vmt0")
            lab.run(h1.ns, "ping", "-c", "2", "-i", "0.2", "-W", "1", "192.168.56.77",
                    check=False)
            h1.dhcp()
            lab.run(n1.ns, "ping", "-b", "-c", "3", "-i", "0.2", "-W", "1", "10.0.2.255",
                    check=False)
            lab.run(n1.ns, "ip", "neigh", "replace", "10.0.2.77", "lladdr",
                    "52:54:00:00:01:77", "dev", "vmt0")
            lab.run(n1.ns, "ping", "-c", "2", "-i", "0.2", "-W", "1", "10.0.2.77",
                    check=False)
            n1.dhcp()
            lab.run(n1.ns, "ping", "-c", "2", "-i", "0.2", "-W", "2", "10.0.2.2")
            # Positive controls: each capture sees frames from its own network.
            wait_until(lambda: any("10.0.2.2 > 10.0.2.15: ICMP echo reply" in p
                                   for p in cap_n.packets()), 10,
                       "the NAT VM's capture to show the gateway's answer")
            wait_until(lambda: any("192.168.56.77" in p and "52:54:00:00:02:11" in p
                                   for p in cap_h.packets()), 10,
                       "the host-only VM's capture to show its neighbour's flooded frame")
            foreign_n = [p for p in cap_n.packets()
                         if "192.168.56." in p or "52:54:00:00:02:" in p]
            check(not foreign_n, "host-only frames reached the NAT VM:\n" +
                  "\n".join(foreign_n[:10]))
            foreign_h = [p for p in cap_h.packets()
                         if "10.0.2." in p or "52:54:00:00:01:" in p or "52:55:0a" in p]
            check(not foreign_h, "NAT frames reached a host-only VM:\n" +
                  "\n".join(foreign_h[:10]))
            cap_n.stop()
            cap_h.stop()

        def same_mac_both_networks():
            # A VM copied from another keeps its MAC: one per network is no clash.
            n1, h1 = st["n1"], st["h1"]
            h3 = lab.guest("h3", path("lan.sock"), n1.mac)
            check(h3.dhcp().get("ip") == "192.168.56.103", f"host-only lease {h3.lease}")
            lab.run(h3.ns, "ping", "-c", "2", "-i", "0.2", "-W", "2", "192.168.56.101")
            lab.run(h1.ns, "ping", "-c", "2", "-i", "0.2", "-W", "2", "192.168.56.103")
            rc, res = n1.netutil("tcp-check", SERVICE_ADDR, "7", str(1 * MIB))
            check(rc == 0, f"the NAT VM with the same MAC: {res}")
            lab.run(n1.ns, "ping", "-c", "2", "-i", "0.2", "-W", "2", "10.0.2.2")
            check(st["d"].stop() == 0, st["d"].output()[-2000:])

        def config_file():
            conf = path("vmnetd.conf")
            with open(conf, "w") as f:
                f.write("# two networks in a key file\n"
                        "[lab]\nmode=hostonly\nnet=192.168.57.0/24\nhost=192.168.57.1\n"
                        "dhcpstart=192.168.57.10\ndhcpend=192.168.57.20\n"
                        "static=52:54:00:00:03:01=192.168.57.5=alpha;"
                        "52:54:00:00:03:02=192.168.57.6=beta\n"
                        "[wan2]\nmode=nat\nnet=10.0.3.0/24\n")
            ns = lab.netns("cfg")
            d = lab.daemon("--config", conf, ns=ns, name="vmnetd-config",
                           listen=[f"unix:{path('cfg-lab.sock')},network=lab",
                                   f"unix:{path('cfg-wan.sock')},network=wan2"])
            c1 = lab.guest("c1", path("cfg-lab.sock"), "52:54:00:00:03:02")
            c2 = lab.guest("c2", path("cfg-lab.sock"), "52:54:00:00:03:09")
            c3 = lab.guest("c3", path("cfg-wan.sock"), "52:54:00:00:03:03")
            check(c1.dhcp().get("ip") == "192.168.57.6", f"second static lease {c1.lease}")
            l = c2.dhcp()
            check(l.get("ip") == "192.168.57.10" and l.get("dns") == "192.168.57.1",
                  f"dhcpstart= and host= from the file {l}")
            rc, res = c2.netutil("dns-lookup", "192.168.57.1", "alpha")
            check(res == "rcode=0 192.168.57.5", f"first static lease's name: {res}")
            l = c3.dhcp()
            check(l.get("ip") == "10.0.3.15" and l.get("router") == "10.0.3.2",
                  f"NAT network from the file {l}")
            check(d.stop() == 0, d.output()[-2000:])

        def default_sockets():
            runtime = path("xdg")
            os.mkdir(runtime, 0o700)
            nobody = pwd.getpwnam("nobody")
            os.chown(runtime, nobody.pw_uid, nobody.pw_gid)
            ns = lab.netns("dflt")
            d = lab.spawn(ns, ["setpriv", f"--reuid={nobody.pw_uid}",
                               f"--regid={nobody.pw_gid}", "--clear-groups",
                               "env", f"XDG_RUNTIME_DIR={runtime}", VMNETD,
                               "--network", "alpha,mode=nat",
                               "--network", "beta,mode=hostonly"], name="vmnetd-default")
            d.wait_for("Attach a VM to")
            socks = [os.path.join(runtime, "vmnetd", f"{n}.sock") for n in ("alpha", "beta")]
            for s in socks:
                wait_until(lambda: os.path.exists(s), 5, s)
                check(f"unix:{s}" in d.output(), f"{s} is not among:\n{d.output()}")
            g = lab.guest("d1", socks[1], "52:54:00:00:04:01")
            check(g.dhcp().get("ip") == "192.168.56.101", f"lease on beta.sock {g.lease}")
            g = lab.guest("d2", socks[0], "52:54:00:00:04:02")
            check(g.dhcp().get("ip") == "10.0.2.15", f"lease on alpha.sock {g.lease}")
            check(d.stop() == 0, d.output()[-2000:])
            for s in socks:
                check(not os.path.exists(s), f"{s} removed on exit")

        return run_steps([
            ("--help names --network and --config", help_text),
            ("bad declarations: exit 2, one line naming network and key", bad_configs),
            ("NAT and host-only in one daemon: leases, out / not out", nat_and_hostonly),
            ("NAT and host-only stay apart: no frame of one reaches the other", apart),
            ("the same MAC on both networks: each VM works on its own", same_mac_both_networks),
            ("--config key file: host-only with static list, NAT with net=", config_file),
            ("networks with no socket get DIR/NAME.sock (as a user, XDG_RUNTIME_DIR)",
             default_sockets),
        ], lab)


if __name__ == "__main__":
    sys.exit(main())
