#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""events_restart_nonempty: the exporter starts on a table that already holds entries.

1. Before the exporter starts: established TCP connections and unreplied UDP flows, some in
   zone 4. Part of them are "silent": an nft rule gives them `ct event set 0x0` (and ct mark
   7), so they never send an event, not even DESTROY. (Entries created while nobody listens
   are meant to be like that with nf_conntrack_events=2, but the kernel's "has listener" flag
   is global: any ctnetlink listener in any namespace, e.g. another test's exporter, gives new
   entries everywhere the event extension. The rule makes the test independent of that.)
2. Right after startup the counts (per protocol/state, per zone, total) equal the kernel's,
   with resyncs_total{reason="startup"} 1, and no periodic resync follows while they agree.
3. `conntrack -D -m 7` deletes the silent entries: no DESTROY event comes, only the periodic
   check (kernel count vs ours, 2 quiet seconds) can notice. The counts must come back to the
   kernel's within a few seconds, with resyncs_total{reason="periodic"} >= 1, and no lifetime
   observed (those flows were not born under the exporter's eyes).
4. New flows after the resync are counted from their events, without another resync."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import events_util as eu  # noqa: E402
import nfce  # noqa: E402

P_TCP_SILENT, P_TCP, P_UDP_SILENT, P_UDP, P_UDP_Z4 = 23000, 23001, 23100, 23101, 23102
N_TCP_SILENT, N_TCP, N_UDP_SILENT, N_UDP, N_UDP_Z4 = 6, 4, 10, 5, 2
NFT = f"""
add chain inet t zones {{ type filter hook output priority -300; }}
add rule inet t zones udp dport {P_UDP_Z4} ct zone set 4
add chain inet t silent {{ type filter hook output priority -10; }}
add rule inet t silent tcp dport {P_TCP_SILENT} ct event set 0x0 ct mark set 7
add rule inet t silent udp dport {{ {P_UDP_SILENT}, {P_UDP_Z4} }} ct event set 0x0 ct mark set 7
"""


def test(ck):
    with nfce.Netns("events_restart_nonempty", nft=NFT) as ns:
        # UDP entries live 10 minutes, not 30 s: none expires (silently) even on a slow machine
        ns.udp_timeout_policy("udplong", 600, f"udp dport {P_UDP_SILENT}-{P_UDP_Z4}")
        with ns.traffic() as tr:
            for p in (P_TCP_SILENT, P_TCP):
                tr.do("tcp_listen", port=p)
            for p in (P_UDP_SILENT, P_UDP, P_UDP_Z4):
                tr.do("udp_server", port=p, echo=False)
            tr.do("tcp_established", port=P_TCP_SILENT, n=N_TCP_SILENT, tag="ts")
            tr.do("tcp_established", port=P_TCP, n=N_TCP, tag="t")
            tr.do("udp_flows", port=P_UDP_SILENT, n=N_UDP_SILENT, tag="us")
            tr.do("udp_flows", port=P_UDP, n=N_UDP, tag="u")
            tr.do("udp_flows", port=P_UDP_Z4, n=N_UDP_Z4, tag="uz")
            n_all = N_TCP_SILENT + N_TCP + N_UDP_SILENT + N_UDP + N_UDP_Z4
            n_silent = N_TCP_SILENT + N_UDP_SILENT + N_UDP_Z4
            k = eu.wait_kernel(ns, lambda k: k.count == n_all and sum(1 for e in k.entries if e.mark == 7) == n_silent,
                               f"{n_all} entries, {n_silent} with mark 7")
            eu.log(f"kernel before the exporter starts: {k}")

            with nfce.Exporter(ns) as exp:
                t_start = time.monotonic()
                eu.wait_synced(exp)
                k, m = eu.require(ck, "exporter vs kernel right after startup", eu.converge(ns, exp, 5))
                eu.log(f"synced {time.monotonic() - t_start:.2f}s after start")
                if m is not None:
                    eu.check_series_shape(ck, m)
                    ck.eq('nf_conntrack_resyncs_total{reason="startup"}', 1.0, eu.resyncs(m, "startup"))
                    ck.eq("zone_entries after startup", {"0": float(n_all - N_UDP_Z4), "4": float(N_UDP_Z4)},
                          eu.zones_of(m))
                    ck.true("nf_conntrack_resync_duration_seconds in [0, 5]",
                            0 <= (m.get("nf_conntrack_resync_duration_seconds") or -1) <= 5,
                            repr(m.get("nf_conntrack_resync_duration_seconds")))

                # While the counts agree nothing is resynced: watch for 3 s (the check needs 2).
                for _ in eu.deadline_loop(3, 0.3):
                    m = exp.scrape()
                    if eu.resyncs(m, "periodic") != 0 or eu.resyncs(m, "overrun") != 0:
                        break
                for r in ("periodic", "overrun"):
                    ck.eq(f'nf_conntrack_resyncs_total{{reason="{r}"}} while the counts agree', 0.0, eu.resyncs(m, r))

                n = eu.conntrack_delete(ns, "-m", "7")
                t_del = time.monotonic()
                ck.eq("conntrack -D -m 7 deleted the silent entries", n_silent, n)

                def healed(k, m):
                    if (eu.resyncs(m, "periodic") or 0) < 1:
                        return ['nf_conntrack_resyncs_total{reason="periodic"} still 0']
                    return []

                k, m = eu.require(ck, "exporter vs kernel after the silent deletions",
                                  eu.converge(ns, exp, 12, extra=healed))
                eu.log(f"healed {time.monotonic() - t_del:.2f}s after the deletions")
                if m is not None:
                    ck.eq("kernel entries left", n_all - n_silent, k.count)
                    ck.eq('nf_conntrack_resyncs_total{reason="periodic"}', 1.0, eu.resyncs(m, "periodic"))
                    ck.eq('nf_conntrack_resyncs_total{reason="overrun"}', 0.0, eu.resyncs(m, "overrun"))
                    for proto in ("tcp", "udp"):
                        d = eu.events(m, "destroy", proto)
                        if d:
                            nfce.fail(f'{d} DESTROY events for {proto}: the silenced entries did send events, so '
                                      f"this run did not test the periodic resync (nft `ct event set 0x0` ignored?)")
                        ck.eq(f"nf_conntrack_flow_lifetime_seconds_count{{protocol=\"{proto}\"}} "
                              "(no flow born under the exporter's eyes died)", 0, eu.lifetime(m, proto)[0])
                    ck.eq("zone_entries after the deletions", {"0": float(n_all - n_silent)},
                          eu.nonzero(eu.zones_of(m)))

                # After the resync the record follows events again.
                tr.do("udp_flows", port=P_UDP, n=3, tag="u2")
                k, m = eu.require(ck, "exporter vs kernel, new flows after the resync", eu.converge(ns, exp, 10))
                if m is not None:
                    ck.eq("kernel entries", n_all - n_silent + 3, k.count)
                    ck.eq('nf_conntrack_events_total{type="new",protocol="udp"}', 3.0,
                          float(eu.events(m, "new", "udp")))
                    ck.eq('nf_conntrack_resyncs_total{reason="periodic"} (no second one)', 1.0,
                          eu.resyncs(m, "periodic"))
                ck.eq("exporter exit status on SIGTERM", 0, exp.stop())


if __name__ == "__main__":
    nfce.main(test)
