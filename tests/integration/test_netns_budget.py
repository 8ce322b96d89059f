#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""netns_budget: what following a namespace costs, in series and descriptors.
- default (--netns.metrics=basic): each followed namespace has at most 20 series, of the basic
  families only; its per-state counts still add up to `conntrack -C` in it, and the alerting
  series are there (entries, drops, early drops, insert failures, overruns, collector_success);
- --netns.metrics=full: the namespace gets every family basic leaves out (the detail of the
  exporter's own namespace), and basic's families are a subset of it;
- a namespace named while the exporter runs is followed within 2 s (inotify on /run/netns;
  the periodic scan alone would take up to 5 s), and loses its series within 2 s of `ip netns
  del`; following it costs at most 4 open descriptors."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfce  # noqa: E402

BUDGET = 20
BASIC = {
    "nf_conntrack_entries", "nf_conntrack_stat_drop_total", "nf_conntrack_stat_early_drop_total",
    "nf_conntrack_stat_insert_failed_total", "nf_conntrack_stat_chaintoolong_total",
    "nf_conntrack_stat_clash_resolve_total", "nf_conntrack_event_overruns_total",
    "nf_conntrack_event_bad_messages_total", "nf_conntrack_state_entries", "nf_conntrack_netns_info",
    "nf_conntrack_exporter_collector_success",
}
# Families that only --netns.metrics=full gives a namespace (a few exist only on some kernels
# or once flows ended, so only these are required).
FULL_ONLY = {
    "nf_conntrack_stat_found_total", "nf_conntrack_resyncs_total", "nf_conntrack_zone_entries",
    "nf_conntrack_exporter_collector_duration_seconds", "lnstat_entries",
    "nf_conntrack_event_socket_buffer_bytes",
}


def of(m, name):
    return [s for s in m.samples if s.labels.get("netns") == name]


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def synced(m, name):
    """The events collector of that namespace has its first dump in."""
    return bool(m.find("nf_conntrack_state_entries", netns=name))


def check_basic(ck, ns, exp):
    got = want = None
    for _ in nfce.deadline_loop(10, 0.2):
        want = ns.conntrack_count()
        m = exp.scrape()
        got = sum(s.value for s in m.find("nf_conntrack_state_entries", netns=ns.name))
        if got == want == ns.conntrack_count() == m.get("nf_conntrack_entries", netns=ns.name):
            break
    ck.eq(f"sum of nf_conntrack_state_entries{{netns={ns.name}}} vs conntrack -C", want, got)
    ck.eq(f"nf_conntrack_entries{{netns={ns.name}}} vs conntrack -C", want, m.get("nf_conntrack_entries", netns=ns.name))
    mine = of(m, ns.name)
    ck.true(f"at most {BUDGET} series for {ns.name}", len(mine) <= BUDGET, f"{len(mine)}: {[s.line for s in mine]}")
    ck.eq(f"families of {ns.name} beyond the basic set", [], sorted({s.name for s in mine} - BASIC))
    for name in ("nf_conntrack_stat_drop_total", "nf_conntrack_stat_early_drop_total",
                 "nf_conntrack_stat_insert_failed_total", "nf_conntrack_event_overruns_total"):
        ck.true(f"{name}{{netns={ns.name}}} is there", m.get(name, netns=ns.name) is not None)
    for c in ("table", "stat", "events"):
        ck.eq(f"collector_success{{collector={c},netns={ns.name}}}", 1.0,
              m.get("nf_conntrack_exporter_collector_success", collector=c, netns=ns.name))
    zeros = [s.line for s in m.find("nf_conntrack_state_entries", netns=ns.name) if s.value == 0]
    ck.eq(f"no zero state series for {ns.name} in basic", [], zeros)
    return m


def basic_phase(ck, home, a, c_name):
    with nfce.Exporter(home, [f"--netns={a.name}", f"--netns={c_name}"]) as exp:
        m = check_basic(ck, a, exp)
        nfce.check_types(ck, m)
        before = fds(exp.pid)
        with nfce.Netns("netns_budget_c") as c:
            if c.name != c_name:
                nfce.fail(f"namespace naming changed: {c.name} != {c_name}")
            t0 = time.monotonic()
            seen = nfce.wait_until(lambda: exp.scrape().find("nf_conntrack_netns_info", netns=c.name), 10)
            took = time.monotonic() - t0
            ck.true(f"{c.name} followed within 2 s of ip netns add (inotify)", seen and took < 2.0, f"{took:.2f} s")
            # Its dump socket closes once the first resync (of an empty table) is in.
            after = nfce.wait_until(lambda: fds(exp.pid) - before <= 4 and fds(exp.pid), 2) or fds(exp.pid)
            ck.true("at most 4 descriptors for one more namespace", after - before <= 4,
                    f"{before} -> {after}")
            with c.flows(tcp=2, udp=5):
                check_basic(ck, c, exp)
        t0 = time.monotonic()
        gone = nfce.wait_until(lambda: not of(exp.scrape(), c_name), 10)
        took = time.monotonic() - t0
        ck.true(f"{c_name} forgotten within 2 s of ip netns del", gone and took < 2.0, f"{took:.2f} s")
        ck.eq("descriptors back after the namespace went", before, fds(exp.pid))
        ck.eq("exporter exit status on SIGTERM", 0, exp.stop())


def full_phase(ck, home, a):
    with nfce.Exporter(home, [f"--netns={a.name}", "--netns.metrics=full"]) as exp:
        m = None
        for _ in nfce.deadline_loop(10, 0.2):
            m = exp.scrape()
            if synced(m, a.name):
                break
        fams = {s.name.removesuffix("_bucket") for s in of(m, a.name)}
        ck.eq("families that --netns.metrics=full adds, missing", [], sorted(FULL_ONLY - fams))
        ck.eq("basic families missing from full", [], sorted(BASIC - fams))
        ck.true(f"full: more than {BUDGET} series for {a.name}", len(of(m, a.name)) > BUDGET, f"{len(of(m, a.name))}")
        nfce.check_types(ck, m)
        ck.eq("exporter exit status on SIGTERM", 0, exp.stop())


def test(ck):
    with nfce.Netns("netns_budget_home") as home, nfce.Netns("netns_budget_a") as a:
        with a.flows(tcp=3, udp=7, udp_replied=2, tcp_closed=2, icmp_echo=1):
            nfce.wait_until(lambda: a.conntrack_count() >= 12, 10, "flows in a")
            basic_phase(ck, home, a, a.name.replace("netns_budget_a", "netns_budget_c"))
            full_phase(ck, home, a)


if __name__ == "__main__":
    nfce.main(test)
