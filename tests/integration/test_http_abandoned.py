#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""http_abandoned: clients that send part of a request and close must not hold connections.

70 clients (more than the exporter's connection limit of 64) each send "GET /met" and close
their socket. The exporter must release those connections at once, as it does for clients
that close without sending anything: no CLOSE_WAIT socket left within 2 s, and the next scrape
answered within 3 s. (Exporters before 2026-11-22 kept such connections in CLOSE_WAIT until
the 30 s connection timeout, and 64 of them blocked every scrape meanwhile.)
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfce  # noqa: E402

N = 70
CLIENTS = r"""
import socket, sys
for _ in range(int(sys.argv[1])):
    s = socket.create_connection(("127.0.0.1", %d))
    if sys.argv[2]:
        s.sendall(sys.argv[2].encode())
    s.close()
""" % nfce.PORT
SCRAPE = r"""
import socket, time
t0 = time.monotonic()
try:
    s = socket.create_connection(("127.0.0.1", %d), timeout=10)
    s.settimeout(10)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head = s.recv(15)
except OSError as e:
    head = repr(e).encode()
print("%%.2f %%s" %% (time.monotonic() - t0, head.decode(errors="replace")))
""" % nfce.PORT


def test(ck):
    with nfce.Netns("http_abandoned") as ns:
        for label, payload in (("nothing sent", ""), ("partial request line", "GET /met"),
                               ("partial headers", "GET /metrics HTTP/1.1\r\nHost: x\r\n")):
            with nfce.Exporter(ns) as exp:
                ns.run([sys.executable, "-c", CLIENTS, str(N), payload], timeout=60)
                for _ in nfce.deadline_loop(2, 0.05):  # the exporter has 2 s to let them go
                    ss = ns.run(["ss", "-tnH", "state", "close-wait", "sport", f"= :{nfce.PORT}"], check=False).stdout
                    if not ss.strip():
                        break
                ck.eq(f"{label}: exporter sockets in CLOSE_WAIT 2 s after {N} clients closed", 0, len(ss.splitlines()))
                took, _, head = ns.run([sys.executable, "-c", SCRAPE], timeout=30).stdout.strip().partition(" ")
                ck.true(f"{label}: the next scrape is answered within 3 s", head.startswith("HTTP/1.1 200")
                        and float(took) < 3, f"after {took}s: {head!r}")
                ck.eq(f"{label}: exit status on SIGTERM", 0, exp.stop())


if __name__ == "__main__":
    nfce.main(test, tools=("ip", "nft", "conntrack", "ss"))
