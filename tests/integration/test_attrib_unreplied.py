#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""attrib_unreplied: flows nobody answers, by protocol and age, and how many ended so (issue
13). UDP entries live 10 minutes in the test's namespace (its nf_conntrack_udp_timeout),
except DNS to 127.0.0.54, which a ct timeout policy ends after 3 s.
  batch 1 (t1):  4 DNS queries to 127.0.0.53:53 (nothing listens: ICMP port unreachable back),
                 6 UDP flows to 127.0.0.1:41500 (nothing listens), 2 TCP SYNs to
                 127.0.0.1:53 (dropped on input: SYN_SENT), 5 UDP flows answered by an echo
                 server (replied: never counted), 4 DNS queries to 127.0.0.54:53 (expire)
  the 4 short ones expire (a `conntrack -L` walk evicts them once their 3 s are up):
                 nf_conntrack_unreplied_ended_total{protocol="udp",service="dns"} 4
  batch 2 (t1 + 12 s): 3 DNS queries, 5 UDP flows to 41500, 60 to 41700 (nothing listens)
Then exporter A (running since before t1) shows nf_conntrack_unreplied_entries udp
10s_to_1m 10, under_10s 8, tcp 10s_to_1m 2, the other bands 0 (all four written), matching
`conntrack -L` ([UNREPLIED] entries; their ages from the timers: 600 - remaining); exporter B,
started now, has them under_10s (first seen in its dump: their age a lower bound), except batch
1's 6 flows to 41500, made with the namespace's nf_conntrack_timestamp on: their true age; exporter O (4 KiB event buffer,
stopped during batch 2: an overrun) shows what A shows once its resync is over: entries it knew
keep their age (its ends, below, only as far as its small buffer keeps the DESTROY events). `conntrack -D` of every flow
(the TCP sockets closed first, or their SYN retransmissions would make new entries): ended
udp/dns +7, udp/other +71, tcp/dns +2 in each exporter, nothing for the 5 replied ones."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attrib_util as au  # noqa: E402
import events_util as eu  # noqa: E402
import nfce  # noqa: E402

UDP_TIMEOUT, SHORT = 600, 3
P_OTHER, P_ECHO = 41500, 41600
DNS, DNS_SHORT = "127.0.0.53", "127.0.0.54"
B1_DNS, B1_OTHER, B1_TCP, B1_REPLIED, B1_SHORT = 4, 6, 2, 5, 4
B2_DNS, B2_OTHER, B2_FILL = 3, 5, 60
P_FILL = 41700
AGE_GAP = 12  # batch 1 is 10 s old, and then some, when batch 2 is made
NFT = """
add chain inet t sink { type filter hook input priority 0; }
add rule inet t sink tcp dport 53 drop
"""
PORT_B, PORT_O = 39902, 39903


def tstamp(ns, on):
    ns.write_sysctl(f"{nfce.NF_SYSCTL}/nf_conntrack_timestamp", str(on))


def bands(m, proto):
    u = au.unreplied_of(m)
    return {a: u.get((proto, a)) for a in au.AGES}


def kernel_bands(k, proto):
    """conntrack -L's [UNREPLIED] entries of proto by age band; UDP ages from the timers."""
    out = {a: 0 for a in au.AGES}
    for e in k.entries:
        if "UNREPLIED" in e.flags and au.unreplied_proto(e) == proto:
            out["10s_to_1m" if UDP_TIMEOUT - e.timeout >= 10 else "under_10s"] += 1
    return out


