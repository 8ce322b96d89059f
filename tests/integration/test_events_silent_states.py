#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""events_silent_states: entries that never send events still get their state changes counted.

Established TCP connections made before the exporter starts, with `ct event set 0x0` (what
nf_conntrack_events=2 gives entries born before any listener), are known to the exporter only
from its startup dump. When they are closed, the kernel moves them to TIME_WAIT without a word
and the total count does not change, so only the slow re-dump of silent entries (every 30 s, or
50 times the last dump's length) can notice. The counts per state must match the kernel's again
within that period, and nf_conntrack_event_silent_entries must say how many there are."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import events_util as eu  # noqa: E402
import nfce  # noqa: E402

PORT, N = 23300, 5
NFT = f"""
add chain inet t silent {{ type filter hook output priority -10; }}
add rule inet t silent tcp dport {PORT} ct event set 0x0
"""


def test(ck):
    with nfce.Netns("events_silent_states", nft=NFT) as ns:
        with ns.traffic() as tr:
            tr.do("tcp_listen", port=PORT)
            tr.do("tcp_established", port=PORT, n=N, tag="s")
            eu.wait_kernel(ns, lambda k: k.count == N, f"{N} established entries")
            with nfce.Exporter(ns) as exp:
                eu.wait_synced(exp)
                k, m = eu.require(ck, "exporter vs kernel after startup", eu.converge(ns, exp, 5))
                if m is not None:
                    ck.eq("nf_conntrack_event_silent_entries after startup", float(N),
                          m.get("nf_conntrack_event_silent_entries"))
                tr.do("close", tag="s", side="both", wait_eof=True)
                eu.wait_kernel(ns, lambda k: sum(e.key() == ("tcp", "time_wait") for e in k.entries) == N,
                               f"{N} entries in time_wait")
                k, m = eu.require(ck, "exporter vs kernel after the silent closes",
                                  eu.converge(ns, exp, 45))
                if m is not None:
                    ck.eq('nf_conntrack_state_entries{protocol="tcp",state="time_wait"}',
                          float(N), eu.states_of(m).get(("tcp", "time_wait")))
                    ck.true('nf_conntrack_resyncs_total{reason="periodic"} >= 1',
                            (eu.resyncs(m, "periodic") or 0) >= 1, repr(eu.resyncs(m, "periodic")))
                ck.eq("exporter exit status on SIGTERM", 0, exp.stop())


if __name__ == "__main__":
    nfce.main(test)
