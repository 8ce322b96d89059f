#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Traffic for the parser corpus (run by bench/ctparse/run.sh inside its own network namespace,
where lo carries 127.0.0.0/8, ::1 and fd00::1..4, and the nat rules of run.sh are loaded).

Each kind of flow is made N times (argument 1, default 8), all on loopback:
  tcp  v4/v6   connect, one request and its echo, close from both sides (the full state walk)
  udp  v4/v6   replied (echo server), unreplied (a server that never answers), closed port
  icmp v4/v6   one echo request and its reply (raw sockets)
  dnat v4/v6   tcp to port 8080 and udp to 8053, which the nat output chain sends elsewhere
  snat v4/v6   tcp to 127.0.0.3 / fd00::3, whose source the postrouting chain rewrites
"""
import socket
import struct
import sys
import threading
import time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 8
TCP_PORT, UDP_ECHO, UDP_SILENT, UDP_CLOSED = 7001, 7002, 7003, 7004


def tcp_server(family, addr):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, TCP_PORT))
    s.listen(64)

    def serve():
        while True:
            c, _ = s.accept()
            data = c.recv(64)
            c.sendall(data)
            c.recv(64)  # the client's FIN
            c.close()

    threading.Thread(target=serve, daemon=True).start()


def udp_server(family, addr, port, echo):
    s = socket.socket(family, socket.SOCK_DGRAM)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, port))

    def serve():
        while True:
            data, peer = s.recvfrom(64)
            if echo:
                s.sendto(data, peer)

    threading.Thread(target=serve, daemon=True).start()


def tcp_flow(family, dst, port=TCP_PORT):
    with socket.socket(family, socket.SOCK_STREAM) as c:
        c.settimeout(2)
        c.connect((dst, port))
        c.sendall(b"ping")
        c.recv(64)
        c.shutdown(socket.SHUT_WR)
        c.recv(64)  # the server's FIN: both sides closed, the entry walks to TIME_WAIT


def udp_flow(family, dst, port, reply):
    with socket.socket(family, socket.SOCK_DGRAM) as c:
        c.settimeout(2)
        c.sendto(b"ping", (dst, port))
        if reply:
            c.recvfrom(64)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def icmp_flow(family, dst, ident):
    if family == socket.AF_INET:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, 1) + b"ctparse"
        pkt = hdr[:2] + struct.pack("!H", csum(hdr)) + hdr[4:]
    else:  # the kernel fills in the ICMPv6 checksum
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        pkt = struct.pack("!BBHHH", 128, 0, 0, ident, 1) + b"ctparse"
    with s:
        s.settimeout(2)
        s.sendto(pkt, (dst, 0))
        deadline = time.time() + 2
        while time.time() < deadline:  # our own request comes back first on raw sockets
            data = s.recv(256)
            if family == socket.AF_INET:
                data = data[(data[0] & 0xF) * 4:]
            if data[0] in (0, 129):
                return


def main():
    v4, v6 = socket.AF_INET, socket.AF_INET6
    tcp_server(v4, "0.0.0.0")
    tcp_server(v6, "::")
    # UDP servers on each address, not the wildcard: a reply must leave from the address the
    # request went to (the DNAT target's), or conntrack sees a new flow instead of the reply.
    for fam, addr in ((v4, "127.0.0.1"), (v4, "127.0.0.2"), (v6, "::1"), (v6, "fd00::2")):
        udp_server(fam, addr, UDP_ECHO, True)
        udp_server(fam, addr, UDP_SILENT, False)
    time.sleep(0.2)
    ident = 1000
    for _ in range(N):
        for fam, dst in ((v4, "127.0.0.1"), (v4, "127.0.0.2"), (v6, "::1"), (v6, "fd00::2")):
            tcp_flow(fam, dst)
            udp_flow(fam, dst, UDP_ECHO, True)
            udp_flow(fam, dst, UDP_SILENT, False)
            udp_flow(fam, dst, UDP_CLOSED, False)
            icmp_flow(fam, dst, ident)
            ident += 1
        tcp_flow(v4, "127.0.0.1", 8080)  # dnat to 127.0.0.2:7001
        udp_flow(v4, "127.0.0.1", 8053, True)  # dnat to 127.0.0.2:7002
        tcp_flow(v6, "::1", 8080)  # dnat to [fd00::2]:7001
        udp_flow(v6, "::1", 8053, True)  # dnat to [fd00::2]:7002
        tcp_flow(v4, "127.0.0.3")  # snat to 127.0.0.4
        tcp_flow(v6, "fd00::3")  # snat to fd00::4
    time.sleep(0.5)  # the last FINs and replies


if __name__ == "__main__":
    main()
