#!/usr/bin/env python3
"""test_hostonly.py - a host-only network end to end: VMs and the host, nothing else.

What a user would see: leases from vmnetd's own DHCP server (pool from .101
in order, static leases by MAC, mask, DNS 192.168.56.1, MTU 65520, no
router), for busybox udhcpc, ISC dhclient and systemd-networkd; the daemon
host's loopback services reached through 192.168.56.1 (TCP, UDP, ping); VM
to VM directly; names of VMs and of the host in DNS at 192.168.56.1, outside
names refused;
everything else refused or unreachable at once, and not one packet in the
fake outside world; hostfwd into a VM; a host interface (host-iface=) that
the host reaches VMs through; leases that survive a daemon restart
(lease-file=).
"""
import os
import re
import shutil
import sys
import time

from harness import (Lab, NETWORKD, OUT_ADDR, SERVICE_ADDR, StepSkipped, TEST_NAME, check,
                     require, run_steps, wait_until)

MIB = 1024 * 1024
HOST = "192.168.56.1"
STATIC_MAC, STATIC_IP, STATIC_NAME = "52:54:00:00:00:33", "192.168.56.50", "staticvm"


def ptr_name(ip):
    return ".".join(reversed(ip.split("."))) + ".in-addr.arpa"


def fast_failure(res, words, what):
    """A probe's answer: one of `words`, and within a second (no timeout)."""
    check(any(res.startswith(w) for w in words), f"{what}: {res}")
    check(float(res.split()[-1]) < 1.0, f"{what} took its time: {res}")


