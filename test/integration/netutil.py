#!/usr/bin/env python3
"""netutil.py - small network tools the integration tests run inside namespaces.

Each subcommand prints one result line and exits 0 on success, 1 on failure.
Servers print "ready" once bound so the harness can wait for that, not sleep.
"""
import array
import hashlib
import http.server
import os
import random
import resource
import select
import signal
import socket
import struct
import sys
import threading
import time


def serve_echo(proto, addr, port):
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    if proto == "unix":
        family, bind_to = socket.AF_UNIX, addr
    else:
        bind_to = (addr, int(port))
    if proto == "udp":
        s = socket.socket(family, socket.SOCK_DGRAM)
        s.bind((addr, int(port)))
        print("ready", flush=True)
        while True:
            data, peer = s.recvfrom(65535)
            s.sendto(data, peer)
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(bind_to)
    s.listen(64)
    print("ready", flush=True)

    def echo(c):
        with c:
            while True:
                data = c.recv(262144)
                if not data:
                    c.shutdown(socket.SHUT_WR)
                    return
                c.sendall(data)

    while True:
        c, _ = s.accept()
        threading.Thread(target=echo, args=(c,), daemon=True).start()


def tcp_check(addr, port, nbytes, timeout="60"):
    """Send nbytes of random data to an echo server; the echo must match exactly."""
    n = int(nbytes)
    data = random.randbytes(n)
    s = socket.create_connection((addr, int(port)), timeout=float(timeout))
    s.setblocking(False)
    sent, got = 0, bytearray()
    deadline_left = float(timeout)
    while len(got) < n:
        w = [s] if sent < n else []
        r, wr, _ = select.select([s], w, [], deadline_left)
        if not r and not wr:
            print(f"TIMEOUT sent={sent} received={len(got)}")
            return 1
        if wr:
            sent += s.send(data[sent:sent + 262144])
            if sent == n:
                s.shutdown(socket.SHUT_WR)
        if r:
            chunk = s.recv(262144)
            if not chunk:
                break
            got += chunk
    s.close()
    if bytes(got) != data:
        print(f"MISMATCH sent={n} received={len(got)}")
        return 1
    print("OK", hashlib.sha256(data).hexdigest())
    return 0


