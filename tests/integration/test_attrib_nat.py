#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""attrib_nat: DNAT targets and SNAT port usage (issue 13), with real nft NAT rules on the test
namespace's loopback (NAT applies there: output for dnat, postrouting for snat):
  DNAT  UDP to 127.0.0.10:5353, `dnat to numgen inc mod 3 map { 0: .20, 1: .20, 2: .21 }`:
        30 flows, 2/3 to 127.0.0.20, 1/3 to 127.0.0.21 (port kept; unanswered)
        TCP to 127.0.0.10:8080 `dnat to 127.0.0.30:18080`: 6 established connections
  SNAT  UDP to 127.0.0.50:7000 `snat to 127.0.0.99:20000-20099`: 60 flows (100 ports)
        UDP to 127.0.0.51:7001 `snat to 127.0.0.98` (no range: source ports kept): 5 flows
        UDP to 127.0.0.52:7003 `snat to 127.0.0.99:20000-20099`: 10 flows (the same address to
        another destination: the same ports again, not the busiest)
  IPv6  UDP to [fd00::10]:5353 `dnat to [fd00::20]:5354`: 7 flows; UDP to [fd00::50]:7002
        `snat to [fd00::99]:20000-20099`: 9 flows (the fd00:: addresses on lo, nodad)
Exporter A: --collector.attribution.top-k=5 --collector.attribution.snat-port-range=20000-20099;
exporter B: defaults (range 1024-65535, 64512 ports); exporter C: top-k 1 (127.0.0.99 and "other").
Checked against `conntrack -L` (an entry is DNAT'ed when its reply source differs from its
original destination, SNAT'ed when its reply destination differs from its original source;
`conntrack -L --dst-nat/--src-nat` agree): top_dnat_target by backend and port,
top_destination by the original destination, snat_entries by translated address, for each
address its busiest (protocol, real server, port) and port_usage_ratio = that / range.

Then 60 more flows to 127.0.0.50:7000 while 60 hold ports of the 100: the kernel tries every
port of the range (it does when the range has at most 128), finds 40 free, and refuses the
other 20 at confirmation: sendto() fails with EPERM, and `insert_failed` and `drop` (conntrack
-S) each grow by exactly 20 (what this kernel does; measured). The exporter shows the same
deltas in nf_conntrack_stat_insert_failed_total / _drop_total, snat_entries 100, the busiest
destination 100 and a usage ratio of 1.0; after `conntrack -D` of those, 127.0.0.99's busiest
destination is 127.0.0.52:7003 (10, ratio 0.1)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attrib_util as au  # noqa: E402
import events_util as eu  # noqa: E402
import nfce  # noqa: E402

K = 5
RANGE_LO, RANGE_HI = 20000, 20099
RANGE = RANGE_HI - RANGE_LO + 1
N_DNAT_UDP, N_DNAT_TCP, N_SNAT, N_SNAT2, N_MORE = 30, 6, 60, 5, 60
N_DNAT6, N_SNAT6 = 7, 9
N_SNAT3 = 10  # 127.0.0.99 to a second destination: its own 100 ports
V6_ADDRS = ("fd00::10", "fd00::20", "fd00::50", "fd00::99")
NFT = f"""
add table ip nat
add chain ip nat out {{ type nat hook output priority -100; }}
add rule ip nat out ip daddr 127.0.0.10 udp dport 5353 dnat to numgen inc mod 3 map {{ 0 : 127.0.0.20, 1 : 127.0.0.20, 2 : 127.0.0.21 }}
add rule ip nat out ip daddr 127.0.0.10 tcp dport 8080 dnat to 127.0.0.30:18080
add chain ip nat post {{ type nat hook postrouting priority 100; }}
add rule ip nat post ip daddr 127.0.0.50 udp dport 7000 snat to 127.0.0.99:{RANGE_LO}-{RANGE_HI}
add rule ip nat post ip daddr 127.0.0.51 udp dport 7001 snat to 127.0.0.98
add rule ip nat post ip daddr 127.0.0.52 udp dport 7003 snat to 127.0.0.99:{RANGE_LO}-{RANGE_HI}
add chain inet t sink {{ type filter hook input priority 0; }}
add table ip6 nat
add chain ip6 nat out {{ type nat hook output priority -100; }}
add rule ip6 nat out ip6 daddr fd00::10 udp dport 5353 dnat to [fd00::20]:5354
add chain ip6 nat post {{ type nat hook postrouting priority 100; }}
add rule ip6 nat post ip6 daddr fd00::50 udp dport 7002 snat to [fd00::99]:{RANGE_LO}-{RANGE_HI}
add rule inet t sink udp dport {{ 5353, 5354, 7000, 7001, 7002, 7003 }} drop
"""
PORT_B, PORT_C = 39902, 39903
BUSIEST = "nf_conntrack_snat_busiest_destination_entries"
RATIO = "nf_conntrack_snat_port_usage_ratio"


