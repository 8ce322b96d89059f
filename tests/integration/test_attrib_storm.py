#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""attrib_storm: 200,000 distinct sources must not cost the exporter memory per source
(issue 13). Two runs, each in a fresh namespace, with the same number of entries (205,000
unreplied UDP flows to 127.0.0.1, dropped on input, 10-minute UDP timeout) and the same
destinations (ports 30000-34999), differing only in how many distinct sources they come from:
  many  127.200.0.1 with 5,000 flows, 200,000 other addresses with 1 flow each
  few   127.200.0.1 with 5,000 flows, 100 other addresses with 2,000 flows each
The sources are set per datagram (IP_PKTINFO) on one socket: any 127/8 address is local.
Two exporters (--collector.attribution.top-k=5) in each run: E (events) runs during the storm
(its NEW events, and whatever resync an overrun causes), S (startup) starts after it and reads
the table from its first dump; O (4 KiB event buffer) is stopped (SIGSTOP) during the storm
and must come back from the overrun's resync with the same figures.

Criterion: after convergence, VmRSS (and VmHWM) of many minus few < 2 MiB, for E and for S.
Why it holds and what it catches: the Space-Saving sketch has sketch-size (1024) slots per
family whatever the number of sources, and every other structure (the flow table, 14 bytes an
entry) is sized by the entries, equal in both runs. Anything kept per distinct source would
need at least its 4-byte address plus a hash slot for 200,000 keys (> 2 MiB), so the 2 MiB
margin separates memory bounded by the sketch from memory that grows with the sources.

In both runs 127.200.0.1 ranks first in nf_conntrack_top_source_entries with a count c and
nf_conntrack_attribution_error_entries{family="source"} e such that
truth <= c <= truth + e (truth: `conntrack -L -s 127.200.0.1`) when S and O built the summary
from a dump, |c - truth| <= e for E (docs/metrics.md); the family sums to the
entries; e is 0 in the few run (101 keys, fewer than the slots) and at most entries /
sketch-size after S's dump in the many run. NOT parallel: 205,000 entries twice, and RSS figures
that other tests' load would blur."""
import json
import math
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attrib_util as au  # noqa: E402
import events_util as eu  # noqa: E402
import nfce  # noqa: E402

K, SKETCH = 5, 1024
HEAVY, HEAVY_N = "127.200.0.1", 5000
FILL = 200000
TOTAL = HEAVY_N + FILL
DPORT0, NDPORTS = 30000, 2000
BUDGET_KIB = 2048
NFT = f"""
add chain inet t sink {{ type filter hook input priority 0; }}
add rule inet t sink udp dport {DPORT0}-{DPORT0 + HEAVY_N - 1} drop
"""
FLAGS = [f"--collector.attribution.top-k={K}"]
PORT_S, PORT_O = 39902, 39903


def converged(ns, exp, what, timeout=30):
    """Wait until nf_conntrack_entries, the sum of state_entries, the sum of top_source and
    conntrack -C are all TOTAL; returns the scrape."""
    last = None
    for _ in eu.deadline_loop(timeout, 0.2):
        m = exp.scrape()
        c = ns.conntrack_count()
        src = sum(s.value for s in m.find("nf_conntrack_top_source_entries"))
        last = (m.get("nf_conntrack_entries"), sum(eu.states_of(m).values()), src, c)
        if last == (TOTAL, TOTAL, TOTAL, TOTAL):
            return m
    nfce.fail(f"{what}: not converged within {timeout}s: nf_conntrack_entries, sum(state_entries), "
              f"sum(top_source_entries), conntrack -C = {last}, expected {TOTAL} each")


