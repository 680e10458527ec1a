#!/usr/bin/env python3
"""netutil.py - small network tools the integration tests run inside namespaces.

Each subcommand prints one result line and exits 0 on success, 1 on failure.
Servers print "ready" once bound so the harness can wait for that, not sleep.
"""
import hashlib
import http.server
import os
import random
import select
import socket
import struct
import sys
import threading


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
}

if __name__ == "__main__":
    sys.exit(COMMANDS[sys.argv[1]](*sys.argv[2:]) or 0)
