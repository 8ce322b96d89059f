#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""events: the events collector's live counts against the kernel.

* startup: entries that exist before the exporter starts are counted from its first dump;
* live: TCP (established, TIME_WAIT), UDP (unreplied, replied), ICMP and a conntrack zone
  (nft `ct zone set`): nf_conntrack_state_entries{protocol,state} and
  nf_conntrack_zone_entries{zone} equal `conntrack -L` grouped the same way, and
  nf_conntrack_events_total{type,protocol} grows exactly like the events `conntrack -E` sees;
* deletes: `conntrack -D` of a zone's entries (DESTROY events) empties the zone and feeds
  nf_conntrack_flow_lifetime_seconds;
* entries that send no events at all (made while nf_conntrack_events=0 in the namespace), born
  and later deleted: only the periodic check can notice, and a "periodic" resync must bring
  the counts back to the kernel's;
* a burst of churn into a tiny event buffer: overruns are counted, resyncs follow, and the
  counts end up at the kernel's again.
"""
import collections
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import events_util as eu  # noqa: E402
import nfce  # noqa: E402

ZONE, ZONE_BASE, N_ZONE = 7, 41500, 5
PRE_UDP_BASE = 42000
CANARY_PORTS = (42500, 42501)
DEFAULT_BUFFER = 8 << 20


def conntrack_L(ns):
    """`conntrack -L` grouped as the exporter groups: ({(protocol, state): n}, {zone: n}, total)."""
    states, zones, total = collections.Counter(), collections.Counter(), 0
    for line in ns.run(["conntrack", "-L"]).stdout.splitlines():
        t = line.split()
        if not t:
            continue
        if len(t) < 4 or not t[1].isdigit():
            nfce.fail(f"cannot parse conntrack -L line {line!r}")
        num = int(t[1])
        if num == 6:
            # conntrack(8) prints state 9, SYN_SENT2, as "LISTEN"
            state = {"LISTEN": "syn_sent2"}.get(t[3], t[3].lower())
        else:
            state = "assured" if "[ASSURED]" in t else "unreplied" if "[UNREPLIED]" in t else "replied"
        zone = next((int(x[5:]) for x in t if re.fullmatch(r"zone=\d+", x)), 0)
        states[(eu.proto_name(num), state)] += 1
        zones[str(zone)] += 1
        total += 1
    return states, zones, total


def expected_states(states):
    exp = {}
    for num, name in eu.PROTO_NAMES.items():
        for st in eu.TCP_STATES if num == 6 else eu.OTHER_STATES:
            exp[(name, st)] = 0
    for k, n in states.items():
        exp[k] = exp.get(k, 0) + n
    return exp


def exporter_states(m):
    return {(dict(k)["protocol"], dict(k)["state"]): int(v) for k, v in m.series("nf_conntrack_state_entries").items()}


def exporter_zones(m):
    return {dict(k)["zone"]: int(v) for k, v in m.series("nf_conntrack_zone_entries").items()}


def exporter_events(m):
    return {(dict(k)["type"], dict(k)["protocol"]): int(v) for k, v in m.series("nf_conntrack_events_total").items()}


def diff(exp, got):
    keys = sorted(set(exp) | set(got), key=str)
    return ", ".join(f"{k}: expected {exp.get(k)}, got {got.get(k)}" for k in keys if exp.get(k) != got.get(k))


def wait_match(ns, exp, what, timeout=10):
    """Poll until a scrape taken between two equal `conntrack -L` agrees with them."""
    last = "no quiet window"
    for _ in nfce.deadline_loop(timeout, 0.2):
        b = conntrack_L(ns)
        m = exp.scrape()
        a = conntrack_L(ns)
        if b != a:
            last = "the kernel's table changed during the scrape"
            continue
        want_s, got_s = expected_states(b[0]), exporter_states(m)
        want_z, got_z = dict(b[1]), exporter_zones(m)
        if want_s == got_s and want_z == got_z:
            total = sum(got_s.values())
            if total != b[2] or m.get("nf_conntrack_entries") != b[2]:
                nfce.fail(f"{what}: state entries add up to {total}, nf_conntrack_entries "
                          f"{m.get('nf_conntrack_entries')}, conntrack -L shows {b[2]}")
            return b, m
        last = "; ".join(x for x in (diff(want_s, got_s), "zones: " + diff(want_z, got_z) if want_z != got_z else "") if x)
    nfce.fail(f"{what}: the exporter's counts did not reach the kernel's within {timeout}s: {last}")


class EventWatch:
    """`conntrack -E` in the namespace, line by line."""

    LINE = re.compile(r"\s*\[(NEW|UPDATE|DESTROY)\]\s+\S+\s+(\d+)\s")

    def __init__(self, ns):
        argv = ["conntrack", "-E"]
        if shutil.which("stdbuf"):
            argv = ["stdbuf", "-oL"] + argv
        self.proc = ns.popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.buf = b""
        self.lines = []

    def read(self, wait=0.0):
        end = time.monotonic() + wait
        while True:
            r, _, _ = select.select([self.proc.stdout], [], [], max(0.0, end - time.monotonic()))
            if not r:
                return
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                return
            self.buf += chunk
            *done, self.buf = self.buf.split(b"\n")
            self.lines += [l.decode(errors="replace") for l in done]

    def wait_for(self, pattern, timeout=10):
        for _ in nfce.deadline_loop(timeout, 0.05):
            self.read(0.05)
            for i, l in enumerate(self.lines):
                if re.search(pattern, l):
                    return i
        nfce.fail(f"conntrack -E did not show {pattern!r} within {timeout}s: {self.lines[-5:]}")

    def count(self, start, end):
        c = collections.Counter()
        for l in self.lines[start:end]:
            m = self.LINE.match(l)
            if not m:
                nfce.fail(f"cannot parse conntrack -E line {l!r}")
            c[(m.group(1).lower(), eu.proto_name(int(m.group(2))))] += 1
        return c

    def close(self):
        nfce._stop_process(self.proc)


def canary(ns, port):
    """One UDP datagram to port from a new socket; returns its source port."""
    return ns.flows(udp=1, udp_base=port, hold=False).info["udp_sport"]


def test(ck):
    if "events" not in nfce.collectors():
        nfce.skip("this exporter has no events collector")
    with nfce.Netns("events", nft=f"add rule inet t raw udp dport {ZONE_BASE}-{ZONE_BASE + 99} ct zone set {ZONE}"
                    ) as ns:
        # 1. entries older than the exporter: its startup dump must count them
        pre = ns.flows(tcp=4, udp=6, udp_base=PRE_UDP_BASE)
        live = watch = None
        try:
            with nfce.Exporter(ns) as exp:
                nfce.check_collectors(ck, eu.wait_synced(exp), nfce.expected_success())
                _, m = wait_match(ns, exp, "startup")
                ck.eq('nf_conntrack_resyncs_total{reason="startup"}', 1.0, m.get("nf_conntrack_resyncs_total", reason="startup"))
                ck.eq("nf_conntrack_event_overruns_total", 0.0, m.get("nf_conntrack_event_overruns_total"))
                ck.eq("nf_conntrack_event_socket_buffer_bytes (twice the default 8MiB)", float(2 * DEFAULT_BUFFER),
                      m.get("nf_conntrack_event_socket_buffer_bytes"))
                nfce.check_types(ck, m)

                # 2. live flows, and every event counted like conntrack -E counts it
                watch = EventWatch(ns)
                e0 = exporter_events(m)
                sent = 0
                # Until conntrack -E is subscribed: it shows the last canary, and so all it will show
                # from before the baseline i0 (the canaries are sent one after the other).
                for _ in nfce.deadline_loop(10, 0.1):
                    sport = canary(ns, CANARY_PORTS[0])
                    sent += 1
                    watch.read(0.2)
                    if any(f"sport={sport} dport={CANARY_PORTS[0]} " in l for l in watch.lines):
                        break
                for _ in nfce.deadline_loop(10, 0.1):  # until the exporter has them all
                    e1 = exporter_events(exp.scrape())
                    if e1.get(("new", "udp"), 0) - e0.get(("new", "udp"), 0) >= sent:
                        break
                ck.eq("NEW udp events counted for the canary datagrams", sent,
                      e1.get(("new", "udp"), 0) - e0.get(("new", "udp"), 0))
                i0 = len(watch.lines)
                live = ns.flows(tcp=5, tcp_closed=3, udp=8, udp_replied=4, icmp_echo=3)
                ns.flows(udp=N_ZONE, udp_base=ZONE_BASE, hold=False)
                (states, zones, _), m = wait_match(ns, exp, "live flows")
                ck.eq(f"conntrack -L: entries in zone {ZONE}", N_ZONE, zones.get(str(ZONE)))
                ck.true("conntrack -L: TIME_WAIT, established, replied and unreplied entries",
                        all(states.get(k, 0) > 0 for k in (("tcp", "time_wait"), ("tcp", "established"),
                                                           ("udp", "replied"), ("udp", "unreplied"),
                                                           ("icmp", "replied"))), repr(states))
                canary(ns, CANARY_PORTS[1])
                i1 = watch.wait_for(rf"\[NEW\] udp .* dport={CANARY_PORTS[1]} ") + 1
                want = watch.count(i0, i1)
                for _ in nfce.deadline_loop(10, 0.1):
                    e2 = exporter_events(exp.scrape())
                    got = collections.Counter({k: e2.get(k, 0) - e1.get(k, 0) for k in set(e1) | set(e2)})
                    got = +got
                    if got == want:
                        break
                ck.eq("nf_conntrack_events_total deltas vs conntrack -E", dict(sorted(want.items())),
                      dict(sorted(got.items())))

                # 3. deletes with DESTROY events: a zone emptied, lifetimes observed
                h0 = m.get("nf_conntrack_flow_lifetime_seconds_count", protocol="udp") or 0
                ns.run(["conntrack", "-D", "-w", str(ZONE)])
                (_, zones, _), m = wait_match(ns, exp, f"after deleting zone {ZONE}")
                ck.eq(f"zone {ZONE} after conntrack -D -w {ZONE}", None, exporter_zones(m).get(str(ZONE)))
                ck.eq("flow_lifetime_seconds_count{udp} grew by the deleted flows", float(N_ZONE),
                      (m.get("nf_conntrack_flow_lifetime_seconds_count", protocol="udp") or 0) - h0)
                buckets = sorted(((float(dict(k)["le"]), v) for k, v in m.series("nf_conntrack_flow_lifetime_seconds_bucket").items()
                                  if dict(k)["protocol"] == "udp"))
                ck.true("lifetime buckets are cumulative and end at +Inf == count",
                        buckets and all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])) and buckets[-1][0] == float("inf")
                        and buckets[-1][1] == m.get("nf_conntrack_flow_lifetime_seconds_count", protocol="udp"), repr(buckets))
                s = m.get("nf_conntrack_flow_lifetime_seconds_sum", protocol="udp")
                ck.true("lifetime sum is within what the flows could have lived", s is not None and 0 <= s <= 60 * N_ZONE,
                        repr(s))

                # 4. entries without events (nf_conntrack_events=0 when they were made): neither
                # their birth nor their deletion is seen, only the periodic check can notice
                ns.run(["conntrack", "-D", "-p", "tcp", "--dport", str(pre.info["tcp_port"])])
                ns.run(["conntrack", "-D", "-p", "udp", "--sport", str(pre.info["udp_sport"])])
                _, m = wait_match(ns, exp, "after deleting the entries older than the exporter", timeout=15)
                orig_events = ns.sysctls()["nf_conntrack_events"].strip()
                try:
                    ns.write_sysctl(f"{nfce.NF_SYSCTL}/nf_conntrack_events", "0")
                    silent = ns.flows(tcp=3, udp=4, udp_base=42100)
                finally:
                    ns.write_sysctl(f"{nfce.NF_SYSCTL}/nf_conntrack_events", orig_events)
                try:
                    for step in ("flows born without events", "flows deleted without events"):
                        r0 = m.get("nf_conntrack_resyncs_total", reason="periodic") or 0
                        if step.endswith("deleted without events"):
                            ns.run(["conntrack", "-D", "-p", "tcp", "--dport", str(silent.info["tcp_port"])])
                            ns.run(["conntrack", "-D", "-p", "udp", "--sport", str(silent.info["udp_sport"])])
                        _, m = wait_match(ns, exp, step, timeout=15)
                        watch.read(0.2)  # (what arrived meanwhile: nothing about them must have)
                        seen = [l for l in watch.lines if f"dport={silent.info['tcp_port']} " in l
                                or f"sport={silent.info['udp_sport']} " in l]
                        ck.eq(f"{step}: conntrack -E lines about them (none expected)", [], seen[:3])
                        ck.true(f'{step}: nf_conntrack_resyncs_total{{reason="periodic"}} grew',
                                (m.get("nf_conntrack_resyncs_total", reason="periodic") or 0) > r0,
                                f"{r0} -> {m.get('nf_conntrack_resyncs_total', reason='periodic')}")
                finally:
                    silent.close()
                ck.eq("nf_conntrack_event_overruns_total at the end", 0.0, m.get("nf_conntrack_event_overruns_total"))
                ck.eq("exporter exit status on SIGTERM", 0, exp.stop(signal.SIGTERM))
            # 5. a tiny socket buffer and a burst of churn: events are lost (ENOBUFS), the
            # exporter must count the overruns, resync, and end up at the kernel's counts again
            ns.run(["conntrack", "-F"])
            with nfce.Exporter(ns, args=["--collector.events.buffer-size=4096"]) as exp:
                eu.wait_synced(exp)
                ns.flows(tcp_closed=1500, udp=1500, udp_base=44000, hold=False)
                _, m = wait_match(ns, exp, "after a burst into a tiny event buffer", timeout=20)
                overruns = m.get("nf_conntrack_event_overruns_total") or 0
                if overruns:
                    ck.true('nf_conntrack_resyncs_total{reason="overrun"} >= 1 after overruns',
                            (m.get("nf_conntrack_resyncs_total", reason="overrun") or 0) >= 1,
                            repr(m.series("nf_conntrack_resyncs_total")))
                else:
                    nfce.log("note: no event overrun even with a 4096-byte buffer: that path was not exercised")
                ck.eq("exporter (tiny buffer) exit status on SIGTERM", 0, exp.stop())
        finally:
            for f in (live, pre):
                if f is not None:
                    f.close()
            if watch is not None:
                watch.close()


if __name__ == "__main__":
    nfce.main(test)
