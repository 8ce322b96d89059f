#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The events collector's checks (test_events_*.py, test_runas.py), on top of nfce.py:

* Kernel ground truth: `conntrack -L` parsed and grouped the way the exporter groups entries
  (protocol x state, zone), `conntrack -C`.
* The exporter's events metrics, and a converge() that compares both until they agree or a
  deadline passes.

The namespace (nfce.Netns, with the test's nft statements) and the traffic (nfce.Traffic) are
nfce's. The ports of the tests' own flows are below the namespace's ephemeral range, so that
no client socket ever gets one of them (or the exporter's 39901) as its source port.
"""

import collections
import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfce  # noqa: E402

fail, log, deadline_loop = nfce.fail, nfce.log, nfce.deadline_loop

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
            elif k in ("zone", "zone-orig", "zone-reply"):
                # An entry has one zone id, set for both directions (zone=) or one of them
                # (zone-orig=, zone-reply=): the exporter counts it under that id either way.
                e.zone = int(v)
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
