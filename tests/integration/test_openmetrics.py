#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""openmetrics: /metrics answers OpenMetrics 1.0.0 to a scraper that prefers it, and the text
format 0.0.4 to everyone else.

In a namespace of its own, with held TCP and UDP flows and expired UDP flows (so that the
lifetime histogram has samples):

1. with Prometheus's Accept header, Content-Type application/openmetrics-text 1.0.0, a body that
   the strict parser of python3-prometheus-client accepts (ending in "# EOF"), the same families
   as the text scrape (counters named without _total, every type as in text), the same series,
   values equal to the text scrape's for everything that holds still, and nf_conntrack_entries
   equal to `conntrack -C`; bucket bounds in canonical form (le="1.0");
2. no Accept header, text/plain, */*, or an OpenMetrics version we don't speak: the text format,
   which `promtool check metrics` passes silently; HEAD negotiates the same way;
3. a real Prometheus (Debian's) scraping the exporter: which Accept header it sends (recorded by
   a stand-in target next to the exporter), the target up, the value of nf_conntrack_entries and
   the canonical bucket bounds it stored (which only an OpenMetrics scrape gives).
"""
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfce  # noqa: E402

try:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
except ImportError:  # a Python of its own (pyenv, venv) without Debian's dist-packages
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
    except ImportError:
        text_string_to_metric_families = None

PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
                     "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
OM_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
PROM_PORT = 39991  # inside the test's namespace, below its ephemeral range
RECORDER_PORT = 39992
OM_TYPE = {"counter": "counter", "gauge": "gauge", "histogram": "histogram", "untyped": "unknown"}
# Families whose values move between two scrapes of a quiet namespace.
MOVING = re.compile(r"process_.*|nf_conntrack_exporter_collector_(duration|data_age)_seconds|"
                    r"nf_conntrack_(resync|event|events)_.*|lnstat_.*|nf_conntrack_stat_.*|"
                    r"nf_conntrack_kernel_memory_bytes|nf_conntrack_flow_lifetime_seconds.*")

# Runs inside the namespace: a stand-in scrape target that records each request's Accept header
# (one JSON line on stdout) and serves a one-sample text exposition.
RECORDER = r"""
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        print(json.dumps({"path": self.path, "accept": self.headers.get("Accept")}), flush=True)
        body = b"# HELP recorder_up 1\n# TYPE recorder_up gauge\nrecorder_up 1\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def fetch(ns, method="GET", accept=None, port=nfce.PORT):
    """(status, {header: value} lower-cased, body bytes) of a request made with curl in @ns."""
    argv = ["curl", "-sS", "-i", "-m", "10", "--http1.1"]
    if method == "HEAD":
        argv.append("-I")
    if accept is not None:
        argv += ["-H", f"Accept: {accept}"]
    r = subprocess.run(ns.cmd(argv + [f"http://127.0.0.1:{port}/metrics"]), capture_output=True, timeout=30)
    if r.returncode != 0:
        nfce.fail(f"curl {method} /metrics (Accept {accept!r}) exited {r.returncode}: {r.stderr!r}")
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, body


def canonical_le(v):
    """Go's canonical spelling of a float (strconv 'g', shortest, ".0" on integers), which
    OpenMetrics wants in "le": 1.0, 0.005, 300.0, 1e+06."""
    f = float(v)
    if math.isinf(f) or math.isnan(f):
        return {float("inf"): "+Inf", float("-inf"): "-Inf"}.get(f, "NaN")
    if f == 0:
        return "0.0"
    p = next(p for p in range(17) if float(f"{f:.{p}e}") == f)
    exp = int(f"{f:.{p}e}".split("e")[1])
    if exp < -4 or exp >= 6:
        return f"{f:.{p}e}"
    s = f"{f:.{max(0, p - exp)}f}"
    return s if "." in s else s + ".0"


def om_parse(ck, body):
    """{family: (type, {(sample name, frozenset(labels)): value})} of a strict parse, or None."""
    try:
        fams = list(text_string_to_metric_families(body.decode("utf-8")))
    except Exception as e:  # the parser raises ValueError (and others) on any violation
        ck.fail("OpenMetrics parse", f"{type(e).__name__}: {e}")
        return None
    out = {}
    for f in fams:
        if f.name in out:
            ck.fail("OpenMetrics families", f"family {f.name} twice")
        out[f.name] = (f.type, {(s.name, frozenset(s.labels.items())): s.value for s in f.samples})
    return out


def text_view(m):
    """The text scrape as {family: (OpenMetrics type, {(sample, labels): value})}, "le" made
    canonical: what the OpenMetrics scrape must look like."""
    out = {}
    for fam, t in m.types.items():
        name = fam[:-len("_total")] if t == "counter" else fam
        out[name] = (OM_TYPE[t], {})
    for s in m.samples:
        fam = m._family_of(s.name)
        t = m.types[fam]
        name = fam[:-len("_total")] if t == "counter" else fam
        labels = {k: (canonical_le(v) if k == "le" else v) for k, v in s.labels.items()}
        out[name][1][(s.name, frozenset(labels.items()))] = s.value
    return out


def check_om_against_text(ck, om, text, ctC):
    ck.eq("OpenMetrics families (name: type)", {k: v[0] for k, v in text.items()},
          {k: v[0] for k, v in om.items()})
    for fam in sorted(set(om) & set(text)):
        ot, os_ = om[fam]
        tt, ts = text[fam]
        ck.eq(f"series of {fam}", sorted(map(str, ts)), sorted(map(str, os_)))
        if MOVING.fullmatch(fam):
            continue
        for key in sorted(set(ts) & set(os_), key=str):
            ck.eq(f"{key[0]}{dict(key[1])} OpenMetrics vs text", ts[key], os_[key])
    ent = om.get("nf_conntrack_entries", (None, {}))[1].get(("nf_conntrack_entries", frozenset()))
    ck.eq("nf_conntrack_entries (OpenMetrics) vs conntrack -C", float(ctC), ent)


def scrape_pair(ck, ns, ex):
    """A text scrape, an OpenMetrics one, a text one again, until the two text ones agree on
    everything that does not move (a flow may expire in between): (text view, OpenMetrics
    families, OpenMetrics body, conntrack -C)."""
    last = None
    for _ in nfce.deadline_loop(20, 0.2):
        ctC = ns.conntrack_count()
        t1 = text_view(ex.scrape())
        status, hdrs, body = fetch(ns, accept=PROMETHEUS_ACCEPT)
        t2 = text_view(ex.scrape())
        ctC2 = ns.conntrack_count()
        if status != 200:
            nfce.fail(f"OpenMetrics scrape: status {status}: {body[:300]!r}")
        steady = {k: v for k, v in t1.items() if not MOVING.fullmatch(k)}
        if steady == {k: v for k, v in t2.items() if not MOVING.fullmatch(k)} and ctC == ctC2:
            return t1, hdrs, body, ctC
        last = (t1, hdrs, body, ctC)
    nfce.log("note: the namespace did not hold still for two text scrapes; comparing anyway")
    return last


def check_formats(ck, ns, ex):
    sub = nfce.Checker()
    text, hdrs, body, ctC = scrape_pair(sub, ns, ex)
    sub.eq("Content-Type with Prometheus's Accept", OM_CONTENT_TYPE, hdrs.get("content-type"))
    sub.eq("Vary: Accept, for caches between scraper and exporter", "Accept", hdrs.get("vary"))
    sub.true("OpenMetrics body ends with # EOF", body.endswith(b"\n# EOF\n"), repr(body[-40:]))
    sub.true("no empty label set", b"{}" not in body)
    om = om_parse(sub, body)
    if om is not None:
        check_om_against_text(sub, om, text, ctC)
        hist = [k for k, v in om.items() if v[0] == "histogram"]
        sub.true("a histogram with samples", any(om[h][1] for h in hist), f"histograms {hist}")
        sub.true('le="1.0" in the OpenMetrics body', b'le="1.0"' in body)
        sub.true('no le="1" in the OpenMetrics body', b'le="1"' not in body)
        for fam, (t, samples) in om.items():
            if t == "counter":
                sub.true(f"samples of counter {fam} are {fam}_total",
                         {k[0] for k in samples} <= {fam + "_total"}, str({k[0] for k in samples}))

    for accept in (None, "text/plain", "text/plain;version=0.0.4", "*/*", "application/json",
                   "application/openmetrics-text;version=2.0.0",
                   "text/plain;version=0.0.4;q=1,application/openmetrics-text;version=1.0.0;q=0.9"):
        status, hdrs, body = fetch(ns, accept=accept)
        sub.eq(f"status with Accept {accept!r}", 200, status)
        sub.eq(f"Content-Type with Accept {accept!r}", nfce.METRICS_CONTENT_TYPE, hdrs.get("content-type"))
        sub.true(f"no # EOF in the text format (Accept {accept!r})", b"# EOF" not in body)
        if accept is None:
            r = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, timeout=30)
            sub.true("promtool check metrics on the text scrape: exit 0 and silent",
                     r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(),
                     f"exit {r.returncode}: {(r.stdout + r.stderr)[:500]!r}")
            try:
                nfce.Metrics(body)
            except nfce.MetricsParseError as e:
                sub.fail("text scrape (strict 0.0.4 parser)", str(e))
    for accept in ("application/openmetrics-text;version=0.0.1", "application/openmetrics-text"):
        status, hdrs, body = fetch(ns, accept=accept)
        sub.eq(f"Content-Type with Accept {accept!r}", OM_CONTENT_TYPE, hdrs.get("content-type"))
        sub.true(f"# EOF with Accept {accept!r}", body.endswith(b"# EOF\n"))
    status, hdrs, body = fetch(ns, "HEAD", accept=PROMETHEUS_ACCEPT)
    sub.eq("HEAD with Prometheus's Accept: status", 200, status)
    sub.eq("HEAD with Prometheus's Accept: Content-Type", OM_CONTENT_TYPE, hdrs.get("content-type"))
    sub.eq("HEAD: no body", b"", body)
    ck.merge(sub)