def close(a, b):
    return a is not None and abs(a - b) <= 1e-9 * max(1.0, abs(b))


def nat_problems(k, m, ports, top_k):
    """Every NAT family of m against the kernel's reading k; ports: the range's size."""
    probs = au.check_family(m, "dnat_target", au.want_dnat(k.entries), top_k)
    probs += au.check_family(m, "destination", au.want_destinations(k.entries), top_k)
    probs += au.check_family(m, "snat", au.want_snat(k.entries), top_k)
    probs += au.totals_problems(k, m)
    probs += au.label_problems(m, BUSIEST, ("address", "protocol", "destination", "port"))
    probs += au.label_problems(m, RATIO, ("address",))
    if m.get("nf_conntrack_snat_port_range_ports") != ports:
        probs.append(f"nf_conntrack_snat_port_range_ports {m.get('nf_conntrack_snat_port_range_ports')}, "
                     f"expected {ports}")
    if au.error_of(m, "snat_destination") != 0:
        probs.append(f'nf_conntrack_attribution_error_entries{{family="snat_destination"}} '
                     f'{au.error_of(m, "snat_destination")}, expected 0')
    dests = au.want_snat_destinations(k.entries)
    shown, _ = au.top(m, "nf_conntrack_snat_entries", ("address",))
    busiest = {s.labels.get("address"): s for s in m.find(BUSIEST)}
    if len(busiest) != len(m.find(BUSIEST)):
        probs.append(f"{BUSIEST}: more than one series for an address: {m.find(BUSIEST)}")
    if sorted(busiest) != sorted(a for (a,) in shown):
        probs.append(f"{BUSIEST}: addresses {sorted(busiest)}, snat_entries shows {sorted(a for (a,) in shown)}")
    for (addr,) in shown:
        c = dests.get(addr, {})
        top_n = max(c.values()) if c else 0
        s = busiest.get(addr)
        if s is None:
            continue
        key = (s.labels.get("protocol"), s.labels.get("destination"), s.labels.get("port"))
        if s.value != top_n or c.get(key) != top_n:
            probs.append(f"{BUSIEST}{{address={addr}}}: shown {key} {s.value:g}; conntrack -L: busiest "
                         f"{top_n}, {key} {c.get(key, 0)} (all: {dict(c)})")
        r = m.get(RATIO, address=addr)
        if not close(r, top_n / ports):
            probs.append(f'{RATIO}{{address="{addr}"}} {r}, expected {top_n}/{ports} = {top_n / ports}')
    return probs


