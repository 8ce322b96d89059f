#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""events_overrun: the exporter with --collector.events.buffer-size=4KiB (the kernel doubles it:
nf_conntrack_event_socket_buffer_bytes 8192) and a burst of thousands of new UDP flows, as
fast as one socket sends datagrams to consecutive ports: the kernel drops events (ENOBUFS),
so nf_conntrack_event_overruns_total > 0, a resync with reason "overrun" follows, and once
the burst is over the counts equal the kernel's again. Up to MAX_BURSTS bursts are sent until
an overrun is seen; none at all fails the test.

A ct timeout policy (nft) gives the burst's entries 10 minutes, so that none expires during
the test (with the default 30 s, thousands of DESTROY events would arrive mid-test)."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import events_util as eu  # noqa: E402
import nfce  # noqa: E402

BASE, BURST, MAX_BURSTS = 25000, 5000, 4


def test(ck):
    with nfce.Netns("events_overrun") as ns:
        ns.udp_timeout_policy("udplong", 600, f"udp dport {BASE}-{BASE + BURST - 1}")
        with nfce.Exporter(ns, ["--collector.events.buffer-size=4KiB"]) as exp:
            m = eu.wait_synced(exp)
            eu.check_series_shape(ck, m)
            ck.eq("nf_conntrack_event_socket_buffer_bytes (4 KiB, doubled by the kernel)", 8192.0,
                  m.get("nf_conntrack_event_socket_buffer_bytes"))
            ck.eq("nf_conntrack_event_overruns_total before the burst", 0.0, m.get("nf_conntrack_event_overruns_total"))
            ck.eq('nf_conntrack_resyncs_total{reason="startup"}', 1.0, eu.resyncs(m, "startup"))
            with ns.traffic(60) as tr:
                sent = 0
                for i in range(MAX_BURSTS):
                    r = tr.do("udp_ports", base=BASE, n=BURST)
                    sent += r["sent"]
                    eu.log(f"burst {i + 1}: {r['sent']} flows in {r['seconds']:.3f}s")
                    m = exp.scrape()
                    if (m.get("nf_conntrack_event_overruns_total") or 0) > 0:
                        break
                t_end = time.monotonic()
                overruns = m.get("nf_conntrack_event_overruns_total") or 0
                ck.true("nf_conntrack_event_overruns_total > 0 after the burst", overruns > 0,
                        f"got {overruns} after {sent} new flows with a 4 KiB buffer")

                def resynced(k, m):
                    if (eu.resyncs(m, "overrun") or 0) < 1:
                        return ['nf_conntrack_resyncs_total{reason="overrun"} still 0']
                    return []

                k, m = eu.require(ck, "exporter vs kernel after the burst", eu.converge(ns, exp, 30, extra=resynced))
                eu.log(f"converged {time.monotonic() - t_end:.2f}s after the burst: {k}")
                if m is not None:
                    ck.eq("kernel entries (one per datagram)", sent, k.count)
                    ck.true("overruns counted in the last scrape too",
                            (m.get("nf_conntrack_event_overruns_total") or 0) >= overruns,
                            f"{m.get('nf_conntrack_event_overruns_total')} < {overruns}")
                    ck.true('nf_conntrack_resyncs_total{reason="overrun"} >= 1', (eu.resyncs(m, "overrun") or 0) >= 1,
                            repr(eu.resyncs(m, "overrun")))
                    ck.true('nf_conntrack_events_total{type="new",protocol="udp"} < flows sent (events were lost)',
                            eu.events(m, "new", "udp") < sent, f"{eu.events(m, 'new', 'udp')} vs {sent}")
                    ck.true("nf_conntrack_resync_duration_seconds in [0, 30]",
                            0 <= (m.get("nf_conntrack_resync_duration_seconds") or -1) <= 30,
                            repr(m.get("nf_conntrack_resync_duration_seconds")))
                    eu.check_series_shape(ck, m)
                # and the record follows events again: a few more flows, no new overrun needed
                tr.do("udp_ports", base=BASE, n=20)
                k, m = eu.require(ck, "exporter vs kernel after 20 more flows", eu.converge(ns, exp, 15))
                if m is not None:
                    ck.eq("kernel entries", sent + 20, k.count)
            ck.eq("exporter exit status on SIGTERM", 0, exp.stop())


if __name__ == "__main__":
    nfce.main(test)
