#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""basic: with real TCP and UDP flows in a namespace, every metric of the four collectors
matches the kernel: conntrack -C / -S / -S exp, the netfilter sysctls, /proc/net/stat/*;
plus the self metrics and process_* against /proc/PID."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfce  # noqa: E402

N_TCP, N_UDP, N_INVALID, N_ICMP_ERROR = 25, 40, 3, 2


def compare_table_stat(b, m, a, ck):
    lo, hi = sorted((b["count"], a["count"]))
    ck.between("nf_conntrack_entries (conntrack -C before/after)", lo, m.get("nf_conntrack_entries"), hi)
    names = set(b["stats"]) | set(b["exp"] or {})
    got = {n[len("nf_conntrack_stat_"):-len("_total")] for n in m.names() if n.startswith("nf_conntrack_stat_")}
    ck.eq("nf_conntrack_stat_*_total names vs conntrack -S (and -S exp) fields", sorted(names), sorted(got))
    nfce.check_stat_counters(ck, b["stats"], m, a["stats"], sorted(b["stats"]))
    if b["exp"] is not None:
        nfce.check_stat_counters(ck, b["exp"], m, a["exp"], sorted(b["exp"]), "(conntrack -S exp) ")


def test(ck):
    with nfce.Netns("basic") as ns:
        with nfce.Exporter(ns) as exp:
            with ns.flows(tcp=N_TCP, udp=N_UDP, invalid=N_INVALID, icmp_error=N_ICMP_ERROR):
                # The kernel must have seen the flows, or the comparisons below prove little.
                for _ in nfce.deadline_loop(10, 0.1):
                    n = ns.conntrack_count()
                    if n >= N_TCP + N_UDP:
                        break
                ck.true("conntrack -C counts the test's flows", n >= N_TCP + N_UDP,
                        f"expected >= {N_TCP + N_UDP}, got {n}")

                def snap():
                    return {"count": ns.conntrack_count(), "stats": ns.conntrack_stats(),
                            "exp": ns.conntrack_exp_stats()}

                b, m, a, wck = nfce.compare_window(5, snap, exp.scrape, compare_table_stat)
                ck.merge(wck)
                ck.true("conntrack -S invalid counts the SYN+FIN packets", b["stats"].get("invalid", 0) >= N_INVALID,
                        f"invalid={b['stats'].get('invalid')}")
                ck.true("conntrack -S error counts the bad ICMP messages", b["stats"].get("error", 0) >= N_ICMP_ERROR,
                        f"error={b['stats'].get('error')}")

                # sysctls (read in the namespace)
                sc = ns.sysctls()
                for metric, f in (("nf_conntrack_entries_limit", "nf_conntrack_max"),
                                  ("nf_conntrack_buckets", "nf_conntrack_buckets"),
                                  ("nf_conntrack_expect_entries_limit", "nf_conntrack_expect_max")):
                    ck.eq(f"{metric} vs {f}", float(sc[f]), m.get(metric))
                nfce.check_timeouts(ck, sc, m)

                # lnstat vs /proc/net/stat/* in the namespace
                _, lm, _, wck = nfce.compare_window(5, ns.lnstat, exp.scrape,
                                                    lambda b, m, a, c: nfce.check_lnstat(c, b, m, a))
                ck.merge(wck)
                ck.true("lnstat has the nf_conntrack table", lm.get("lnstat_entries", table="nf_conntrack") is not None,
                        "lnstat_entries{table=\"nf_conntrack\"} missing")

                # self metrics
                nfce.check_collectors(ck, m, nfce.expected_success())
                nfce.check_self_metrics(ck, m)
                nfce.check_types(ck, m)
                nfce.check_types(ck, lm)
                rc, out, _ = nfce.run_exporter_once(ns, ["--version"])
                ver = re.fullmatch(r"nf_conntrack_exporter (\S+)\n", out)
                ck.true("--version prints the version", rc == 0 and ver, f"exit {rc}, stdout {out!r}")
                if ver:
                    ck.eq("build_info version vs --version", [ver.group(1)],
                          [s.labels.get("version") for s in m.find("nf_conntrack_exporter_build_info")])

                # process_* against /proc/PID of the exporter
                pid = exp.pid
                with open(f"/proc/{pid}/limits") as f:
                    soft = next(l.split()[3] for l in f if l.startswith("Max open files"))
                ck.eq("process_max_fds vs /proc/PID/limits", float(soft), m.get("process_max_fds"))
                pm = exp.scrape()
                nfds = len(os.listdir(f"/proc/{pid}/fd"))
                ck.between("process_open_fds vs /proc/PID/fd (+-2)", nfds - 2, pm.get("process_open_fds"), nfds + 2)
                ck.between("process_start_time_seconds vs the time the exporter was started",
                           exp.started_at - 2, pm.get("process_start_time_seconds"), exp.started_at + 3)
                with open(f"/proc/{pid}/statm") as f:
                    vsz_pages, rss_pages = (int(x) for x in f.read().split()[:2])
                page = os.sysconf("SC_PAGESIZE")
                ck.between("process_virtual_memory_bytes vs /proc/PID/statm (+-4 MiB)", vsz_pages * page - (4 << 20),
                           pm.get("process_virtual_memory_bytes"), vsz_pages * page + (4 << 20))
                rss = pm.get("process_resident_memory_bytes")
                ck.true("0 < process_resident_memory_bytes <= process_virtual_memory_bytes",
                        rss is not None and 0 < rss <= (pm.get("process_virtual_memory_bytes") or 0), repr(rss))
                cpu = pm.get("process_cpu_seconds_total")
                ck.true("process_cpu_seconds_total >= 0", cpu is not None and cpu >= 0, repr(cpu))
            ck.eq("exporter exit status on SIGTERM", 0, exp.stop())


if __name__ == "__main__":
    nfce.main(test)
