#!/usr/bin/env python3
"""test_nat.py - NAT end to end: vmnetd in a namespace, QEMU guests on its stream
socket, a fake outside world with dnsmasq and echo servers.

What a user would see: a DHCP lease (address, router, DNS, MTU 65520), names
resolved through 10.0.2.3, byte-exact TCP to the host's loopback (10.0.2.2)
and to the outside, UDP, ping, a host port forwarded to the guest, two VMs on
one socket, and a misbehaving client cut off while another VM carries on.
"""
import os
import sys

from harness import (Lab, SERVICE_ADDR, TEST_NAME, check, require, run_steps, wait_until,
                     PYTHON, NETUTIL)

MIB = 1024 * 1024


def main():
    require("qemu-system-x86_64", "dnsmasq", "busybox", "ip", "ss", "tc", "ping")
    with Lab("nat") as lab:
        host, out = lab.outside()
        lab.serve(host, "serve-echo", "tcp", "127.0.0.1", "7001", name="host-echo")
        lab.serve(out, "serve-echo", "tcp", SERVICE_ADDR, "7", name="out-echo")
        lab.serve(out, "serve-echo", "udp", SERVICE_ADDR, "7", name="out-udp-echo")
        tftp_dir = os.path.join(lab.dir, "tftp")
        os.makedirs(tftp_dir)
        tftp_payload = os.urandom(300 * 1024)
        with open(os.path.join(tftp_dir, "boot.img"), "wb") as f:
            f.write(tftp_payload)
        unix_echo = os.path.join(lab.dir, "echo.sock")
        lab.serve(host, "serve-echo", "unix", unix_echo, "0", name="host-unix-echo")
        d = lab.daemon("--nat", "hostfwd=tcp:127.0.0.1:2280-:2222",
                       "--nat", "guestfwd=tcp:10.0.2.100:8000-tcp:127.0.0.1:7001,"
                       f"guestfwd=tcp:10.0.2.101:8001-unix:{unix_echo}",
                       "--nat", f"tftp={tftp_dir},bootfile=boot.img",
                       "--nat", "domainname=vm.example,dnssearch=lab.example,hostname=guest1")
        g1 = lab.guest("g1", d.tcp, "52:54:00:00:00:11")
        g2 = None

        def lease():
            l = g1.dhcp()
            check(l.get("ip") == "10.0.2.15", f"address {l}")
            check(l.get("router") == "10.0.2.2", f"router {l}")
            check(l.get("dns") == "10.0.2.3", f"dns {l}")
            check(l.get("mtu") == "65520", f"mtu {l}")
            check(l.get("boot_file") == "boot.img", f"bootfile= {l}")
            check(l.get("domain") == "vm.example", f"domainname= {l}")
            check(l.get("search") == "lab.example", f"dnssearch= {l}")
            check(l.get("hostname") == "guest1", f"hostname= {l}")
            link = lab.run(g1.ns, "ip", "link", "show", "vmt0").stdout
            check("mtu 65520" in link, f"the guest applied the MTU: {link}")

        def ipv6():
            def slaac():
                out = lab.run(g1.ns, "ip", "-6", "addr", "show", "dev", "vmt0").stdout
                return "inet6 fec0::" in out and "tentative" not in out
            wait_until(slaac, 20, "an address from fec0::/64 (router advertisement)")
            lab.run(g1.ns, "ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", "fec0::2")

        def dns():
            rc, res = g1.netutil("dns-query", "10.0.2.3", TEST_NAME)
            check(rc == 0 and res == SERVICE_ADDR, f"{TEST_NAME} -> {res}")

        def ping_gateway():
            lab.run(g1.ns, "ping", "-c", "3", "-i", "0.2", "-W", "2", "10.0.2.2")

        def tcp_host_loopback():
            rc, res = g1.netutil("tcp-check", "10.0.2.2", "7001", str(10 * MIB))
            check(rc == 0, res)

        def tcp_outside():
            rc, res = g1.netutil("tcp-check", SERVICE_ADDR, "7", str(10 * MIB))
            check(rc == 0, res)

        def udp_outside():
            rc, res = g1.netutil("udp-check", SERVICE_ADDR, "7", "50")
            check(rc == 0, res)

        def hostfwd():
            lab.serve(g1.ns, "serve-echo", "tcp", "0.0.0.0", "2222", name="g1-echo")
            rc, res = lab.netutil(host, "tcp-check", "127.0.0.1", "2280", str(10 * MIB))
            check(rc == 0, res)

        def guestfwd():
            rc, res = g1.netutil("tcp-check", "10.0.2.100", "8000", str(1 * MIB))
            check(rc == 0, f"guestfwd to a TCP target: {res}")
            rc, res = g1.netutil("tcp-check", "10.0.2.101", "8001", str(1 * MIB))
            check(rc == 0, f"guestfwd to a unix target: {res}")

        def vm_reconnects():
            closed = d.output().count("closed")
            check(g1.qemu.stop() is not None, "QEMU stopped")
            wait_until(lambda: d.output().count("closed") > closed, 10,
                       "the daemon to notice the VM left")
            g1.start_qemu()
            l = g1.dhcp()
            check(l.get("ip") == "10.0.2.15", f"lease after reconnecting {l}")
            rc, res = g1.netutil("tcp-check", SERVICE_ADDR, "7", str(1 * MIB))
            check(rc == 0, f"after reconnecting: {res}")

        def tftp():
            got = os.path.join(lab.dir, "tftp-got")
            lab.run(g1.ns, "busybox", "tftp", "-g", "-r", "boot.img", "-l", got, "10.0.2.2")
            with open(got, "rb") as f:
                check(f.read() == tftp_payload, "the file fetched over TFTP differs")

        def two_vms():
            nonlocal g2
            g2 = lab.guest("g2", d.tcp, "52:54:00:00:00:22")
            l2 = g2.dhcp()
            check(l2.get("ip") == "10.0.2.16", f"second VM's lease {l2}")
            lab.serve(g1.ns, "serve-echo", "tcp", "10.0.2.15", "7002", name="g1-echo2")
            rc, res = g2.netutil("tcp-check", "10.0.2.15", "7002", str(10 * MIB))
            check(rc == 0, f"VM to VM: {res}")
            rc, res = g2.netutil("tcp-check", SERVICE_ADDR, "7", str(1 * MIB))
            check(rc == 0, f"second VM to the outside: {res}")

        def bad_client_cut_off():
            xfer = lab.spawn(g2.ns, [PYTHON, NETUTIL, "tcp-check", SERVICE_ADDR, "7",
                                     str(40 * MIB), "120"], name="g2-transfer")
            wait_until(lambda: f"{SERVICE_ADDR}:7" in
                       lab.run(g2.ns, "ss", "-tnH", "state", "established").stdout,
                       20, "the second VM's transfer to start")
            for length in ("70000", "0", "13", "4294967295"):
                rc, res = lab.netutil(None, "bad-length", d.sock, length)
                check(rc == 0, f"length {length}: {res}")
                d.wait_for(rf"client \d+: closed \(frame length {length} outside 14\.\.65535\)")
            check(xfer.p.wait(180) == 0, f"the other VM's transfer: {xfer.output()}")
            check(xfer.output().startswith("OK"), xfer.output())
            rc, res = g1.netutil("tcp-check", "10.0.2.2", "7001", str(1 * MIB))
            check(rc == 0, f"first VM still online: {res}")

        def stuck_vm():
            stuck_mac = "52:54:00:00:00:99"
            stuck = lab.serve(None, "stuck-client", d.sock, stuck_mac, name="stuck-client")
            lab.run(g1.ns, "ip", "neigh", "replace", "10.0.2.50", "lladdr", stuck_mac,
                    "dev", "vmt0")
            blast = lab.spawn(g1.ns, [PYTHON, NETUTIL, "udp-blast", "10.0.2.50", "9",
                                      "3000", "8000"], name="g1-blast")
            rc, res = g2.netutil("tcp-check", SERVICE_ADDR, "7", str(10 * MIB))
            check(rc == 0, f"another VM while one is stuck: {res}")
            check(blast.p.wait(60) == 0, blast.output())
            rc, res = g1.netutil("tcp-check", "10.0.2.2", "7001", str(1 * MIB))
            check(rc == 0, f"the blasting VM itself: {res}")
            stuck.stop()
            m = d.wait_for(r"client \d+: closed \(.*\); rx 1 frames, tx \d+ frames, "
                           r"(\d+) dropped")
            check(int(m.group(1)) > 0, "frames for the stuck VM were dropped at its bound")

        def malformed_frames():
            rc, res = lab.netutil(None, "malformed-frames", d.sock, "5000")
            check(rc == 0, res)
            check(d.p.poll() is None, f"daemon died:\n{d.output()[-3000:]}")
            rc, res = g1.netutil("tcp-check", SERVICE_ADDR, "7", str(1 * MIB))
            check(rc == 0, f"a VM after the garbage: {res}")

        def restricted():
            r = lab.daemon("--nat", "restrict=on,hostfwd=tcp:127.0.0.1:2281-:2222", ns=host,
                           sock=os.path.join(lab.dir, "restricted.sock"))
            g3 = lab.guest("g3", r.sock, "52:54:00:00:00:33")
            l3 = g3.dhcp()
            check(l3.get("ip") == "10.0.2.15", f"a lease on the restricted network {l3}")
            # libslirp leaves router and DNS out of restricted leases; route
            # anyway, so that it is the NAT that says no.
            check("router" not in l3, f"restricted lease offers a router {l3}")
            lab.run(g3.ns, "ip", "route", "replace", "default", "via", "10.0.2.2")
            rc, res = g3.netutil("tcp-check", SERVICE_ADDR, "7", "1000", "3")
            check(rc != 0 and ("TIMEOUT" in res or "timed out" in res or "refused" in res),
                  f"restrict=on let the guest reach the outside: {res}")
            lab.serve(g3.ns, "serve-echo", "tcp", "0.0.0.0", "2222", name="g3-echo")
            rc, res = lab.netutil(host, "tcp-check", "127.0.0.1", "2281", str(1 * MIB))
            check(rc == 0, f"hostfwd into a restricted guest: {res}")
            check(r.stop() == 0, r.output())

        def clean_exit():
            check(d.stop() == 0, f"exit status {d.p.returncode}:\n{d.output()}")
            check(not os.path.exists(d.sock), "the socket file was removed")

        rc = run_steps([
            ("DHCP lease: address, router, DNS, MTU 65520, names, boot file", lease),
            ("name resolves through 10.0.2.3", dns),
            ("IPv6: SLAAC address in fec0::/64, ping fec0::2", ipv6),
            ("ping the gateway", ping_gateway),
            ("TCP 10 MiB byte-exact to host loopback via 10.0.2.2", tcp_host_loopback),
            ("TCP 10 MiB byte-exact to the outside", tcp_outside),
            ("UDP to the outside", udp_outside),
            ("hostfwd 127.0.0.1:2280 -> guest:2222, 10 MiB byte-exact", hostfwd),
            ("guestfwd to a TCP and a unix target", guestfwd),
            ("TFTP from 10.0.2.2 (tftp=), byte-exact", tftp),
            ("a VM that reconnects works again", vm_reconnects),
            ("two VMs on one socket: two leases, VM to VM", two_vms),
            ("bad lengths cut off that client only", bad_client_cut_off),
            ("a VM that stops reading stalls no other", stuck_vm),
            ("5000 malformed frames: daemon and other VMs unharmed", malformed_frames),
            ("restrict=on: no way out, hostfwd still in", restricted),
            ("SIGTERM: exit 0, socket removed", clean_exit),
        ], lab)
    return rc


if __name__ == "__main__":
    sys.exit(main())
