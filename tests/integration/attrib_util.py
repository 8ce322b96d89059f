#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The attribution checks (issue 13; test_attrib_*.py), on top of nfce.py and events_util.py:

* What the exporter should show, computed from `conntrack -L` (events_util's parse, both
  directions' tuples): entries by source (aggregated by prefix), by (protocol, destination,
  port), by DNAT target, by SNAT address and its busiest destination, unreplied ones.
* The attribution families read from a scrape, and check_top(): a top-K family against the
  kernel's counts (ties at the K-th count aside), its "other" and its total.
* A traffic daemon with what nfce's lacks: UDP flows from chosen source addresses (one socket,
  the source set per datagram with IP_PKTINFO / IPV6_PKTINFO: any 127/8 address, or an address
  the test added to lo), TCP connections from chosen addresses, SYNs nobody answers, and a bulk
  generator for hundreds of thousands of sources (`python3 attrib_util.py storm ...`).
* raised_max(): nf_conntrack_max raised for a block when it is too low for a test's table.
"""

import collections
import contextlib
import fcntl
import ipaddress
import json
import os
import socket
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import events_util as eu  # noqa: E402
import nfce  # noqa: E402

SELF = os.path.abspath(__file__)
log, fail = nfce.log, nfce.fail
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)  # Python 3.11 does not name it
TOP_FAMILIES = {
    "source": ("nf_conntrack_top_source_entries", ("source",)),
    "destination": ("nf_conntrack_top_destination_entries", ("protocol", "destination", "port")),
    "dnat_target": ("nf_conntrack_top_dnat_target_entries", ("protocol", "target", "port")),
    "snat": ("nf_conntrack_snat_entries", ("address",)),
}
FAMILIES = ("nf_conntrack_top_source_entries", "nf_conntrack_top_destination_entries",
            "nf_conntrack_top_dnat_target_entries", "nf_conntrack_snat_entries",
            "nf_conntrack_snat_busiest_destination_entries", "nf_conntrack_snat_port_usage_ratio",
            "nf_conntrack_snat_port_range_ports", "nf_conntrack_unreplied_entries",
            "nf_conntrack_unreplied_ended_total", "nf_conntrack_attribution_error_entries")
AGES = ("under_10s", "10s_to_1m", "1m_to_10m", "over_10m")
UNREPLIED_PROTOS = {"tcp", "udp", "icmp", "icmpv6", "sctp", "dccp", "gre", "udplite"}
PORT_PROTOS = {6, 17, 33, 132, 136}


# --------------------------------------------------------------------------------------------
# Addresses as the exporter writes them
# --------------------------------------------------------------------------------------------


def ntop(ip):
    """inet_ntop's spelling of an ipaddress object (what the exporter writes)."""
    return socket.inet_ntop(socket.AF_INET if ip.version == 4 else socket.AF_INET6, ip.packed)


def canon(addr):
    return ntop(ipaddress.ip_address(addr))


def source_label(addr, p4=32, p6=64):
    """The source label of addr with --collector.attribution.source-prefix=p4,p6."""
    ip = ipaddress.ip_address(addr)
    plen = p4 if ip.version == 4 else p6
    if plen == ip.max_prefixlen:
        return ntop(ip)
    net = ipaddress.ip_network(f"{addr}/{plen}", strict=False)
    return f"{ntop(net.network_address)}/{plen}"


# --------------------------------------------------------------------------------------------
# Kernel ground truth (events_util.Entry: orig/reply dicts of src, dst, sport, dport)
# --------------------------------------------------------------------------------------------


def port_of(e, d):
    return d.get("dport", "") if e.protonum in PORT_PROTOS else ""


def is_dnat(e):
    return e.reply.get("src") != e.orig.get("dst") or e.reply.get("sport") != e.orig.get("dport")


def is_snat(e):
    return e.reply.get("dst") != e.orig.get("src") or e.reply.get("dport") != e.orig.get("sport")


def want_sources(entries, p4=32, p6=64):
    return collections.Counter((source_label(e.orig["src"], p4, p6),) for e in entries)


def want_destinations(entries):
    return collections.Counter((eu.proto_name(e.protonum), canon(e.orig["dst"]), port_of(e, e.orig))
                               for e in entries)


def want_dnat(entries):
    """By real backend: the reply direction's source address and port."""
    return collections.Counter((eu.proto_name(e.protonum), canon(e.reply["src"]),
                                e.reply.get("sport", "") if e.protonum in PORT_PROTOS else "")
                               for e in entries if is_dnat(e))


def want_snat(entries):
    return collections.Counter((canon(e.reply["dst"]),) for e in entries if is_snat(e))


