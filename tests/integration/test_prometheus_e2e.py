#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""prometheus_e2e: the shipped Prometheus rules against a real Prometheus scraping the real
exporter while the kernel really drops packets.

In a namespace of its own: the exporter, and a `prometheus` server on 127.0.0.1 scraping it
and evaluating every second the rules of dashboards/rules/generate.py, made with
dashboards/rules/e2e-overrides.yml (same rules, windows and `for:` of seconds). Through
Prometheus's HTTP API (/api/v1/rules, /api/v1/query, /api/v1/alerts):

1. quiet table: every rule loads and evaluates without error, the recording rules have their
   values (fill ratio and entries per bucket equal to the exporter's numbers, drop rate 0, no
   time to full while nothing grows), and no alert is pending or firing;
2. the global nf_conntrack_max is lowered to what the host holds plus HEADROOM, the
   namespace's table is filled with ASSURED entries (established TCP, which cannot be
   early-dropped) and UDP datagrams needing new entries keep coming: ConntrackTableAlmostFull
   (warning and critical), ConntrackPacketsDropped and ConntrackTableFillingUp fire, with the
   recording rules' values to match (fill ratio 1, drop rate > 0, time to full 0);
3. nf_conntrack_max restored: ConntrackTableAlmostFull resolves;
4. every query of the Grafana dashboard (dashboards/grafana/nf_conntrack.json), its variables
   filled in, returns data, but for panels that have none in a fresh namespace (MAY_BE_EMPTY);
5. the exporter stopped: ConntrackExporterDown fires (up == 0 for the job).

NOT parallel: nf_conntrack_max is one value for all namespaces. Like table_full, this test
lowers it with nfce.lowered_max(): MAX_LOCK_FILE held exclusively meanwhile, the limit
restored however the test ends (or by the next run, should this one be SIGKILLed)."""
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfce  # noqa: E402

REPO = os.path.abspath(os.path.join(nfce.HERE, "..", ".."))
RULES_DIR = os.path.join(REPO, "dashboards", "rules")
GENERATE = os.path.join(RULES_DIR, "generate.py")
OVERRIDES = os.path.join(RULES_DIR, "e2e-overrides.yml")
PROM_PORT = 39990  # inside the test's namespace; below the ephemeral range nfce sets there
JOB = "nf_conntrack"  # the job selector of config.yml
BUCKETS_FILE = f"{nfce.NF_SYSCTL}/nf_conntrack_buckets"
HEADROOM = 64
N_UDP = 50
MAX_OTHERS = 20000  # more entries elsewhere than this: filling our table would take too long
ALERT_TIMEOUT = 30
TMP_PREFIX = "nfce-prometheus-e2e-"

FIRE_WHEN_FULL = {
    ("ConntrackTableAlmostFull", "warning"),
    ("ConntrackTableAlmostFull", "critical"),
    ("ConntrackPacketsDropped", "critical"),
    ("ConntrackTableFillingUp", "warning"),
    ("ConntrackTableFillingUp", "critical"),
}

# Runs inside the namespace: a UDP datagram to a new port every 50 ms, each needing a new
# conntrack entry, until stdin closes or `seconds` have passed; prints what happened.
DROPPER = r"""
import json, select, socket, sys, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 0))
print(json.dumps({"started": True}), flush=True)
end = time.monotonic() + float(sys.argv[1])
sent = eperm = i = 0
while time.monotonic() < end:
    try:
        u.sendto(b"nfce", ("127.0.0.1", int(sys.argv[2]) + i % 1000))
        sent += 1
    except PermissionError:
        eperm += 1
    i += 1
    if select.select([sys.stdin], [], [], 0.05)[0]:
        break
