#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""events_zones: conntrack zones set by nft (`ct zone set N` in an output chain at priority
raw, -300, before conntrack; both directions of a loopback TCP connection pass it):
  zone 0    4 unreplied UDP flows (to a silent socket)
  zone 5    3 unreplied UDP flows
  zone 9    6 established TCP connections
  zone 300  1 unreplied UDP flow
nf_conntrack_zone_entries{zone} must equal conntrack -L's zone=N counts (no zone= is zone 0),
first with the default cap, then after `conntrack -D -w 5` (DESTROY events) without zone 5.
Then a second exporter with --collector.events.max-zones=1 (its numbers from the startup dump):
only the biggest zone has a series of its own, the others are summed as zone="other"; and
after 7 more flows in zone 300 (NEW events) zone 300 is the biggest and takes the series."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import events_util as eu  # noqa: E402
import nfce  # noqa: E402

P0, P5, P9, P300 = 22000, 22005, 22009, 22300
NFT = f"""
add chain inet t zones {{ type filter hook output priority -300; }}
add rule inet t zones udp dport {P5} ct zone set 5
add rule inet t zones tcp dport {P9} ct zone set 9
add rule inet t zones tcp sport {P9} ct zone set 9
add rule inet t zones udp dport {P300} ct zone set 300
"""


def test(ck):
    with nfce.Netns("events_zones", nft=NFT) as ns:
        # UDP entries live 10 minutes, not 30 s: nothing expires even if the machine is slow
        ns.udp_timeout_policy("udplong", 600, f"udp dport {{ {P0}, {P5}, {P300} }}")
        with ns.traffic() as tr:
            with nfce.Exporter(ns) as exp:
                eu.check_series_shape(ck, eu.wait_synced(exp))
                for p in (P0, P5, P300):
                    tr.do("udp_server", port=p, echo=False)
                tr.do("tcp_listen", port=P9)
                tr.do("udp_flows", port=P0, n=4, tag="z0")
                tr.do("udp_flows", port=P5, n=3, tag="z5")
                tr.do("tcp_established", port=P9, n=6, tag="z9")
                tr.do("udp_flows", port=P300, n=1, tag="z300")
                want = {0: 4, 5: 3, 9: 6, 300: 1}
                k = eu.wait_kernel(ns, lambda k: dict(k.zones) == want, f"kernel zones {want}")
                eu.log(f"kernel: {k}")
                k, m = eu.require(ck, "exporter vs kernel, default max-zones", eu.converge(ns, exp, 10))
                if m is not None:
                    ck.eq("zone_entries (default cap)", {"0": 4.0, "5": 3.0, "9": 6.0, "300": 1.0}, eu.zones_of(m))

                n = eu.conntrack_delete(ns, "-w", "5")
                ck.eq("conntrack -D -w 5 deleted", 3, n)
                k, m = eu.require(ck, "exporter vs kernel after deleting zone 5", eu.converge(ns, exp, 10))
                if m is not None:
                    ck.eq("kernel zones after deleting zone 5", {0: 4, 9: 6, 300: 1}, dict(k.zones))
                    ck.eq("zone_entries after deleting zone 5", {"0": 4.0, "9": 6.0, "300": 1.0},
                          eu.nonzero(eu.zones_of(m)))
                    ck.eq('nf_conntrack_events_total{type="destroy",protocol="udp"}', 3.0,
                          float(eu.events(m, "destroy", "udp")))
                    for r in ("overrun", "periodic"):
                        ck.eq(f'nf_conntrack_resyncs_total{{reason="{r}"}}', 0.0, eu.resyncs(m, r))
                ck.eq("exporter exit status on SIGTERM", 0, exp.stop())

            with nfce.Exporter(ns, ["--collector.events.max-zones=1"]) as exp:
                eu.wait_synced(exp)
                k, m = eu.require(ck, "exporter vs kernel, max-zones=1", eu.converge(ns, exp, 10, zone_cap=1))
                if m is not None:
                    ck.eq("zone_entries with max-zones=1", {"9": 6.0, "other": 5.0}, eu.zones_of(m))
                tr.do("udp_flows", port=P300, n=7, tag="z300b")
                k = eu.wait_kernel(ns, lambda k: k.zones.get(300) == 8, "8 entries in zone 300")
                k, m = eu.require(ck, "exporter vs kernel, max-zones=1, zone 300 grown",
                                  eu.converge(ns, exp, 10, zone_cap=1))
                if m is not None:
                    ck.eq("zone_entries with max-zones=1 after zone 300 grew", {"300": 8.0, "other": 10.0},
                          eu.zones_of(m))
                    ck.eq('nf_conntrack_events_total{type="new",protocol="udp"}', 7.0,
                          float(eu.events(m, "new", "udp")))
                    ck.eq('nf_conntrack_resyncs_total{reason="startup"}', 1.0, eu.resyncs(m, "startup"))
                    for r in ("overrun", "periodic"):
                        ck.eq(f'nf_conntrack_resyncs_total{{reason="{r}"}}', 0.0, eu.resyncs(m, r))
                ck.eq("exporter (max-zones=1) exit status on SIGTERM", 0, exp.stop())


if __name__ == "__main__":
    nfce.main(test)