def want_snat_destinations(entries):
    """{address: Counter((protocol, real server, its port))} of the SNAT'ed entries."""
    out = collections.defaultdict(collections.Counter)
    for e in entries:
        if is_snat(e):
            out[canon(e.reply["dst"])][(eu.proto_name(e.protonum), canon(e.reply["src"]),
                                        e.reply.get("sport", "") if e.protonum in PORT_PROTOS else "")] += 1
    return out


def unreplied_proto(e):
    n = eu.proto_name(e.protonum)
    return n if n in UNREPLIED_PROTOS else "other"


def want_unreplied(entries):
    """{protocol: live entries that never saw a reply}."""
    return collections.Counter(unreplied_proto(e) for e in entries if "UNREPLIED" in e.flags)


# --------------------------------------------------------------------------------------------
# The exporter's side
# --------------------------------------------------------------------------------------------


def label_problems(m, name, labels):
    """Series of name whose label names are not exactly labels."""
    out = []
    for s in m.find(name):
        if sorted(s.labels) != sorted(labels):
            out.append(f"{s}: label names {sorted(s.labels)}, expected {sorted(labels)}")
    return out


def top(m, name, labels):
    """(shown {label tuple: value}, other value or None) of a top family."""
    shown, other = {}, None
    for s in m.find(name):
        key = tuple(s.labels.get(l) for l in labels)
        if all(v == "other" for v in key):
            other = s.value
        else:
            shown[key] = s.value
    return shown, other


def error_of(m, family):
    return m.get("nf_conntrack_attribution_error_entries", family=family)


def present(m, name):
    return bool(m.find(name))


def check_top(what, want, shown, other, k, err=0.0):
    """Problems (a list of strings) of a top family against the kernel's counts want (a Counter
    of label tuples). With err 0 every shown count is exact; with err > 0 (a sketch past its
    capacity) each shown count may be up to err from the truth (docs/metrics.md: too high by
    what it inherited, too low by what a key pushed out and back lost; right after a rebuild
    only too high, which callers check themselves), and up to K keys may be shown (a key's
    count may be all error).
    Ties at the K-th count: any of the tied keys may be shown; a key above the K-th count must
    be, one below it must not. The remainder "other" is the total minus what is shown, absent
    when 0; shown plus other is the total."""
    probs = []
    want = collections.Counter({key: n for key, n in want.items() if n})
    total = sum(want.values())
    if len(shown) != min(k, len(want)) and not (err and len(shown) <= k):
        probs.append(f"{what}: {len(shown)} series shown, expected min(K={k}, {len(want)} keys)")
    for key, v in sorted(shown.items()):
        t = want.get(key, 0)
        if not t - err <= v <= t + err:
            probs.append(f"{what}{key}: shown {v:g}, conntrack -L {t}" + (f" (error allowed {err:g})" if err else ""))
    if len(want) > k and not err:
        kth = sorted(want.values(), reverse=True)[k - 1]
        for key, n in want.items():
            if n > kth and key not in shown:
                probs.append(f"{what}: {key} ({n} entries, above the K-th count {kth}) not shown")
        for key in shown:
            if want.get(key, 0) < kth:
                probs.append(f"{what}: {key} shown with {want.get(key, 0)} entries, below the K-th count {kth}")
    rest = total - sum(shown.values())
    if not err:
        if rest > 0 and other != rest:
            probs.append(f"{what}: other {other}, expected {rest} (total {total} - shown {sum(shown.values()):g})")
        if rest <= 0 and other is not None:
            probs.append(f"{what}: other present ({other:g}) although the shown series hold all {total}")
    if sum(shown.values()) + (other or 0) != total:
        probs.append(f"{what}: shown {sum(shown.values()):g} + other {other} != total {total}")
    return probs


def check_family(m, family, want, k, exact=True):
    """check_top() for one of TOP_FAMILIES, with its label names and its error gauge
    (which must be 0 when exact)."""
    name, labels = TOP_FAMILIES[family]
    probs = label_problems(m, name, labels)
    err = error_of(m, family)
    if err is None:
        probs.append(f'nf_conntrack_attribution_error_entries{{family="{family}"}} missing')
        err = 0.0
    elif exact and err != 0:
        probs.append(f'nf_conntrack_attribution_error_entries{{family="{family}"}} {err:g}, expected 0')
    shown, other = top(m, name, labels)
    return probs + check_top(name, want, shown, other, k, 0.0 if exact else err)


def unreplied_of(m):
    """{(protocol, age): value} of nf_conntrack_unreplied_entries."""
    return {(s.labels.get("protocol"), s.labels.get("age")): s.value for s in m.find("nf_conntrack_unreplied_entries")}


def ended_of(m, proto, service):
    return m.get("nf_conntrack_unreplied_ended_total", protocol=proto, service=service) or 0.0


