#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""netns: one exporter, several network namespaces. The exporter runs in a namespace of its
own and follows others by name (--netns=NAME) and then all of them (--netns=all):
- each namespace's nf_conntrack_entries{netns=NAME} matches `ip netns exec NAME conntrack -C`,
  and its events-kept per-state counts add up to it;
- host-wide facts (limit, buckets, timeouts) stay unlabelled and appear once;
- nf_conntrack_netns_info ties the label to the namespace's nsfs inode;
- a namespace created while the exporter runs is followed, one deleted loses its series;
- with --netns=all, nf_conntrack_host_entries is the sum of every namespace's entries, and
  --netns.max cuts with nf_conntrack_exporter_netns_unfollowed{reason="limit"} saying so;
- the exposition stays valid (strict parser, promtool) with families regrouped."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfce  # noqa: E402

FLOWS = {"a": (3, 7), "b": (0, 20), "c": (2, 5)}  # (tcp, udp) per namespace
OM_ACCEPT = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"

try:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
except ImportError:  # a Python of its own (pyenv, venv) without Debian's dist-packages
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
    except ImportError:
        text_string_to_metric_families = None


def wait_count(ns, want):
    for _ in nfce.deadline_loop(10, 0.1):
        n = ns.conntrack_count()
        if n >= want:
            return n
    nfce.fail(f"{ns.name}: conntrack -C stays at {n}, expected >= {want}")


def check_entries(ck, ns, exp):
    """entries{netns=ns} between conntrack -C before and after the scrape."""
    b = ns.conntrack_count()
    m = exp.scrape()
    a = ns.conntrack_count()
    lo, hi = sorted((b, a))
    ck.between(f"nf_conntrack_entries{{netns={ns.name}}} vs conntrack -C", lo,
               m.get("nf_conntrack_entries", netns=ns.name), hi)
    return m


def check_states(ck, ns, exp):
    """The events collector in the namespace: its per-state counts add up to conntrack -C."""
    got = want = None
    for _ in nfce.deadline_loop(10, 0.2):
        want = ns.conntrack_count()
        m = exp.scrape()
        got = sum(s.value for s in m.find("nf_conntrack_state_entries", netns=ns.name))
        if got == want == ns.conntrack_count():
            break
    ck.eq(f"sum of nf_conntrack_state_entries{{netns={ns.name}}} vs conntrack -C", want, got)


def check_host_facts(ck, m):
    for name in ("nf_conntrack_entries_limit", "nf_conntrack_buckets"):
        s = m.find(name)
        ck.true(f"{name} is one unlabelled series", len(s) == 1 and s[0].labels == {},
                f"{[x.line for x in s]}")
    labelled = [s.line for s in m.samples if s.name.startswith("nf_conntrack_timeout_") and "netns" in s.labels]
    ck.eq("timeouts carry no netns label", [], labelled)
    ck.eq("no unlabelled nf_conntrack_entries with --netns", [],
          [s.line for s in m.find("nf_conntrack_entries") if "netns" not in s.labels])


def check_promtool(ck, exp):
    if not shutil.which("promtool"):
        return
    body = exp.get("/metrics").body
    r = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True)
    ck.eq("promtool check metrics with --netns (exit status)", 0, r.returncode)
    ck.eq("promtool check metrics with --netns (complaints)", "", r.stdout.decode() + r.stderr.decode())


def check_openmetrics(ck, home, a):
    """The regrouped namespaces' families in OpenMetrics too: a strict parser accepts it."""
    r = home.run(["curl", "-sS", "-m", "10", "-H", f"Accept: {OM_ACCEPT}", f"http://127.0.0.1:{nfce.PORT}/metrics"])
    ck.true("OpenMetrics body ends with # EOF", r.stdout.endswith("# EOF\n"), r.stdout[-200:])
    if text_string_to_metric_families is None:
        nfce.log("note: python3-prometheus-client missing, OpenMetrics not parsed strictly")
        return
    try:
        fams = {f.name: f for f in text_string_to_metric_families(r.stdout)}
    except Exception as e:  # the parser's own exceptions are plain ValueErrors and others
        ck.fail("strict OpenMetrics parse with --netns", repr(e))
        return
    drops = fams.get("nf_conntrack_stat_drop")
    ck.true("counter family nf_conntrack_stat_drop with a sample per namespace",
            drops is not None and drops.type == "counter" and
            any(s.labels.get("netns") == a.name for s in drops.samples), repr(drops))


