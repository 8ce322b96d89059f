#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""events_expiry: entries that time out on their own send DESTROY events, and the exporter's
counts drop with the kernel's.

An nft ct timeout policy (no sysctl is touched) gives the short-lived entries TIMEOUT seconds:
  20 unreplied UDP flows (to a silent socket)
   5 TCP connections reset (SO_LINGER 0): state close
next to long-lived ones with the default timeouts: 5 unreplied UDP flows, 3 established TCP
connections (the UDP ones with a 10-minute policy, so that only the short ones expire). The
test first waits for the kernel's garbage collector, watching only `conntrack -C` (a dump would
evict expired entries itself); the collector is one for the whole machine and paces itself
(1 s to 60 s, after every namespace's entries), so GC_GRACE seconds past the timeout the test
reads the table with `conntrack -L` instead, whose walk kills the expired entries it meets:
the same expiry, the same DESTROY events. Expected: nf_conntrack_flow_lifetime_seconds_count
grows by 20 (udp) and 5 (tcp), every lifetime at least about TIMEOUT (nothing in the buckets up
to 1 s, sum within [n * (TIMEOUT - 0.5), n * (time waited + 0.3)]), DESTROY events 20/5, no
resync (the drop came from events). Takes 4 to 9 s; without ct timeout support in the kernel
it falls back to the default UDP timeout (30 s) and UDP only."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import events_util as eu  # noqa: E402
import nfce  # noqa: E402

TIMEOUT = 3
GC_GRACE = 5
P_UDP_SHORT, P_UDP_LONG, P_TCP_SHORT, P_TCP_LONG = 24000, 24001, 24002, 24003
N_UDP_SHORT, N_UDP_LONG, N_TCP_SHORT, N_TCP_LONG = 20, 5, 5, 3
NFT = f"""
add ct timeout inet t udpshort {{ protocol udp; l3proto ip; policy = {{ unreplied: {TIMEOUT}, replied: {TIMEOUT} }}; }}
add ct timeout inet t tcpshort {{ protocol tcp; l3proto ip; policy = {{ close: {TIMEOUT} }}; }}
add chain inet t tmo {{ type filter hook output priority -10; }}
add rule inet t tmo udp dport {P_UDP_SHORT} ct timeout set "udpshort"
add rule inet t tmo tcp dport {P_TCP_SHORT} ct timeout set "tcpshort"
"""


def test(ck):
    with nfce.Netns("events_expiry") as ns:
        short = ns.nft(NFT, check=False).returncode == 0
        if short:
            ns.udp_timeout_policy("udplong", 600, f"udp dport {P_UDP_LONG}")
        timeout = TIMEOUT
        n_tcp_short, n_udp_long = N_TCP_SHORT, N_UDP_LONG
        if not short:
            timeout = int(ns.read_files(f"{nfce.NF_SYSCTL}/nf_conntrack_udp_timeout")
                          [f"{nfce.NF_SYSCTL}/nf_conntrack_udp_timeout"])
            n_tcp_short = n_udp_long = 0
            eu.log(f"no nft ct timeout support: waiting for the default UDP timeout, {timeout} s")
        with nfce.Exporter(ns) as exp:
            eu.check_series_shape(ck, eu.wait_synced(exp))
            with ns.traffic() as tr:
                for p in (P_UDP_SHORT, P_UDP_LONG):
                    tr.do("udp_server", port=p, echo=False)
                for p in (P_TCP_SHORT, P_TCP_LONG):
                    tr.do("tcp_listen", port=p)
                tr.do("tcp_established", port=P_TCP_LONG, n=N_TCP_LONG, tag="tl")
                if n_udp_long:
                    tr.do("udp_flows", port=P_UDP_LONG, n=n_udp_long, tag="ul")
                t0 = time.monotonic()
                tr.do("udp_flows", port=P_UDP_SHORT, n=N_UDP_SHORT, tag="us")
                if n_tcp_short:
                    tr.do("tcp_established", port=P_TCP_SHORT, n=n_tcp_short, tag="ts")
                    tr.do("close", tag="ts", side="client", rst=True)
                n_all = N_UDP_SHORT + n_udp_long + n_tcp_short + N_TCP_LONG
                n_long = n_udp_long + N_TCP_LONG

                # Before expiry: all of them counted. Compared with conntrack -C only: a dump
                # (conntrack -L) would evict entries that have just expired by itself.
                want_states = {("udp", "unreplied"): N_UDP_SHORT + n_udp_long, ("tcp", "established"): N_TCP_LONG}
                if n_tcp_short:
                    want_states[("tcp", "close")] = n_tcp_short
                got = None
                for _ in eu.deadline_loop(max(0.5, t0 + timeout - 0.3 - time.monotonic()), 0.05):
                    c1 = ns.conntrack_count()
                    m = exp.scrape()
                    c2 = ns.conntrack_count()
                    got = (c1, c2, eu.nonzero(eu.states_of(m)), m.get("nf_conntrack_entries"),
                           eu.lifetime(m, "udp")[0] + eu.lifetime(m, "tcp")[0])
                    if got == (n_all, n_all, want_states, n_all, 0):
                        break
                if got != (n_all, n_all, want_states, n_all, 0):
                    if got[0] == got[1] == n_all:
                        ck.fail("exporter before expiry",
                                f"expected states {want_states}, nf_conntrack_entries {n_all}, "
                                f"no lifetime observed; got states {got[2]}, entries {got[3]}, lifetimes {got[4]}")
                    else:  # too slow: entries went away before we could compare
                        eu.log(f"warning: no comparison before expiry (the kernel count moved: {got[:2]})")

                # Wait for the expiry. The kernel's garbage collector is one for the whole
                # machine and tunes its own pace (from 1 s to a minute, depending on every
                # namespace's entries): give it GC_GRACE seconds past the timeout, watching only
                # the count; after that, read the table with a dump, which makes the kernel
                # notice the expired entries it walks over and kill them (same DESTROY event).
                count, how = None, None
                for _ in eu.deadline_loop(timeout + GC_GRACE + 20, 0.1):
                    if time.monotonic() < t0 + timeout + GC_GRACE:
                        count, how = ns.conntrack_count(), "garbage collector"
                    else:
                        count, how = eu.kernel(ns).count, "dump"
                    if count <= n_long:
                        break
                waited = time.monotonic() - t0
                if count != n_long:
                    nfce.fail(f"the expired entries did not go within {timeout + GC_GRACE + 20}s: "
                              f"conntrack -C {count}, expected {n_long}")
                eu.log(f"the short-lived entries went {waited:.2f}s after they were made (noticed by the {how})")

                def extra(k, m):
                    probs = []
                    for proto, n in (("udp", N_UDP_SHORT), ("tcp", n_tcp_short)):
                        if eu.lifetime(m, proto)[0] != n:
                            probs.append(f'nf_conntrack_flow_lifetime_seconds_count{{protocol="{proto}"}}: '
                                         f"expected {n}, got {eu.lifetime(m, proto)[0]}")
                    return probs

                k, m = eu.require(ck, "exporter vs kernel after expiry", eu.converge(ns, exp, 10, extra=extra))
                if m is not None:
                    ck.eq("kernel entries after expiry", n_long, k.count)
                    for proto, n in (("udp", N_UDP_SHORT), ("tcp", n_tcp_short)):
                        if not n:
                            continue
                        cnt, total, buckets = eu.lifetime(m, proto)
                        ck.eq(f'nf_conntrack_events_total{{type="destroy",protocol="{proto}"}}', float(n),
                              float(eu.events(m, "destroy", proto)))
                        ck.eq(f'lifetime_bucket{{protocol="{proto}",le="+Inf"}}', float(n), buckets.get("+Inf"))
                        ck.eq(f'lifetime_bucket{{protocol="{proto}",le="1"}} (all lived >= {timeout}s)', 0.0,
                              buckets.get("1"))
                        ck.between(f'nf_conntrack_flow_lifetime_seconds_sum{{protocol="{proto}"}}',
                                   n * (timeout - 0.5), total, n * (waited + 0.3))
                        les = sorted((float(le), v) for le, v in buckets.items() if le != "+Inf")
                        ck.true(f"lifetime buckets of {proto} are cumulative",
                                all(a[1] <= b[1] for a, b in zip(les, les[1:])) and (not les or les[-1][1] <= n),
                                repr(les))
                    ck.eq("state entries after expiry",
                          eu.nonzero({("udp", "unreplied"): n_udp_long, ("tcp", "established"): N_TCP_LONG}),
                          eu.nonzero(eu.states_of(m)))
                    for r in ("overrun", "periodic"):
                        ck.eq(f'nf_conntrack_resyncs_total{{reason="{r}"}} (the drop must come from events)', 0.0,
                              eu.resyncs(m, r))
            ck.eq("exporter exit status on SIGTERM", 0, exp.stop())


if __name__ == "__main__":
    nfce.main(test)