def totals_problems(k, m):
    """nf_conntrack_entries and the sum of state_entries against conntrack -C (as converge)."""
    probs = []
    for what, v in (("nf_conntrack_entries", m.get("nf_conntrack_entries")),
                    ("sum of nf_conntrack_state_entries", sum(eu.states_of(m).values()))):
        if v != k.count:
            probs.append(f"{what} {v}, conntrack -C {k.count}")
    return probs


# --------------------------------------------------------------------------------------------
# Processes and the global limit
# --------------------------------------------------------------------------------------------


def rss_kib(pid):
    """(VmRSS, VmHWM) of pid in KiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
    return out["VmRSS"], out["VmHWM"]


@contextlib.contextmanager
def raised_max(needed):
    """nf_conntrack_max at least needed inside the block. Nothing is touched when it already is;
    else, like nfce.lowered_max (the same exclusive lock, the original kept in
    /run/nfce-<test>.nf_conntrack_max for a run that is SIGKILLed), raised and written back."""
    if nfce.read_max() >= needed:
        yield nfce.read_max()
        return
    if not nfce._flock(fcntl.LOCK_EX, 60):
        if nfce._lock["users"]:
            nfce._flock(fcntl.LOCK_SH)
        nfce.skip(f"other tests kept {nfce.MAX_LOCK_FILE} locked for 60s")
    nfce._lock["exclusive"] = True
    state = f"/run/nfce-{os.path.basename(sys.argv[0])[5:-3]}.nf_conntrack_max"
    try:
        nfce.restore_stale_max()
        orig = nfce.read_max()
        with open(state, "w") as f:
            f.write(f"{orig}\n")
        try:
            log(f"nf_conntrack_max {orig} -> {needed}")
            nfce.write_max(needed)
            yield needed
        finally:
            nfce.write_max(orig)
            os.unlink(state)
            log(f"nf_conntrack_max restored to {orig}")
    finally:
        nfce._lock["exclusive"] = False
        if nfce._lock["users"]:
            nfce._flock(fcntl.LOCK_SH)
        nfce._unlock_if_unused()


# --------------------------------------------------------------------------------------------
# Traffic
# --------------------------------------------------------------------------------------------


def _pktinfo(addr):
    """The ancillary data that makes addr the source of one datagram."""
    ip = ipaddress.ip_address(addr)
    if ip.version == 4:
        return [(socket.IPPROTO_IP, IP_PKTINFO, struct.pack("=i4s4s", 0, ip.packed, b"\0" * 4))]
    return [(socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, struct.pack("=16si", ip.packed, 0))]


def dns_query(qid, name="example.org"):
    """A DNS query for name/A: what a resolver sends to port 53."""
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", qid & 0xFFFF, 0x0100, 1, 0, 0, 0) + q + struct.pack("!HH", 1, 1)


class AttribDaemon(nfce.TrafficDaemon):
    """nfce's traffic daemon plus flows from chosen source addresses and to chosen
    destinations (nfce's own ops talk to 127.0.0.1 and ::1 only)."""

    def __init__(self):
        super().__init__()
        self.tcp_at = {}  # (host, port) -> listening socket

    def op_udp_from(self, sources, dst, dports, payload="nfce", dns=False, tag=None):
        """sources: [[address, n], ...]: n UDP flows from each address to dst, flow j to
        dports[j % len(dports)] from the j // len(dports)-th socket of a pool (so each flow
        has a tuple of its own); the source set per datagram with IP(V6)_PKTINFO. The sockets
        are kept: their ports stay taken, so no later flow reuses a tuple. dns: the payload
        is a DNS query."""
        v6 = ":" in dst
        pool = []
        sent = eperm = 0
        qid = 0
        for addr, n in sources:
            for j in range(n):
                i = j // len(dports)
                while len(pool) <= i:
                    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
                    s.bind(("::" if v6 else "0.0.0.0", 0))
                    pool.append(s)
                qid += 1
                data = dns_query(qid) if dns else payload.encode()
                try:
                    pool[i].sendmsg([data], _pktinfo(addr), 0, (dst, dports[j % len(dports)]))
                    sent += 1
                except PermissionError:
                    eperm += 1
                except ConnectionRefusedError:  # an ICMP error of an earlier datagram, reported late
                    pool[i].sendmsg([data], _pktinfo(addr), 0, (dst, dports[j % len(dports)]))
                    sent += 1
        self.keep += pool
        return {"sent": sent, "eperm": eperm}

    def op_udp_to(self, dst, port, n, dns=False, expect_reply=False, tag=None):
        """n flows to dst:port, each from a socket of its own (bound to the wildcard: the
        kernel picks the source address and port); with expect_reply each waits for its echo."""
        v6 = ":" in dst
        sent = eperm = replies = 0
        for i in range(n):
            u = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
            u.bind(("::" if v6 else "0.0.0.0", 0))
            u.settimeout(5)
            try:
                u.sendto(dns_query(i) if dns else b"nfce", (dst, port))
                sent += 1
                if expect_reply:
                    u.recvfrom(1500)
                    replies += 1
            except PermissionError:
                eperm += 1
            self.udp[tag].append((u, (dst, port)))
        return {"sent": sent, "eperm": eperm, "replies": replies}

    def op_udp_server_at(self, host, port, echo=True):
        """A UDP server on host:port that echoes (or swallows) every datagram."""
        return self.op_udp_server(port, echo=echo, host=host)

    def op_tcp_listen_at(self, host, port, backlog=1024):
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        s.listen(backlog)
        s.settimeout(5)
        self.tcp_at[(canon(host), s.getsockname()[1])] = s
        return {"port": s.getsockname()[1]}

    def op_tcp_from(self, sources, dst, port, listener=None, tag=None):
        """sources: [[address, n], ...]: n established connections (data both ways) from each
        address to dst:port, accepted by our listener listener=[host, port] (default dst:port:
        a DNAT rule may send them elsewhere)."""
        lh, lp = listener or (dst, port)
        ls = self.tcp_at[(canon(lh), lp)]
        for addr, n in sources:
            for _ in range(n):
                c = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET, socket.SOCK_STREAM)
                c.settimeout(5)
                c.bind((addr, 0))
                c.connect((dst, port))
                s, _ = ls.accept()
                s.settimeout(5)
                c.sendall(b"x")
                s.recv(1)
                s.sendall(b"y")
                c.recv(1)
                self.pairs[tag].append((c, s))
        return {"n": len(self.pairs[tag])}

    def op_raw(self, proto, dsts):
        """One packet of IP protocol proto (16 zero bytes: GRE version 0 for 47) to each of dsts:
        one entry each (conntrack's generic tracker has no ports)."""
        for dst in dsts:
            with socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET, socket.SOCK_RAW, proto) as r:
                r.sendto(b"\0" * 16, (dst, 0))
        return {}

    def op_tcp_syn(self, dst, port, n, tag=None):
        """n non-blocking connects to dst:port (left to whatever the ruleset does with them)."""
        res = []
        for _ in range(n):
            c = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET, socket.SOCK_STREAM)
            c.setblocking(False)
            res.append(c.connect_ex((dst, port)))
            self.pairs[tag].append((c, None))
        return {"errnos": res}


