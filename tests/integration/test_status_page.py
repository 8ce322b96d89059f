#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""status_page: the human summary at / matches /metrics, in a real browser and without one.

Real flows in a fresh namespace; the exporter there. Headless Chromium (Debian's `chromium`)
loads / inside the namespace, runs the page's inline script (which polls status.json), and
dumps the DOM: the numbers shown must be the exporter's own (entries, limit, headroom, top
states and zones, drops) as /metrics and the kernel report them. The HTML as served, before any
script, must already carry the same numbers (text browsers), and status.json must be JSON with
the same values."""
import json
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfce  # noqa: E402

N_UDP, N_TCP = 12, 3


def spans(html):
    """{id: text} of every <span id=...> in the page."""
    return {m.group(1): re.sub(r"<[^>]*>", "", m.group(2)).strip()
            for m in re.finditer(r'<span id="([a-z_]+)">(.*?)</span>', html, re.S)}


def table(html, tid):
    m = re.search(rf'<table id="{tid}">(.*?)</table>', html, re.S)
    if not m:
        return None
    rows = re.findall(r"<tr>(.*?)</tr>", m.group(1), re.S)
    return [[re.sub(r"<[^>]*>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", r, re.S)]
            for r in rows if "<td>" in r]


def check_page(ck, what, html, m):
    s = spans(html)
    entries = int(m.get("nf_conntrack_entries"))
    limit = int(m.get("nf_conntrack_entries_limit"))
    ck.eq(f"{what}: entries", str(entries), s.get("entries"))
    ck.eq(f"{what}: limit", str(limit), s.get("limit"))
    ck.eq(f"{what}: headroom", str(limit - entries), s.get("headroom"))
    ck.eq(f"{what}: fill", f"{100 * entries / limit:.1f} %", s.get("fill"))
    ck.eq(f"{what}: buckets", str(int(m.get("nf_conntrack_buckets"))), s.get("buckets"))
    ck.eq(f"{what}: drops", "0", s.get("drops"))
    states = {(r[0], r[1]): int(r[2]) for r in table(html, "states") or []}
    want = {(dict(k)["protocol"], dict(k)["state"]): int(v)
            for k, v in m.series("nf_conntrack_state_entries").items() if v > 0}
    top = dict(sorted(want.items(), key=lambda kv: -kv[1])[:5])
    ck.eq(f"{what}: top states", top, states)
    zones = {r[0]: int(r[1]) for r in table(html, "zones") or []}
    ck.eq(f"{what}: top zones", {dict(k)["zone"]: int(v) for k, v in
                                 m.series("nf_conntrack_zone_entries").items() if v > 0}, zones)


def test(ck):
    chromium = shutil.which("chromium")
    if not chromium:
        raise nfce.TestSkip("chromium is not installed (Debian package chromium)")
    with nfce.Netns("status_page") as ns:
        with ns.flows(tcp=N_TCP, udp=N_UDP):
            with nfce.Exporter(ns) as exp:
                m = None
                for _ in nfce.deadline_loop(10, 0.1):
                    m = exp.scrape()
                    if m.find("nf_conntrack_state_entries") and m.get("nf_conntrack_entries") >= N_UDP + N_TCP:
                        break
                # Drops are counted over the samples of the last minutes: wait for a second of them.
                for _ in nfce.deadline_loop(10, 0.2):
                    if (json.loads(exp.get("/status.json").body).get("window_seconds") or 0) >= 1:
                        break
                # Served HTML, no script run: what lynx or w3m shows.
                r = exp.get("/")
                ck.eq("GET / status", 200, r.status)
                ck.eq("GET / content type", "text/html; charset=utf-8", r.header("content-type"))
                m = exp.scrape()
                check_page(ck, "served HTML", r.body.decode(), m)
                ck.true("no external assets", not re.search(r'(src|href)="(https?:)?//', r.body.decode()), "")

                j = exp.get("/status.json")
                ck.eq("GET /status.json status", 200, j.status)
                s = json.loads(j.body)
                ck.eq("status.json entries", m.get("nf_conntrack_entries"), float(s["entries"]))
                ck.eq("status.json limit", m.get("nf_conntrack_entries_limit"), float(s["limit"]))

                # A real browser: the inline script fetches status.json and refills the page.
                with tempfile.TemporaryDirectory() as profile:
                    b = ns.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                                "--disable-quic", "--no-first-run", "--disable-background-networking",
                                "--disable-component-update", "--disable-sync",
                                f"--user-data-dir={profile}", "--virtual-time-budget=4000",
                                "--dump-dom", f"http://127.0.0.1:{nfce.PORT}/"],
                               check=False, timeout=60)
                dom = b.stdout
                ck.true("chromium dumped the page", "<h1>nf_conntrack exporter</h1>" in dom,
                        f"exit {b.returncode}: {b.stderr[-500:]}")
                ck.true("the script ran and updated the page", 'id="updated">20' in dom,
                        re.search(r'id="updated">[^<]*', dom).group(0) if 'id="updated"' in dom else dom[-300:])
                check_page(ck, "page in chromium", dom, exp.scrape())
                ck.eq("exporter exit status on SIGTERM", 0, exp.stop())


if __name__ == "__main__":
    nfce.main(test)
