#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Odd namespace names: a name that is not UTF-8, one with '"', '\\' and a newline, and a
255-byte one (the longest a file name can be), followed by --netns=NAME and --netns=all.

The exposition must stay valid whatever a namespace is called: `promtool check metrics` is
clean, the strict parser reads each name back (bytes that are not UTF-8 as U+FFFD), a real
Prometheus scrapes the target as up and stores the series, and doctor --format=json, the status
page's JSON and HTML, and the log decode as strict UTF-8 and strict JSON. Before the one text
formatter, the first name made promtool and Prometheus reject the whole scrape."""

import json
import os
import shutil
import subprocess
import tempfile
import urllib.parse

import nfce

PROM_PORT = 39992  # inside the test's namespace, below its ephemeral range
NFT = b"""table inet t {
  chain out { type filter hook output priority 0; ct state new counter accept; }
}
"""


PREFIXES = (b"nfce-bad\xffname-", b'nfce-q"b\\s\nnl-', b"nfce-long-")


def odd_names():
    tag = b"%d" % os.getpid()
    return [PREFIXES[0] + tag, PREFIXES[1] + tag, (PREFIXES[2] + tag + b"-").ljust(255, b"L")]


def reap_stale():
    """Our names left by a run that died: nfce.py's reaper doesn't parse names like these."""
    try:
        names = os.listdir(b"/run/netns")
    except FileNotFoundError:
        return
    for n in names:
        for p in PREFIXES:
            if n.startswith(p):
                pid = n[len(p):].split(b"-")[0]
                if pid.isdigit() and int(pid) != os.getpid() and not os.path.exists(b"/proc/" + pid):
                    ip("netns", "del", n, check=False)


def ip(*args, check=True):
    r = subprocess.run(["ip", *args], capture_output=True, timeout=30)
    if check and r.returncode:
        nfce.fail(f"ip {args!r}: {r.stderr.decode(errors='replace')}")
    return r


def make(name):
    ip("netns", "add", name)
    ip("-n", name, "link", "set", "lo", "up")
    r = subprocess.run([b"ip", b"netns", b"exec", name, b"nft", b"-f", b"-"], input=NFT,
                       capture_output=True, timeout=30)
    if r.returncode:
        nfce.fail(f"nft in {name!r}: {r.stderr.decode(errors='replace')}")
    # One UDP flow each, so that every namespace has entries to show.
    subprocess.run([b"ip", b"netns", b"exec", name, b"python3", b"-c",
                    b"import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
                    b"s.sendto(b'x', ('127.0.0.1', 9))"], check=True, timeout=30)


def utf8(b):
    try:
        b.decode("utf-8", errors="strict")
        return True
    except UnicodeDecodeError:
        return False


def strict_json(ck, what, raw):
    def no_constant(c):
        raise ValueError(f"non-JSON constant {c}")
    try:
        return json.loads(raw.decode("utf-8", errors="strict"), parse_constant=no_constant)
    except (UnicodeDecodeError, ValueError) as e:
        ck.fail(what, f"not strict UTF-8 JSON: {e}: {raw[:300]!r}")
        return None


def promtool(ck, what, body):
    r = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, timeout=30)
    out = (r.stdout + r.stderr).decode(errors="replace")
    ck.true(f"{what}: promtool check metrics exit 0 and silent", r.returncode == 0 and not out,
            f"exit {r.returncode}: {out}")


def check_scrape(ck, what, exp, names):
    r = exp.get()
    ck.eq(f"{what}: status", 200, r.status)
    promtool(ck, what, r.body)
    ck.true(f"{what}: exposition is strict UTF-8", utf8(r.body), "")
    m = nfce.Metrics(r.body)
    for n in names:
        want = n.decode("utf-8", errors="replace")
        ck.true(f"{what}: nf_conntrack_entries of {want!r}",
                m.find("nf_conntrack_entries", netns=want), f"series {m.series('nf_conntrack_entries')}")
    return m


def prometheus_up(ck, ns, tmp, names):
    cfg = os.path.join(tmp, "prometheus.yml")
    with open(cfg, "w") as f:
        json.dump({"global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
                   "scrape_configs": [{"job_name": "odd",
                                       "static_configs": [{"targets": [f"127.0.0.1:{nfce.PORT}"]}]}]}, f)
    log = open(os.path.join(tmp, "prometheus.log"), "w+b")
    p = ns.popen(["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={tmp}/data",
                  f"--web.listen-address=127.0.0.1:{PROM_PORT}"], stdin=subprocess.DEVNULL,
                 stdout=log, stderr=log)

    def query(expr):
        r = ns.http("GET", "/api/v1/query?" + urllib.parse.urlencode({"query": expr}),
                    port=PROM_PORT, timeout=10)
        if r.status != 200:
            return None
        return json.loads(r.body)["data"]["result"]

    try:
        got = None
        for _ in nfce.deadline_loop(60, 0.5):
            if p.poll() is not None:
                break
            up = query('up{job="odd"}')
            info = query('nf_conntrack_netns_info{job="odd"}')
            if up and up[0]["value"][1] == "1" and info and len(info) >= len(names):
                got = info
                break
        ck.true("prometheus: target up with every namespace stored", got is not None,
                f"up={query('up') if p.poll() is None else 'prometheus exited'}; log:\n"
                + (log.seek(0) or log.read().decode(errors="replace")[-2000:]))
        if got:
            stored = {s["metric"]["netns"] for s in got}
            for n in names:
                want = n.decode("utf-8", errors="replace")
                ck.true(f"prometheus: netns label {want!r} stored", want in stored, f"stored {stored}")
    finally:
        p.terminate()
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
        log.close()


def test(ck):
    names = odd_names()
    made = []
    tmp = tempfile.mkdtemp(prefix="nfce-odd-names-")
    reap_stale()
    try:
        for n in names:
            make(n)
            made.append(n)
        with nfce.Netns("odd_names") as ns:
            args = []
            for n in names:
                args.append(b"--netns=" + n)
            with nfce.Exporter(ns, args=args) as exp:
                check_scrape(ck, "--netns=NAME", exp, names)
                om = subprocess.run(ns.cmd(["curl", "-sf", "-H",
                                            "Accept: application/openmetrics-text; version=1.0.0",
                                            f"http://127.0.0.1:{nfce.PORT}/metrics"]),
                                    capture_output=True, timeout=30)
                ck.eq("OpenMetrics: curl exit status", 0, om.returncode)
                ck.true("OpenMetrics: strict UTF-8 ending with # EOF",
                        om.stdout.endswith(b"# EOF\n") and utf8(om.stdout), om.stdout[-200:])
                for path in ("/status.json", "/"):
                    r = exp.get(path)
                    ck.eq(f"{path}: status", 200, r.status)
                    if path.endswith(".json"):
                        strict_json(ck, path, r.body)
                    else:
                        ck.true(f"{path} is UTF-8", utf8(r.body), r.body[:200])
                prometheus_up(ck, ns, tmp, names)
            exp.stderr_file.seek(0)
            raw = exp.stderr_file.read()
            ck.true("log is strict UTF-8", utf8(raw), raw[-500:])
            with nfce.Exporter(ns, args=["--netns=all"]) as exp:
                check_scrape(ck, "--netns=all", exp, names)
            r = subprocess.run([nfce.exporter_path().encode(), b"doctor", b"--format=json"]
                               + [b"--netns=" + n for n in names], capture_output=True, timeout=60)
            ck.true("doctor --format=json: exit 0 or 1", r.returncode in (0, 1),
                    f"exit {r.returncode}: {r.stderr.decode(errors='replace')}")
            j = strict_json(ck, "doctor --format=json", r.stdout)
            if j is not None:
                got = {n["netns"] for n in j.get("namespaces", [])}
                for n in names:
                    want = n.decode("utf-8", errors="replace")
                    ck.true(f"doctor: namespace {want!r}", want in got, f"got {got}")
    finally:
        for n in made:
            ip("netns", "del", n, check=False)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    nfce.main(test, tools=("ip", "nft", "conntrack", "promtool", "prometheus"))