class Traffic(nfce.Traffic):
    """nfce.Traffic, driving AttribDaemon (`python3 attrib_util.py traffic`)."""

    def __init__(self, ns, timeout=60):
        self.timeout = timeout
        self.info = {}
        self.proc = ns.popen([sys.executable, SELF, "traffic"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)


def storm_sources(kind, n):
    """The filler sources of the storm test: "many": n distinct addresses from 127.1.0.0 on,
    one flow each; "few": 100 addresses, n / 100 flows each. [(address, flows)]."""
    if kind == "many":
        base = int(ipaddress.ip_address("127.1.0.0"))
        return [(str(ipaddress.ip_address(base + i)), 1) for i in range(n)]
    return [(f"127.1.0.{1 + s}", n // 100) for s in range(100)]


def _storm(argv):
    """python3 attrib_util.py storm KIND N HEAVY HEAVY_N DPORT0 NDPORTS: in the namespace, N
    filler flows (storm_sources) plus HEAVY_N from HEAVY, all UDP to 127.0.0.1 from one socket
    (source port fixed, source address per datagram): a filler flow i goes to DPORT0 + i %
    NDPORTS, the heavy source's flow j to DPORT0 + j. Prints {"sent", "eperm", "seconds"}."""
    kind, n, heavy, heavy_n, dport0, ndports = argv[0], int(argv[1]), argv[2], int(argv[3]), int(argv[4]), int(argv[5])
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("0.0.0.0", 0))
    t0 = time.monotonic()
    sent = eperm = 0
    i = 0

    def send(addr, port):
        nonlocal sent, eperm
        try:
            u.sendmsg([b"x"], _pktinfo(addr), 0, ("127.0.0.1", port))
            sent += 1
        except PermissionError:
            eperm += 1

    for j in range(heavy_n):
        send(heavy, dport0 + j)
    for addr, flows in storm_sources(kind, n):
        for _ in range(flows):
            send(addr, dport0 + i % ndports)
            i += 1
    print(json.dumps({"sent": sent, "eperm": eperm, "seconds": time.monotonic() - t0}))


if __name__ == "__main__":
    if sys.argv[1:2] == ["traffic"]:
        AttribDaemon().serve()
    elif sys.argv[1:2] == ["storm"]:
        _storm(sys.argv[2:])
    else:
        sys.exit(f"usage: {sys.argv[0]} traffic | storm KIND N HEAVY HEAVY_N DPORT0 NDPORTS")
