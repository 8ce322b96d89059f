#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""events_tcp_states: TCP connections driven into eight conntrack states (syn_sent, syn_recv,
established, fin_wait, close_wait, last_ack, time_wait, close) while the exporter listens;
nf_conntrack_state_entries{protocol="tcp",state} must equal conntrack -L's per-state counts
once the table is quiet, and the sums of state_entries and zone_entries must equal
nf_conntrack_entries and conntrack -C. The counts must come from events: no resync other than
the startup one, and one NEW event per connection.

How each state is held (ruleset in the namespace, loopback only):
  syn_sent     connect to PORT_SYN_SENT; the SYN is dropped at input (after conntrack saw it)
  syn_recv     connect to PORT_SYN_RECV (listening); its SYN-ACK is dropped at input
  established  connected, one byte each way
  fin_wait     established; then server->client packets bypass conntrack (notrack): the
               client's FIN is ACKed, but conntrack never sees the ACK
  close_wait   client shutdown(SHUT_WR): FIN and its ACK, the server keeps its side open
  last_ack     close_wait, then client->server packets bypass conntrack and the server
               closes: conntrack never sees the last ACK
  time_wait    closed by both sides in order
  close        RST (SO_LINGER 0) on established connections
Connects to a closed port are refused: the kernel deletes such an entry at once (only reply a
RST), so they make NEW and DESTROY events but no entry.
A ct timeout policy (nft, no sysctl) keeps close and last_ack entries for 5 minutes instead of
10 s / 30 s, so that they are still there when the test compares.
The counts differ from each other, so that two states swapped or merged show."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import events_util as eu  # noqa: E402
import nfce  # noqa: E402

PORT_MAIN, PORT_SYN_SENT, PORT_SYN_RECV = 20000, 20001, 20002
PORT_CLOSED, PORT_FIN_WAIT, PORT_LAST_ACK = 20003, 20004, 20005
N = {"syn_sent": 2, "syn_recv": 3, "established": 7, "fin_wait": 4, "close_wait": 5, "last_ack": 6,
     "time_wait": 8, "close_rst": 6, "close_refused": 4}

NFT = f"""
add chain inet t in {{ type filter hook input priority 0; }}
add rule inet t in tcp dport {PORT_SYN_SENT} drop
add rule inet t in tcp sport {PORT_SYN_RECV} tcp flags & (syn | ack) == syn | ack drop
add set inet t untracked_sport {{ type inet_service; }}
add set inet t untracked_dport {{ type inet_service; }}
add chain inet t early {{ type filter hook output priority -310; }}
add rule inet t early tcp sport @untracked_sport notrack
add rule inet t early tcp dport @untracked_dport notrack
"""
NFT_TIMEOUT = f"""
add ct timeout inet t tcplong {{ protocol tcp; l3proto ip; policy = {{ close: 300, last_ack: 300 }}; }}
add chain inet t tmo {{ type filter hook output priority -10; }}
add rule inet t tmo tcp dport {PORT_MAIN}-{PORT_LAST_ACK} ct timeout set "tcplong"
"""