print(json.dumps({"sent": sent, "eperm": eperm}), flush=True)
"""


def read_int(path):
    with open(path) as f:
        return int(f.read())


# --------------------------------------------------------------------------------------------
# Prometheus in the namespace
# --------------------------------------------------------------------------------------------


class Prometheus:
    def __init__(self, ns, tmpdir, rules_file, targets, alertmanagers=(), args=()):
        """alertmanagers: host:port of Alertmanagers to send alerts to; args: more flags."""
        self.ns = ns
        self.dir = tmpdir
        self.args = list(args)
        self.config = os.path.join(tmpdir, "prometheus.yml")
        cfg = {  # JSON is YAML
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [rules_file],
            "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": targets}]}],
        }
        if alertmanagers:
            cfg["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": list(alertmanagers)}]}]}
        with open(self.config, "w") as f:
            json.dump(cfg, f, indent=2)
        self.log_file = open(os.path.join(tmpdir, "prometheus.log"), "w+b")
        self.proc = None

    def start(self, timeout=30):
        self.proc = self.ns.popen(["prometheus", f"--config.file={self.config}",
                                   f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
                                   f"--web.listen-address=127.0.0.1:{PROM_PORT}"] + self.args,
                                  stdin=subprocess.DEVNULL, stdout=self.log_file, stderr=self.log_file)
        for _ in nfce.deadline_loop(timeout, 0.2):
            if self.proc.poll() is not None:
                nfce.fail(f"prometheus exited with status {self.proc.returncode}:\n{self.log()}")
            r = self.ns.http("GET", "/-/ready", port=PROM_PORT, timeout=5)
            if r.status == 200:
                return
        nfce.fail(f"prometheus not ready on 127.0.0.1:{PROM_PORT} after {timeout}s:\n{self.log()}")

    def stop(self, timeout=15):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def log(self, tail=60):
        self.log_file.seek(0)
        lines = self.log_file.read().decode(errors="replace").splitlines()
        return "\n".join(lines[-tail:])

    def api(self, path, **params):
        url = path + ("?" + urllib.parse.urlencode(params) if params else "")
        r = self.ns.http("GET", url, port=PROM_PORT, timeout=10)
        if r.status != 200:
            nfce.fail(f"GET {url}: status {r.status} ({r.error}): {r.body[:500]!r}")
        d = json.loads(r.body)
        if d.get("status") != "success":
            nfce.fail(f"GET {url}: {d}")
        return d["data"]

    def query(self, expr):
        """{frozenset(labels): value} of an instant query's vector result."""
        data = self.api("/api/v1/query", query=expr)
        if data["resultType"] != "vector":
            nfce.fail(f"query {expr!r}: result type {data['resultType']}")
        return {frozenset(s["metric"].items()): float(s["value"][1]) for s in data["result"]}

    def one(self, expr):
        """The value of a query that must return one series, or None when it returns none."""
        res = self.query(expr)
        if len(res) > 1:
            nfce.fail(f"query {expr!r} returned {len(res)} series: {res}")
        return next(iter(res.values())) if res else None

    def rules(self):
        return [r for g in self.api("/api/v1/rules")["groups"] for r in g["rules"]]

    def alerts(self):
        """{(alertname, severity): alert} of the pending and firing alerts."""
        return {(a["labels"].get("alertname"), a["labels"].get("severity")): a
                for a in self.api("/api/v1/alerts")["alerts"]}

    def firing(self):
        return {k for k, a in self.alerts().items() if a["state"] == "firing"}


def record_named(rules, prefix):
    names = [r["name"] for r in rules if r["type"] == "recording" and r["name"].startswith(prefix)]
    if len(names) != 1:
        nfce.fail(f"expected one recording rule named {prefix}*, found {names}")
    return names[0]


# --------------------------------------------------------------------------------------------
# The test
# --------------------------------------------------------------------------------------------


