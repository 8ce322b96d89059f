#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""procfs_fallback: without CAP_NET_ADMIN ctnetlink refuses the exporter; table and stat must
fall back to /proc/sys/net/netfilter and /proc/net/stat/nf_conntrack, still match the kernel,
report collector_success 1, and log a warning that mentions netlink. (Collectors that have
no procfs source, like events, report collector_success 0.)"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfce  # noqa: E402

N_TCP, N_UDP, N_INVALID, N_ICMP_ERROR = 10, 30, 3, 2


def snap(ns):
    lnstat = ns.lnstat()
    proc = lnstat["nf_conntrack"]
    return {"count": ns.conntrack_count(), "S": ns.conntrack_stats(), "exp": ns.conntrack_exp_stats(),
            "proc": {nfce.PROC_STAT_ALIASES.get(k, k): v for k, v in proc["counters"].items()},
            "proc_entries": proc["entries"]}


def compare(b, m, a, ck):
    lo, hi = sorted((b["count"], a["count"]))
    ck.between("nf_conntrack_entries (conntrack -C)", lo, m.get("nf_conntrack_entries"), hi)
    lo, hi = sorted((b["proc_entries"], a["proc_entries"]))
    ck.between("nf_conntrack_entries (/proc/net/stat/nf_conntrack entries)", lo, m.get("nf_conntrack_entries"), hi)
    # The fallback's source is /proc/net/stat/nf_conntrack: one metric per column but entries,
    # named as ctnetlink names them.
    got = {n[len("nf_conntrack_stat_"):-len("_total")] for n in m.names() if n.startswith("nf_conntrack_stat_")}
    ck.eq("nf_conntrack_stat_*_total names vs /proc/net/stat/nf_conntrack columns", sorted(b["proc"]), sorted(got))
    nfce.check_stat_counters(ck, b["proc"], m, a["proc"], sorted(b["proc"]), "(/proc/net/stat) ")
    # ... and the values agree with what ctnetlink (conntrack -S) reports.
    nfce.check_stat_counters(ck, b["S"], m, a["S"], sorted(b["S"]), "(conntrack -S) ")
    if b["exp"] is not None:
        nfce.check_stat_counters(ck, b["exp"], m, a["exp"], sorted(b["exp"]), "(conntrack -S exp) ")


def test(ck):
    wrapper = nfce.drop_net_admin_wrapper()
    with nfce.Netns("procfs_fallback") as ns:
        with nfce.Exporter(ns, wrapper=wrapper) as exp:
            caps = nfce.proc_caps(exp.pid)
            if caps & (1 << nfce.CAP_NET_ADMIN):
                nfce.fail(f"{wrapper[0]} did not drop CAP_NET_ADMIN: CapEff={caps:x}")
            with open(f"/proc/{exp.pid}/comm") as f:
                ck.eq("the wrapped process is the exporter", os.path.basename(nfce.exporter_path())[:15], f.read().strip())
            with ns.flows(tcp=N_TCP, udp=N_UDP, invalid=N_INVALID, icmp_error=N_ICMP_ERROR):
                b, m, a, wck = nfce.compare_window(5, lambda: snap(ns), exp.scrape, compare)
                ck.merge(wck)
                ck.true("the flows are in the table", b["count"] >= N_TCP + N_UDP, f"conntrack -C {b['count']}")
                ck.true("conntrack -S invalid counts the SYN+FIN packets", b["S"].get("invalid", 0) >= N_INVALID,
                        repr(b["S"]))
                ck.true("conntrack -S error counts the bad ICMP messages (icmp_error in /proc)",
                        b["S"].get("error", 0) >= N_ICMP_ERROR, repr(b["S"]))
                sc = ns.sysctls()
                for metric, f in (("nf_conntrack_entries_limit", "nf_conntrack_max"),
                                  ("nf_conntrack_buckets", "nf_conntrack_buckets"),
                                  ("nf_conntrack_expect_entries_limit", "nf_conntrack_expect_max")):
                    ck.eq(f"{metric} vs {f}", float(sc[f]), m.get(metric))
                nfce.check_timeouts(ck, sc, m)
                nfce.check_collectors(ck, m, nfce.expected_success({"procfs"}))
                nfce.check_self_metrics(ck, m)
                # lnstat never needed netlink: unchanged without CAP_NET_ADMIN
                _, _, _, wck = nfce.compare_window(5, ns.lnstat, exp.scrape,
                                                   lambda b, m, a, c: nfce.check_lnstat(c, b, m, a))
                ck.merge(wck)
                # a second scrape: the fallback keeps working once netlink is known refused
                _, m2, _, wck = nfce.compare_window(5, lambda: snap(ns), exp.scrape, compare)
                ck.merge(wck)
                nfce.check_collectors(ck, m2, nfce.expected_success({"procfs"}))
            log = exp.log()
            warn = [l for l in log.splitlines() if re.search(r"\blevel=warn\b", l) and "netlink" in l]
            ck.true("a level=warn log line mentions netlink", warn, f"stderr:\n{log}")
            ck.true("the exporter is still running", exp.proc.poll() is None, f"exit {exp.proc.poll()}")
            ck.eq("exporter exit status on SIGTERM", 0, exp.stop())


if __name__ == "__main__":
    nfce.main(test)