def udp_check(addr, port, count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.connect((addr, int(port)))
    ok = 0
    for i in range(int(count)):
        payload = f"vmnetd-{i}-".encode() + random.randbytes(64)
        for _ in range(3):          # a datagram may be lost; three tries each
            s.send(payload)
            try:
                if s.recv(65535) == payload:
                    ok += 1
                    break
            except socket.timeout:
                continue
    print("OK" if ok == int(count) else "FAIL", ok)
    return 0 if ok == int(count) else 1


def dns_query(server, name):
    """One A query over UDP; prints the addresses of the answer."""
    qid = random.randrange(65536)
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    q += struct.pack("!HH", 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.sendto(q, (server, 53))
    resp, _ = s.recvfrom(4096)
    rid, flags, qd, an = struct.unpack("!HHHH", resp[:8])
    if rid != qid or flags & 0xF:
        print("FAIL rcode", flags & 0xF)
        return 1
    off = 12
    for _ in range(qd):
        while resp[off]:
            off += resp[off] + 1
        off += 5
    addrs = []
    for _ in range(an):
        off += 2 if resp[off] & 0xC0 == 0xC0 else resp.index(b"\0", off) - off + 1
        rtype, _, _, rdlen = struct.unpack("!HHIH", resp[off:off + 10])
        off += 10
        if rtype == 1:
            addrs.append(socket.inet_ntoa(resp[off:off + 4]))
        off += rdlen
    print(" ".join(addrs) if addrs else "FAIL no answer")
    return 0 if addrs else 1


def serve_http(directory, addr, port):
    os.chdir(directory)
    srv = http.server.ThreadingHTTPServer((addr, int(port)), http.server.SimpleHTTPRequestHandler)
    print("ready", flush=True)
    srv.serve_forever()


def bad_length(path, length, timeout="10"):
    """Connect to a stream socket, announce a frame of the given length, and
    report whether the daemon cut us off."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(struct.pack("!I", int(length)) + b"\0" * 64)
    s.settimeout(float(timeout))
    try:
        while s.recv(65536):
            pass
        print("CLOSED")
        return 0
    except socket.timeout:
        print("STILL OPEN")
        return 1
    except ConnectionResetError:
        print("CLOSED")
        return 0


def stuck_client(path, mac):
    """Join the switch as MAC, announce it once, then never read again."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    src = bytes.fromhex(mac.replace(":", ""))
    frame = b"\xff" * 6 + src + b"\x88\xb5" + b"vmnetd stuck client".ljust(46, b"\0")
    s.sendall(struct.pack("!I", len(frame)) + frame)
    print("ready", flush=True)
    while True:
        select.select([], [], [])


def malformed_frames(path, count):
    """Well-framed garbage: truncated and bogus ARP, IPv4, IPv6 and random
    frames, to everyone and to the NAT gateway's MAC, many from made-up MACs.
    Lengths stay legal, so the daemon must survive what is inside."""
    rnd = random.Random(4242)
    me = bytes.fromhex("525400000077")
    gateway = bytes.fromhex("52550a000202")     # libslirp's MAC for 10.0.2.2
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    for i in range(int(count)):
        dst = (b"\xff" * 6, gateway)[i % 2]
        etype = (b"\x08\x06", b"\x08\x00", b"\x86\xdd", bytes(rnd.randbytes(2)))[i % 4]
        body = rnd.randbytes(rnd.choice((0, 1, 7, 19, 20, 27, 40, 60, 300, 1500, 9000)))
        if etype == b"\x08\x00" and body:
            # Often a plausible IPv4 header with lying lengths and options.
            body = bytes([0x40 | rnd.randrange(16)]) + body[1:]
        # Every third frame from a new MAC: the table must stay bounded.
        src = me if i % 3 else bytes([0x02]) + rnd.randbytes(5)
        frame = dst + src + etype + body
        s.sendall(struct.pack("!I", len(frame)) + frame)
    s.close()
    print("OK")
    return 0


def udp_blast(addr, port, count, size):
    """Send datagrams as fast as the stack takes them; nothing comes back."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    payload = b"x" * int(size)
    for _ in range(int(count)):
        s.sendto(payload, (addr, int(port)))
    print("OK")
    return 0


def udp_rate(addr, port, rate, seconds, max_delay="0.5"):
    """Send numbered datagrams at a fixed rate to an echo server and count the
    answers that come back within max_delay of their sending."""
    rate, n, max_delay = float(rate), int(float(rate) * float(seconds)), float(max_delay)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((addr, int(port)))
    s.setblocking(False)
    sent_at, answered, late = {}, 0, 0
    start = time.monotonic()
    i = 0
    while True:
        now = time.monotonic()
        if i < n and now >= start + i / rate:
            sent_at[i] = now
            try:
                s.send(struct.pack("!I", i) + b"vmnetd-rate".ljust(60, b"."))
            except OSError:
                pass
            i += 1
            continue
        if i >= n and now > start + n / rate + max_delay:
            break
        wake = start + i / rate if i < n else start + n / rate + max_delay
        r, _, _ = select.select([s], [], [], max(0.0, wake - now))
        while r:
            try:
                data = s.recv(2048)
            except BlockingIOError:
                break
            except OSError:
                continue
            seq = struct.unpack("!I", data[:4])[0]
            t = sent_at.pop(seq, None)
            if t is not None:
                if time.monotonic() - t <= max_delay:
                    answered += 1
                else:
                    late += 1
    print(f"OK sent={n} answered={answered} late={late}")
    return 0


def _csum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(array.array("H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF          # native order, for struct "H"


def _arp(op, sha, spa, tha, tpa):
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sha,
                       socket.inet_aton(spa), tha, socket.inet_aton(tpa))


def slow_flooder(path, mac, ip, gateway, size, send_rate, read_rate, seconds):
    """A hostile VM on a stream socket: announce MAC/IP with ARP, then keep
    its own queue full with large ICMP echo requests to the gateway
    (send_rate per second, each `size` bytes of IP) while reading its socket
    at only read_rate bytes per second. Prints "ready" once the gateway has
    answered one echo and a burst is out, then a summary at the end."""
    size, send_rate, read_rate = int(size), float(send_rate), float(read_rate)
    src = bytes.fromhex(mac.replace(":", ""))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)

    def send_frame(frame):
        s.sendall(struct.pack("!I", len(frame)) + frame)

    # Who has the gateway? libslirp answers, and learns us on the way.
    send_frame(b"\xff" * 6 + src + b"\x08\x06" +
               _arp(1, src, ip, b"\0" * 6, gateway).ljust(46, b"\0"))
    payload = random.randbytes(size - 28)
    pay_sum = sum(array.array("H", payload))
    gw_mac = None
    seq = 0

    def echo_frame():
        nonlocal seq
        seq = (seq + 1) & 0xFFFF
        hdr = struct.pack("!BBHHH", 8, 0, 0, 0x4242, seq)
        total = sum(array.array("H", hdr)) + pay_sum
        while total >> 16:
            total = (total & 0xFFFF) + (total >> 16)
        icmp = struct.pack("!BBHHH", 8, 0, socket.htons(~total & 0xFFFF), 0x4242, seq) + payload
        iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, size, seq, 0, 64, 1, 0,
                          socket.inet_aton(ip), socket.inet_aton(gateway))
        iph = iph[:10] + struct.pack("H", _csum(iph)) + iph[12:]
        return gw_mac + src + b"\x08\x00" + iph + icmp

    buf = bytearray()
    replies = 0

    def parse():
        nonlocal gw_mac, replies
        while len(buf) >= 4:
            n = struct.unpack("!I", buf[:4])[0]
            if len(buf) < 4 + n:
                return
            f = bytes(buf[4:4 + n])
            del buf[:4 + n]
            if f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x02" and \
                    f[28:32] == socket.inet_aton(gateway):
                gw_mac = f[22:28]
            elif f[12:14] == b"\x08\x00" and f[23] == 1 and f[34] == 0:
                replies += 1

    # Handshake at full speed: the gateway's MAC, then one echo answered.
    s.settimeout(5)
    try:
        while gw_mac is None:
            buf += s.recv(65536)
            parse()
        send_frame(echo_frame())
        while replies == 0:
            buf += s.recv(65536)
            parse()
    except socket.timeout:
        print(f"FAIL gateway_mac={gw_mac is not None} replies={replies}")
        return 1
    s.settimeout(None)
    burst = 40
    for _ in range(burst):
        send_frame(echo_frame())
    print("ready", flush=True)
    start = time.monotonic()
    sent, read = burst + 1, 0
    chunk = 16384
    while True:
        now = time.monotonic() - start
        if now >= float(seconds):
            break
        if sent - burst - 1 < now * send_rate:
            send_frame(echo_frame())
            sent += 1
            continue
        if read < now * read_rate:
            try:
                data = s.recv(chunk, socket.MSG_DONTWAIT)
            except BlockingIOError:
                data = b""
            if data:
                read += len(data)
                buf += data
                parse()
                continue
        next_send = (sent - burst) / send_rate
        next_read = (read + chunk) / read_rate
        time.sleep(min(0.05, max(0.005, min(next_send, next_read) - now)))
    print(f"OK sent={sent} replies={replies} read={read}")
    return 0


def tcp_probe(addr, port, timeout):
    """One TCP connect: CONNECTED, REFUSED, UNREACHABLE or TIMEOUT, with the time."""
    t0 = time.monotonic()
    try:
        socket.create_connection((addr, int(port)), timeout=float(timeout)).close()
        what = "CONNECTED"
    except ConnectionRefusedError:
        what = "REFUSED"
    except socket.timeout:
        what = "TIMEOUT"
    except OSError as e:
        what = f"UNREACHABLE {e.strerror}"
    print(f"{what} {time.monotonic() - t0:.3f}")
    return 0


def udp_probe(addr, port, timeout):
    """One datagram to a connected socket: ANSWER, an ICMP error, or TIMEOUT."""
    t0 = time.monotonic()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(float(timeout))
    s.connect((addr, int(port)))
    try:
        s.send(b"vmnetd udp probe")
        s.recv(2048)
        what = "ANSWER"
    except socket.timeout:
        what = "TIMEOUT"
    except OSError as e:
        what = f"ERROR {e.strerror}"
    print(f"{what} {time.monotonic() - t0:.3f}")
    return 0


def _dns_name(msg, off):
    labels, jumped, end = [], False, None
    while True:
        n = msg[off]
        if n & 0xC0 == 0xC0:
            if not jumped:
                end = off + 2
            off, jumped = ((n & 0x3F) << 8) | msg[off + 1], True
            continue
        if n == 0:
            return ".".join(labels), (end if jumped else off + 1)
        labels.append(msg[off + 1:off + 1 + n].decode(errors="replace"))
        off += n + 1


def dns_lookup(server, name, qtype="A"):
    """One query over UDP; prints "rcode=N" and the answers (A or PTR data)."""
    types = {"A": 1, "PTR": 12, "AAAA": 28, "MX": 15}
    qid = random.randrange(65536)
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    q += struct.pack("!HH", types[qtype], 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.sendto(q, (server, 53))
    try:
        resp, _ = s.recvfrom(4096)
    except socket.timeout:
        print("TIMEOUT")
        return 1
    rid, flags, qd, an = struct.unpack("!HHHH", resp[:8])
    if rid != qid or not flags & 0x8000:
        print("FAIL not an answer to our query")
        return 1
    off = 12
    for _ in range(qd):
        _, off = _dns_name(resp, off)
        off += 4
    answers = []
    for _ in range(an):
        _, off = _dns_name(resp, off)
        rtype, _, _, rdlen = struct.unpack("!HHIH", resp[off:off + 10])
        off += 10
        if rtype == 1:
            answers.append(socket.inet_ntoa(resp[off:off + 4]))
        elif rtype == 12:
            answers.append(_dns_name(resp, off)[0])
        off += rdlen
    print(f"rcode={flags & 0xF} " + " ".join(answers))
    return 0



def _udp_frame(dst_mac, src_mac, src_ip, dst_ip, sport, dport, payload, ident):
    udp_len = 8 + len(payload)
    pseudo = socket.inet_aton(src_ip) + socket.inet_aton(dst_ip) + struct.pack("!BBH", 0, 17,
                                                                                udp_len)
    udp = struct.pack("!HHHH", sport, dport, udp_len, 0) + payload
    c = _csum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("H", c) + udp[8:]
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, ident & 0xFFFF, 0, 64, 17, 0,
                      socket.inet_aton(src_ip), socket.inet_aton(dst_ip))
    iph = iph[:10] + struct.pack("H", _csum(iph)) + iph[12:]
    return dst_mac + src_mac + b"\x08\x00" + iph + udp


def _bad_dhcp(rnd, mac):
    hlen = rnd.choice((6, 6, 0, 16, 17, 255))
    head = struct.pack("!BBBBIHH4s4s4s4s", rnd.choice((1, 1, 2, 0, 99)), rnd.choice((1, 6)),
                       hlen, rnd.randrange(256), rnd.getrandbits(32), 0,
                       rnd.choice((0, 0x8000)), bytes(4), rnd.randbytes(4), bytes(4), bytes(4))
    body = head + mac.ljust(16, b"\0") + rnd.randbytes(64) + rnd.randbytes(128)
    opts = bytearray(b"\x63\x82\x53\x63" if rnd.random() < 0.9 else rnd.randbytes(4))
    for _ in range(rnd.randrange(12)):
        code = rnd.choice((53, 53, 50, 12, 61, 55, 52, 54, 81, 0, 255, rnd.randrange(256)))
        if code in (0, 255):
            opts.append(code)
            continue
        data = {53: bytes([rnd.randrange(10)]), 50: rnd.randbytes(rnd.choice((4, 3, 0))),
                12: rnd.choice((b"", b"a.b", b"\0\0", b"x" * 255, b"bad name", b"-",
                                rnd.randbytes(40))),
                55: rnd.randbytes(rnd.randrange(256)),
                52: bytes([rnd.randrange(4)])}.get(code, rnd.randbytes(rnd.randrange(40)))
        length = len(data) if rnd.random() < 0.8 else rnd.randrange(256)
        opts += bytes([code, length & 0xFF]) + data
    msg = body + bytes(opts)
    cut = rnd.random()
    if cut < 0.2:
        msg = msg[:rnd.randrange(len(msg))]
    return msg


def _bad_dns(rnd):
    flags = rnd.choice((0x0100, 0x0100, 0x8180, 0x7900, rnd.getrandbits(16)))
    qd = rnd.choice((1, 1, 0, 2, 65535))
    msg = bytearray(struct.pack("!HHHHHH", rnd.getrandbits(16), flags, qd,
                                rnd.choice((0, 0, 1, 65535)), 0, rnd.choice((0, 1))))
    kind = rnd.randrange(6)
    if kind == 0:                               # pointer to itself
        msg += b"\xc0\x0c"
    elif kind == 1:                             # two pointers in a loop
        msg += b"\x01a\xc0\x0e\xc0\x0c"
    elif kind == 2:                             # labels past 255 bytes in all
        msg += (b"\x3f" + b"a" * 63) * 5 + b"\0"
    elif kind == 3:                             # a label longer than the message
        msg += b"\x3fabc"
    elif kind == 4:                             # pointer past the end
        msg += b"\xff\xff"
    else:
        msg += rnd.randbytes(rnd.randrange(300))
    if rnd.random() < 0.7:
        msg += struct.pack("!HH", rnd.choice((1, 12, 28, 255, 0)), rnd.choice((1, 255)))
    if rnd.random() < 0.2:
        msg = msg[:rnd.randrange(len(msg) + 1)]
    return bytes(msg)


def malformed_services(path, ip, server, count):
    """Garbage for a network's own DHCP server and DNS responder: BOOTP
    messages with lying lengths, bad options and names, and DNS messages with
    pointer loops, overlong names, truncation and responses, all well framed
    UDP over the stream socket. Prints how many frames came back."""
    rnd = random.Random(5151)
    me = bytes.fromhex("525400000078")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.settimeout(5)
    frame = b"\xff" * 6 + me + b"\x08\x06" + _arp(1, me, ip, b"\0" * 6, server).ljust(46, b"\0")
    s.sendall(struct.pack("!I", len(frame)) + frame)
    buf, server_mac = bytearray(), None
    try:
        while server_mac is None:
            buf += s.recv(65536)
            while len(buf) >= 4 and len(buf) >= 4 + struct.unpack("!I", buf[:4])[0]:
                n = struct.unpack("!I", buf[:4])[0]
                f = bytes(buf[4:4 + n])
                del buf[:4 + n]
                if f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x02" and \
                        f[28:32] == socket.inet_aton(server):
                    server_mac = f[22:28]
    except socket.timeout:
        print("FAIL no ARP answer for", server)
        return 1
    s.settimeout(None)          # MSG_DONTWAIT below must not wait out a timeout
    received = 0
    for i in range(int(count)):
        if i % 2:
            mac = me if i % 4 == 1 else bytes([0x02]) + rnd.randbytes(5)
            f = _udp_frame(b"\xff" * 6, mac, rnd.choice(("0.0.0.0", ip)), "255.255.255.255",
                           68, 67, _bad_dhcp(rnd, mac), i)
        else:
            f = _udp_frame(server_mac, me, ip, server, 40000 + i % 1000, 53, _bad_dns(rnd), i)
        s.sendall(struct.pack("!I", len(f)) + f)
        try:
            received += len(s.recv(262144, socket.MSG_DONTWAIT))
        except BlockingIOError:
            pass
    s.close()
    print(f"OK received {received} bytes")
    return 0


def _mac(text):
    return bytes.fromhex(text.replace(":", ""))


class _RawPort:
    """A hostile VM: raw Ethernet frames on a vmnetd stream socket (unix:PATH,
    a bare PATH, or tcp:HOST:PORT), framed as QEMU frames them."""

    def __init__(self, path, mac):
        if path.startswith("tcp:"):
            host, port = path[4:].rsplit(":", 1)
            self.s = socket.create_connection((host, int(port)))
        else:
            self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.s.connect(path[5:] if path.startswith("unix:") else path)
        self.mac = _mac(mac)
        self.buf = bytearray()

    def send(self, frame):
        self.s.sendall(struct.pack("!I", len(frame)) + frame)

    def read(self, timeout=0.0):
        """The whole frames that arrive within `timeout` seconds."""
        r, _, _ = select.select([self.s], [], [], timeout)
        while r:
            try:
                data = self.s.recv(262144, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            if not data:
                raise EOFError("the daemon closed the connection")
            self.buf += data
        frames = []
        while len(self.buf) >= 4:
            n = struct.unpack("!I", self.buf[:4])[0]
            if len(self.buf) < 4 + n:
                break
            frames.append(bytes(self.buf[4:4 + n]))
            del self.buf[:4 + n]
        return frames


def _ip4_header(src, dst, proto, ident, payload_len, frag=0):
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, ident & 0xFFFF, frag, 64,
                      proto, 0, socket.inet_aton(src), socket.inet_aton(dst))
    return iph[:10] + struct.pack("H", _csum(iph)) + iph[12:]


def _until_sigterm():
    """SIGTERM ends the tool's main loop (SystemExit) so it still reports."""
    def stop(signum, frame):
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, stop)


def arp_spoof(path, mac, seconds, watch_ip, *forgeries):
    """Keep telling lies in ARP: each FORGERY is ETHDST/OP/SHA/SPA/THA/TPA
    (a MAC may be "me"), all sent every 0.1 s for SECONDS or until SIGTERM,
    while everything that arrives is read and the IPv4 frames addressed to
    WATCH_IP (another VM's, which this port must never see) are counted.
    Prints "ready" after the first round, "round N" every 10 rounds, and at
    the end "OK rounds=R read=N victim=V"."""
    port = _RawPort(path, mac)

    def m(text):
        return port.mac if text == "me" else _mac(text)
    frames = []
    for f in forgeries:
        dst, op, sha, spa, tha, tpa = f.split("/")
        frames.append(m(dst) + port.mac + b"\x08\x06" +
                      _arp(int(op), m(sha), spa, m(tha), tpa).ljust(46, b"\0"))
    watch = socket.inet_aton(watch_ip)
    rounds = read = victim = 0
    _until_sigterm()
    start = time.monotonic()
    try:
        while time.monotonic() - start < float(seconds):
            for f in frames:
                port.send(f)
            rounds += 1
            if rounds == 1:
                print("ready", flush=True)
            elif rounds % 10 == 0:
                print(f"round {rounds}", flush=True)
            due = start + rounds * 0.1
            while True:
                left = due - time.monotonic()
                for f in port.read(max(0.0, left)):
                    read += 1
                    if f[12:14] == b"\x08\x00" and f[30:34] == watch:
                        victim += 1
                if left <= 0:
                    break
    finally:
        print(f"OK rounds={rounds} read={read} victim={victim}", flush=True)
    return 0


def attach_probe(path, timeout):
    """Attach as a VM (one broadcast frame), then see whether the daemon
    closes the connection: CLOSED or OPEN, with the time it took."""
    t0 = time.monotonic()
    port = _RawPort(path, "52:54:00:00:00:7e")
    try:
        port.send(b"\xff" * 6 + port.mac + b"\x88\xb5" + b"vmnetd probe".ljust(46, b"\0"))
        deadline = t0 + float(timeout)
        while time.monotonic() < deadline:
            port.read(deadline - time.monotonic())
        what = "OPEN"
    except (EOFError, ConnectionResetError, BrokenPipeError):
        what = "CLOSED"
    print(f"{what} {time.monotonic() - t0:.3f}")
    return 0


def frag_flood(path, mac, src, dst, dst_mac, count, min_seconds, max_seconds):
    """First fragments of `count` distinct IPv4 datagrams (ID and protocol
    vary; 8 bytes of UDP-ish payload, more to come) to DST, as fast as the
    socket takes them; the sweep repeats until MIN_SECONDS have passed and
    stops at MAX_SECONDS. Prints "ready" after the first 1000, then
    "OK sent=N distinct=D seconds=S"."""
    port = _RawPort(path, mac)
    head = _mac(dst_mac) + port.mac + b"\x08\x00"
    count, protos = int(count), (17, 6, 1, 47)
    start = time.monotonic()
    sent = 0
    port.s.setblocking(True)
    while True:
        i = sent % count
        body = struct.pack("!HHHH", 40000 + i % 1000, 9, 16, 0)
        frame = head + _ip4_header(src, dst, protos[i >> 16], i, len(body), 0x2000) + body
        port.send(frame)
        sent += 1
        if sent == 1000:
            print("ready", flush=True)
        if sent % 1000 == 0:
            port.read()             # nothing should come back; do not let it pile up
            now = time.monotonic() - start
            if now > float(max_seconds) or (sent >= count and now >= float(min_seconds)):
                break
    print(f"OK sent={sent} distinct={min(sent, count)} seconds={time.monotonic() - start:.1f}",
          flush=True)
    return 0


def idle_clients(path, count, timeout):
    """COUNT connections to a stream socket that never read (nor send). One
    more connection, the marker, follows; the daemon accepts in order, so once
    it has closed the marker it has dealt with all the others (or TIMEOUT
    passed). Prints "ready open=N closed=M" for the COUNT, and holds the open
    ones until SIGTERM."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, int(count) + 100)), hard))
    socks = []
    for _ in range(int(count) + 1):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        socks.append(s)
    marker = socks.pop()
    p = select.poll()
    p.register(marker, select.POLLRDHUP)
    p.poll(float(timeout) * 1000)
    closed = 0
    for s in socks:
        p = select.poll()
        p.register(s, select.POLLRDHUP)
        closed += bool(p.poll(0))
    marker.close()
    print(f"ready open={len(socks) - closed} closed={closed}", flush=True)
    _until_sigterm()
    while True:
        select.select([], [], [])


def bcast_flood(path, mac, count, size, start="now"):
    """COUNT broadcast frames of SIZE bytes (an experimental EtherType nobody
    answers), as fast as the socket takes them. With START=usr1 it attaches
    (one small frame), prints "ready" and floods only on SIGUSR1."""
    port = _RawPort(path, mac)
    frame = b"\xff" * 6 + port.mac + b"\x88\xb5" + random.randbytes(int(size) - 14)
    if start == "usr1":
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        port.send(frame[:60])
        print("ready", flush=True)
        signal.sigwait({signal.SIGUSR1})
    t0 = time.monotonic()
    for _ in range(int(count)):
        port.send(frame)
        port.read()
    print(f"OK sent={count} seconds={time.monotonic() - t0:.1f}", flush=True)
    return 0


def icmp6_flood(path, mac, src, dst, dst_mac, count, seconds):
    """COUNT ICMPv6 echo requests from SRC to DST, spread evenly over SECONDS."""
    port = _RawPort(path, mac)
    s6, d6 = socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst)
    count = int(count)
    start = time.monotonic()
    for i in range(count):
        body = struct.pack("!BBHHH", 128, 0, 0, 0x4242, i & 0xFFFF) + b"vmnetd icmp6 flood"
        pseudo = s6 + d6 + struct.pack("!IxxxB", len(body), 58)
        body = body[:2] + struct.pack("H", _csum(pseudo + body)) + body[4:]
        ip6 = struct.pack("!IHBB", 0x60000000, len(body), 58, 64) + s6 + d6
        port.send(_mac(dst_mac) + port.mac + b"\x86\xdd" + ip6 + body)
        if i % 100 == 99:
            port.read()
            wait = start + (i + 1) * float(seconds) / count - time.monotonic()
            if wait > 0:
                time.sleep(wait)
    print(f"OK sent={count} seconds={time.monotonic() - start:.1f}")
    return 0


def udp_ports(path, mac, src, dst, dport, count, nsrc="1"):
    """COUNT UDP datagrams from SRC (or from NSRC addresses from SRC on, in
    turn), each from a source port of its own, to DST:DPORT through the
    gateway (52:55:0a:00:02:02): a flow each for the NAT. Prints
    "OK sent=N answers=M"."""
    port = _RawPort(path, mac)
    gw = _mac("52:55:0a:00:02:02")
    first = struct.unpack("!I", socket.inet_aton(src))[0]
    srcs = [socket.inet_ntoa(struct.pack("!I", first + k)) for k in range(int(nsrc))]
    for a in srcs:
        # Who has the gateway? libslirp learns our MAC, so answers can come back.
        port.send(b"\xff" * 6 + port.mac + b"\x08\x06" +
                  _arp(1, port.mac, a, b"\0" * 6, "10.0.2.2").ljust(46, b"\0"))
    answers = 0
    for i in range(int(count)):
        port.send(_udp_frame(gw, port.mac, srcs[i % len(srcs)], dst, 10000 + i, int(dport),
                             b"vmnetd flow %d" % i, i))
        if i % 100 == 99:
            answers += sum(f[12:14] == b"\x08\x00" and f[23] == 17 for f in port.read())
    print(f"OK sent={count} answers={answers}")
    return 0


def _dhcp_message(mac, xid, mtype, options=b""):
    bootp = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000, bytes(4),
                        bytes(4), bytes(4), bytes(4), mac, b"", b"")
    return bootp + b"\x63\x82\x53\x63" + bytes([53, 1, mtype]) + options + b"\xff"


def dhcp_hog(path, count, wait):
    """One port asks for leases for COUNT made-up MACs (each frame from that
    MAC, chaddr that MAC): DISCOVERs, then a REQUEST for every OFFER, each
    round waiting up to WAIT seconds for the answers. Prints
    "OK offers=N acks=M"."""
    port = _RawPort(path, "52:54:00:00:00:7d")
    macs = [bytes([0x02, 0x42, 0, 0, 0x10, i]) for i in range(int(count))]
    base = random.randrange(1 << 24) << 8

    def answers(mtype):
        got, deadline = {}, time.monotonic() + float(wait)
        while len(got) < len(macs) and time.monotonic() < deadline:
            for f in port.read(deadline - time.monotonic()):
                if f[12:14] != b"\x08\x00" or f[23] != 17:
                    continue
                udp = 14 + (f[14] & 15) * 4
                bootp = f[udp + 8:]
                if f[udp:udp + 2] != b"\x00\x43" or len(bootp) < 244:
                    continue
                xid = struct.unpack("!I", bootp[4:8])[0]
                opts, off, kind, server = bootp[240:], 0, None, None
                while off + 1 < len(opts) and opts[off] != 255:
                    if opts[off] == 0:
                        off += 1
                        continue
                    code, n = opts[off], opts[off + 1]
                    if code == 53:
                        kind = opts[off + 2]
                    elif code == 54:
                        server = opts[off + 2:off + 6]
                    off += 2 + n
                if kind == mtype and xid - base in range(len(macs)):
                    got[xid - base] = (bootp[16:20], server)
        return got

    for i, m in enumerate(macs):
        port.send(_udp_frame(b"\xff" * 6, m, "0.0.0.0", "255.255.255.255", 68, 67,
                             _dhcp_message(m, base + i, 1), i))
    offers = answers(2)
    for i, (yiaddr, server) in offers.items():
        opts = bytes([50, 4]) + yiaddr + (bytes([54, 4]) + server if server else b"")
        port.send(_udp_frame(b"\xff" * 6, macs[i], "0.0.0.0", "255.255.255.255", 68, 67,
                             _dhcp_message(macs[i], base + i, 3, opts), i))
    acks = answers(5) if offers else {}
    print(f"OK offers={len(offers)} acks={len(acks)}")
    return 0


def tcp_hold(addr, port, count, timeout):
    """COUNT TCP connections to an echo service at ADDR:PORT, opened at once
    and held. Once every connect has ended, each connection sends one byte;
    once each has echoed it, answered something else or been closed (or
    TIMEOUT passed) prints "ready connected=N echoing=E closed=C silent=S
    other=O" (and the first other answer), then holds them until SIGTERM."""
    socks = []
    for _ in range(int(count)):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex((addr, int(port)))
        socks.append(s)
    deadline = time.monotonic() + float(timeout)
    pending = set(socks)
    while pending and time.monotonic() < deadline:
        _, w, x = select.select([], list(pending), list(pending),
                                max(0.0, deadline - time.monotonic()))
        pending -= set(w) | set(x)
    live = [s for s in socks if s not in pending and
            s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0]
    waiting, echoing, closed, other = set(), 0, 0, []
    for s in live:
        try:
            s.send(b"x")
            waiting.add(s)
        except OSError:
            closed += 1
    while waiting and time.monotonic() < deadline:
        r, _, _ = select.select(list(waiting), [], [], max(0.0, deadline - time.monotonic()))
        for s in r:
            waiting.discard(s)
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if data == b"x":
                echoing += 1
            elif data:
                other.append(data)
            else:
                closed += 1
    print(f"ready connected={len(live)} echoing={echoing} closed={closed} "
          f"silent={len(waiting)} other={len(other)}", flush=True)
    if other:
        print(f"other: {other[0]!r}", flush=True)
    _until_sigterm()
    while True:
        select.select([], [], [])

COMMANDS = {
    "stuck-client": stuck_client,
    "udp-blast": udp_blast,
    "malformed-frames": malformed_frames,
    "serve-echo": serve_echo,
    "tcp-check": tcp_check,
    "udp-check": udp_check,
    "dns-query": dns_query,
    "serve-http": serve_http,
    "bad-length": bad_length,
    "udp-rate": udp_rate,
    "slow-flooder": slow_flooder,
    "tcp-probe": tcp_probe,
    "udp-probe": udp_probe,
    "dns-lookup": dns_lookup,
    "malformed-services": malformed_services,
    "arp-spoof": arp_spoof,
    "attach-probe": attach_probe,
    "frag-flood": frag_flood,
    "idle-clients": idle_clients,
    "bcast-flood": bcast_flood,
    "icmp6-flood": icmp6_flood,
    "udp-ports": udp_ports,
    "dhcp-hog": dhcp_hog,
    "tcp-hold": tcp_hold,
}

if __name__ == "__main__":
    sys.exit(COMMANDS[sys.argv[1]](*sys.argv[2:]) or 0)