def named_phase(ck, home, a, b, c_name):
    args = [f"--netns={a.name}", f"--netns={b.name}", f"--netns={c_name}"]
    with nfce.Exporter(home, args) as exp:
        m = check_entries(ck, a, exp)
        check_entries(ck, b, exp)
        check_host_facts(ck, m)
        ck.eq(f"no series for {c_name}, which does not exist yet", [],
              [s.line for s in m.samples if s.labels.get("netns") == c_name])
        ck.eq("nf_conntrack_host_entries only with --netns=all", None, m.get("nf_conntrack_host_entries"))
        ino = os.stat(f"/run/netns/{a.name}").st_ino
        ck.eq(f"nf_conntrack_netns_info{{netns={a.name}}} inode",
              1.0, m.get("nf_conntrack_netns_info", netns=a.name, inode=str(ino), pid="",
                    pod_uid="", container_id=""))
        ck.eq("nf_conntrack_exporter_netns_followed", 2.0, m.get("nf_conntrack_exporter_netns_followed"))
        ck.eq("collector_success{collector=stat,netns=a}", 1.0,
              m.get("nf_conntrack_exporter_collector_success", collector="stat", netns=a.name))
        check_states(ck, a, exp)
        check_states(ck, b, exp)
        nfce.check_types(ck, m)
        check_promtool(ck, exp)
        check_openmetrics(ck, home, a)

        # Appears: the third name comes into being while the exporter runs.
        with nfce.Netns("netns_c") as c:
            if c.name != c_name:
                nfce.fail(f"namespace naming changed: {c.name} != {c_name}")
            with c.flows(tcp=FLOWS["c"][0], udp=FLOWS["c"][1]):
                wait_count(c, sum(FLOWS["c"]))
                for _ in nfce.deadline_loop(10, 0.2):
                    if exp.scrape().get("nf_conntrack_entries", netns=c.name) is not None:
                        break
                check_entries(ck, c, exp)
                check_states(ck, c, exp)
        # Gone: its series go with it, the others stay.
        m = exp.scrape()
        ck.eq(f"series of the deleted {c_name}", [], [s.line for s in m.samples if s.labels.get("netns") == c_name])
        ck.true(f"{a.name} still followed", m.get("nf_conntrack_entries", netns=a.name) is not None)
        ck.eq("nf_conntrack_exporter_netns_followed after the deletion", 2.0,
              m.get("nf_conntrack_exporter_netns_followed"))
        ck.eq("exporter exit status on SIGTERM", 0, exp.stop())


def all_phase(ck, home, a, b):
    with nfce.Exporter(home, ["--netns=all"]) as exp:
        m = check_entries(ck, a, exp)
        check_entries(ck, b, exp)
        check_host_facts(ck, m)
        entries = m.find("nf_conntrack_entries")
        labels = {s.labels["netns"] for s in entries}
        for ns in (home, a, b):
            ck.true(f"--netns=all follows {ns.name}", ns.name in labels, f"{sorted(labels)}")
        ck.eq("nf_conntrack_host_entries == sum of nf_conntrack_entries (same scrape)",
              sum(s.value for s in entries), m.get("nf_conntrack_host_entries"))
        info = m.find("nf_conntrack_netns_info")
        ck.eq("one nf_conntrack_netns_info per followed namespace", len(entries), len(info))
        ck.eq("nf_conntrack_exporter_netns_followed", float(len(info)),
              m.get("nf_conntrack_exporter_netns_followed"))
        ck.eq("nothing cut below the default --netns.max", 0.0,
              m.get("nf_conntrack_exporter_netns_unfollowed", reason="limit"))
        init = [s for s in info if s.labels["pid"] == "1"]
        if init:
            ck.eq("the namespace of pid 1 is labelled by its inode",
                  f"inode:{os.stat('/proc/1/ns/net').st_ino}", init[0].labels["netns"])
        nfce.check_types(ck, m)
        check_promtool(ck, exp)
        ck.eq("exporter exit status on SIGTERM", 0, exp.stop())

    with nfce.Exporter(home, ["--netns=all", "--netns.max=1"]) as exp:
        m = exp.scrape()
        ck.eq("--netns.max=1: followed", 1.0, m.get("nf_conntrack_exporter_netns_followed"))
        cut = m.get("nf_conntrack_exporter_netns_unfollowed", reason="limit")
        ck.true("--netns.max=1: the others are counted as cut", cut is not None and cut >= 2, f"{cut}")
        ck.eq("--netns.max=1: one namespace's entries", 1, len(m.find("nf_conntrack_entries")))
        ck.eq("exporter exit status on SIGTERM", 0, exp.stop())


def test(ck):
    with nfce.Netns("netns_home") as home, nfce.Netns("netns_a") as a, nfce.Netns("netns_b") as b:
        with a.flows(tcp=FLOWS["a"][0], udp=FLOWS["a"][1]), b.flows(tcp=FLOWS["b"][0], udp=FLOWS["b"][1]):
            wait_count(a, sum(FLOWS["a"]))
            wait_count(b, sum(FLOWS["b"]))
            named_phase(ck, home, a, b, a.name.replace("netns_a", "netns_c"))
            all_phase(ck, home, a, b)


if __name__ == "__main__":
    nfce.main(test)
