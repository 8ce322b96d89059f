#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""events_zones_directional: zones set for one direction only (issue 15, item 4). nft in an
output chain at priority raw (-300), before conntrack:
  zone 0                 2 unreplied UDP flows
  `ct original zone set 9`  3 unreplied UDP flows      (conntrack -L: zone-orig=9)
  `ct reply zone set 7`     4 unreplied UDP flows      (zone-reply=7)
  `ct zone set 5`           1 unreplied UDP flow       (zone=5, both directions)
  `ct original zone set 19` 2 established TCP connections (on the client's packets only)
An entry has one zone id, whichever directions it applies to; nf_conntrack_zone_entries counts
it under that id (docs/metrics.md), which is what `conntrack -L --orig-zone N` /
`--reply-zone N` / `-w N` list between them (`-w N` alone lists only zones for both
directions). Checked from NEW events, after `conntrack -D --reply-zone 7` (DESTROY events),
and from a second exporter's startup dump."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import events_util as eu  # noqa: E402
import nfce  # noqa: E402

P0, P9, P7, P5, P19 = 23000, 23009, 23007, 23005, 23019
NFT = f"""
add chain inet t zones {{ type filter hook output priority -300; }}
add rule inet t zones udp dport {P9} ct original zone set 9
add rule inet t zones udp dport {P7} ct reply zone set 7
add rule inet t zones udp dport {P5} ct zone set 5
add rule inet t zones tcp dport {P19} ct original zone set 19
"""


def listed(ns, *args):
    """How many entries `conntrack -L ARGS` lists."""
    return len(eu.parse_conntrack_L(ns.run(["conntrack", "-L"] + list(args)).stdout))


def test(ck):
    with nfce.Netns("events_zones_directional", nft=NFT) as ns:
        # UDP entries live 10 minutes, not 30 s: nothing expires even if the machine is slow
        ns.udp_timeout_policy("udplong", 600, f"udp dport {{ {P0}, {P9}, {P7}, {P5} }}")
        with ns.traffic() as tr:
            with nfce.Exporter(ns) as exp:
                eu.check_series_shape(ck, eu.wait_synced(exp))
                for p in (P0, P9, P7, P5):
                    tr.do("udp_server", port=p, echo=False)
                tr.do("tcp_listen", port=P19)
                tr.do("udp_flows", port=P0, n=2, tag="z0")
                tr.do("udp_flows", port=P9, n=3, tag="z9")
                tr.do("udp_flows", port=P7, n=4, tag="z7")
                tr.do("udp_flows", port=P5, n=1, tag="z5")
                tr.do("tcp_established", port=P19, n=2, tag="z19")
                want = {0: 2, 9: 3, 7: 4, 5: 1, 19: 2}
                k = eu.wait_kernel(ns, lambda k: dict(k.zones) == want, f"kernel zones {want}")
                eu.log(f"kernel: {k}")
                ck.eq("conntrack -L --orig-zone 9", 3, listed(ns, "--orig-zone", "9"))
                ck.eq("conntrack -L --reply-zone 7", 4, listed(ns, "--reply-zone", "7"))
                ck.eq("conntrack -L --orig-zone 19", 2, listed(ns, "--orig-zone", "19"))
                ck.eq("conntrack -L -w 5", 1, listed(ns, "-w", "5"))
                ck.eq("conntrack -L -w 9 (zones for both directions only)", 0, listed(ns, "-w", "9"))
                k, m = eu.require(ck, "exporter vs kernel, from events", eu.converge(ns, exp, 10))
                if m is not None:
                    ck.eq("zone_entries from events", {"0": 2.0, "9": 3.0, "7": 4.0, "5": 1.0, "19": 2.0},
                          eu.zones_of(m))
                    ck.eq('nf_conntrack_state_entries{protocol="tcp",state="established"}', 2.0,
                          eu.states_of(m).get(("tcp", "established")))

                n = eu.conntrack_delete(ns, "--reply-zone", "7")
                ck.eq("conntrack -D --reply-zone 7 deleted", 4, n)
                k, m = eu.require(ck, "exporter vs kernel after deleting zone-reply 7", eu.converge(ns, exp, 10))
                if m is not None:
                    ck.eq("zone_entries after deleting zone-reply 7", {"0": 2.0, "9": 3.0, "5": 1.0, "19": 2.0},
                          eu.nonzero(eu.zones_of(m)))
                    ck.eq('nf_conntrack_events_total{type="destroy",protocol="udp"}', 4.0,
                          float(eu.events(m, "destroy", "udp")))
                    for r in ("overrun", "periodic"):
                        ck.eq(f'nf_conntrack_resyncs_total{{reason="{r}"}}', 0.0, eu.resyncs(m, r))
                ck.eq("exporter exit status on SIGTERM", 0, exp.stop())

            tr.do("udp_flows", port=P7, n=4, tag="z7b")
            eu.wait_kernel(ns, lambda k: k.zones.get(7) == 4, "4 entries in zone-reply 7 again")
            with nfce.Exporter(ns) as exp:
                eu.wait_synced(exp)
                k, m = eu.require(ck, "exporter vs kernel, from the startup dump", eu.converge(ns, exp, 10))
                if m is not None:
                    ck.eq("zone_entries from the startup dump", {"0": 2.0, "9": 3.0, "7": 4.0, "5": 1.0, "19": 2.0},
                          eu.zones_of(m))
                ck.eq("second exporter exit status on SIGTERM", 0, exp.stop())


if __name__ == "__main__":
    nfce.main(test)
