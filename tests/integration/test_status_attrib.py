#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""status_attrib: "What fills the table" on the status page and in doctor (issue 13).

In a namespace of its own, TCP connections held open from a skewed set of loopback sources
(127.0.0.2: 40, 127.0.0.3: 15, 127.0.0.4: 5, 127.0.0.5: 5, the last SNAT'ed to 127.0.0.9 by
an nft rule). The page's sources table (as served, no script) and status.json show the top
source with the count conntrack -L -s gives and its share of the limit; the SNAT table shows
127.0.0.9, its busiest destination and its port usage against a 6-port range given with
--collector.attribution.snat-port-range. doctor names the SNAT pair ("uses 83 % of its 6 source
ports"); then, with nf_conntrack_max lowered to 75 (NOT parallel: nfce.lowered_max(), the lock
and restore of table_full and doctor), it names the top source as a risk: "127.0.0.2 holds 53 %
of the table (40 of 75)", with the conntrack -L and nft ct count rule for it."""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfce  # noqa: E402

SOURCES = {"127.0.0.2": 40, "127.0.0.3": 15, "127.0.0.4": 5, "127.0.0.5": 5}
SNAT_FROM, SNAT_TO = "127.0.0.5", "127.0.0.9"
RANGE = "40000-40005"  # 6 ports: 5 connections use 83 %
LIMIT = 75

NFT = f"""
add table ip nfce_snat
add chain ip nfce_snat post {{ type nat hook postrouting priority 100; }}
add rule ip nfce_snat post ip saddr {SNAT_FROM} ip daddr 127.0.0.1 tcp dport 1024-65535 snat to {SNAT_TO}
"""

# Held in the namespace: a listener on 127.0.0.1 and, for each source, that many connections
# bound to it (data both ways: ESTABLISHED). Prints the port; holds them until stdin closes.
HOLD = r"""
import socket, sys
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen(1024)
keep = [l]
for arg in sys.argv[1:]:
    src, n = arg.split("=")
    for _ in range(int(n)):
        c = socket.socket()
        c.bind((src, 0))
        c.connect(l.getsockname())
        s, _ = l.accept()
        c.sendall(b"x"); s.recv(1); s.sendall(b"y"); c.recv(1)
        keep += [c, s]
print(l.getsockname()[1], flush=True)
sys.stdin.read()
"""


