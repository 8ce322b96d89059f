#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Shared code of the events collector's integration tests (test_events_*.py), on top of nfce.py.

* Netns: like nfce.Netns (its own namespace, lo up, the conntrack-using ruleset, scrapes on
  port 39901 kept out of conntrack by notrack rules) but writes no sysctl at all, and takes
  extra nft statements for the table "inet t" (zones, timeouts, drops, silenced events).
* Kernel ground truth: `conntrack -L` parsed and grouped the way the exporter groups entries
  (protocol x state, zone), `conntrack -C`.
* The exporter's events metrics, and a converge() that compares both until they agree or a
  deadline passes.
* Traffic: a helper process in the namespace (`ip netns exec NS python3 events_util.py
  traffic`) that opens, holds and closes TCP connections and UDP flows on 127.0.0.1 only,
  driven by JSON commands, one a line, on its stdin.

The ports of the tests' own flows are below 32768, out of the default ephemeral range, so
that no client socket ever gets one of them (or the exporter's 39901) as its source port.
"""

import collections
import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfce  # noqa: E402

SELF = os.path.abspath(__file__)
PORT = nfce.PORT
fail, skip, log, Checker, deadline_loop = nfce.fail, nfce.skip, nfce.log, nfce.Checker, nfce.deadline_loop

PROTO_NAMES = {1: "icmp", 6: "tcp", 17: "udp", 33: "dccp", 47: "gre", 58: "icmpv6", 132: "sctp", 136: "udplite"}
TCP_STATES = ("syn_sent", "syn_recv", "established", "fin_wait", "close_wait", "last_ack", "time_wait", "close",
              "syn_sent2")
OTHER_STATES = ("unreplied", "replied", "assured")
# conntrack(8) prints libnetfilter_conntrack's names; state 9 (SYN_SENT2) is "LISTEN" there.
CONNTRACK_TCP_NAMES = {s.upper(): s for s in TCP_STATES}
CONNTRACK_TCP_NAMES["LISTEN"] = "syn_sent2"


def proto_name(num):
    return PROTO_NAMES.get(num, str(num))


# --------------------------------------------------------------------------------------------
# Namespace
# --------------------------------------------------------------------------------------------


class Netns(nfce.Netns):
    """A fresh namespace named nfce-<test>-<pid> (so that nfce's reaper knows it): lo up, table
    inet t with the required conntrack rule (`ct state new counter accept` in an output chain),
    notrack for the exporter's port, plus `nft` (statements for `nft -f`, inside table inet t).
    No sysctl is written."""

    def __init__(self, test, nft=""):
        super().__init__(test)
        self.extra_nft = nft

    def setup(self):
        nfce.reap_stale_namespaces()
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
        r = subprocess.run(["ip", "netns", "add", self.name], capture_output=True, text=True)
        if r.returncode != 0:
            skip(f"cannot create a network namespace: {r.stderr.strip()}")
        self.created = True
        self.run(["ip", "link", "set", "lo", "up"])
        for rule in (
            ["add", "table", "inet", "t"],
            ["add", "chain", "inet", "t", "out", "{ type filter hook output priority 0; }"],
            ["add", "rule", "inet", "t", "out", "ct", "state", "new", "counter", "accept"],
        ):
            r = self.run(["nft"] + rule, check=False)
            if r.returncode != 0:
                skip(f"nft cannot install the conntrack ruleset (nf_conntrack / nf_tables missing?): "
                     f"nft {' '.join(rule)}: {r.stderr.strip()}")
        p = str(self.notrack_port)
        self.nft(f"""
            add chain inet t scrapes {{ type filter hook output priority -300; }}
            add rule inet t scrapes tcp dport {p} notrack
            add rule inet t scrapes tcp sport {p} notrack
        """)
        if self.extra_nft:
            r = self.nft(self.extra_nft, check=False)
            if r.returncode != 0:
                if "syntax error" in r.stderr:
                    fail(f"the test's nft statements do not parse: {r.stderr.strip()}\n{self.extra_nft}")
                skip(f"nft cannot install the test's ruleset (kernel feature missing?): {r.stderr.strip()}")
        if not self.exists(f"{nfce.NF_SYSCTL}/nf_conntrack_count"):
            skip("nf_conntrack is not available in the test namespace")

    def udp_timeout_policy(self, name, seconds, match):
        """Give new UDP entries that match (an nft expression, e.g. "udp dport 20000-20009") a
        timeout of seconds, replied or not, with an nft ct timeout policy (no sysctl). Returns
        False, changing nothing, when the kernel has no ct timeout support."""
        r = self.nft(f"""
            add ct timeout inet t {name} {{ protocol udp; l3proto ip;
                policy = {{ unreplied: {seconds}, replied: {seconds} }}; }}
            add chain inet t tmo_{name} {{ type filter hook output priority -10; }}
            add rule inet t tmo_{name} {match} ct timeout set "{name}"
        """, check=False)
        if r.returncode != 0:
            if "syntax error" in r.stderr:
                fail(f"ct timeout statements do not parse: {r.stderr.strip()}")
            log(f"no nft ct timeout support ({r.stderr.strip()}): default UDP timeouts apply")
            return False
        return True

    def nft(self, script, check=True):
        """Run an nft script (nft -f -) in the namespace."""
        r = self.run(["nft", "-f", "-"], check=False, input=script)
        if check and r.returncode != 0:
            fail(f"nft -f failed in {self.name}: {r.stderr.strip()}\nscript:\n{script}")
        return r


# --------------------------------------------------------------------------------------------
# Kernel ground truth
# --------------------------------------------------------------------------------------------


class Entry:
    __slots__ = ("proto", "protonum", "timeout", "tcp_state", "flags", "zone", "orig", "reply", "mark", "line")

    def state(self):
        """The exporter's state label for this entry."""
        if self.protonum == 6:
            return CONNTRACK_TCP_NAMES.get(self.tcp_state, f"?{self.tcp_state}")
        if "ASSURED" in self.flags:
            return "assured"
        if "UNREPLIED" in self.flags:
            return "unreplied"
        return "replied"

    def key(self):
        return (proto_name(self.protonum), self.state())

    def __repr__(self):
        return self.line


def parse_conntrack_L(text):
    """`conntrack -L` lines -> [Entry]."""
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        toks = line.split()
        if len(toks) < 4 or not toks[1].isdigit() or not toks[2].isdigit():
            fail(f"cannot parse conntrack -L line {line!r}")
        e = Entry()
        e.line, e.proto, e.protonum, e.timeout = line, toks[0], int(toks[1]), int(toks[2])
        e.tcp_state, e.flags, e.zone, e.mark = None, set(), 0, 0
        e.orig, e.reply = {}, {}
        rest = toks[3:]
        if rest and "=" not in rest[0] and not rest[0].startswith("["):
            e.tcp_state = rest[0]
            rest = rest[1:]
        for t in rest:
            if t.startswith("[") and t.endswith("]"):
                e.flags.add(t[1:-1])
                continue
            k, sep, v = t.partition("=")
            if not sep:
                fail(f"cannot parse token {t!r} of conntrack -L line {line!r}")
            if k in ("src", "dst", "sport", "dport", "type", "code", "id") and k not in e.reply:
                (e.orig if k not in e.orig else e.reply)[k] = v
            elif k == "zone":
                e.zone = int(v)
            elif k in ("zone-orig", "zone-reply"):
                fail(f"directional zones are not expected here: {line!r}")
            elif k == "mark":
                e.mark = int(v)
        if e.protonum == 6 and e.tcp_state is None:
            fail(f"TCP entry without a state: {line!r}")
        out.append(e)
    return out


class Kernel:
    """One reading of the namespace's table: conntrack -L grouped, and conntrack -C."""

    def __init__(self, entries, count):
        self.entries = entries
        self.count = count
        self.states = collections.Counter(e.key() for e in entries)
        self.zones = collections.Counter(e.zone for e in entries)

    def same(self, other):
        return (self.count == other.count and self.states == other.states and self.zones == other.zones
                and len(self.entries) == self.count)

    def __repr__(self):
        return (f"conntrack -C {self.count}, conntrack -L {len(self.entries)} entries: "
                f"states {dict(sorted(self.states.items()))}, zones {dict(sorted(self.zones.items()))}")


def kernel(ns):
    r = ns.run(["conntrack", "-L"])
    entries = parse_conntrack_L(r.stdout)
    return Kernel(entries, ns.conntrack_count())


def conntrack_delete(ns, *args):
    """conntrack -D with a filter; returns how many entries it says it deleted (0 if none)."""
    r = ns.run(["conntrack", "-D"] + list(args), check=False)
    m = re.search(r"(\d+) flow entries have been deleted", r.stderr)
    if r.returncode != 0 and not m:
        if "0 flow entries" in r.stderr:
            return 0
        fail(f"conntrack -D {' '.join(args)} exited {r.returncode}: {r.stderr.strip()}")
    return int(m.group(1)) if m else 0


# --------------------------------------------------------------------------------------------
# The exporter's events metrics
# --------------------------------------------------------------------------------------------


def states_of(m):
    """{(protocol, state): value} of nf_conntrack_state_entries."""
    return {(dict(k)["protocol"], dict(k)["state"]): v for k, v in m.series("nf_conntrack_state_entries").items()}


def zones_of(m):
    """{zone label: value} of nf_conntrack_zone_entries."""
    return {dict(k)["zone"]: v for k, v in m.series("nf_conntrack_zone_entries").items()}


def nonzero(d):
    return {k: int(v) for k, v in d.items() if v}


def synced(m):
    return bool(m.find("nf_conntrack_state_entries"))


def resyncs(m, reason):
    return m.get("nf_conntrack_resyncs_total", reason=reason)


def events(m, type_, proto):
    return m.get("nf_conntrack_events_total", type=type_, protocol=proto) or 0


def lifetime(m, proto):
    """(count, sum, {le: bucket}) of nf_conntrack_flow_lifetime_seconds{protocol=proto}; zeros if absent."""
    count = m.get("nf_conntrack_flow_lifetime_seconds_count", protocol=proto) or 0
    total = m.get("nf_conntrack_flow_lifetime_seconds_sum", protocol=proto) or 0.0
    buckets = {s.labels["le"]: s.value for s in m.find("nf_conntrack_flow_lifetime_seconds_bucket")
               if s.labels.get("protocol") == proto}
    return count, total, buckets


def check_series_shape(ck, m):
    """The events families as documented: the TCP states for tcp, unreplied/replied/assured
    for the other named protocols, every value a non-negative integer; events collector OK."""
    ck.eq('nf_conntrack_exporter_collector_success{collector="events"}', 1.0,
          m.get("nf_conntrack_exporter_collector_success", collector="events"))
    st = states_of(m)
    for p in ("tcp", "udp", "icmp"):
        want = TCP_STATES if p == "tcp" else OTHER_STATES
        got = sorted(s for (pp, s) in st if pp == p)
        ck.eq(f"states of protocol {p} in nf_conntrack_state_entries", sorted(want), got)
    for s in m.find("nf_conntrack_state_entries") + m.find("nf_conntrack_zone_entries"):
        ck.true(f"{s} is a non-negative integer", s.value >= 0 and s.value == int(s.value), repr(s))
    for r in ("startup", "overrun", "periodic"):
        ck.true(f'nf_conntrack_resyncs_total{{reason="{r}"}} present', resyncs(m, r) is not None, "missing")
    bad = m.get("nf_conntrack_event_bad_messages_total")
    if bad is not None:  # every message of a real kernel must parse
        ck.eq("nf_conntrack_event_bad_messages_total", 0.0, bad)


def diff_against(k, m, zone_cap=None):
    """Differences between a kernel reading and a scrape: per (protocol, state), per zone, the
    totals. zone_cap: the --collector.events.max-zones value, None for no cap in play."""
    probs = []
    got_states = nonzero(states_of(m))
    want_states = dict(k.states)
    if got_states != want_states:
        keys = sorted(set(got_states) | set(want_states))
        probs.append("nf_conntrack_state_entries{protocol,state} vs conntrack -L: " + ", ".join(
            f"{p}/{s}: expected {want_states.get((p, s), 0)} got {got_states.get((p, s), 0)}"
            for p, s in keys if want_states.get((p, s), 0) != got_states.get((p, s), 0)))
    want_zones = expected_zones(k.zones, zone_cap)
    got_zones = nonzero(zones_of(m))
    if got_zones != want_zones:
        probs.append(f"nf_conntrack_zone_entries vs conntrack -L: expected {want_zones}, got {got_zones}")
    total_states = sum(states_of(m).values())
    total_zones = sum(zones_of(m).values())
    entries = m.get("nf_conntrack_entries")
    for what, v in (("sum of nf_conntrack_state_entries", total_states),
                    ("sum of nf_conntrack_zone_entries", total_zones),
                    ("nf_conntrack_entries", entries)):
        if v != k.count:
            probs.append(f"{what} vs conntrack -C: expected {k.count}, got {v}")
    return probs


def expected_zones(kzones, cap):
    """{zone label: count} as the exporter should show it: the cap biggest zones (ties: lower
    zone number first) by number, the rest summed as "other"."""
    z = {zone: n for zone, n in kzones.items() if n}
    if cap is None or len(z) <= cap:
        return {str(zone): n for zone, n in z.items()}
    order = sorted(z, key=lambda zone: (-z[zone], zone))
    out = {str(zone): z[zone] for zone in order[:cap]}
    other = sum(z[zone] for zone in order[cap:])
    if other:
        out["other"] = other
    return out


def converge(ns, exp, timeout, zone_cap=None, extra=None):
    """Kernel reading, scrape, kernel reading, until the two readings agree (a quiet table) and
    the scrape matches them, or timeout seconds pass. extra(k, m) may add differences.
    Returns (kernel reading, metrics, differences): differences is [] on success."""
    last = (None, None, ["no attempt"])
    for _ in deadline_loop(timeout, 0.1):
        k1 = kernel(ns)
        m = exp.scrape()
        k2 = kernel(ns)
        if not k1.same(k2):
            last = (k2, m, [f"the kernel's table changed during the scrape: {k1} / {k2}"])
            continue
        if not synced(m):
            last = (k2, m, ["nf_conntrack_state_entries not exported (startup dump not finished?)"])
            continue
        probs = diff_against(k2, m, zone_cap)
        if extra is not None:
            probs += extra(k2, m)
        last = (k2, m, probs)
        if not probs:
            return last
    return last


def require(ck, what, result):
    """Record converge()'s outcome in the checker; returns (kernel reading, metrics)."""
    k, m, probs = result
    ck.checks += 1
    if probs:
        ck.fail(what, "did not converge before the deadline:\n    " + "\n    ".join(probs) +
                f"\n    last kernel reading: {k}")
    return k, m


def wait_synced(exp, timeout=10):
    for _ in deadline_loop(timeout, 0.05):
        m = exp.scrape()
        if synced(m):
            return m
    fail(f"nf_conntrack_state_entries never appeared within {timeout}s (startup dump not finished); "
         f"stderr:\n{exp.log()}")


def wait_kernel(ns, pred, what, timeout=10):
    """Poll the kernel until pred(Kernel) holds; returns the reading."""
    k = None
    for _ in deadline_loop(timeout, 0.1):
        k = kernel(ns)
        if pred(k):
            return k
    fail(f"the kernel never got there within {timeout}s: {what}; last reading: {k}\n" +
         "\n".join(map(repr, k.entries[:60])))


# --------------------------------------------------------------------------------------------
# Traffic helper: the library side
# --------------------------------------------------------------------------------------------


class Traffic:
    """A helper process in the namespace; do(op, ...) sends one command and returns its reply."""

    def __init__(self, ns, timeout=30):
        self.ns = ns
        self.timeout = timeout
        self.proc = ns.popen([sys.executable, SELF, "traffic"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)

    def do(self, op, **kw):
        kw["op"] = op
        try:
            self.proc.stdin.write((json.dumps(kw) + "\n").encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass
        line = nfce.read_line(self.proc.stdout, self.timeout)
        if not line:
            err = b""
            if self.proc.poll() is not None:
                err = self.proc.stderr.read()
            fail(f"traffic helper died during {kw}: {err.decode(errors='replace').strip()}")
        r = json.loads(line)
        if r.get("error"):
            fail(f"traffic helper: {kw}: {r['error']}")
        return r

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


# --------------------------------------------------------------------------------------------
# Traffic helper: the namespace side (python3 events_util.py traffic)
# --------------------------------------------------------------------------------------------

LO, LO6 = "127.0.0.1", "::1"


class _Helper:
    def __init__(self):
        self.listeners = {}
        self.pairs = collections.defaultdict(list)  # tag -> [(client, server or None)]
        self.udp = collections.defaultdict(list)  # tag -> [(socket, (host, port))]
        self.keep = []
        self.stop = False

    # TCP

    def op_tcp_listen(self, port, backlog=128):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((LO, port))
        s.listen(backlog)
        s.settimeout(5)
        self.listeners[port] = s
        return {}

    def op_tcp_established(self, port, n, tag):
        """n connections to a listener of ours, data both ways: ESTABLISHED, ASSURED."""
        lst = self.listeners[port]
        for _ in range(n):
            c = socket.create_connection((LO, port), timeout=5)
            s, _ = lst.accept()
            s.settimeout(5)
            c.sendall(b"x")
            s.recv(1)
            s.sendall(b"y")
            c.recv(1)
            self.pairs[tag].append((c, s))
        return {"n": len(self.pairs[tag])}

    def op_tcp_connect_nb(self, port, n, tag):
        """n non-blocking connects; the connection is left to whatever the ruleset does to it."""
        res = []
        for _ in range(n):
            c = socket.socket()
            c.setblocking(False)
            res.append(c.connect_ex((LO, port)))
            self.pairs[tag].append((c, None))
        return {"errnos": res}

    def op_shutdown_wr(self, tag, side="client"):
        for c, s in self.pairs[tag]:
            (c if side == "client" else s).shutdown(socket.SHUT_WR)
        return {}

    def op_close(self, tag, side="client", rst=False, wait_eof=False):
        """Close one side (or both: client first, then the server after it read the FIN)."""
        for c, s in self.pairs[tag]:
            socks = {"client": [c], "server": [s], "both": [c, s]}[side]
            for x in socks:
                if x is None:
                    continue
                if rst:
                    x.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                if wait_eof and x is s:
                    s.settimeout(5)
                    while s.recv(4096):
                        pass
                x.close()
        return {}

    # UDP

    def op_udp_server(self, port, echo, v6=False):
        """A UDP socket on port: echoes every datagram, or silently swallows them."""
        s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((LO6 if v6 else LO, port))
        self.keep.append(s)

        def run():
            while True:
                try:
                    data, addr = s.recvfrom(65536)
                except OSError:
                    return
                if echo:
                    s.sendto(data, addr)

        threading.Thread(target=run, daemon=True).start()
        return {}

    def op_udp_flows(self, port, n, tag, expect_reply=False, v6=False):
        """n flows to port, each from a socket of its own (its own source port)."""
        replies = 0
        host = LO6 if v6 else LO
        for _ in range(n):
            u = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
            u.bind((host, 0))
            u.settimeout(5)
            u.sendto(b"nfce", (host, port))
            if expect_reply:
                u.recvfrom(100)
                replies += 1
            self.udp[tag].append((u, (host, port)))
        return {"replies": replies}

    def op_udp_again(self, tag, expect_reply=False):
        """One more datagram on each flow of tag."""
        replies = 0
        for u, dst in self.udp[tag]:
            u.sendto(b"again", dst)
            if expect_reply:
                u.recvfrom(100)
                replies += 1
        return {"replies": replies}

    def op_udp_ports(self, base, n, tag=None):
        """One socket, datagrams to n consecutive ports: n flows, as fast as it goes."""
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind((LO, 0))
        t0 = time.monotonic()
        sent = 0
        for p in range(base, base + n):
            try:
                u.sendto(b"x", (LO, p))
                sent += 1
            except ConnectionRefusedError:  # an ICMP error of an earlier datagram, reported late
                u.sendto(b"x", (LO, p))
                sent += 1
        self.keep.append(u)
        return {"sent": sent, "seconds": time.monotonic() - t0, "sport": u.getsockname()[1]}

    # ICMP

    def op_icmp_echo(self, n, ident_base):
        """n echo requests with distinct ids (one entry each), waiting for each reply."""
        r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        r.settimeout(5)
        got = 0
        for i in range(n):
            ident = ident_base + i
            hdr = struct.pack("!BBHHH", 8, 0, 0, ident, 1) + b"nfce"
            csum = _inet_csum(hdr)
            pkt = hdr[:2] + struct.pack("!H", csum) + hdr[4:]
            r.sendto(pkt, (LO, 0))
            while True:
                data, _ = r.recvfrom(1500)
                ihl = (data[0] & 0x0F) * 4
                t, _, _, rid, _ = struct.unpack("!BBHHH", data[ihl:ihl + 8])
                if t == 0 and rid == ident:
                    got += 1
                    break
        r.close()
        return {"replies": got}

    def op_has_ipv6(self):
        try:
            s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            s.bind((LO6, 0))
            s.close()
            return {"ipv6": True}
        except OSError as e:
            return {"ipv6": False, "why": str(e)}


def _inet_csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def _traffic_main():
    h = _Helper()
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        op = cmd.pop("op")
        try:
            reply = getattr(h, "op_" + op)(**cmd)
        except Exception as e:  # reported to the test, which fails with it
            reply = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    # stdin closed: the test is done with us; sockets close on exit.


if __name__ == "__main__":
    if sys.argv[1:2] == ["traffic"]:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        _traffic_main()
    else:
        sys.exit(f"usage: {sys.argv[0]} traffic")