def test(ck):
    with nfce.Netns("attrib_nat", nft=NFT) as ns:
        ns.write_sysctl(f"{nfce.NF_SYSCTL}/nf_conntrack_udp_timeout", "600")  # this namespace's only
        ns.notrack(PORT_B, PORT_C)
        for addr in V6_ADDRS:
            ns.run(["ip", "-6", "addr", "add", f"{addr}/128", "dev", "lo", "nodad"])
        with au.Traffic(ns) as tr, \
                nfce.Exporter(ns, [f"--collector.attribution.top-k={K}",
                                   f"--collector.attribution.snat-port-range={RANGE_LO}-{RANGE_HI}"]) as a, \
                nfce.Exporter(ns, [], listen=f"127.0.0.1:{PORT_B}") as b:
            eu.wait_synced(a)
            eu.wait_synced(b)
            tr.do("tcp_listen_at", host="127.0.0.30", port=18080)
            r = tr.do("udp_to", dst="127.0.0.10", port=5353, n=N_DNAT_UDP)
            ck.eq("DNAT'ed UDP flows sent", N_DNAT_UDP, r["sent"])
            tr.do("tcp_from", sources=[["127.0.0.1", N_DNAT_TCP]], dst="127.0.0.10", port=8080,
                  listener=["127.0.0.30", 18080])
            r = tr.do("udp_to", dst="127.0.0.50", port=7000, n=N_SNAT)
            ck.eq("SNAT'ed flows sent (60 of 100 ports)", N_SNAT, r["sent"])
            r = tr.do("udp_to", dst="127.0.0.51", port=7001, n=N_SNAT2)
            ck.eq("SNAT'ed flows to 127.0.0.98 sent", N_SNAT2, r["sent"])
            r = tr.do("udp_to", dst="fd00::10", port=5353, n=N_DNAT6)
            ck.eq("DNAT'ed IPv6 flows sent", N_DNAT6, r["sent"])
            r = tr.do("udp_to", dst="fd00::50", port=7002, n=N_SNAT6)
            ck.eq("SNAT'ed IPv6 flows sent", N_SNAT6, r["sent"])
            r = tr.do("udp_to", dst="127.0.0.52", port=7003, n=N_SNAT3)
            ck.eq("SNAT'ed flows to 127.0.0.52 sent", N_SNAT3, r["sent"])
            n = N_DNAT_UDP + N_DNAT_TCP + N_SNAT + N_SNAT2 + N_DNAT6 + N_SNAT6 + N_SNAT3
            k = eu.wait_kernel(ns, lambda k: k.count == n and len(k.entries) == n, f"{n} entries")

            want = au.want_dnat(k.entries)
            eu.log(f"conntrack -L: DNAT targets {dict(want)}, SNAT {dict(au.want_snat(k.entries))}, "
                   f"SNAT destinations {dict(au.want_snat_destinations(k.entries))}")
            ck.eq("conntrack -L: DNAT targets (numgen 2:1, the TCP port translated)",
                  {("udp", "127.0.0.20", "5353"): 20, ("udp", "127.0.0.21", "5353"): 10,
                   ("tcp", "127.0.0.30", "18080"): N_DNAT_TCP, ("udp", "fd00::20", "5354"): N_DNAT6}, dict(want))
            for flag, cnt in (("--dst-nat", sum(want.values())), ("--src-nat", sum(au.want_snat(k.entries).values()))):
                r = ns.run(["conntrack", "-L", flag])
                ck.eq(f"conntrack -L {flag} lists what the tuples say", cnt, len(eu.parse_conntrack_L(r.stdout)))
            ck.true("conntrack -L: every SNAT'ed port to 127.0.0.50 in the range",
                    all(RANGE_LO <= int(e.reply["dport"]) <= RANGE_HI for e in k.entries
                        if e.orig["dst"] == "127.0.0.50"), "a port outside")

            k, m = eu.require(ck, "exporter A vs conntrack -L",
                              eu.converge(ns, a, 15, extra=lambda k, m: nat_problems(k, m, RANGE, K)))
            if m is not None:
                eu.log(f"A: {m.find('nf_conntrack_top_dnat_target_entries')} {m.find('nf_conntrack_snat_entries')} "
                       f"{m.find(BUSIEST)} {m.find(RATIO)}")
                ck.true('A: snat_port_usage_ratio{address="127.0.0.99"} = 60/100', close(m.get(RATIO, address="127.0.0.99"), N_SNAT / RANGE),
                        repr(m.get(RATIO, address="127.0.0.99")))
                ck.eq('A: busiest destination of 127.0.0.99', float(N_SNAT),
                      m.get(BUSIEST, address="127.0.0.99", protocol="udp", destination="127.0.0.50", port="7000"))
                ck.eq('A: top_dnat_target{udp,127.0.0.20,5353}', 20.0,
                      m.get("nf_conntrack_top_dnat_target_entries", protocol="udp", target="127.0.0.20", port="5353"))
            k, m = eu.require(ck, "exporter B (default range, 64512 ports) vs conntrack -L",
                              eu.converge(ns, b, 15, extra=lambda k, m: nat_problems(k, m, 64512, 10)))
            with nfce.Exporter(ns, ["--collector.attribution.top-k=1"], listen=f"127.0.0.1:{PORT_C}") as c:
                eu.wait_synced(c)
                k, m = eu.require(ck, "exporter C (top-k 1: one SNAT address and other) vs conntrack -L",
                                  eu.converge(ns, c, 15, extra=lambda k, m: nat_problems(k, m, 64512, 1)))
                if m is not None:
                    ck.eq('C: snat_entries', {"127.0.0.99": float(N_SNAT + N_SNAT3), "other": float(N_SNAT2 + N_SNAT6)},
                          {s.labels["address"]: s.value for s in m.find("nf_conntrack_snat_entries")})
                    ck.eq('C: busiest destination only for the address shown', ["127.0.0.99"],
                          [s.labels["address"] for s in m.find(BUSIEST)])
                ck.eq("exporter C exit status on SIGTERM", 0, c.stop())

            # The range exhausted
            before_k, before_m = ns.conntrack_stats(), a.scrape()
            r = tr.do("udp_to", dst="127.0.0.50", port=7000, n=N_MORE)
            after_k = ns.conntrack_stats()
            eu.log(f"{N_MORE} more flows to 127.0.0.50:7000: {r}; conntrack -S insert_failed "
                   f"{before_k.get('insert_failed')} -> {after_k.get('insert_failed')}, drop {before_k.get('drop')} -> "
                   f"{after_k.get('drop')}")
            refused = N_SNAT + N_MORE - RANGE
            ck.eq("flows sent while the range fills", {"sent": RANGE - N_SNAT, "eperm": refused},
                  {"sent": r["sent"], "eperm": r["eperm"]})
            for st in ("insert_failed", "drop"):
                ck.eq(f"kernel: conntrack -S {st} grew by the refused flows", refused,
                      after_k.get(st, 0) - before_k.get(st, 0))
            k, m = eu.require(ck, "exporter A vs conntrack -L, the range exhausted",
                              eu.converge(ns, a, 15, extra=lambda k, m: nat_problems(k, m, RANGE, K)))
            if m is not None:
                ck.eq('A: snat_entries{address="127.0.0.99"}, the range to 127.0.0.50:7000 exhausted',
                      float(RANGE + N_SNAT3),
                      m.get("nf_conntrack_snat_entries", address="127.0.0.99"))
                ck.true('A: snat_port_usage_ratio{address="127.0.0.99"} 1.0, the range exhausted',
                        close(m.get(RATIO, address="127.0.0.99"), 1.0), repr(m.get(RATIO, address="127.0.0.99")))
                for st in ("insert_failed", "drop"):
                    name = nfce.stat_metric(st)
                    ck.eq(f"A: {name} grew by the refused flows", float(refused),
                          (m.get(name) or 0) - (before_m.get(name) or 0))
                    ck.eq(f"A: {name} vs conntrack -S", float(after_k.get(st, 0)), m.get(name))
            # The SNAT'ed entries to 127.0.0.50 deleted: 127.0.0.99's busiest destination is
            # the other one now
            ck.eq("conntrack -D -p udp --dport 7000", RANGE, eu.conntrack_delete(ns, "-p", "udp", "--dport", "7000"))
            k, m = eu.require(ck, "exporter A vs conntrack -L after conntrack -D",
                              eu.converge(ns, a, 15, extra=lambda k, m: nat_problems(k, m, RANGE, K)))
            if m is not None:
                ck.eq("A: SNAT addresses after conntrack -D", ["127.0.0.98", "127.0.0.99", "fd00::99"],
                      sorted({s.labels.get("address") for f in ("nf_conntrack_snat_entries", BUSIEST, RATIO)
                              for s in m.find(f)}))
                ck.eq("A: 127.0.0.99's busiest destination now 127.0.0.52:7003", float(N_SNAT3),
                      m.get(BUSIEST, address="127.0.0.99", protocol="udp", destination="127.0.0.52", port="7003"))
                ck.true('A: snat_port_usage_ratio{address="127.0.0.99"} = 10/100',
                        close(m.get(RATIO, address="127.0.0.99"), N_SNAT3 / RANGE), repr(m.get(RATIO, address="127.0.0.99")))
            ck.eq("exporter A exit status on SIGTERM", 0, a.stop())
            ck.eq("exporter B exit status on SIGTERM", 0, b.stop())


if __name__ == "__main__":
    nfce.main(test)
