#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""counters_monotonic: scrape, make traffic, scrape again. Every *_total series is still there
and has not gone down, and the deltas of the conntrack statistics equal the kernel's deltas
(conntrack -S / -S exp and /proc/net/stat/{nf_conntrack,synproxy}, read in quiet windows: the
namespace has no other traffic, and scrapes are not tracked)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfce  # noqa: E402

# Per-namespace /proc/net/stat tables (rt_cache counts for the whole host: range checks only).
NETNS_TABLES = ("nf_conntrack", "synproxy")
ROUNDS = [dict(tcp=10, udp=20, invalid=4, icmp_error=3), dict(tcp=5, udp=40, invalid=7, icmp_error=5)]


def snapshot(ns):
    ln = ns.lnstat()
    return {"S": ns.conntrack_stats(), "exp": ns.conntrack_exp_stats() or {}, "ln": ln}


def quiet(b, a):
    return b["S"] == a["S"] and b["exp"] == a["exp"] and all(
        b["ln"][t]["counters"] == a["ln"][t]["counters"] for t in NETNS_TABLES if t in b["ln"])


def compare(b, m, a, ck):
    nfce.check_stat_counters(ck, b["S"], m, a["S"], sorted(b["S"]))
    nfce.check_stat_counters(ck, b["exp"], m, a["exp"], sorted(b["exp"]), "(-S exp) ")
    nfce.check_lnstat(ck, b["ln"], m, a["ln"])


def totals(m):
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for s in m.samples if s.name.endswith("_total")}


def kernel_flat(snap):
    out = {}
    for k, v in list(snap["S"].items()) + list(snap["exp"].items()):
        out[(nfce.stat_metric(k), ())] = v
    for t in NETNS_TABLES:
        if t in snap["ln"]:
            for c, v in snap["ln"][t]["counters"].items():
                out[(f"lnstat_{c}_total", (("table", t),))] = v
    return out


def test(ck):
    with nfce.Netns("counters_monotonic") as ns:
        with nfce.Exporter(ns) as exp:
            b, m_prev, _, wck = nfce.compare_window(10, lambda: snapshot(ns), exp.scrape, compare, quiet)
            wck.raise_if_failed("scrape 1 vs the kernel")
            k_prev = kernel_flat(b)
            grew = set()
            for i, r in enumerate(ROUNDS, 2):
                ns.flows(hold=False, **r)
                b, m, _, wck = nfce.compare_window(10, lambda: snapshot(ns), exp.scrape, compare, quiet)
                wck.raise_if_failed(f"scrape {i} vs the kernel")
                k = kernel_flat(b)
                t_prev, t = totals(m_prev), totals(m)
                ck.eq(f"scrape {i}: *_total series that disappeared", [], sorted(set(t_prev) - set(t)))
                for key in sorted(set(t_prev) & set(t)):
                    name = key[0] + ("{%s}" % ",".join(f'{a}="{v}"' for a, v in key[1]) if key[1] else "")
                    ck.true(f"scrape {i}: {name} did not go down", t[key] >= t_prev[key],
                            f"{t_prev[key]} -> {t[key]}")
                    if key in k and key in k_prev:
                        ck.eq(f"scrape {i}: delta of {name} vs the kernel's", k[key] - k_prev[key],
                              t[key] - t_prev[key])
                        if t[key] > t_prev[key]:
                            grew.add(name)
                ck.eq(f"scrape {i}: kernel statistics without a *_total series", [], sorted(set(k) - set(t)))
                m_prev, k_prev = m, k
            nfce.log(f"counters that moved with the kernel's: {sorted(grew)}")
            ck.true("some conntrack statistic moved (else the deltas prove little)",
                    {"nf_conntrack_stat_invalid_total", "nf_conntrack_stat_error_total"} <= grew, f"grew: {sorted(grew)}")
            ck.eq("exporter exit status on SIGTERM", 0, exp.stop())


if __name__ == "__main__":
    nfce.main(test)