def check_heavy(ck, what, m, truth, kind, rebuilt):
    """rebuilt: the summary comes from a dump (S's startup, O's resync) and nothing changed
    since: counts are never low (c - e <= true <= c); else (E's events) within e either way."""
    exact = kind == "few"
    shown, other = au.top(m, "nf_conntrack_top_source_entries", ("source",))
    err = au.error_of(m, "source")
    eu.log(f"{what}: top sources {shown}, other {other}, error {err}")
    ck.true(f"{what}: error gauge present", err is not None, "missing")
    err = err or 0.0
    first = max(shown, key=shown.get) if shown else None
    ck.eq(f"{what}: the top source", (HEAVY,), first)
    c = shown.get((HEAVY,))
    lo = truth if rebuilt else truth - err
    ck.true(f"{what}: {HEAVY} shown {c} within [{lo:g}, truth {truth} + error {err:g}]",
            c is not None and lo <= c <= truth + err, f"shown {c}, conntrack -L {truth}, error {err:g}")
    ck.true(f"{what}: at most K series", len(shown) <= K, f"{len(shown)}")
    ck.eq(f"{what}: the family sums to the entries", float(TOTAL), sum(shown.values()) + (other or 0))
    for key, v in shown.items():  # the fillers: 1 flow each (many), 2,000 (few), by construction
        if key != (HEAVY,):
            t = 1 if kind == "many" else FILL // 100
            lo = t if rebuilt else t - err
            ck.true(f"{what}: {key} shown {v:g} within [{lo:g}, {t} + error {err:g}]", lo <= v <= t + err, f"{v:g}")
    if exact:
        ck.eq(f"{what}: source error (101 keys <= {SKETCH} slots)", 0.0, err)
        for key, v in shown.items():
            ck.eq(f"{what}: {key} exact", float(HEAVY_N if key == (HEAVY,) else FILL // 100), v)
    return err


def one_run(ck, kind):
    """Returns {exporter: (VmRSS, VmHWM) KiB}."""
    with nfce.Netns("attrib_storm", nft=NFT) as ns:
        ns.write_sysctl(f"{nfce.NF_SYSCTL}/nf_conntrack_udp_timeout", "600")  # this namespace's only
        ns.notrack(PORT_S, PORT_O)
        mem = {}
        with nfce.Exporter(ns, FLAGS) as e, \
                nfce.Exporter(ns, FLAGS + ["--collector.events.buffer-size=4KiB"], listen=f"127.0.0.1:{PORT_O}") as o:
            eu.wait_synced(e)
            eu.wait_synced(o)
            os.kill(o.pid, signal.SIGSTOP)
            try:
                r = ns.run([sys.executable, au.SELF, "storm", kind, str(FILL), HEAVY, str(HEAVY_N), str(DPORT0),
                            str(NDPORTS)], timeout=60)
            finally:
                os.kill(o.pid, signal.SIGCONT)
            # O lost events while stopped: from now on, its attribution comes back from the
            # overrun's resync (absent until then, never out of step with its own state counts)
            absent = 0
            for _ in eu.deadline_loop(30, 0.02):
                m = o.scrape()
                src = m.find("nf_conntrack_top_source_entries")
                if not src:
                    absent += 1
                elif sum(x.value for x in src) != sum(eu.states_of(m).values()):
                    ck.fail(f"{kind}: O after the overrun", f"sum(top_source_entries) {sum(x.value for x in src)} != "
                            f"sum(state_entries) {sum(eu.states_of(m).values())}")
                    break
                if sum(x.value for x in src) == TOTAL:
                    break
            g = json.loads(r.stdout)
            eu.log(f"{kind}: {g['sent']} flows in {g['seconds']:.1f}s ({g['eperm']} refused)")
            ck.eq(f"{kind}: flows sent", TOTAL, g["sent"])
            m = converged(ns, e, f"{kind}: exporter E (events during the storm)")
            truth = int(ns.run(["sh", "-c", f"conntrack -L -s {HEAVY} 2>/dev/null | wc -l"]).stdout)
            ck.eq(f"{kind}: conntrack -L -s {HEAVY}", HEAVY_N, truth)
            eu.log(f"{kind}: E: overruns {m.get('nf_conntrack_event_overruns_total')}, resyncs "
                   f"overrun {eu.resyncs(m, 'overrun')} periodic {eu.resyncs(m, 'periodic')}")
            check_heavy(ck, f"{kind}: E", m, truth, kind, False)
            mem["E"] = au.rss_kib(e.pid)
            m = converged(ns, o, f"{kind}: exporter O (4 KiB event buffer, stopped during the storm)")
            eu.log(f"{kind}: O: overruns {m.get('nf_conntrack_event_overruns_total')}, resyncs overrun "
                   f"{eu.resyncs(m, 'overrun')}; {absent} scrapes without attribution after SIGCONT")
            ck.true(f"{kind}: O: an overrun and its resync", (m.get("nf_conntrack_event_overruns_total") or 0) >= 1
                    and (eu.resyncs(m, "overrun") or 0) >= 1, f"overruns {m.get('nf_conntrack_event_overruns_total')}, "
                    f"resyncs {eu.resyncs(m, 'overrun')}")
            err = check_heavy(ck, f"{kind}: O", m, truth, kind, True)
            if kind == "many":
                ck.true(f"many: O: source error {err:g} <= entries / sketch-size = {TOTAL / SKETCH:.1f}",
                        err <= math.ceil(TOTAL / SKETCH), f"{err:g}")
            ck.eq(f"{kind}: exporter O exit status on SIGTERM", 0, o.stop())
            with nfce.Exporter(ns, FLAGS, listen=f"127.0.0.1:{PORT_S}") as s:
                m = converged(ns, s, f"{kind}: exporter S (startup dump)")
                err = check_heavy(ck, f"{kind}: S", m, truth, kind, True)
                if kind == "many":
                    ck.true(f"many: S: source error {err:g} <= entries / sketch-size = {TOTAL / SKETCH:.1f}",
                            err <= math.ceil(TOTAL / SKETCH), f"{err:g}")
                mem["S"] = au.rss_kib(s.pid)
                ck.eq(f"{kind}: exporter S exit status on SIGTERM", 0, s.stop())
            ck.eq(f"{kind}: exporter E exit status on SIGTERM", 0, e.stop())
        eu.log(f"{kind}: VmRSS/VmHWM KiB: {mem}")
        return mem


def test(ck):
    # nf_conntrack_max bounds each namespace's own count: one run's entries plus a margin
    with au.raised_max(TOTAL + 20000):
        few = one_run(ck, "few")
        many = one_run(ck, "many")
    for x in ("E", "S"):
        for i, what in enumerate(("VmRSS", "VmHWM")):
            d = many[x][i] - few[x][i]
            eu.log(f"exporter {x}: {what} many {many[x][i]} KiB - few {few[x][i]} KiB = {d} KiB")
            ck.true(f"exporter {x}: {what} with 200,000 sources minus with 101 < {BUDGET_KIB} KiB",
                    d < BUDGET_KIB, f"{many[x][i]} - {few[x][i]} = {d} KiB")


if __name__ == "__main__":
    nfce.main(test)
