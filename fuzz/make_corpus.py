#!/usr/bin/env python3
"""make_corpus.py - writes the fuzz targets' seed inputs into fuzz/corpus/<target>/.

There are no packet captures to start from, so the seeds are built here,
byte by byte, in the shapes fuzz/*.c read: most targets take records (a
2-byte big-endian length, then that many bytes; fuzz.h), each record one
control byte and one message. Run it again after changing a seed; the
output is the same every time.
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

VM = bytes.fromhex("525400000011")
VM2 = bytes.fromhex("525400000022")
STATIC_VM = bytes.fromhex("525400000010")
HOST = bytes.fromhex("5255c0a83801")       # 192.168.56.1's MAC, as libslirp makes it
GW = bytes.fromhex("52550a000202")         # 10.0.2.2's
BCAST = b"\xff" * 6


def ip(s):
    return bytes(int(x) for x in s.split("."))


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def eth(dst, src, etype, payload):
    return dst + src + struct.pack("!H", etype) + payload


def ipv4(src, dst, proto, payload, frag=0x4000, ttl=64, ident=1):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, ttl, proto, 0,
                      ip(src), ip(dst))
    return hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:] + payload


def udp(src, dst, sport, dport, payload):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    pseudo = ip(src) + ip(dst) + struct.pack("!BBH", 0, 17, len(seg))
    c = csum(pseudo + seg) or 0xFFFF
    return ipv4(src, dst, 17, seg[:6] + struct.pack("!H", c) + seg[8:])


def tcp(src, dst, sport, dport, flags, payload=b"", seq=1000, ack=0):
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    pseudo = ip(src) + ip(dst) + struct.pack("!BBH", 0, 6, len(seg))
    return ipv4(src, dst, 6, seg[:16] + struct.pack("!H", csum(pseudo + seg)) + seg[18:])


def icmp(src, dst, typ, code, rest):
    msg = struct.pack("!BBH", typ, code, 0) + rest
    return ipv4(src, dst, 1, msg[:2] + struct.pack("!H", csum(msg)) + msg[4:])


def arp(op, sha, spa, tha, tpa):
    return struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + sha + ip(spa) + tha + ip(tpa)


def bootp(op, mac, msg_type, options=b"", ciaddr="0.0.0.0", yiaddr="0.0.0.0", flags=0,
          pad_to=0):
    hdr = struct.pack("!BBBBIHH4s4s4s4s", op, 1, 6, 0, 0x12345678, 0, flags, ip(ciaddr),
                      ip(yiaddr), ip("0.0.0.0"), ip("0.0.0.0"))
    hdr += mac + b"\0" * 10 + b"\0" * 64 + b"\0" * 128
    opts = b"\x63\x82\x53\x63" + bytes([53, 1, msg_type]) + options + b"\xff"
    msg = hdr + opts
    return msg + b"\0" * max(0, pad_to - len(msg))


def opt(code, data):
    return bytes([code, len(data)]) + data


def dns_name(name):
    out = b""
    for label in name.split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def dns_query(name, qtype=1, qid=0x1234, extra=b"", arcount=0):
    return (struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, arcount) + dns_name(name) +
            struct.pack("!HH", qtype, 1) + extra)


def record(data):
    return struct.pack("!H", len(data)) + data


def records(*items):
    return b"".join(record(bytes([ctl]) + data) for ctl, data in items)


def stream(frame):
    return struct.pack("!I", len(frame)) + frame


# Frames a VM at .101 of the host-only network sends.
def vm_udp(dst_mac, dst, dport, payload, src_mac=VM):
    return eth(dst_mac, src_mac, 0x0800, udp("192.168.56.101", dst, 40000, dport, payload))


def vm_tcp(dst_mac, dst, dport, flags=0x02):
    return eth(dst_mac, VM, 0x0800, tcp("192.168.56.101", dst, 40000, dport, flags))


DISCOVER = bootp(1, VM, 1, opt(12, b"web1") + opt(55, bytes([1, 3, 6, 15, 26, 28, 51, 119])) +
                 opt(57, struct.pack("!H", 1500)) + opt(61, b"\x01" + VM))
REQUEST = bootp(1, VM, 3, opt(50, ip("192.168.56.101")) + opt(54, ip("192.168.56.1")) +
                opt(12, b"web1") + opt(55, bytes([1, 3, 6])))
RENEW = bootp(1, VM, 3, opt(12, b"web1"), ciaddr="192.168.56.101")
RELEASE = bootp(1, VM, 7, opt(54, ip("192.168.56.1")), ciaddr="192.168.56.101")
DECLINE = bootp(1, VM, 4, opt(50, ip("192.168.56.101")) + opt(54, ip("192.168.56.1")))
INFORM = bootp(1, VM, 8, ciaddr="192.168.56.101")
STATIC_DISCOVER = bootp(1, STATIC_VM, 1, opt(12, b"web"))
# libslirp's reply shape: a fixed 312-byte options area padded with zeros.
ACK = bootp(2, VM, 5, opt(54, ip("10.0.2.2")) + opt(51, struct.pack("!I", 86400)) +
            opt(1, ip("255.255.255.0")) + opt(12, b"guest"), yiaddr="10.0.2.15", pad_to=548)

ARP_WHO_HAS_HOST = eth(BCAST, VM, 0x0806, arp(1, VM, "192.168.56.101", b"\0" * 6,
                                              "192.168.56.1"))
ARP_REPLY = eth(VM2, VM, 0x0806, arp(2, VM, "192.168.56.101", VM2, "192.168.56.102"))
UDP_FRAME = vm_udp(VM2, "192.168.56.102", 7, b"hello")
TCP_SYN = vm_tcp(HOST, "203.0.113.10", 80)
TCP_ACK = eth(HOST, VM, 0x0800, tcp("192.168.56.101", "203.0.113.10", 40000, 80, 0x10,
                                    b"GET / HTTP/1.0\r\n\r\n", ack=77))
TCP_RST = vm_tcp(HOST, "203.0.113.10", 80, flags=0x04)
PING = eth(HOST, VM, 0x0800, icmp("192.168.56.101", "192.168.56.1", 8, 0, b"\0\1\0\1abcdefgh"))
ICMP_ERR = eth(HOST, VM, 0x0800, icmp("192.168.56.101", "203.0.113.10", 3, 3,
                                      b"\0" * 4 + udp("203.0.113.10", "192.168.56.101", 53,
                                                      40000, b"")[:28]))
FRAGMENT = eth(HOST, VM, 0x0800, ipv4("192.168.56.101", "203.0.113.10", 17, b"\0" * 16,
                                      frag=0x2000))
IPV6 = eth(bytes.fromhex("333300000001"), VM, 0x86DD,
           bytes.fromhex("6000000000083a40fe800000000000000000000000000001"
                         "ff020000000000000000000000000001") + b"\x80\0\0\0\0\1\0\1")
DHCP_ACK_FRAME = eth(VM, GW, 0x0800, udp("10.0.2.2", "10.0.2.15", 67, 68, ACK))
DHCP_DISCOVER_FRAME = eth(BCAST, VM, 0x0800, udp("0.0.0.0", "255.255.255.255", 68, 67, DISCOVER))

def frag(offset, more, data, ident=7, src="192.168.56.101"):
    """One fragment (offset in bytes, a multiple of 8) of a datagram to the host."""
    return eth(HOST, VM, 0x0800, ipv4(src, "192.168.56.1", 17, data,
                                      frag=(0x2000 if more else 0) | offset // 8, ident=ident))


def tftp_rrq(name, options=b"", opcode=1):
    return eth(GW, VM, 0x0800, udp("10.0.2.15", "10.0.2.2", 40000, 69,
                                   struct.pack("!H", opcode) + name + b"\0octet\0" + options))


DGRAM = udp("192.168.56.101", "192.168.56.1", 40000, 7, b"x" * 2992)[20:]   # 3000 bytes


# vhost-user (fuzz_vhost_user.c): a 2-byte guest RAM size in 256-byte units,
# then records: control 0 a message (bits 2-3: 1 memfd copies, 2 eventfd
# number, in bits 4-7), 1 a RAM write at a 3-byte offset, 2 a kick of eventfd
# (bits 2-3), 3 a frame from the other port. Eventfds 0/1 kick queues 0/1,
# 2/3 are their calls. QEMU 7.2's set-up of a 64 KiB guest, rings of 16.
VU_RAM = 64 * 1024
VU_UVA = 0x7F3A00000000
VU_FEATURES = (1 << 32) | (1 << 15) | (1 << 3) | (1 << 16) | (1 << 28) | (1 << 29) | (1 << 30)


def vu(req, payload=b"", flags=1, fds=0):
    return (fds, struct.pack("<III", req, flags, len(payload)) + payload)


def vu_u64(req, v, flags=1):
    return vu(req, struct.pack("<Q", v), flags)


def vu_fd(req, q, efd):
    return vu(req, struct.pack("<Q", q), fds=2 << 2 | efd << 4)


def vu_ring(q):
    """Queue q's set-up: 16 entries, its parts at q * 4 KiB."""
    base = VU_UVA + q * 0x1000
    return [vu(8, struct.pack("<II", q, 16)), vu(10, struct.pack("<II", q, 0)),
            vu(9, struct.pack("<IIQQQQ", q, 0, base, base + 0x200, base + 0x100, 0)),
            vu_fd(12, q, q), vu_fd(13, q, 2 + q)]


