#!/usr/bin/env python3
"""Create N distinct UDP conntrack entries by sending one datagram per (src port, dst port)
pair to 127.0.0.1. Meant to run inside the benchmark's network namespace (bench/run.sh):
it only ever sends to 127.0.0.1."""
import socket
import sys
import time

DST = "127.0.0.1"  # loopback only, by design

def main() -> int:
    flows = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    per_sock = int(sys.argv[2]) if len(sys.argv) > 2 else 1000  # dst ports per source socket
    dport0 = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
    sport0 = int(sys.argv[4]) if len(sys.argv) > 4 else 40000
    nsocks = (flows + per_sock - 1) // per_sock
    t0 = time.monotonic()
    sent = errors = 0
    for s_i in range(nsocks):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((DST, sport0 + s_i))  # fixed, distinct source port per socket
        n = min(per_sock, flows - sent)
        for d in range(n):
            try:
                s.sendto(b"x", (DST, dport0 + d))
            except OSError:
                errors += 1
        sent += n
        s.close()
    print(f"sent {sent} datagrams from {DST}:{sport0}-{sport0 + nsocks - 1} to {DST}:{dport0}-{dport0 + per_sock - 1}"
          f" in {time.monotonic() - t0:.2f}s, {errors} send errors", flush=True)
    return 0

if __name__ == "__main__":
    sys.exit(main())
