#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""events_unprivileged: without CAP_NET_ADMIN (capsh --drop=cap_net_admin, else setpriv) the
kernel refuses the event subscription. The exporter must keep running and serving: every
scrape returns 200 with nf_conntrack_exporter_collector_success{collector="events"} 0 and
the other collectors 1; it must not pretend to know per-state or per-zone counts (no
nf_conntrack_state_entries / nf_conntrack_zone_entries series), while the table collector's
nf_conntrack_entries (from /proc) still follows the kernel as flows come and go; the failure
is logged at level=warn with collector=events."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import events_util as eu  # noqa: E402
import nfce  # noqa: E402

EVENTS_FAMILIES = ("nf_conntrack_state_entries", "nf_conntrack_zone_entries", "nf_conntrack_events_total",
                   "nf_conntrack_flow_lifetime_seconds_count")
OTHERS = ("table", "stat", "timeouts", "lnstat")


def check_scrape(ck, m, label):
    got = {dict(k).get("collector"): v for k, v in m.series("nf_conntrack_exporter_collector_success").items()}
    ck.eq(f"{label}: collector_success{{collector=\"events\"}}", 0.0, got.get("events"))
    for c in OTHERS:
        ck.eq(f"{label}: collector_success{{collector=\"{c}\"}}", 1.0, got.get(c))
    for fam in EVENTS_FAMILIES:
        ck.eq(f"{label}: series of {fam} (the collector failed)", [], [repr(s) for s in m.find(fam)])


def test(ck):
    wrapper = nfce.drop_net_admin_wrapper()
    with nfce.Netns("events_unprivileged") as ns:
        with nfce.Exporter(ns, wrapper=wrapper) as exp:
            caps = nfce.proc_caps(exp.pid)
            if caps & (1 << nfce.CAP_NET_ADMIN):
                nfce.fail(f"{wrapper[0]} did not drop CAP_NET_ADMIN: CapEff={caps:x}")
            with open(f"/proc/{exp.pid}/comm") as f:
                ck.eq("the wrapped process is the exporter", os.path.basename(nfce.exporter_path())[:15],
                      f.read().strip())
            check_scrape(ck, exp.scrape(), "first scrape")  # scrape() fails the test unless 200
            with ns.traffic() as tr:
                tr.do("udp_server", port=26000, echo=False)
                tr.do("tcp_listen", port=26001)
                tr.do("udp_flows", port=26000, n=6, tag="u")
                tr.do("tcp_established", port=26001, n=4, tag="t")
                m = None
                for _ in eu.deadline_loop(10, 0.2):
                    before = ns.conntrack_count()
                    m = exp.scrape()
                    after = ns.conntrack_count()
                    if before == after == 10 and m.get("nf_conntrack_entries") == 10:
                        break
                ck.eq("nf_conntrack_entries (table collector, from /proc) vs conntrack -C", 10.0,
                      m.get("nf_conntrack_entries"))
                check_scrape(ck, m, "scrape with flows")
                n = eu.conntrack_delete(ns, "-p", "udp")
                ck.eq("conntrack -D -p udp deleted", 6, n)
                for _ in eu.deadline_loop(10, 0.2):
                    m = exp.scrape()
                    if m.get("nf_conntrack_entries") == ns.conntrack_count() == 4:
                        break
                ck.eq("nf_conntrack_entries after deleting the UDP entries", 4.0, m.get("nf_conntrack_entries"))
                check_scrape(ck, m, "scrape after deletions")
            ck.true("the exporter is still running", exp.proc.poll() is None, f"exit {exp.proc.poll()}")
            log = exp.log()
            warn = [l for l in log.splitlines() if re.search(r"\blevel=warn\b", l) and "collector=events" in l]
            ck.true("a level=warn log line names collector=events", warn, f"stderr:\n{log}")
            ck.eq("exporter exit status on SIGTERM", 0, exp.stop())


if __name__ == "__main__":
    nfce.main(test)