def test(ck):
    with nfce.Netns("events_tcp_states", nft=NFT) as ns:
        with nfce.Exporter(ns) as exp:
            long_close = ns.nft(NFT_TIMEOUT, check=False).returncode == 0
            if not long_close:
                eu.log("no nft ct timeout support: close entries expire after 10 s, checked loosely")
            m0 = eu.wait_synced(exp)
            eu.check_series_shape(ck, m0)
            ck.eq("state entries of an empty table", {}, eu.nonzero(eu.states_of(m0)))
            with ns.traffic() as tr:
                for p in (PORT_MAIN, PORT_SYN_RECV, PORT_FIN_WAIT, PORT_LAST_ACK):
                    tr.do("tcp_listen", port=p)
                tr.do("tcp_established", port=PORT_MAIN, n=N["established"], tag="est")
                tr.do("tcp_established", port=PORT_MAIN, n=N["close_wait"], tag="cw")
                tr.do("shutdown_wr", tag="cw")
                tr.do("tcp_established", port=PORT_MAIN, n=N["time_wait"], tag="tw")
                tr.do("close", tag="tw", side="both", wait_eof=True)
                tr.do("tcp_established", port=PORT_MAIN, n=N["close_rst"], tag="rst")
                tr.do("close", tag="rst", side="client", rst=True)
                tr.do("tcp_connect_nb", port=PORT_CLOSED, n=N["close_refused"], tag="refused")
                tr.do("tcp_connect_nb", port=PORT_SYN_SENT, n=N["syn_sent"], tag="ss")
                tr.do("tcp_connect_nb", port=PORT_SYN_RECV, n=N["syn_recv"], tag="sr")
                tr.do("tcp_established", port=PORT_FIN_WAIT, n=N["fin_wait"], tag="fw")
                ns.nft(f"add element inet t untracked_sport {{ {PORT_FIN_WAIT} }}")
                tr.do("shutdown_wr", tag="fw")
                tr.do("tcp_established", port=PORT_LAST_ACK, n=N["last_ack"], tag="la")
                tr.do("shutdown_wr", tag="la")
                # the server's ACK of the client's FIN must have passed before the block
                k = eu.wait_kernel(
                    ns, lambda k: sum(1 for e in k.entries if e.orig.get("dport") == str(PORT_LAST_ACK)
                                      and e.tcp_state == "CLOSE_WAIT") == N["last_ack"],
                    f"{N['last_ack']} CLOSE_WAIT entries to port {PORT_LAST_ACK}")
                ns.nft(f"add element inet t untracked_dport {{ {PORT_LAST_ACK} }}")
                tr.do("close", tag="la", side="server")

                # The kernel must hold what the test meant to make.
                want = {"syn_sent": N["syn_sent"], "syn_recv": N["syn_recv"], "established": N["established"],
                        "fin_wait": N["fin_wait"], "close_wait": N["close_wait"], "last_ack": N["last_ack"],
                        "time_wait": N["time_wait"]}

                def made(k):
                    tcp = {s: k.states.get(("tcp", s), 0) for s in eu.TCP_STATES}
                    n_close = N["close_rst"]
                    return all(tcp[s] == n for s, n in want.items()) and (
                        tcp["close"] == n_close if long_close else tcp["close"] <= n_close)

                k = eu.wait_kernel(ns, made, f"TCP states {want} and close {N['close_rst']}")
                eu.log(f"kernel: {k}")

                def extra(k, m):
                    probs = []
                    n_tcp = sum(N.values())
                    if eu.events(m, "new", "tcp") != n_tcp:
                        probs.append(f'nf_conntrack_events_total{{type="new",protocol="tcp"}}: expected {n_tcp} '
                                     f"(one per connection), got {eu.events(m, 'new', 'tcp')}")
                    return probs

                k, m = eu.require(ck, "exporter vs kernel", eu.converge(ns, exp, 15, extra=extra))
                if m is not None:
                    eu.log("exporter: " + ", ".join(f"{s}={int(v)}" for (p, s), v in sorted(eu.states_of(m).items())
                                                    if p == "tcp"))
                    eu.check_series_shape(ck, m)
                    for r in ("startup",):
                        ck.eq(f'nf_conntrack_resyncs_total{{reason="{r}"}}', 1.0, eu.resyncs(m, r))
                    for r in ("overrun", "periodic"):
                        ck.eq(f'nf_conntrack_resyncs_total{{reason="{r}"}} (counts must come from events)', 0.0,
                              eu.resyncs(m, r))
                    ck.eq("nf_conntrack_event_overruns_total", 0.0, m.get("nf_conntrack_event_overruns_total"))
                    ck.eq("nf_conntrack_zone_entries", {"0": float(k.count)}, eu.zones_of(m))
            ck.eq("exporter exit status on SIGTERM", 0, exp.stop())


if __name__ == "__main__":
    nfce.main(test)