def check_prometheus(ck, ns, ex):
    # Prometheus's API and its scrapes of the recorder stay out of conntrack, as scrapes do.
    ns.notrack(PROM_PORT, RECORDER_PORT)
    tmp = tempfile.mkdtemp(prefix="nfce-openmetrics-")
    try:
        cfg = {"global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
               "scrape_configs": [{"job_name": "nfce", "static_configs": [
                   {"targets": [f"127.0.0.1:{nfce.PORT}", f"127.0.0.1:{RECORDER_PORT}"]}]}]}
        with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
            json.dump(cfg, f)
        rec = ns.popen([sys.executable, "-c", RECORDER, str(RECORDER_PORT)], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        plog = open(os.path.join(tmp, "prometheus.log"), "w+b")
        prom = ns.popen(["prometheus", f"--config.file={tmp}/prometheus.yml", f"--storage.tsdb.path={tmp}/data",
                         f"--web.listen-address=127.0.0.1:{PROM_PORT}"],
                        stdin=subprocess.DEVNULL, stdout=plog, stderr=plog)

        def query(expr):
            r = ns.http("GET", "/api/v1/query?" + urllib.parse.urlencode({"query": expr}), port=PROM_PORT,
                        timeout=5)
            if r.status != 200:
                return None
            d = json.loads(r.body)
            return {frozenset(s["metric"].items()): float(s["value"][1]) for s in d["data"]["result"]}

        up = None
        for _ in nfce.deadline_loop(40, 0.5):
            if prom.poll() is not None:
                plog.seek(0)
                nfce.fail(f"prometheus exited {prom.returncode}: {plog.read()[-2000:]!r}")
            up = query('up{job="nfce"}')
            if up and len(up) == 2 and all(v == 1 for v in up.values()):
                break
        ck.true("Prometheus: both targets up", up and len(up) == 2 and all(v == 1 for v in up.values()), repr(up))
        for _ in nfce.deadline_loop(10, 0.5):  # Prometheus's value is up to a second old
            want = [float(ns.conntrack_count())]
            got = list((query("nf_conntrack_entries") or {}).values())
            if got == want:
                break
        ck.eq("Prometheus: nf_conntrack_entries vs conntrack -C", want, got)
        le = query('nf_conntrack_flow_lifetime_seconds_bucket{le="1.0"}')
        ck.true('Prometheus stored le="1.0" buckets (an OpenMetrics scrape)', bool(le), repr(le))
        old = query('nf_conntrack_flow_lifetime_seconds_bucket{le="1"}')
        ck.true('Prometheus has no le="1" buckets', not old, repr(old))
        samples = query(f'scrape_samples_scraped{{instance="127.0.0.1:{nfce.PORT}"}}')
        ck.true("Prometheus: samples scraped from the exporter", samples and list(samples.values())[0] > 50,
                repr(samples))
        prom.terminate()
        rec.terminate()
        out, _ = rec.communicate(timeout=10)
        accepts = {json.loads(line)["accept"] for line in out.decode().splitlines() if line.strip()}
        nfce.log(f"Prometheus {prometheus_version()} sent Accept: {sorted(accepts)}")
        ck.true("Prometheus asks for OpenMetrics first",
                any(a and a.startswith("application/openmetrics-text") for a in accepts), repr(accepts))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def prometheus_version():
    r = subprocess.run(["prometheus", "--version"], capture_output=True, text=True, timeout=10)
    return (r.stdout + r.stderr).split("\n")[0].replace("prometheus, version ", "")


def test(ck):
    if text_string_to_metric_families is None:
        nfce.skip("python3-prometheus-client (prometheus_client.openmetrics.parser) is not installed")
    with nfce.Netns("openmetrics") as ns:
        ns.write_sysctl(f"{nfce.NF_SYSCTL}/nf_conntrack_udp_timeout", "1")
        with nfce.Exporter(ns) as ex:
            with ns.flows(tcp=4, udp=6, udp_replied=2, icmp_echo=2):
                t0 = time.monotonic()
                # Ended UDP flows give DESTROY events, so the lifetime histogram has buckets. An
                # expired entry is reaped only when the kernel's GC comes by (up to a minute
                # apart), so after a few seconds the test ends them itself.
                deleted = False
                for _ in nfce.deadline_loop(20, 0.3):
                    if ex.scrape().find("nf_conntrack_flow_lifetime_seconds_count"):
                        break
                    if not deleted and time.monotonic() - t0 > 3:
                        ns.run(["conntrack", "-D", "-p", "udp"], check=False)
                        deleted = True
                else:
                    nfce.fail("no flow lifetime recorded 20 s after UDP flows were deleted")
                check_formats(ck, ns, ex)
                if shutil.which("prometheus"):
                    check_prometheus(ck, ns, ex)
                else:
                    nfce.log("note: no prometheus binary: the end-to-end part is left out")
        ck.true("exporter log has no warnings or errors", "level=error" not in ex.log(), ex.log())


if __name__ == "__main__":
    nfce.main(test, tools=("ip", "nft", "conntrack", "curl", "promtool"))