def runbook_base():
    """runbook_base of config.yml, as generate.py reads it."""
    r = subprocess.run([sys.executable, GENERATE, "--dump-config"], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        nfce.fail(f"generate.py --dump-config exited {r.returncode}: {r.stderr.strip()}")
    return json.loads(r.stdout)["runbook_base"]


def generate_rules(path):
    if not os.path.exists(GENERATE):
        nfce.fail(f"{GENERATE} is missing")
    r = subprocess.run([sys.executable, GENERATE, "--override", OVERRIDES, "-o", path],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        nfce.fail(f"generate.py --override {OVERRIDES} exited {r.returncode}: {r.stderr.strip()}")


def check_quiet(ck, prom, names, buckets):
    """Every rule evaluated without error; recording rules' values on a quiet table; no alerts."""
    def evaluated():
        rules = prom.rules()
        done = all(r.get("health") == "ok" for r in rules) and prom.one(f"up{{job=\"{JOB}\"}}") == 1
        # rate() and deriv() need two scrapes
        recorded = all(prom.one(names[k]) is not None for k in ("fill", "deriv", "drop"))
        return rules if done and recorded else None

    t0 = time.monotonic()
    rules = nfce.wait_until(evaluated, 20, interval=0.3)
    nfce.log(f"rules evaluated and recording after {time.monotonic() - t0:.1f}s")
    if not rules:
        rules = prom.rules()
        bad = [f"{r['name']}: {r.get('health')} {r.get('lastError', '')}" for r in rules if r.get("health") != "ok"]
        nfce.fail(f"rules not all evaluated healthy: {bad}; up = {prom.query('up')}\nprometheus log:\n{prom.log()}")
    ck.true("rules loaded", len(rules) >= 15, f"{len(rules)} rules")
    for r in rules:
        ck.eq(f"rule {r['name']} health", "ok", r.get("health"))

    entries = prom.one(f'nf_conntrack_entries{{job="{JOB}"}}')
    limit = prom.one(f'nf_conntrack_entries_limit{{job="{JOB}"}}')
    ck.eq("nf_conntrack_buckets via Prometheus vs the sysctl", float(buckets),
          prom.one(f'nf_conntrack_buckets{{job="{JOB}"}}'))
    ck.true("limit scraped", limit is not None and limit > 0, repr(limit))
    if entries is not None and limit:
        ck.between(f"{names['fill']} (quiet)", entries / limit - 1e-9, prom.one(names["fill"]), entries / limit + 1e-9)
        ck.between(f"{names['per_bucket']} (quiet)", entries / buckets - 1e-9, prom.one(names["per_bucket"]),
                   entries / buckets + 1e-9)
    for key in ("drop", "early_drop", "insert_failed", "chaintoolong"):
        ck.eq(f"{names[key]} (quiet)", 0.0, prom.one(names[key]))
    ck.eq(f"{names['deriv']} (quiet)", 0.0, prom.one(names["deriv"]))
    ck.eq(f"{names['ttf']} (not growing: absent)", None, prom.one(names["ttf"]))
    active = prom.alerts()
    ck.eq("alerts pending or firing on a quiet table", [],
          sorted(f"{k[0]}/{k[1]}: {a['state']}" for k, a in active.items()))


DASHBOARD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "dashboards",
                         "grafana", "nf_conntrack.json")
# Panels with nothing to show in a fresh namespace: neighbour caches exist only in the host's
# namespace, no flow born under the exporter's eyes has ended yet, and a table that is no longer
# growing has no time to full. The exporter runs without --netns here: the namespace panels'
# own metrics do not exist (test_netns.py and the dashboard test scrape with them). Nothing is
# NATed in the test namespace: no DNAT targets, no SNAT addresses (test_status_attrib has some).
MAY_BE_EMPTY = ("arp_cache", "ndisc_cache", "flow_lifetime", "deriv(", "nf_conntrack_host_entries{",
                "nf_conntrack_exporter_netns_", "nf_conntrack_top_dnat_target_entries{",
                "nf_conntrack_snat_port_usage_ratio{")


def dashboard_exprs():
    def walk(panels):
        for p in panels or []:
            yield p
            yield from walk(p.get("panels"))
    with open(DASHBOARD) as f:
        d = json.load(f)
    for p in walk(d.get("panels")):
        for t in p.get("targets") or []:
            if t.get("expr"):
                yield f'panel {p.get("id")} "{p.get("title", "")}" {t.get("refId", "")}', t["expr"]


def check_dashboard_queries(ck, ns, prom):
    """Every query of the Grafana dashboard returns data from this Prometheus."""
    # Some UDP too, for the panels of protocols other than TCP; then a few scrapes.
    ns.flows(udp=3, hold=False)
    nfce.wait_until(lambda: prom.query(f'nf_conntrack_state_entries{{job="{JOB}",protocol="udp"}} > 0'), 15,
                    interval=0.3)  # else the dashboard's UDP panels fail below
    values = {"job": JOB, "instance": f"127.0.0.1:{nfce.PORT}", "netns": ".*", "__rate_interval": "20s",
              "__interval": "5s", "__range": "2m"}
    n = 0
    for where, expr in dashboard_exprs():
        q = re.sub(r"\$\{?(\w+)\}?", lambda m: values.get(m.group(1), m.group(0)), expr)
        data = prom.api("/api/v1/query", query=q)
        n += 1
        if data.get("result") or any(p in expr for p in MAY_BE_EMPTY):
            continue
        ck.fail(f"dashboard {where} returns no data", q)
    ck.true("dashboard queries checked", n >= 40, f"{n} queries")


def test(ck):
    if not os.path.exists(nfce.MAX_FILE):
        nfce.skip("nf_conntrack is not loaded in the initial namespace")
    t0 = time.monotonic()
    tmpdir = nfce.run_tmpdir(TMP_PREFIX)
    try:
        with nfce.Netns("prometheus_e2e") as ns:
            rules_file = os.path.join(tmpdir, "rules.yml")
            generate_rules(rules_file)
            ns.notrack(PROM_PORT)  # queries to Prometheus stay out of conntrack, like scrapes
            with nfce.Exporter(ns) as exp:
                prom = Prometheus(ns, tmpdir, rules_file, [f"{exp.host}:{exp.port}"])
                try:
                    prom.start()
                    nfce.log(f"prometheus ready after {time.monotonic() - t0:.1f}s")
                    run(ck, ns, exp, prom)
                    if ck.failures:
                        nfce.log("prometheus log (tail):\n" + prom.log())
                except nfce.TestFailure:
                    nfce.log("prometheus log (tail):\n" + prom.log())
                    raise
                finally:
                    prom.stop()
                    prom.log_file.close()
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def run(ck, ns, exp, prom):
    rules = prom.rules()
    names = {
        "fill": record_named(rules, "instance:nf_conntrack_entries:fill_ratio"),
        "per_bucket": record_named(rules, "instance:nf_conntrack_entries:per_bucket"),
        "deriv": record_named(rules, "instance:nf_conntrack_entries:deriv"),
        "ttf": record_named(rules, "instance:nf_conntrack_entries:seconds_to_full"),
    }
    for stat in ("drop", "early_drop", "insert_failed", "chaintoolong"):
        names[stat] = record_named(rules, f"instance:nf_conntrack_stat_{stat}:rate")
    buckets = read_int(BUCKETS_FILE)
    check_quiet(ck, prom, names, buckets)
    ck.raise_if_failed("before filling the table")

    seen_firing = {}
    with nfce.lowered_max(headroom=HEADROOM, max_others=MAX_OTHERS) as (orig, limit), ns.traffic() as fill:
        info = fill.do("fill", max=limit, udp=N_UDP, timeout=60)
        t_full = time.monotonic()
        nfce.log(f"table full: {info}")
        ck.eq("kernel count once the table is full", limit, info["count_when_full"])
        ck.eq("UDP datagrams refused with EPERM (dropped by conntrack)", N_UDP, info["udp_eperm"])
        # New UDP flows while the alerts come (stopped below; on a failure, by the namespace's clean-up)
        dropper = ns.popen([sys.executable, "-c", DROPPER, str(ALERT_TIMEOUT + 30), str(nfce.UDP_BASE + 1000)],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        nfce.read_line(dropper.stdout, 10)

        def all_fired():
            now = time.monotonic() - t_full
            for k in prom.firing():
                seen_firing.setdefault(k, now)
            return FIRE_WHEN_FULL <= set(seen_firing)

        nfce.wait_until(all_fired, ALERT_TIMEOUT, interval=0.3)
        nfce.log("firing after the table filled: " +
                 ", ".join(f"{a}/{s} {t:.1f}s" for (a, s), t in sorted(seen_firing.items(), key=lambda x: x[1])))
        for k in sorted(FIRE_WHEN_FULL):
            ck.true(f"{k[0]} (severity {k[1]}) fired with the table full", k in seen_firing,
                    f"not within {ALERT_TIMEOUT}s; firing: {sorted(seen_firing)}")
        unexpected = {k for k in seen_firing if k not in FIRE_WHEN_FULL and k[0] != "ConntrackEarlyDrops"}
        ck.eq("other alerts firing with the table full", [], sorted(unexpected))

        # Recording rules' values while full and dropping.
        active = prom.alerts()
        fill_ratio = prom.one(names["fill"])
        ck.between(f"{names['fill']} with the table full", (limit - 2) / limit, fill_ratio, 1.0)
        ck.eq(f'nf_conntrack_entries_limit{{job="{JOB}"}}', float(limit),
              prom.one(f'nf_conntrack_entries_limit{{job="{JOB}"}}'))
        entries = prom.one(f'nf_conntrack_entries{{job="{JOB}"}}')
        ck.true(f"{names['per_bucket']} == entries / buckets",
                entries is not None and abs(prom.one(names["per_bucket"]) - entries / buckets) < 1e-9,
                f"{prom.one(names['per_bucket'])} vs {entries}/{buckets}")
        drop_rate = prom.one(names["drop"])
        ck.true(f"{names['drop']} > 0 while dropping", drop_rate is not None and drop_rate > 0, repr(drop_rate))
        drops = prom.one(f'nf_conntrack_stat_drop_total{{job="{JOB}"}}')
        ck.true("nf_conntrack_stat_drop_total via Prometheus >= the datagrams refused by the fill",
                drops is not None and drops >= N_UDP, repr(drops))
        ttf = prom.one(names["ttf"])
        ck.true(f"{names['ttf']} is 0 or absent once full", ttf in (None, 0.0), repr(ttf))
        a = active.get(("ConntrackTableAlmostFull", "critical"))
        if ck.true("ConntrackTableAlmostFull/critical still active", a is not None, repr(sorted(active))):
            inst = f"{exp.host}:{exp.port}"
            ck.eq("ConntrackTableAlmostFull labels", {"alertname": "ConntrackTableAlmostFull", "severity": "critical",
                                                      "job": JOB, "instance": inst}, a["labels"])
            pct = f"{float(a['value']) * 100:g}"
            ck.true("ConntrackTableAlmostFull summary names the instance and the fill",
                    a["annotations"].get("summary", "").startswith(f"Conntrack table of {inst} is "),
                    repr(a["annotations"].get("summary")) + f" (value {pct}%)")
            ck.eq("ConntrackTableAlmostFull runbook_url", runbook_base() + "#conntracktablealmostfull",
                  a["annotations"].get("runbook_url"))
        a = active.get(("ConntrackPacketsDropped", "critical"))
        if ck.true("ConntrackPacketsDropped still active", a is not None, repr(sorted(active))):
            ck.true("ConntrackPacketsDropped value > 0", float(a["value"]) > 0, a["value"])
        try:  # closing its stdin stops it
            out = dropper.communicate(timeout=10)[0].decode().strip().splitlines()
            nfce.log(f"dropper: {out[-1] if out else '?'}")
        except (subprocess.TimeoutExpired, OSError, ValueError) as e:
            nfce.log(f"dropper did not stop: {e}")
    nfce.log(f"nf_conntrack_max lowered for {time.monotonic() - t_full:.1f}s")
    ck.eq("nf_conntrack_max restored", orig, nfce.read_max())

    # The limit is back: the ratio drops under the thresholds and the alert resolves at once.
    def almost_full_gone():
        return not any(k[0] == "ConntrackTableAlmostFull" for k in prom.alerts())

    ck.true("ConntrackTableAlmostFull resolves once nf_conntrack_max is restored",
            nfce.wait_until(almost_full_gone, 15, interval=0.3), repr(sorted(prom.alerts())))

    check_dashboard_queries(ck, ns, prom)

    # The exporter stops: up == 0 for the job, ConntrackExporterDown fires.
    ck.eq("exporter exit status on SIGTERM", 0, exp.stop())
    t_stop = time.monotonic()
    down = nfce.wait_until(lambda: ("ConntrackExporterDown", "warning") in prom.firing(), 20, interval=0.3)
    ck.true("ConntrackExporterDown fires once the exporter is stopped", down, repr(sorted(prom.alerts())))
    if down:
        nfce.log(f"ConntrackExporterDown firing {time.monotonic() - t_stop:.1f}s after the exporter stopped")


if __name__ == "__main__":
    nfce.main(test, tools=("ip", "nft", "conntrack", "nsenter", "prometheus"))
