#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""attrib_churn: a summary with more keys than slots, then the entries of the keys it pushed out
end (issue 13). Two exporters with --collector.attribution.sketch-size=20 (the least for
--collector.attribution.top-k=5): L with the default refresh interval (5 m: no rebuild during
the test), R with --collector.attribution.refresh-interval=5s.
  1. 127.30.0.1 makes 50 UDP flows, then 127.30.1.1..100 make 3 each (101 keys, 20 slots):
     each shown count c with error e brackets the truth (c - e <= true <= c), 127.30.0.1
     ranks first, and the family sums to the entries (350).
  2. `conntrack -D` of the 300 entries of 127.30.1.0/24, most of whose keys had been pushed out
     of the summary (so their DESTROYs take nothing off): the family must still sum to the
     entries (50) with every shown count within its error of the truth (spec: "the family sums
     to its total", "other" absent only when nothing is left over).
  3. R rebuilds from a dump within its refresh interval (resyncs_total{reason="attribution"}):
     exact again, error 0, 127.30.0.1 with 50 alone."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attrib_util as au  # noqa: E402
import events_util as eu  # noqa: E402
import nfce  # noqa: E402

K, SLOTS = 5, 20
HEAVY, HEAVY_N, SMALL, SMALL_N = "127.30.0.1", 50, 100, 3
DPORTS = list(range(30000, 30012))
NFT = """
add chain inet t sink { type filter hook input priority 0; }
add rule inet t sink udp dport 30000-30011 drop
"""
FLAGS = [f"--collector.attribution.top-k={K}", f"--collector.attribution.sketch-size={SLOTS}"]
PORT_R = 39902


def sketch(k, m):
    """converge()'s extra: the source family within its error, summing to the entries."""
    return au.check_family(m, "source", au.want_sources(k.entries), K, exact=False) + au.totals_problems(k, m)


def test(ck):
    with nfce.Netns("attrib_churn", nft=NFT) as ns:
        ns.write_sysctl(f"{nfce.NF_SYSCTL}/nf_conntrack_udp_timeout", "600")  # this namespace's only
        ns.notrack(PORT_R)
        with au.Traffic(ns) as tr, nfce.Exporter(ns, FLAGS) as lx, \
                nfce.Exporter(ns, FLAGS + ["--collector.attribution.refresh-interval=5s"],
                              listen=f"127.0.0.1:{PORT_R}") as rx:
            eu.wait_synced(lx)
            eu.wait_synced(rx)
            tr.do("udp_from", sources=[[HEAVY, HEAVY_N]], dst="127.0.0.1", dports=DPORTS)
            tr.do("udp_from", sources=[[f"127.30.1.{i}", SMALL_N] for i in range(1, SMALL + 1)], dst="127.0.0.1",
                  dports=DPORTS)
            n = HEAVY_N + SMALL * SMALL_N
            eu.wait_kernel(ns, lambda k: k.count == n, f"{n} entries")
            for name, exp in (("L", lx), ("R", rx)):
                k, m = eu.require(ck, f"{name}: {SMALL + 1} keys in {SLOTS} slots vs conntrack -L",
                                  eu.converge(ns, exp, 10, extra=sketch))
                if m is not None:
                    shown, other = au.top(m, "nf_conntrack_top_source_entries", ("source",))
                    eu.log(f"{name}: {shown}, other {other}, error {au.error_of(m, 'source')}")
                    ck.eq(f"{name}: the top source", (HEAVY,), max(shown, key=shown.get) if shown else None)
                    ck.true(f"{name}: a nonzero source error ({SMALL + 1} keys, {SLOTS} slots)",
                            (au.error_of(m, "source") or 0) > 0, repr(au.error_of(m, "source")))

            ck.eq("conntrack -D -s 127.30.1.0/24", SMALL * SMALL_N,
                  eu.conntrack_delete(ns, "-s", "127.30.1.0", "--mask-src", "255.255.255.0"))
            k, m = eu.require(ck, "L: after the pushed-out keys' entries ended vs conntrack -L",
                              eu.converge(ns, lx, 5, extra=sketch))
            if m is not None:
                shown, other = au.top(m, "nf_conntrack_top_source_entries", ("source",))
                eu.log(f"L after conntrack -D: {shown}, other {other}, error {au.error_of(m, 'source')}; "
                       f"conntrack -C {k.count}")

            def rebuilt(k, m):
                probs = au.check_family(m, "source", au.want_sources(k.entries), K)
                if not (eu.resyncs(m, "attribution") or 0) >= 1:
                    probs.append(f'resyncs_total{{reason="attribution"}} {eu.resyncs(m, "attribution")}')
                return probs
            k, m = eu.require(ck, "R: rebuilt within its 5 s refresh interval, exact",
                              eu.converge(ns, rx, 15, extra=rebuilt))
            if m is not None:
                ck.eq("R: after the rebuild", {(HEAVY,): float(HEAVY_N)},
                      au.top(m, "nf_conntrack_top_source_entries", ("source",))[0])
            ck.eq("exporter L exit status on SIGTERM", 0, lx.stop())
            ck.eq("exporter R exit status on SIGTERM", 0, rx.stop())


if __name__ == "__main__":
    nfce.main(test)
