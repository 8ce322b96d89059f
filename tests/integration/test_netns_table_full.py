#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""netns_table_full: two namespaces followed by one exporter (--netns=NAME twice); the global
nf_conntrack_max is lowered and one of them filled to it, so that the kernel drops its new
flows. The drops and the full count show in that namespace's series only; the quiet one's
entries and drops stay as the kernel says, and the host-wide limit is one unlabelled series.

NOT parallel: nf_conntrack_max is one value for every namespace (nfce.lowered_max() locks,
lowers and restores it)."""
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfce  # noqa: E402

HEADROOM = 64
N_UDP = 40
MAX_OTHERS = 20000


def test(ck):
    if not shutil.which("nsenter"):
        nfce.skip("nsenter (util-linux) is not installed")
    if not os.path.exists(nfce.MAX_FILE):
        nfce.skip("nf_conntrack is not loaded in the initial namespace")
    with nfce.Netns("netns_full") as full, nfce.Netns("netns_quiet") as quiet:
        with nfce.Exporter(quiet, [f"--netns={full.name}", f"--netns={quiet.name}"]) as exp, \
                quiet.flows(udp=5):
            m0 = exp.scrape()
            drop = nfce.stat_metric("drop")
            quiet0 = quiet.conntrack_stats()
            with nfce.lowered_max(headroom=HEADROOM, max_others=MAX_OTHERS) as (orig, limit), \
                    full.traffic() as fill:
                t0 = time.monotonic()
                info = fill.do("fill", max=limit, udp=N_UDP, timeout=60)
                nfce.log(f"filled {full.name} in {time.monotonic() - t0:.1f}s: {info}")
                ck.eq("UDP datagrams refused in the full namespace", N_UDP, info["udp_eperm"])
                m = exp.scrape()
                s_full, s_quiet = full.conntrack_stats(), quiet.conntrack_stats()

                e_full = m.get("nf_conntrack_entries", netns=full.name)
                ck.true("entries of the full namespace == the limit (or within 2)",
                        e_full is not None and limit - 2 <= e_full <= limit, f"{e_full} vs {limit}")
                ck.eq("the limit: one unlabelled series", [{}], [s.labels for s in m.find("nf_conntrack_entries_limit")])
                ck.eq("the limit is the lowered nf_conntrack_max", float(limit), m.get("nf_conntrack_entries_limit"))
                d_full = m.get(drop, netns=full.name) - m0.get(drop, netns=full.name)
                ck.true("drops of the full namespace grew by at least the refused datagrams",
                        d_full >= N_UDP, f"+{d_full}")
                ck.eq("drops of the full namespace vs its conntrack -S", float(s_full["drop"]), m.get(drop, netns=full.name))
                ck.eq("drops of the quiet namespace: unchanged", m0.get(drop, netns=quiet.name),
                      m.get(drop, netns=quiet.name))
                ck.eq("drops of the quiet namespace vs its conntrack -S", float(s_quiet["drop"]),
                      m.get(drop, netns=quiet.name))
                ck.eq("quiet namespace's conntrack -S drop unchanged", quiet0["drop"], s_quiet["drop"])
                e_quiet = m.get("nf_conntrack_entries", netns=quiet.name)
                ck.true("entries of the quiet namespace stay far below the limit",
                        e_quiet is not None and e_quiet < limit - HEADROOM // 2, f"{e_quiet}")
            ck.eq("nf_conntrack_max restored", orig, nfce.read_max())
            ck.eq("exporter exit status on SIGTERM", 0, exp.stop())


if __name__ == "__main__":
    nfce.main(test)