def table(html, tid):
    m = re.search(rf'<table id="{tid}">(.*?)</table>', html, re.S)
    if not m:
        return None
    rows = re.findall(r"<tr>(.*?)</tr>", m.group(1), re.S)
    return [[re.sub(r"<[^>]*>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)]
            for r in rows if "<td" in r]


def listed(ns, *args):
    """Entries conntrack -L lists with these filters."""
    r = ns.run(["conntrack", "-L", *args], check=False)
    return len([ln for ln in r.stdout.splitlines() if ln.strip()])


def doctor(ns, *args):
    r = ns.run([os.environ["NFCE_EXPORTER"], "doctor", f"--collector.attribution.snat-port-range={RANGE}",
                "--format=json", *args], check=False, timeout=30)
    try:
        return r.returncode, json.loads(r.stdout)
    except ValueError:
        nfce.fail(f"doctor printed no JSON (exit {r.returncode}): {r.stdout[-500:]} {r.stderr[-500:]}")


def titles(j):
    return {f["title"]: f for f in j["findings"]}


def test(ck):
    with nfce.Netns("status_attrib", nft=NFT) as ns:
        hold = ns.popen([sys.executable, "-c", HOLD] + [f"{s}={n}" for s, n in SOURCES.items()],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = nfce.read_line(hold.stdout, 30)
        if not line:
            nfce.fail(f"the connections could not be made: {hold.stderr.read().decode(errors='replace')}")
        port = int(line)
        truth = {s: listed(ns, "-s", s) for s in SOURCES}
        ck.eq("conntrack -L -s: the connections made", SOURCES, truth)
        ck.eq("conntrack -L -n: the SNAT'ed ones", SOURCES[SNAT_FROM], listed(ns, "-n"))

        with nfce.Exporter(ns, args=[f"--collector.attribution.snat-port-range={RANGE}"]) as exp:
            # The page keeps a scrape every 5 s: wait for one with the families in it.
            def shown():
                a = json.loads(exp.get("/status.json").body).get("attribution")
                return a if a and a["top_sources"] and a["top_sources"][0]["entries"] == truth["127.0.0.2"] else None
            a = nfce.wait_until(shown, 20)
            ck.true("status.json has the attribution", a is not None, "")
            m = exp.scrape()
            limit = int(m.get("nf_conntrack_entries_limit"))
            html = exp.get("/").body.decode()
            rows = table(html, "sources") or []
            ck.true("the sources table", len(rows) >= 4, html[-3000:])
            if rows:
                ck.eq("top source row: address, count (conntrack -L -s), share of the limit",
                      ["127.0.0.2", str(truth["127.0.0.2"]), f"{100 * truth['127.0.0.2'] / limit:.1f} %"],
                      rows[0][:3])
                ck.eq("second source row", ["127.0.0.3", str(truth["127.0.0.3"])], rows[1][:2])
            ck.true("counts exact", '<table id="sources">\n<tr><th>source</th><th>entries (exact)</th>' in html,
                    html[html.find('<table id="sources">'):][:300])
            ck.eq("page and /metrics agree", m.get("nf_conntrack_top_source_entries", source="127.0.0.2"),
                  float(truth["127.0.0.2"]))
            if a:
                ck.eq("status.json top source", {"source": "127.0.0.2", "owner_netns": "", "entries": 40},
                      a["top_sources"][0])
            snat = table(html, "snat") or []
            ck.eq("SNAT row: address, entries, busiest destination, its entries, port usage",
                  [[SNAT_TO, "5", f"tcp 127.0.0.1:{port}", "5", "83.3 %", ""]], snat)
            ck.true("the script swaps the section in", "'attrib'" in html, "")

        rc, j = doctor(ns)
        want = f"SNAT {SNAT_TO} -> 127.0.0.1:{port} (tcp) uses 83 % of its 6 source ports"
        ck.true("doctor names the SNAT pair", want in titles(j), repr(list(titles(j))))
        if want in titles(j):
            f = titles(j)[want]
            ck.eq("its severity", "warning", f["severity"])
            ck.true("the wider range is offered (6 ports < 64512)",
                    f"snat ip to {SNAT_TO}:1024-65535" in f["fix"], f["fix"])
        ck.eq("doctor's top sources", [[s, float(n)] for s, n in SOURCES.items()][:2],
              [[x["source"], x["entries"]] for x in (j.get("attribution") or {}).get("top_sources", [])][:2])
        ck.true("no source finding at the real limit", not any("holds" in t for t in titles(j)), repr(list(titles(j))))

        with nfce.lowered_max(LIMIT) as (orig, limit):
            rc, j = doctor(ns)
            want = f"127.0.0.2 holds {round(100 * 40 / limit)} % of the table (40 of {limit})"
            ck.eq("doctor exit status with a source over half the limit", 1, rc)
            ck.true("doctor names the top source", want in titles(j), repr(list(titles(j))))
            if want in titles(j):
                f = titles(j)[want]
                ck.eq("its severity", "risk", f["severity"])
                ck.true("how to list it", "conntrack -L -s 127.0.0.2;" in f["fix"], f["fix"])
                ck.true("how to cap it", "ip saddr 127.0.0.2 ct state new ct count over 7 counter reject" in f["fix"],
                        f["fix"])
            ck.true("the 20 % source is no culprit", not any(t.startswith("127.0.0.3 ") for t in titles(j)),
                    repr(list(titles(j))))
        ck.eq("nf_conntrack_max restored", orig, nfce.read_max())
        hold.stdin.close()


if __name__ == "__main__":
    nfce.main(test)
