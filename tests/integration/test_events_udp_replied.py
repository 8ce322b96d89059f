#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""events_udp_replied: UDP (and ICMP) entries by status bits. With the exporter listening:
  unreplied  datagrams to a UDP socket that never answers (no ICMP port unreachable either),
             each from a socket of its own
  replied    one datagram to an echo server, one answer
  assured    an echo exchange, then (the kernel wants the flow older than 2 s) another one:
             the kernel sets ASSURED
  icmp       echo requests to 127.0.0.1 with distinct ids: replied
  IPv6       unreplied and replied flows over ::1 too (if the namespace has IPv6)
nf_conntrack_state_entries{protocol,state} must equal conntrack -L ([UNREPLIED] / no flag /
[ASSURED]) once the table is quiet, sums equal nf_conntrack_entries and conntrack -C, one NEW
event per entry, and no resync but the startup one (the counts come from the events)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import events_util as eu  # noqa: E402
import nfce  # noqa: E402

PORT_SILENT, PORT_ECHO = 21000, 21001
N_UNREPLIED, N_REPLIED, N_ASSURED, N_ICMP = 5, 3, 4, 2
N6_UNREPLIED, N6_REPLIED = 2, 1


def test(ck):
    with nfce.Netns("events_udp_replied") as ns:
        with nfce.Exporter(ns) as exp:
            eu.check_series_shape(ck, eu.wait_synced(exp))
            with ns.traffic() as tr:
                tr.do("udp_server", port=PORT_SILENT, echo=False)
                tr.do("udp_server", port=PORT_ECHO, echo=True)
                tr.do("udp_flows", port=PORT_SILENT, n=N_UNREPLIED, tag="unreplied")
                r = tr.do("udp_flows", port=PORT_ECHO, n=N_REPLIED, tag="replied", expect_reply=True)
                ck.eq("echo replies (replied flows)", N_REPLIED, r["replies"])
                r = tr.do("udp_flows", port=PORT_ECHO, n=N_ASSURED, tag="assured", expect_reply=True)
                ck.eq("echo replies (flows to be assured)", N_ASSURED, r["replies"])
                r = tr.do("icmp_echo", n=N_ICMP, ident_base=4242)
                ck.eq("ICMP echo replies", N_ICMP, r["replies"])
                v6 = tr.do("has_ipv6")
                n6u = n6r = 0
                if v6["ipv6"]:
                    n6u, n6r = N6_UNREPLIED, N6_REPLIED
                    tr.do("udp_server", port=PORT_SILENT, echo=False, v6=True)
                    tr.do("udp_server", port=PORT_ECHO, echo=True, v6=True)
                    tr.do("udp_flows", port=PORT_SILENT, n=n6u, tag="unreplied6", v6=True)
                    r = tr.do("udp_flows", port=PORT_ECHO, n=n6r, tag="replied6", expect_reply=True, v6=True)
                    ck.eq("echo replies over IPv6", n6r, r["replies"])
                else:
                    eu.log(f"no IPv6 on lo in the namespace ({v6.get('why')}): IPv4 only")

                want1 = {("udp", "unreplied"): N_UNREPLIED + n6u, ("udp", "replied"): N_REPLIED + N_ASSURED + n6r,
                         ("icmp", "replied"): N_ICMP}
                k = eu.wait_kernel(ns, lambda k: dict(k.states) == want1, f"kernel states {want1}")
                eu.log(f"kernel before ASSURED: {k}")

                def extra(k, m):
                    probs = []
                    for proto, n in (("udp", N_UNREPLIED + N_REPLIED + N_ASSURED + n6u + n6r), ("icmp", N_ICMP)):
                        if eu.events(m, "new", proto) != n:
                            probs.append(f'nf_conntrack_events_total{{type="new",protocol="{proto}"}}: expected '
                                         f"{n} (one per entry), got {eu.events(m, 'new', proto)}")
                    if eu.events(m, "destroy", "udp") or eu.events(m, "destroy", "icmp"):
                        probs.append("DESTROY events although no entry went away")
                    return probs

                eu.require(ck, "exporter vs kernel: unreplied and replied", eu.converge(ns, exp, 10, extra=extra))

                # ASSURED: the kernel sets it on a packet of a flow that has seen a reply and is
                # older than 2 seconds; send again until it has.
                want2 = {("udp", "unreplied"): N_UNREPLIED + n6u, ("udp", "replied"): N_REPLIED + n6r,
                         ("udp", "assured"): N_ASSURED, ("icmp", "replied"): N_ICMP}
                k = None
                for _ in eu.deadline_loop(15, 0.25):
                    tr.do("udp_again", tag="assured", expect_reply=True)
                    k = eu.kernel(ns)
                    if dict(k.states) == want2:
                        break
                if dict(k.states) != want2:
                    nfce.fail(f"the kernel never assured the UDP flows: expected {want2}, last reading {k}")
                eu.log(f"kernel after ASSURED: {k}")
                k, m = eu.require(ck, "exporter vs kernel: with assured", eu.converge(ns, exp, 10, extra=extra))
                if m is not None:
                    eu.check_series_shape(ck, m)
                    ck.eq('nf_conntrack_resyncs_total{reason="startup"}', 1.0, eu.resyncs(m, "startup"))
                    for r in ("overrun", "periodic"):
                        ck.eq(f'nf_conntrack_resyncs_total{{reason="{r}"}} (counts must come from events)', 0.0,
                              eu.resyncs(m, r))
                    ck.true('nf_conntrack_events_total{type="update",protocol="udp"} counts the replies and ASSURED',
                            eu.events(m, "update", "udp") >= N_REPLIED + n6r + 2 * N_ASSURED,
                            f"expected >= {N_REPLIED + n6r + 2 * N_ASSURED}, got {eu.events(m, 'update', 'udp')}")
                    if v6["ipv6"]:
                        ck.eq("IPv6 entries in conntrack -L", n6u + n6r,
                              sum(1 for e in k.entries if ":" in e.orig["src"]))
            ck.eq("exporter exit status on SIGTERM", 0, exp.stop())


if __name__ == "__main__":
    nfce.main(test)