def test(ck):
    with nfce.Netns("attrib_unreplied", nft=NFT) as ns:
        ns.write_sysctl(f"{nfce.NF_SYSCTL}/nf_conntrack_udp_timeout", str(UDP_TIMEOUT))  # this namespace's only
        if not ns.udp_timeout_policy("short", SHORT, f"ip daddr {DNS_SHORT} udp dport 53"):
            nfce.skip("no nft ct timeout support: nothing expires within the test's time")
        ns.notrack(PORT_B, PORT_O)
        with au.Traffic(ns) as tr, nfce.Exporter(ns) as a, \
                nfce.Exporter(ns, ["--collector.events.buffer-size=4KiB"], listen=f"127.0.0.1:{PORT_O}") as o:
            eu.wait_synced(a)
            eu.wait_synced(o)
            tr.do("udp_server_at", host="127.0.0.1", port=P_ECHO, echo=True)
            t1 = time.monotonic()
            tr.do("udp_to", dst=DNS, port=53, n=B1_DNS, dns=True)
            tstamp(ns, 1)  # only batch 1's flows to P_OTHER carry the kernel's start time
            tr.do("udp_to", dst="127.0.0.1", port=P_OTHER, n=B1_OTHER)
            tstamp(ns, 0)
            tr.do("tcp_syn", dst="127.0.0.1", port=53, n=B1_TCP, tag="syn")
            r = tr.do("udp_to", dst="127.0.0.1", port=P_ECHO, n=B1_REPLIED, expect_reply=True)
            ck.eq("replies from the echo server", B1_REPLIED, r["replies"])
            tr.do("udp_to", dst=DNS_SHORT, port=53, n=B1_SHORT, dns=True)
            n1 = B1_DNS + B1_OTHER + B1_TCP + B1_REPLIED
            eu.wait_kernel(ns, lambda k: k.count == n1 + B1_SHORT, f"{n1 + B1_SHORT} entries")

            # The short ones expire: conntrack -L evicts expired entries it walks over (the
            # kernel's own collector may take up to a minute), each with a DESTROY event.
            time.sleep(max(0.0, t1 + SHORT + 0.3 - time.monotonic()))  # their 3 s must pass
            k = eu.wait_kernel(ns, lambda k: len(k.entries) == n1, f"the {B1_SHORT} short DNS flows expired")
            got = nfce.wait_until(lambda: (lambda m: m if au.ended_of(m, "udp", "dns") >= B1_SHORT else None)(a.scrape()),
                                  5)
            m = got or a.scrape()
            ck.eq('after expiry: unreplied_ended_total{protocol="udp",service="dns"}', float(B1_SHORT),
                  au.ended_of(m, "udp", "dns"))
            ck.eq('after expiry: unreplied_ended_total{protocol="udp",service="other"}', 0.0,
                  au.ended_of(m, "udp", "other"))

            time.sleep(max(0.0, t1 + AGE_GAP - time.monotonic()))  # batch 1 must age past 10 s
            os.kill(o.pid, signal.SIGSTOP)  # O misses batch 2's events: an overrun
            try:
                tr.do("udp_to", dst=DNS, port=53, n=B2_DNS, dns=True)
                tr.do("udp_to", dst="127.0.0.1", port=P_OTHER, n=B2_OTHER)
                tr.do("udp_to", dst="127.0.0.1", port=P_FILL, n=B2_FILL)
            finally:
                os.kill(o.pid, signal.SIGCONT)
            t2 = time.monotonic()
            n = n1 + B2_DNS + B2_OTHER + B2_FILL
            eu.wait_kernel(ns, lambda k: k.count == n, f"{n} entries")

            want_udp = {"under_10s": B2_DNS + B2_OTHER + B2_FILL, "10s_to_1m": B1_DNS + B1_OTHER, "1m_to_10m": 0, "over_10m": 0}
            want_tcp = {"under_10s": 0, "10s_to_1m": B1_TCP, "1m_to_10m": 0, "over_10m": 0}

            def extra(k, m):
                probs = []
                for p, want in (("udp", want_udp), ("tcp", want_tcp)):
                    if bands(m, p) != {x: float(v) for x, v in want.items()}:
                        probs.append(f"nf_conntrack_unreplied_entries{{protocol={p}}}: {bands(m, p)}, expected {want}")
                if kernel_bands(k, "udp") != want_udp:
                    probs.append(f"conntrack -L: UDP [UNREPLIED] by age {kernel_bands(k, 'udp')}, expected {want_udp}")
                if au.want_unreplied(k.entries) != {"udp": sum(want_udp.values()), "tcp": B1_TCP}:
                    probs.append(f"conntrack -L: [UNREPLIED] by protocol {dict(au.want_unreplied(k.entries))}")
                return probs + au.label_problems(m, "nf_conntrack_unreplied_entries", ("protocol", "age"))

            k, m = eu.require(ck, "exporter A's unreplied bands vs conntrack -L",
                              eu.converge(ns, a, max(1.0, t2 + 8 - time.monotonic()), extra=extra))
            if m is not None:
                eu.log(f"A: unreplied {au.unreplied_of(m)}; resyncs periodic {eu.resyncs(m, 'periodic')}")
            k, m = eu.require(ck, "exporter O's unreplied bands after its overrun vs conntrack -L (batch 1 keeps its age)",
                              eu.converge(ns, o, max(1.0, t2 + 9 - time.monotonic()), extra=extra))
            if m is not None:
                eu.log(f"O: unreplied {au.unreplied_of(m)}; overruns {m.get('nf_conntrack_event_overruns_total')}, "
                       f"resyncs overrun {eu.resyncs(m, 'overrun')}")
                ck.true("O: an overrun and its resync", (m.get("nf_conntrack_event_overruns_total") or 0) >= 1 and
                        (eu.resyncs(m, "overrun") or 0) >= 1, "none")
                ck.eq("A: TYPE of nf_conntrack_unreplied_ended_total", "counter",
                      m.types.get("nf_conntrack_unreplied_ended_total"))
            with nfce.Exporter(ns, [], listen=f"127.0.0.1:{PORT_B}") as b:
                eu.wait_synced(b)
                m = b.scrape()
                ck.eq("B (from its dump): udp bands (batch 1's timestamped flows at their true age)",
                      {"under_10s": float(B1_DNS + B2_DNS + B2_OTHER + B2_FILL), "10s_to_1m": float(B1_OTHER),
                       "1m_to_10m": 0.0, "over_10m": 0.0}, bands(m, "udp"))
                ck.eq("B (from its dump): tcp bands", {"under_10s": float(B1_TCP), "10s_to_1m": 0.0, "1m_to_10m": 0.0,
                                                       "over_10m": 0.0}, bands(m, "tcp"))

                tr.do("close", tag="syn", side="client")
                o_overruns = o.scrape().get("nf_conntrack_event_overruns_total") or 0
                for proto, port, cnt in (("udp", 53, B1_DNS + B2_DNS), ("udp", P_OTHER, B1_OTHER + B2_OTHER),
                                         ("udp", P_FILL, B2_FILL),
                                         ("tcp", 53, B1_TCP), ("udp", P_ECHO, B1_REPLIED)):
                    ck.eq(f"conntrack -D -p {proto} --dport {port}", cnt,
                          eu.conntrack_delete(ns, "-p", proto, "--dport", str(port)))
                eu.wait_kernel(ns, lambda k: k.count == 0, "an empty table")
                for x, exp, base in (("A", a, B1_SHORT), ("O", o, B1_SHORT), ("B", b, 0)):
                    want = {("udp", "dns"): float(base + B1_DNS + B2_DNS),
                            ("udp", "other"): float(B1_OTHER + B2_OTHER + B2_FILL),
                            ("tcp", "dns"): float(B1_TCP), ("tcp", "other"): 0.0}

                    def ended(m):
                        return {key: au.ended_of(m, *key) for key in want}
                    m = nfce.wait_until(lambda: (lambda m: m if ended(m) == want else None)(exp.scrape()), 5)
                    m = m or exp.scrape()
                    if x == "O" and ended(m) != want:
                        # O's 4 KiB buffer may overflow with the DESTROY events of 71 deletions:
                        # ends lost in an overrun are not counted (docs/metrics.md), and it must say so
                        ov = m.get("nf_conntrack_event_overruns_total") or 0
                        eu.log(f"O: ended {ended(m)}, overruns {o_overruns} -> {ov} during the deletions")
                        ck.true("O: fewer ends counted, never more, and only with an overrun",
                                ov > o_overruns and all(ended(m)[key] <= v for key, v in want.items()),
                                f"ended {ended(m)}, expected {want} or less with an overrun; overruns {o_overruns} -> {ov}")
                    else:
                        ck.eq(f"{x}: unreplied_ended_total after conntrack -D (the replied ones not counted)", want,
                              ended(m))
                    ck.eq(f"{x}: unreplied bands, the table empty", {("udp", a_): 0.0 for a_ in au.AGES} |
                          {("tcp", a_): 0.0 for a_ in au.AGES}, au.unreplied_of(m))
                ck.eq("exporter B exit status on SIGTERM", 0, b.stop())
            ck.eq("exporter A exit status on SIGTERM", 0, a.stop())
            ck.eq("exporter O exit status on SIGTERM", 0, o.stop())


if __name__ == "__main__":
    nfce.main(test)