def vu_ram(off, data):
    return (1, struct.pack("<I", off)[:3] + data)


def vu_desc(q, i, addr, length, flags=0, nxt=0):
    return vu_ram(q * 0x1000 + 16 * i, struct.pack("<QIHH", addr, length, flags, nxt))


def vu_avail(q, heads):
    return vu_ram(q * 0x1000 + 0x100, struct.pack("<HH", 0, len(heads)) +
                  b"".join(struct.pack("<H", h) for h in heads))


VU_SETUP = ([vu(1), vu(15), vu_u64(16, (1 << 3) | (1 << 4) | (1 << 13)), vu(3), vu(1),
             vu_fd(13, 0, 2), vu_fd(13, 1, 3), vu_u64(2, VU_FEATURES),
             vu(5, struct.pack("<IIQQQQ", 1, 0, 0, VU_RAM, VU_UVA, 0), flags=9, fds=1 << 2 | 1 << 4)] +
            vu_ring(0) + vu_ring(1) +
            [vu(18, struct.pack("<II", 0, 1)), vu(18, struct.pack("<II", 1, 1)),
             vu_u64(20, 1500, flags=9)])
# The guest sends an ARP request: a 12-byte header, then the frame.
VU_TX = [vu_ram(0x4000, b"\0" * 12 + ARP_WHO_HAS_HOST), vu_desc(1, 0, 0x4000, 12 + len(ARP_WHO_HAS_HOST)),
         vu_avail(1, [0]), (2 | 1 << 2, b"")]
