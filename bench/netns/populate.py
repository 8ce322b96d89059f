#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Set up named network namespaces for bench/netns/run.sh, all from one process.

Usage: populate.py FLOWS RULESET NAME...   (as root; the namespaces exist under /run/netns)

For each NAME: enter the namespace (setns), bring lo up, load RULESET with nft -f (so that
conntrack tracks the namespace's traffic) and send one UDP datagram to each of FLOWS ports on
127.0.0.1, which leaves FLOWS unreplied conntrack entries. One process per batch of namespaces
instead of an `ip netns exec` and a Python start per namespace: run.sh runs a few batches in
parallel (xargs -P).
"""
import ctypes
import fcntl
import os
import socket
import struct
import subprocess
import sys

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
libc = ctypes.CDLL(None, use_errno=True)


def enter(name):
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, f"setns {name}: {os.strerror(e)}")
    finally:
        os.close(fd)


def lo_up():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def main():
    flows, ruleset, names = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    for name in names:
        enter(name)
        lo_up()
        subprocess.run(["nft", "-f", ruleset], check=True)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for p in range(20000, 20000 + flows):
                s.sendto(b"x", ("127.0.0.1", p))


if __name__ == "__main__":
    main()