def main():
    require("qemu-system-x86_64", "dnsmasq", "busybox", "ip", "ss", "tc", "ping", "tcpdump",
            "dhclient")
    with Lab("ho") as lab:
        host, out = lab.outside()
        outside = lab.capture(out, "any", "ip", name="tcpdump-outside")
        lab.serve(host, "serve-echo", "tcp", "127.0.0.1", "7001", name="host-echo")
        lab.serve(host, "serve-echo", "udp", "127.0.0.1", "7001", name="host-udp-echo")
        lab.serve(out, "serve-echo", "tcp", SERVICE_ADDR, "7", name="out-echo")
        lab.serve(out, "serve-echo", "udp", SERVICE_ADDR, "7", name="out-udp-echo")
        d = lab.daemon("--network", "ho,mode=hostonly,domainname=lab.example,"
                       f"static={STATIC_MAC}={STATIC_IP}={STATIC_NAME},"
                       "hostfwd=tcp:127.0.0.1:2290-192.168.56.101:2222")
        g1 = lab.guest("g1", d.tcp, "52:54:00:00:00:11")
        g2 = lab.guest("g2", d.tcp, "52:54:00:00:00:22")
        g3 = lab.guest("g3", d.sock, STATIC_MAC)

        def lease():
            l = g1.dhcp(hostname="vm1")
            check(l.get("ip") == "192.168.56.101", f"first address of the pool {l}")
            check(l.get("subnet") == "255.255.255.0", f"netmask {l}")
            check(l.get("dns") == HOST, f"dns {l}")
            check(l.get("mtu") == "65520", f"mtu {l}")
            check("router" not in l, f"a host-only lease names a router {l}")
            check(l.get("domain") == "lab.example", f"domainname= {l}")
            link = lab.run(g1.ns, "ip", "link", "show", "vmt0").stdout
            check("mtu 65520" in link, f"the guest applied the MTU: {link}")

        def more_leases():
            l = g2.dhcp(hostname="vm2")
            check(l.get("ip") == "192.168.56.102", f"second VM: the pool in order {l}")
            l = g3.dhcp()
            check(l.get("ip") == STATIC_IP, f"static lease by MAC {l}")
            check(l.get("hostname", STATIC_NAME) == STATIC_NAME, f"static lease's name {l}")

        def ping_host():
            lab.run(g1.ns, "ping", "-c", "3", "-i", "0.2", "-W", "2", HOST)

        def host_loopback():
            rc, res = g1.netutil("tcp-check", HOST, "7001", str(10 * MIB))
            check(rc == 0, f"TCP: {res}")
            rc, res = g1.netutil("udp-check", HOST, "7001", "50")
            check(rc == 0, f"UDP: {res}")

        def vm_to_vm():
            lab.run(g1.ns, "ping", "-c", "3", "-i", "0.2", "-W", "2", "192.168.56.102")
            lab.run(g3.ns, "ping", "-c", "2", "-i", "0.2", "-W", "2", "192.168.56.101")
            lab.serve(g1.ns, "serve-echo", "tcp", "192.168.56.101", "7002", name="g1-echo")
            rc, res = g2.netutil("tcp-check", "192.168.56.101", "7002", str(10 * MIB))
            check(rc == 0, res)

        def lookup(guest, name, qtype="A"):
            rc, res = guest.netutil("dns-lookup", HOST, name, qtype)
            check(rc == 0, f"{name} {qtype}: {res}")
            rcode, *answers = res.split()
            return int(rcode.split("=")[1]), answers

        def dns_names():
            for name, want in (("vm2", "192.168.56.102"), ("vm1", "192.168.56.101"),
                               (STATIC_NAME, STATIC_IP), ("host", HOST),
                               ("VM2", "192.168.56.102"),
                               ("vm2.lab.example", "192.168.56.102")):
                rcode, answers = lookup(g1, name)
                check(rcode == 0 and answers == [want], f"{name}: rcode {rcode} {answers}")
            rcode, answers = lookup(g1, ptr_name("192.168.56.102"), "PTR")
            check(rcode == 0 and len(answers) == 1 and answers[0].split(".")[0] == "vm2",
                  f"PTR of 192.168.56.102: rcode {rcode} {answers}")
            rcode, answers = lookup(g2, ptr_name(STATIC_IP), "PTR")
            check(rcode == 0 and len(answers) == 1 and answers[0].split(".")[0] == STATIC_NAME,
                  f"PTR of the static lease: rcode {rcode} {answers}")

        def dns_outside_refused():
            rcode, answers = lookup(g1, TEST_NAME)
            check(rcode == 5 and not answers, f"{TEST_NAME}: rcode {rcode} {answers}, "
                  "want REFUSED (5) and no answer")

        def no_way_out():
            lab.run(g1.ns, "ip", "route", "replace", "default", "via", HOST)
            rc, res = g1.netutil("tcp-probe", SERVICE_ADDR, "7", "5")
            fast_failure(res, ["REFUSED"], "TCP to the outside")
            rc, res = g1.netutil("udp-probe", SERVICE_ADDR, "7", "5")
            fast_failure(res, ["ERROR"], "UDP to the outside")
            t0 = time.monotonic()
            r = lab.run(g1.ns, "ping", "-c", "1", "-W", "3", SERVICE_ADDR, check=False)
            # ping says "Destination ... Unreachable", or "Packet filtered" for
            # code 13 (administratively prohibited): both ICMP unreachable.
            check(r.returncode != 0 and ("Unreachable" in r.stdout or
                                         "Packet filtered" in r.stdout),
                  f"ping to the outside: ICMP unreachable expected:\n{r.stdout}{r.stderr}")
            check(time.monotonic() - t0 < 2, f"the ping's answer took its time:\n{r.stdout}")
            # Nor through the host's own routes, to the host's outside address.
            rc, res = g1.netutil("tcp-probe", OUT_ADDR, "53", "5")
            fast_failure(res, ["REFUSED"], "TCP to the outside dnsmasq")

        def nothing_outside():
            # Positive control: the capture does see what reaches the outside.
            lab.run(host, "ping", "-c", "1", "-W", "2", OUT_ADDR)
            wait_until(lambda: any(f"{OUT_ADDR}: ICMP echo request" in line
                                   for line in outside.packets()), 10,
                       "the control ping in the outside capture")
            stray = [line for line in outside.packets() if "ICMP echo" not in line
                     or "192.0.2.1 >" not in line and "192.0.2.2 >" not in line]
            check(not stray, "packets reached the outside world:\n" + "\n".join(stray[:20]))

        def hostfwd():
            lab.serve(g1.ns, "serve-echo", "tcp", "0.0.0.0", "2222", name="g1-fwd-echo")
            rc, res = lab.netutil(host, "tcp-check", "127.0.0.1", "2290", str(10 * MIB))
            check(rc == 0, res)

        def dhclient():
            g4 = lab.guest("g4", d.sock, "52:54:00:00:00:44")
            l = g4.dhclient()
            check(l.get("ip_address") == "192.168.56.103", f"next address of the pool {l}")
            check(l.get("subnet_mask") == "255.255.255.0", f"netmask {l}")
            check(l.get("domain_name_servers") == HOST, f"dns {l}")
            check(l.get("interface_mtu") == "65520", f"mtu {l}")
            check("routers" not in l, f"router {l}")
            addr = lab.run(g4.ns, "ip", "-4", "-o", "addr", "show", "dev", "vmt0").stdout
            check("192.168.56.103/24" in addr, f"address applied: {addr}")
            link = lab.run(g4.ns, "ip", "link", "show", "vmt0").stdout
            check("mtu 65520" in link, f"MTU applied: {link}")
            lab.run(g4.ns, "ping", "-c", "2", "-i", "0.2", "-W", "2", HOST)

        def systemd_networkd():
            if not os.access(NETWORKD, os.X_OK) or not shutil.which("unshare"):
                raise StepSkipped(f"needs {NETWORKD} and unshare")
            g6 = lab.guest("g6", d.sock, "52:54:00:00:00:66")
            l, nd = g6.networkd()
            try:
                check(l.get("ADDRESS") == "192.168.56.104", f"next address of the pool {l}")
                check(l.get("NETMASK") == "255.255.255.0", f"netmask {l}")
                check(l.get("SERVER_ADDRESS") == HOST, f"server {l}")
                check(l.get("DNS") == HOST, f"dns {l}")
                check(l.get("MTU") == "65520", f"mtu {l}")
                check(not l.get("ROUTER"), f"router {l}")
                addr = lab.run(g6.ns, "ip", "-4", "-o", "addr", "show", "dev", "vmt0").stdout
                check("192.168.56.104/24" in addr, f"address applied: {addr}")
                link = lab.run(g6.ns, "ip", "link", "show", "vmt0").stdout
                check("mtu 65520" in link, f"MTU applied: {link}")
                lab.run(g6.ns, "ping", "-c", "2", "-i", "0.2", "-W", "2", HOST)
            finally:
                status = nd.stop()
            check(status == 0, f"systemd-networkd's exit status {status}")

        def host_iface():
            ns = lab.netns("hif")
            sock = os.path.join(lab.dir, "hif.sock")
            hd = lab.daemon("--network", "hif,mode=hostonly,host-iface=vmnet1,router=on,"
                            "lease-time=600,mtu=9000", ns=ns, sock=sock, name="vmnetd-hif")
            addr = lab.run(ns, "ip", "-4", "-o", "addr", "show", "dev", "vmnet1").stdout
            check(f"{HOST}/24" in addr, f"vmnet1's address: {addr}")
            link = lab.run(ns, "ip", "link", "show", "vmnet1").stdout
            check(re.search(r"<[^>]*\bUP\b", link), f"vmnet1 is up: {link}")
            g5 = lab.guest("g5", sock, "52:54:00:00:00:55")
            l = g5.dhcp()
            check(l.get("ip") == "192.168.56.101", f"lease on the host-iface network {l}")
            check(l.get("router") == HOST, f"router=on: the host is the router {l}")
            check(l.get("lease") == "600", f"lease-time=600 {l}")
            check(l.get("mtu") == "9000", f"mtu=9000 {l}")
            lab.run(ns, "ping", "-c", "3", "-i", "0.2", "-W", "2", "192.168.56.101")
            check(hd.stop() == 0, hd.output())
            r = lab.run(ns, "ip", "link", "show", "vmnet1", check=False)
            check(r.returncode != 0, f"vmnet1 outlived the daemon: {r.stdout}")

        def restart_keeps_leases():
            ns = lab.netns("rst")
            sock = os.path.join(lab.dir, "rst.sock")
            leases = os.path.join(lab.dir, "rst.leases")
            args = ("--network", f"rst,mode=hostonly,lease-file={leases}")
            rd = lab.daemon(*args, ns=ns, sock=sock, name="vmnetd-rst")
            ga = lab.guest("ga", sock, "52:54:00:00:00:a1")
            gb = lab.guest("gb", sock, "52:54:00:00:00:b2")
            check(ga.dhcp().get("ip") == "192.168.56.101", f"first VM {ga.lease}")
            check(gb.dhcp().get("ip") == "192.168.56.102", f"second VM {gb.lease}")
            check(rd.stop() == 0, rd.output())
            check(os.path.exists(leases), "the lease file was written")
            ga.qemu.stop()
            gb.qemu.stop()
            rd = lab.daemon(*args, ns=ns, sock=sock, name="vmnetd-rst2")
            gb.start_qemu()
            l = gb.dhcp()
            check(l.get("ip") == "192.168.56.102", f"the .102 VM asked first after the "
                  f"restart and got {l.get('ip')}")
            ga.start_qemu()
            check(ga.dhcp().get("ip") == "192.168.56.101", f"the other VM {ga.lease}")
            check(rd.stop() == 0, rd.output())

        def garbage_to_services():
            rc, res = lab.netutil(None, "malformed-services", d.sock, "192.168.56.78", HOST,
                                  "4000")
            check(rc == 0, res)
            check(d.p.poll() is None, f"daemon died:\n{d.output()[-3000:]}")
            check(g2.dhcp(hostname="vm2").get("ip") == "192.168.56.102",
                  f"a lease after the garbage {g2.lease}")
            rcode, answers = lookup(g2, "vm1")
            check(rcode == 0 and answers == ["192.168.56.101"], f"DNS after the garbage: "
                  f"rcode {rcode} {answers}")

        def clean_exit():
            check(d.stop() == 0, f"exit status {d.p.returncode}:\n{d.output()[-2000:]}")
            check(not os.path.exists(d.sock), "the socket file was removed")

        return run_steps([
            ("DHCP lease: .101, mask, DNS .1, MTU 65520, no router, domain", lease),
            ("pool in order (.102) and a static lease by MAC", more_leases),
            ("ping 192.168.56.1", ping_host),
            ("host loopback via 192.168.56.1: TCP 10 MiB byte-exact, UDP", host_loopback),
            ("VM to VM: ping, TCP 10 MiB byte-exact", vm_to_vm),
            ("DNS: VM names (DHCP, static), host, FQDN, PTR", dns_names),
            ("DNS: an outside name is REFUSED", dns_outside_refused),
            ("no way out: TCP refused, UDP and ping unreachable, at once", no_way_out),
            ("not one packet reached the outside world (DNS included)", nothing_outside),
            ("hostfwd 127.0.0.1:2290 -> 192.168.56.101:2222, 10 MiB byte-exact", hostfwd),
            ("ISC dhclient: full lease, applied", dhclient),
            ("systemd-networkd: full lease", systemd_networkd),
            ("host-iface=vmnet1 (and router=on, lease-time=, mtu=): host address, host "
             "pings a VM, gone after SIGTERM",
             host_iface),
            ("lease-file=: a restarted daemon gives each VM its address back",
             restart_keeps_leases),
            ("4000 malformed DHCP and DNS messages: daemon and service unharmed",
             garbage_to_services),
            ("SIGTERM: exit 0, socket removed", clean_exit),
        ], lab)


if __name__ == "__main__":
    sys.exit(main())
