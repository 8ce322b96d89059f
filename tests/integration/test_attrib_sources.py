#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""attrib_sources: which sources and destinations fill the table (issue 13). In the test's
namespace, sources with skewed counts (UDP datagrams dropped on input after conntrack confirmed
them: unreplied entries that live 10 minutes, no ICMP back):
  127.20.1.i, i = 1..24     3i UDP flows each (3..72; 900 in 127.20.1.0/24)
  127.20.2.1                80 UDP flows
  127.20.3.1..4             10 established TCP connections each
  fd00:0:0:1::j, j = 1..10  5j UDP flows each (5..50; 275 in fd00:0:0:1::/64)
  fd00:0:0:2::1             60 UDP flows
  fd00:0:0:3::1             7 established TCP connections
(the fd00:: addresses added to the namespace's lo, nodad), UDP flow j of a source to port
30000 + j % 12. Four exporters run side by side, three with --collector.attribution.top-k=5:
  A  default prefixes (32,64): the IPv6 sources by /64, the IPv4 ones bare
  B  --collector.attribution.source-prefix=24,64
  C  --collector.attribution.source-prefix=32,128 (every address bare)
  D  --no-collector.attribution: no attribution family at all
  E  --collector.attribution.top-k=100: every key shown (3 ICMP echo entries, and one packet each
     of IP protocol 253 to 127.0.0.1, .2 and ::1 and of GRE to 127.0.0.3, under port "")
In a quiet window, each top family equals the top K computed from `conntrack -L` (counts
exact; membership checked only where counts differ from the K-th), "other" plus the shown
series equals conntrack -C, nf_conntrack_entries and the sum of state_entries, and
nf_conntrack_attribution_error_entries is 0 for source and destination (fewer keys than
sketch slots). Families appear only together with state_entries (after the first dump). Again
after `conntrack -D` of 127.20.2.1's and fd00:0:0:1::a's entries (DESTROY events)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attrib_util as au  # noqa: E402
import events_util as eu  # noqa: E402
import nfce  # noqa: E402

K = 5
DPORTS = list(range(30000, 30012))
TCP4, TCP6 = 30100, 30101
V4 = [(f"127.20.1.{i}", 3 * i) for i in range(1, 25)] + [("127.20.2.1", 80)]
V6 = [(f"fd00:0:0:1::{j:x}", 5 * j) for j in range(1, 11)] + [("fd00:0:0:2::1", 60)]
TCP4_SRC = [(f"127.20.3.{i}", 10) for i in range(1, 5)]
TCP6_SRC = [("fd00:0:0:3::1", 7)]
N_ICMP = 3  # echo requests to 127.0.0.1, answered: port "" in top_destination
RAW = {253: ["127.0.0.1", "127.0.0.2", "::1"], 47: ["127.0.0.3"]}  # protocol 253 ("other"), GRE
N_RAW = sum(map(len, RAW.values()))
N = sum(n for _, n in V4 + V6 + TCP4_SRC + TCP6_SRC) + N_ICMP + N_RAW
NFT = """
add chain inet t sink { type filter hook input priority 0; }
add rule inet t sink udp dport 30000-30011 drop
add rule inet t sink meta l4proto { 47, 253 } drop
"""
EXPORTERS = {  # name: (port, flags, (prefix4, prefix6))
    "A": (39901, [f"--collector.attribution.top-k={K}"], (32, 64)),
    "B": (39902, [f"--collector.attribution.top-k={K}", "--collector.attribution.source-prefix=24,64"], (24, 64)),
    "C": (39903, [f"--collector.attribution.top-k={K}", "--collector.attribution.source-prefix=32,128"], (32, 128)),
    "D": (39904, ["--no-collector.attribution"], None),
    "E": (39905, ["--collector.attribution.top-k=100"], (32, 64)),  # every key shown, no "other"
}


def attribution(prefixes, top_k):
    """converge()'s extra check: the source and destination families against conntrack -L."""
    def extra(k, m):
        probs = au.check_family(m, "source", au.want_sources(k.entries, *prefixes), top_k)
        probs += au.check_family(m, "destination", au.want_destinations(k.entries), top_k)
        return probs + au.totals_problems(k, m)
    return extra


def wait_synced_together(ck, name, exp):
    """Scrapes from the start until the first dump is over: attribution families only ever
    appear together with nf_conntrack_state_entries."""
    for _ in eu.deadline_loop(10, 0.02):
        m = exp.scrape()
        synced = eu.synced(m)
        for fam in ("nf_conntrack_top_source_entries", "nf_conntrack_top_destination_entries",
                    "nf_conntrack_attribution_error_entries"):
            if au.present(m, fam) and not synced:
                ck.fail(f"exporter {name}: {fam}", "exported before nf_conntrack_state_entries (first dump not over)")
        if synced:
            return m
    nfce.fail(f"exporter {name}: nf_conntrack_state_entries never appeared; stderr:\n{exp.log()}")


def test(ck):
    with nfce.Netns("attrib_sources", nft=NFT) as ns:
        ns.write_sysctl(f"{nfce.NF_SYSCTL}/nf_conntrack_udp_timeout", "600")  # this namespace's only
        ns.notrack(*(p for p, _, _ in EXPORTERS.values() if p != nfce.PORT))
        for a, _ in V6 + TCP6_SRC:
            ns.run(["ip", "-6", "addr", "add", f"{a}/128", "dev", "lo", "nodad"])
        with au.Traffic(ns) as tr:
            if not tr.do("has_ipv6")["ipv6"]:
                nfce.skip("no IPv6 in the test namespace")
            exps = {}
            try:
                for name, (port, flags, _) in EXPORTERS.items():
                    exps[name] = nfce.Exporter(ns, flags, listen=f"127.0.0.1:{port}").start()
                for name, exp in exps.items():
                    wait_synced_together(ck, name, exp)

                tr.do("tcp_listen_at", host="127.0.0.1", port=TCP4)
                tr.do("tcp_listen_at", host="::1", port=TCP6)
                tr.do("udp_from", sources=V4, dst="127.0.0.1", dports=DPORTS)
                tr.do("udp_from", sources=V6, dst="::1", dports=DPORTS)
                tr.do("tcp_from", sources=TCP4_SRC, dst="127.0.0.1", port=TCP4)
                tr.do("tcp_from", sources=TCP6_SRC, dst="::1", port=TCP6)
                tr.do("icmp_echo", n=N_ICMP)
                for proto, dsts in RAW.items():
                    tr.do("raw", proto=proto, dsts=dsts)
                k = eu.wait_kernel(ns, lambda k: k.count == N and len(k.entries) == N, f"{N} entries")
                eu.log(f"kernel: {k}")

                for name in ("A", "B", "C", "E"):
                    prefixes = EXPORTERS[name][2]
                    k, m = eu.require(ck, f"exporter {name} (source-prefix {prefixes}) vs conntrack -L",
                                      eu.converge(ns, exps[name], 15, extra=attribution(prefixes, 100 if name == "E" else K)))
                    if m is None:
                        continue
                    shown, other = au.top(m, "nf_conntrack_top_source_entries", ("source",))
                    eu.log(f"exporter {name}: top sources {shown}, other {other}")
                    if name == "A":
                        ck.eq("A: the IPv6 sources by /64, the IPv4 ones bare",
                              {("fd00:0:0:1::/64",): 275.0, ("127.20.2.1",): 80.0, ("127.20.1.24",): 72.0,
                               ("127.20.1.23",): 69.0, ("127.20.1.22",): 66.0}, shown)
                        dshown, dother = au.top(m, "nf_conntrack_top_destination_entries",
                                                ("protocol", "destination", "port"))
                        eu.log(f"exporter A: top destinations {dshown}, other {dother}")
                        ck.eq("A: nf_conntrack_snat_port_range_ports (default range 1024-65535)", 64512.0,
                              m.get("nf_conntrack_snat_port_range_ports"))
                        for fam in ("destination", "dnat_target", "snat", "snat_destination"):
                            ck.eq(f'A: nf_conntrack_attribution_error_entries{{family="{fam}"}}', 0.0,
                                  au.error_of(m, fam))
                        ck.eq("A: no DNAT'ed entries, no dnat_target series", [],
                              m.find("nf_conntrack_top_dnat_target_entries"))
                        ck.eq("A: no SNAT'ed entries, no snat series", [], m.find("nf_conntrack_snat_entries"))
                        ck.eq('A: nf_conntrack_unreplied_entries{protocol="udp"} (all under 10 s)',
                              {a: (float(N - 47 - N_ICMP - N_RAW) if a == "under_10s" else 0.0) for a in au.AGES},
                              {a: v for (p, a), v in au.unreplied_of(m).items() if p == "udp"})
                        ck.eq('A: nf_conntrack_unreplied_entries{age="under_10s"} of protocol 253 (other) and gre',
                              {"other": 3.0, "gre": 1.0},
                              {p: v for (p, a), v in au.unreplied_of(m).items() if p in ("other", "gre") and a == "under_10s"})
                        for fam, t in (("nf_conntrack_top_source_entries", "gauge"),
                                       ("nf_conntrack_top_destination_entries", "gauge"),
                                       ("nf_conntrack_attribution_error_entries", "gauge"),
                                       ("nf_conntrack_unreplied_entries", "gauge"),
                                       ("nf_conntrack_snat_port_range_ports", "gauge")):
                            ck.eq(f"A: TYPE of {fam}", t, m.types.get(fam))
                    elif name == "B":
                        ck.eq("B: sources by /24 and /64",
                              {("127.20.1.0/24",): 900.0, ("fd00:0:0:1::/64",): 275.0, ("127.20.2.0/24",): 80.0,
                               ("fd00:0:0:2::/64",): 60.0, ("127.20.3.0/24",): 40.0}, shown)
                        ck.eq("B: other (fd00:0:0:3::/64's 7, 127.0.0.0/24's 3 ICMP + 2 raw + 1 GRE, ::/64's 1)", 14.0, other)
                    elif name == "E":
                        ck.eq("E: ICMP echo entries under port \"\"", float(N_ICMP),
                              m.get("nf_conntrack_top_destination_entries", protocol="icmp", destination="127.0.0.1",
                                    port=""))
                        ck.eq("E: protocol 253 by number, GRE by name, port \"\"", [1.0, 1.0, 1.0],
                              [m.get("nf_conntrack_top_destination_entries", protocol=p, destination=d, port="")
                               for p, d in (("253", "127.0.0.2"), ("253", "::1"), ("gre", "127.0.0.3"))])
                        ck.eq("E: no other series (all keys shown)", [],
                              [s for s in m.find("nf_conntrack_top_source_entries") +
                               m.find("nf_conntrack_top_destination_entries") if "other" in s.labels.values()])
                    else:
                        ck.eq("C: every address bare",
                              {("127.20.2.1",): 80.0, ("127.20.1.24",): 72.0, ("127.20.1.23",): 69.0,
                               ("127.20.1.22",): 66.0, ("127.20.1.21",): 63.0}, shown)

                # Entries that go (DESTROY events) leave the families: the top sources change
                ck.eq("conntrack -D -s 127.20.2.1", 80, eu.conntrack_delete(ns, "-s", "127.20.2.1"))
                ck.eq("conntrack -D -s fd00:0:0:1::a", 50, eu.conntrack_delete(ns, "-s", "fd00:0:0:1::a"))
                for name in ("A", "B", "C", "E"):
                    prefixes = EXPORTERS[name][2]
                    k, m = eu.require(ck, f"exporter {name} vs conntrack -L after conntrack -D",
                                      eu.converge(ns, exps[name], 15, extra=attribution(prefixes, 100 if name == "E" else K)))
                    if name == "A" and m is not None:
                        ck.eq("A: top sources after conntrack -D",
                              {("fd00:0:0:1::/64",): 225.0, ("127.20.1.24",): 72.0, ("127.20.1.23",): 69.0,
                               ("127.20.1.22",): 66.0, ("127.20.1.21",): 63.0},
                              au.top(m, "nf_conntrack_top_source_entries", ("source",))[0])

                m = exps["D"].scrape()
                ck.true("D (--no-collector.attribution): state_entries still there", eu.synced(m), "missing")
                ck.eq("D (--no-collector.attribution): attribution families",
                      [], sorted({s.name for f in au.FAMILIES for s in m.find(f)}))
                for name, exp in exps.items():
                    ck.eq(f"exporter {name} exit status on SIGTERM", 0, exp.stop())
            finally:
                for exp in exps.values():
                    exp.stop()


if __name__ == "__main__":
    nfce.main(test)