# The guest posts two receive buffers of 256 bytes (MRG_RXBUF) and one comes in.
VU_RX = [vu_desc(0, 0, 0x8000, 256, 2), vu_desc(0, 1, 0x8100, 256, 2), vu_avail(0, [0, 1]),
         (2, b""), (3, UDP_FRAME + b"x" * 300)]


def vhost_user(*items):
    return struct.pack("<H", VU_RAM // 256) + records(*items)


CORPUS = {
    "stream_parser": {
        # [repeat - 1][bytes]: one read() each.
        "one-frame": records((0, stream(ARP_WHO_HAS_HOST))),
        "two-frames": records((0, stream(ARP_WHO_HAS_HOST) + stream(UDP_FRAME))),
        "split-frame": records((0, stream(UDP_FRAME)[:3]), (0, stream(UDP_FRAME)[3:20]),
                               (0, stream(UDP_FRAME)[20:])),
        "many-frames": records((255, stream(ARP_REPLY))),
        "max-frame": records((0, struct.pack("!I", 65535) + b"\0" * 60), (255, b"\xaa" * 256)),
        "bad-length": records((0, stream(ARP_REPLY) + struct.pack("!I", 13) + b"x" * 13)),
        "huge-length": records((0, struct.pack("!I", 0xFFFFFFFF))),
    },
    "switch": {
        # [control][frame]; control bits 0-1 pick the port (fuzz_switch.c).
        "learn": records((0, ARP_WHO_HAS_HOST), (1, ARP_REPLY), (0, UDP_FRAME)),
        "static-spoof": records((1, eth(BCAST, GW, 0x0806, arp(2, GW, "10.0.2.2", BCAST,
                                                               "10.0.2.15"))),
                                (0, eth(GW, VM, 0x0800, b""))),
        "age-and-congest": records((0, UDP_FRAME), (0x05 | 0x10, ARP_REPLY),
                                   (0x08 | 0x40, UDP_FRAME), (0x20 | 0x02, UDP_FRAME)),
        "many-macs": records(*[(0, eth(BCAST, bytes([0x52, 0x54, 0, 0, 1, i]), 0x0806, b""))
                               for i in range(6)]),
        "runt": records((0, b"\xff" * 13), (1, b"")),
    },
    "dhcp_server": {
        # [control][BOOTP message]; control bits 0-2 let time pass.
        "discover-request": records((0, DISCOVER), (1, REQUEST)),
        "renew-release": records((0, DISCOVER), (1, REQUEST), (5, RENEW), (1, RELEASE)),
        "decline": records((0, DISCOVER), (1, DECLINE), (3, DISCOVER)),
        "inform": records((0, INFORM)),
        "static": records((0, STATIC_DISCOVER), (0, bootp(1, STATIC_VM, 3,
                                                         opt(50, ip("192.168.56.10"))))),
        "pool-exhaustion": records(*[(0, bootp(1, bytes([0x52, 0x54, 0, 0, 2, i]), 1))
                                     for i in range(6)]),
        "expiry": records((0, DISCOVER), (1, REQUEST), (7 | 8, DISCOVER)),
        "ack-for-snoop": records((0, ACK)),
    },
    "dns": {
        "a-host": dns_query("host"),
        "a-host-zone": dns_query("host.lab.example"),
        "a-web-upper": dns_query("WEB.LAB.EXAMPLE"),
        "ptr-host": dns_query("1.56.168.192.in-addr.arpa", qtype=12),
        "ptr-unknown": dns_query("77.56.168.192.in-addr.arpa", qtype=12),
        "aaaa": dns_query("host", qtype=28),
        "any": dns_query("web", qtype=255),
        "outside": dns_query("www.example.com"),
        "nxdomain": dns_query("nobody.lab.example"),
        "edns": dns_query("host", extra=b"\0" + struct.pack("!HHIH", 41, 4096, 0, 0),
                          arcount=1),
        "pointer": struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c\0\1\0\1",
        "response": struct.pack("!HHHHHH", 7, 0x8180, 0, 0, 0, 0),
    },
    "frame": {
        "arp": ARP_WHO_HAS_HOST,
        "udp": UDP_FRAME,
        "tcp-syn": TCP_SYN,
        "tcp-data": TCP_ACK,
        "tcp-rst": TCP_RST,
        "icmp-echo": PING,
        "icmp-error": ICMP_ERR,
        "fragment": FRAGMENT,
        "ipv6": IPV6,
        "dhcp-ack": DHCP_ACK_FRAME,
        "dhcp-discover": DHCP_DISCOVER_FRAME,
    },
    "uplink_hostonly": {
        # [control][frame]; control bit 0: the second VM sends.
        "arp-host": records((0, ARP_WHO_HAS_HOST)),
        "dhcp": records((0, vm_udp(BCAST, "255.255.255.255", 67, DISCOVER)),
                        (0, vm_udp(BCAST, "255.255.255.255", 67, REQUEST))),
        "dns": records((0, vm_udp(HOST, "192.168.56.1", 53, dns_query("host.lab.example"))),
                       (0, vm_udp(HOST, "192.168.56.1", 53,
                                  dns_query("1.56.168.192.in-addr.arpa", qtype=12)))),
        "host-tcp": records((0, vm_tcp(HOST, "192.168.56.1", 22)),
                            (0, vm_tcp(HOST, "192.168.56.1", 53))),
        "host-udp-ping": records((0, vm_udp(HOST, "192.168.56.1", 7, b"x")), (0, PING)),
        "refusals": records((0, TCP_SYN), (0, vm_udp(HOST, "203.0.113.10", 7, b"x")),
                            (0, ICMP_ERR), (0, FRAGMENT)),
        "two-vms": records((0, ARP_REPLY), (1, eth(VM, VM2, 0x0800,
                                                   udp("192.168.56.102", "192.168.56.101",
                                                       7, 7, b"hi")))),
        "ipv6": records((0, IPV6)),
    },
    "fraglimit": {
        # [control][frame]; control bits 0-1 the source, 2-4 time passing.
        "complete": records((0, frag(0, True, DGRAM[:1480])), (0, frag(1480, True, DGRAM[1480:2960])),
                            (0, frag(2960, False, DGRAM[2960:]))),
        "out-of-order": records((0, frag(2960, False, DGRAM[2960:])), (0, frag(0, True, DGRAM[:1480])),
                                (0, frag(1480, True, DGRAM[1480:2960]))),
        "missing-middle": records((0, frag(0, True, DGRAM[:1480])), (0, frag(2960, False, DGRAM[2960:])),
                                  (0x18, frag(0, True, DGRAM[:1480], ident=8))),
        "overlap": records((0, frag(0, True, DGRAM[:1480])), (0, frag(8, True, DGRAM[8:1488]))),
        "flood": records(*[(i & 3, frag(0, True, b"\0" * 8, ident=100 + i)) for i in range(12)]),
        "expire": records((0, frag(0, True, b"\0" * 8)), (0x14 | 0x20, frag(0, True, b"\0" * 8, ident=9))),
        "not-fragment": records((0, UDP_FRAME), (1, ARP_REPLY), (2, IPV6)),
    },
    "portsec": {
        # [control][frame]; control bits 0-1 the port (3: the uplink). 10.0.2.15 is leased to VM.
        "own-lease": records((0, eth(BCAST, VM, 0x0806, arp(1, VM, "10.0.2.15", b"\0" * 6, "10.0.2.2"))),
                             (1, eth(GW, VM2, 0x0806, arp(2, VM2, "10.0.2.15", GW, "10.0.2.2")))),
        "spoof-gateway": records((1, eth(BCAST, VM2, 0x0806, arp(2, VM2, "10.0.2.2", BCAST, "10.0.2.15")))),
        "ip-spoof": records((0, eth(GW, VM, 0x0800, udp("10.0.2.15", "10.0.2.2", 1, 53, b"x"))),
                            (1, eth(GW, VM2, 0x0800, udp("10.0.2.15", "10.0.2.2", 1, 53, b"x"))),
                            (1, eth(GW, VM2, 0x0800, udp("10.0.2.3", "10.0.2.15", 53, 1, b"x")))),
        "mac-takeover": records((0, UDP_FRAME), (2, UDP_FRAME)),
        "ipv6-na": records((0, IPV6), (1, eth(bytes.fromhex("333300000001"), VM2, 0x86DD,
                                              bytes.fromhex("6000000000203aff" "fe800000000000000000000000000002"
                                                            "ff020000000000000000000000000001") +
                                              b"\x88\0\0\0\x20\0\0\0" +
                                              bytes.fromhex("fec00000000000000000000000000002")))),
        "uplink": records((3, eth(BCAST, GW, 0x0806, arp(1, GW, "10.0.2.2", b"\0" * 6, "10.0.2.15")))),
    },
    "tftp_guard": {
        # One frame from the guest to libslirp's TFTP server at 10.0.2.2 (root: fuzz_tftp_guard.c).
        "rrq-file": tftp_rrq(b"pxelinux.0"),
        "rrq-inner": tftp_rrq(b"boot/kernel"),
        "rrq-dir": tftp_rrq(b"boot"),
        "rrq-escape": tftp_rrq(b"etc/passwd"),
        "rrq-dotdot": tftp_rrq(b"../../etc/passwd"),
        "rrq-loop": tftp_rrq(b"loop"),
        "rrq-options": tftp_rrq(b"pxelinux.0", b"blksize\x001468\x00tsize\x000\x00"),
        "wrq": tftp_rrq(b"pxelinux.0", opcode=2),
        "rrq-ipv6": eth(bytes.fromhex("525600000002"), VM, 0x86DD,
                        struct.pack("!IHBB", 0x60000000, 8 + 17, 17, 64) +
                        bytes.fromhex("fec0000000000000000000000000000f") +
                        bytes.fromhex("fec00000000000000000000000000002") +
                        struct.pack("!HHHH", 40000, 69, 8 + 17, 0) + b"\0\1pxelinux.0\0octet\0"),
    },
    "netconf": {
        # One option per line: n --network, a --nat, l --listen, c --connect, f --config.
        "nat-default": b"ahostfwd=tcp:127.0.0.1:2280-:22,dnssearch=example.com\n",
        "two-networks": (b"nnat0,mode=nat,hostfwd=tcp:127.0.0.1:2280-:22\n"
                         b"nlab,mode=hostonly,static=52:54:00:00:00:10=192.168.56.10=web\n"
                         b"lunix:/run/vmnetd/nat0.sock,network=nat0\n"
                         b"ltcp:127.0.0.1:5556,network=lab\n"),
        "hostonly-keys": (b"nlab,mode=hostonly,net=192.168.57.0/24,host=192.168.57.1,"
                          b"dhcpstart=192.168.57.50,dhcpend=192.168.57.60,lease-time=600,"
                          b"domainname=lab.example,host-name=gw,router=on,mtu=9000,"
                          b"port-macs=4,lease-file=/nonexistent/leases\n"),
        "nat-vmnetd-dhcp": (b"nn,mode=nat,dhcp=vmnetd,net=10.1.0.0/16,restrict=on,ipv6=off,"
                            b"guestfwd=tcp:10.1.0.100:80-unix:/tmp/x.sock\n"
                            b"ctcp:[::1]:5555,network=n\n"),
        "config-file": (b"f\n[nat0]\nmode=nat\nhostfwd=tcp:127.0.0.1:2280-:22\n"
                        b"listen=unix:/run/vmnetd/nat0.sock\n\n[lab]\nmode=hostonly\n"
                        b"static=52:54:00:00:00:10=192.168.56.10=web;"
                        b"52:54:00:00:00:11=192.168.56.11=db\ndomainname=lab.example\n"),
        "overlap": b"na,mode=nat\nnb,mode=hostonly,net=10.0.2.0/24\n",
    },
    "vhost_user": {
        "handshake-tx": vhost_user(*VU_SETUP, *VU_TX),
        "handshake-rx": vhost_user(*VU_SETUP, *VU_RX),
        # Stopped (GET_VRING_BASE), the frame posted, restarted where it left off.
        "stop-restart": vhost_user(*VU_SETUP, vu(11, struct.pack("<II", 1, 0)), *VU_TX[:3],
                                   vu(10, struct.pack("<II", 1, 0)), vu_fd(12, 1, 1)),
    },
    "netopts": {
        "qemu-defaults": b"net=10.0.2.0/24,host=10.0.2.2,dns=10.0.2.3,dhcpstart=10.0.2.15",
        "hostfwd": b"hostfwd=tcp:127.0.0.1:2280-:22,hostfwd=udp::5353-10.0.2.15:53",
        "guestfwd": b"guestfwd=tcp:10.0.2.100:80-tcp:127.0.0.1:8080",
        "ipv6": b"ipv6-net=fd00::/64,ipv6-host=fd00::2,ipv6-dns=fd00::3,mtu=1280",
        "names": b"hostname=vm,domainname=example.com,dnssearch=a.example,,b,tftp=/srv,bootfile=pxe",
        "classful": b"net=172.16.0.0,restrict=yes,ipv4=on,ipv6=no",
        "mask": b"net=192.168.0.0/255.255.0.0,mtu=65521",
    },
}


def main():
    for target, seeds in CORPUS.items():
        d = os.path.join(HERE, "corpus", target)
        os.makedirs(d, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
    print("wrote %d seeds for %d targets" % (sum(map(len, CORPUS.values())), len(CORPUS)),
          file=sys.stderr)


if __name__ == "__main__":
    main()
