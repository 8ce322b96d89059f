#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""table_full: lower the global nf_conntrack_max, fill the namespace's table with ASSURED
entries (established TCP connections kept open), then send UDP datagrams that need new
entries: the kernel drops them. nf_conntrack_stat_drop_total must have grown and equal
conntrack -S, nf_conntrack_entries must equal the limit, the limit the new sysctl.

NOT parallel: nf_conntrack_max is one value for every namespace. nfce.lowered_max() holds
nfce.MAX_LOCK_FILE exclusively (every test namespace holds it shared: runs from other
checkouts on the same machine don't overlap with it either) and restores the limit however the
test ends; should this process be SIGKILLed, the next run restores it."""
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfce  # noqa: E402

HEADROOM = 64
N_UDP = 50
MAX_OTHERS = 20000  # more entries elsewhere than this: filling our table would take too long


def snapshot(ns):
    return {"count": ns.conntrack_count(), "S": ns.conntrack_stats(), "lnstat": ns.lnstat()["nf_conntrack"]}


def compare(b, m, a, ck):
    lo, hi = sorted((b["count"], a["count"]))
    ck.between("nf_conntrack_entries (conntrack -C)", lo, m.get("nf_conntrack_entries"), hi)
    nfce.check_stat_counters(ck, b["S"], m, a["S"], sorted(b["S"]))
    for c in ("drop", "early_drop", "insert_failed"):
        ck.between(f'lnstat_{c}_total{{table="nf_conntrack"}}', b["lnstat"]["counters"][c],
                   m.get(f"lnstat_{c}_total", table="nf_conntrack"), a["lnstat"]["counters"][c])


def test(ck):
    if not shutil.which("nsenter"):
        nfce.skip("nsenter (util-linux) is not installed")
    if not os.path.exists(nfce.MAX_FILE):
        nfce.skip("nf_conntrack is not loaded in the initial namespace")
    with nfce.Netns("table_full") as ns, nfce.Exporter(ns) as exp:
        m0 = exp.scrape()
        s0 = ns.conntrack_stats()
        ck.eq("drop before filling (exporter vs conntrack -S)", s0["drop"], m0.get(nfce.stat_metric("drop")))
        with nfce.lowered_max(headroom=HEADROOM, max_others=MAX_OTHERS) as (orig, limit), ns.traffic() as fill:
            t0 = time.monotonic()
            info = fill.do("fill", max=limit, udp=N_UDP, timeout=60)
            nfce.log(f"filled in {time.monotonic() - t0:.1f}s: {info}")
            hold = float(os.environ.get("NFCE_TABLE_FULL_HOLD", "0"))
            if hold > 0:  # to look at the full table by hand (or to test the restore): time must pass
                nfce.log(f"NFCE_TABLE_FULL_HOLD: holding the full table for {hold}s")
                time.sleep(hold)
            ck.eq("kernel count once the table is full", limit, info["count_when_full"])
            ck.eq("UDP datagrams refused with EPERM (dropped by conntrack)", N_UDP, info["udp_eperm"])

            b, m, a, wck = nfce.compare_window(5, lambda: snapshot(ns), exp.scrape, compare)
            ck.merge(wck)
            ck.eq("nf_conntrack_entries_limit vs the lowered nf_conntrack_max", float(limit),
                  m.get("nf_conntrack_entries_limit"))
            entries = m.get("nf_conntrack_entries")
            ck.true("nf_conntrack_entries == nf_conntrack_entries_limit (or within 2)",
                    entries is not None and limit - 2 <= entries <= limit, f"entries {entries}, limit {limit}")
            d_drop = m.get(nfce.stat_metric("drop")) - m0.get(nfce.stat_metric("drop"))
            d_early = m.get(nfce.stat_metric("early_drop")) - m0.get(nfce.stat_metric("early_drop"))
            ck.true("drop_total (+ early_drop_total) grew by at least the refused datagrams",
                    d_drop + d_early >= info["udp_eperm"] > 0,
                    f"drop +{d_drop}, early_drop +{d_early}, refused {info['udp_eperm']}")
            ck.eq("drop delta: exporter vs conntrack -S", a["S"]["drop"] - s0["drop"], d_drop)
            nfce.check_collectors(ck, m, nfce.expected_success())
        ck.eq("nf_conntrack_max restored", orig, nfce.read_max())
        ck.eq("exporter exit status on SIGTERM", 0, exp.stop())


if __name__ == "__main__":
    nfce.main(test)
