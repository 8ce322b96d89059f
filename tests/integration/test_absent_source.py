#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""absent_source: --path.procfs pointing at an empty directory.

Without CAP_NET_ADMIN every collector has lost its source: /metrics still answers 200 with
collector_success 0 for all of them and the self metrics, the exporter logs a warning, does
not crash, and serves the next scrapes the same way. With CAP_NET_ADMIN, the collectors that
can use netlink (table, stat, events) still succeed, table and stat with values matching the
kernel, while timeouts and lnstat fail."""
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfce  # noqa: E402


def check_scrape(ck, exp, label, expected):
    r = exp.get()
    ck.eq(f"{label}: status", 200, r.status)
    ck.eq(f"{label}: Content-Type", nfce.METRICS_CONTENT_TYPE, r.header("Content-Type"))
    try:
        m = nfce.Metrics(r.body)
    except nfce.MetricsParseError as e:
        ck.fail(f"{label}: body", f"malformed exposition: {e}")
        return None
    sub = nfce.Checker()
    nfce.check_collectors(sub, m, expected)
    nfce.check_self_metrics(sub, m)
    ck.checks += sub.checks
    ck.failures += [f"{label}: {f}" for f in sub.failures]
    return m


def test(ck):
    wrapper = nfce.drop_net_admin_wrapper()
    with nfce.Netns("absent_source") as ns, tempfile.TemporaryDirectory(prefix="nfce-empty-procfs-") as empty:
        with ns.flows(tcp=3, udp=5):
            # 1. no source at all
            expected = nfce.expected_success(set())
            with nfce.Exporter(ns, args=[f"--path.procfs={empty}"], wrapper=wrapper) as exp:
                for i in range(3):
                    check_scrape(ck, exp, f"no source, scrape {i + 1}", expected)
                ck.true("no source: still running", exp.proc.poll() is None, exp.state())
                log = exp.log()
                for c in expected:
                    ck.true(f"no source: a level=warn line for collector={c}",
                            re.search(rf"level=warn .*collector={c}\b", log), f"stderr:\n{log}")
                ck.true("no source: nothing at level=error", "level=error" not in log, f"stderr:\n{log}")
                ck.eq("no source: exit status on SIGTERM", 0, exp.stop())

            # 2. netlink only: table's count and limit and every stat come from netlink
            with nfce.Exporter(ns, args=[f"--path.procfs={empty}"]) as exp:
                for i in range(2):
                    b = {"count": ns.conntrack_count(), "S": ns.conntrack_stats()}
                    m = check_scrape(ck, exp, f"netlink only, scrape {i + 1}", nfce.expected_success({"netlink"}))
                    a = {"count": ns.conntrack_count(), "S": ns.conntrack_stats()}
                    if m is None:
                        continue
                    lo, hi = sorted((b["count"], a["count"]))
                    ck.between("netlink only: nf_conntrack_entries", lo, m.get("nf_conntrack_entries"), hi)
                    ck.eq("netlink only: nf_conntrack_entries_limit (netlink, no sysctl)",
                          float(ns.sysctls()["nf_conntrack_max"]), m.get("nf_conntrack_entries_limit"))
                    ck.eq("netlink only: sysctl-only table metrics absent", [None, None],
                          [m.get("nf_conntrack_buckets"), m.get("nf_conntrack_expect_entries_limit")])
                    nfce.check_stat_counters(ck, b["S"], m, a["S"], sorted(b["S"]), "netlink only: ")
                ck.true("netlink only: still running", exp.proc.poll() is None, exp.state())
                ck.eq("netlink only: exit status on SIGTERM", 0, exp.stop())


if __name__ == "__main__":
    nfce.main(test)
