#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""status_charts: the status page's inline SVG, parsed strictly and rendered in Chromium.

Real flows in a fresh namespace, the exporter there. Every <svg> of the page as served must be
well-formed XML with a <title> and a <desc>; the gauge must show nf_conntrack_entries /
nf_conntrack_entries_limit of the scrape that drew the page, and the fill chart a point for
every sample kept. Then headless Chromium renders the page (its script run) at a quiet table
and at one driven to 90 % by lowering nf_conntrack_max (restored after), and the DOM it ends
with is checked the same way. Screenshots go to $NFCE_SCREENSHOTS (default: a new temporary
directory, logged) for a person to look at.

NOT parallel: nf_conntrack_max is one value for every namespace (nfce.lowered_max)."""
import math
import os
import re
import shutil
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfce  # noqa: E402

N_UDP, N_TCP = 12, 3
HEADROOM = 300
SVG = "{http://www.w3.org/2000/svg}"


def svgs(ck, what, html):
    """{id: Element} of every <svg> in the page, each parsed by a strict XML parser."""
    out = {}
    for frag in re.findall(r"<svg\b.*?</svg>", html, re.S):
        try:
            e = ET.fromstring(frag)
        except ET.ParseError as err:
            ck.true(f"{what}: SVG is well-formed XML", False, f"{err}: {frag[:300]}")
            continue
        if e.get("class") == "fillbar":
            continue
        ck.true(f"{what}: {e.get('id')} has a title and a desc",
                e.find(SVG + "title") is not None and (e.find(SVG + "desc").text or "") != "", frag[:300])
        out[e.get("id")] = e
    return out


def points(e):
    line = [p for p in e.iter(SVG + "path") if p.get("id") == "fill-line"]
    return len(re.findall(r"[ML]", line[0].get("d"))) if line else 0


def check_page(ck, what, html, samples_before):
    s = svgs(ck, what, html)
    for want in ("gauge", "fill-chart", "drops-chart", "states-chart"):
        ck.true(f"{what}: chart {want}", want in s, sorted(s))
    if "gauge" not in s:
        return None
    g = [e for e in s["gauge"].iter(SVG + "g") if e.get("id") == "gauge-value"][0]
    entries, limit, value = float(g.get("data-entries")), float(g.get("data-limit")), float(g.get("data-value"))
    ck.true(f"{what}: gauge value = entries / limit", math.isclose(value, entries / limit, rel_tol=1e-8),
            f"{value} vs {entries}/{limit}")
    if "fill-chart" in s:
        n = points(s["fill-chart"])
        ck.true(f"{what}: fill chart holds the samples taken", n >= samples_before, f"{n} < {samples_before}")
    return entries, limit, value


def chromium(ns, chrome, url, shot, dark=False):
    """Screenshot of url to shot; the DOM after the page's script ran (None with dark)."""
    args = [chrome, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars", "--virtual-time-budget=4000", "--window-size=1200,1600"]
    if dark:
        args.append("--force-dark-mode")
    with tempfile.TemporaryDirectory() as profile:
        ns.run(args + [f"--user-data-dir={profile}", f"--screenshot={shot}", url], check=False, timeout=60)
    if dark:
        return None
    with tempfile.TemporaryDirectory() as profile:
        return ns.run(args + [f"--user-data-dir={profile}", "--dump-dom", url], check=False, timeout=60).stdout


def kept(exp):
    """How many samples the fill chart holds now."""
    m = re.search(r'id="fill-line"[^>]*data-points="(\d+)"', exp.get("/").body.decode())
    return int(m.group(1)) if m else 0


def wait_kept(exp, n, timeout=40):
    """Scrape until the chart holds more than n samples (one every 5 s); the count."""
    for _ in nfce.deadline_loop(timeout, 0.5):
        exp.scrape()
        k = kept(exp)
        if k > n:
            return k
    return kept(exp)


def netns_phase(ck, chrome, shots, url):
    """--netns: the fullest namespaces first, each fill that namespace's entries / limit."""
    with nfce.Netns("status_charts_home") as home, nfce.Netns("status_charts_a") as a, \
            nfce.Netns("status_charts_b") as b, a.flows(udp=30), b.flows(udp=8):
        with nfce.Exporter(home, [f"--netns={a.name}", f"--netns={b.name}"]) as exp:
            want = {}
            for _ in nfce.deadline_loop(10, 0.2):
                m = exp.scrape()
                want = {n.name: m.get("nf_conntrack_entries", netns=n.name) for n in (a, b)}
                if (want[a.name] or 0) >= 30 and (want[b.name] or 0) >= 8:
                    break
            html = exp.get("/").body.decode()
            svgs(ck, "--netns, served", html)
            t = re.search(r'<table id="netns">(.*?)</table>', html, re.S)
            rows = [[re.sub(r"<[^>]*>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", r, re.S)]
                    for r in re.findall(r"<tr>(.*?)</tr>", t.group(1), re.S) if "<td>" in r] if t else []
            limit = m.get("nf_conntrack_entries_limit", netns=a.name) or m.get("nf_conntrack_entries_limit")
            got = {r[0]: (int(r[1]), r[2]) for r in rows}
            for n in (a, b):
                e = int(want[n.name])
                ck.eq(f"--netns: row of {n.name}", (e, f"{100 * e / limit:.1f} %"), got.get(n.name))
            ck.true("--netns: fullest first", [r[0] for r in rows].index(a.name) < [r[0] for r in rows].index(b.name)
                    if a.name in got and b.name in got else False, f"{rows}")
            dom = chromium(home, chrome, url, os.path.join(shots, "status-netns.png"))
            ck.true("--netns, in chromium: the table", 'id="netns"' in (dom or ""), "")


def test(ck):
    chrome = shutil.which("chromium")
    if not chrome:
        raise nfce.TestSkip("chromium is not installed (Debian package chromium)")
    shots = os.environ.get("NFCE_SCREENSHOTS") or tempfile.mkdtemp(prefix="nfce-status-")
    os.makedirs(shots, exist_ok=True)
    nfce.log(f"screenshots in {shots}")
    url = f"http://127.0.0.1:{nfce.PORT}/"
    with nfce.Netns("status_charts") as ns:
        with ns.flows(tcp=N_TCP, udp=N_UDP):
            with nfce.Exporter(ns) as exp:
                # A sample every 5 s: wait for three, so that the chart has a line and rates.
                n = wait_kept(exp, 2)
                ck.true("three samples kept", n >= 3, f"{n}")
                r = exp.get("/")
                m = exp.scrape()
                got = check_page(ck, "quiet, served", r.body.decode(), n)
                if got:
                    ck.eq("quiet: gauge entries = nf_conntrack_entries", m.get("nf_conntrack_entries"), got[0])
                    ck.eq("quiet: gauge limit = nf_conntrack_entries_limit",
                          m.get("nf_conntrack_entries_limit"), got[1])
                dom = chromium(ns, chrome, url, os.path.join(shots, "status-quiet.png"))
                check_page(ck, "quiet, in chromium", dom, n)
                chromium(ns, chrome, url, os.path.join(shots, "status-quiet-dark.png"), dark=True)

                with nfce.lowered_max(headroom=HEADROOM) as (orig, limit), ns.traffic() as fill:
                    # In steps, a sample at each, so that the chart shows the climb.
                    for share in (0.5, 0.8, 0.92):
                        fill.do("fill", max=math.ceil(share * limit), timeout=60)
                        n = wait_kept(exp, n)
                    got = check_page(ck, "90 %, served", exp.get("/").body.decode(), n)
                    ck.true("90 %: gauge at 90 % or more", got and got[2] >= 0.9, f"{got}")
                    dom = chromium(ns, chrome, url, os.path.join(shots, "status-90.png"))
                    got = check_page(ck, "90 %, in chromium", dom, n)
                    ck.true("90 %, in chromium: gauge at 90 % or more", got and got[2] >= 0.9, f"{got}")
                    ck.true("90 %, in chromium: the bar is red", 'class="bar crit"' in dom, "")
                    chromium(ns, chrome, url, os.path.join(shots, "status-90-dark.png"), dark=True)
                for f in ("status-quiet.png", "status-90.png"):
                    ck.true(f"screenshot {f}", os.path.getsize(os.path.join(shots, f)) > 10000, "")
                ck.eq("exporter exit status on SIGTERM", 0, exp.stop())
    netns_phase(ck, chrome, shots, url)


if __name__ == "__main__":
    nfce.main(test)
