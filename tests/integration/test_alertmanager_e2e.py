#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""alertmanager_e2e: the shipped alerts reach a person: exporter -> Prometheus (the shipped
rules) -> Alertmanager -> a webhook receiver, with what the on-call needs in each notification.

In a namespace of its own, all on 127.0.0.1: the exporter; a webhook receiver this test runs
(a small http.server printing every POSTed JSON body as a line, read here); Debian's
`prometheus-alertmanager` routing every alert to that receiver at once (group_wait 0s,
group_interval 1s, send_resolved); and `prometheus` scraping the exporter and evaluating every
second the rules of dashboards/rules/generate.py with e2e-overrides.yml (second-long windows
and `for:`), resending to Alertmanager every second. Then:

1. nf_conntrack_max lowered (nfce.lowered_max()), the namespace's table filled and new UDP flows
   dropped: the receiver gets firing notifications of ConntrackTableAlmostFull (warning and
   critical) and ConntrackPacketsDropped (critical), each alert with its labels (alertname,
   severity, instance, job) and annotations (summary and description naming the instance, an
   absolute runbook_url: config.yml's runbook_base + '#' + the alert name in lower case, an
   anchor of docs/alerts.md);
2. nf_conntrack_max restored and the flows closed: the receiver gets the resolved notifications
   of those same alerts.

NOT parallel: nf_conntrack_max is one value for all namespaces (lowered_max() holds
MAX_LOCK_FILE exclusively and restores the limit however the test ends)."""
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfce  # noqa: E402
import test_prometheus_e2e as pe2e  # noqa: E402

ALERTMANAGER = "prometheus-alertmanager"  # Debian's name of the alertmanager binary
AM_PORT = 39993  # inside the test's namespace, like Prometheus's
HOOK_PORT = 39994
RECEIVER = "nfce-webhook"
HEADROOM = 64
N_UDP = 50
FIRE_TIMEOUT = 40
RESOLVE_TIMEOUT = 45
TMP_PREFIX = "nfce-alertmanager-e2e-"
DOCS = os.path.join(pe2e.REPO, "docs", "alerts.md")

# (alertname, severity) that must reach the receiver firing, then resolved.
EXPECTED = {
    ("ConntrackTableAlmostFull", "warning"),
    ("ConntrackTableAlmostFull", "critical"),
    ("ConntrackPacketsDropped", "critical"),
}

# Runs inside the namespace: the webhook receiver. One JSON line per POST on stdout.
HOOK = r"""
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            d = json.loads(body)
        except ValueError:
            d = {"unparsable": body.decode(errors="replace")}
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        sys.stdout.write(json.dumps({"path": self.path, "body": d}) + "\n")
        sys.stdout.flush()
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H)
print(json.dumps({"listening": True}), flush=True)
s.serve_forever()
"""


class Receiver:
    """The webhook receiver in the namespace; notifications() are the bodies received so far."""

    def __init__(self, ns):
        self.proc = ns.popen([sys.executable, "-c", HOOK, str(HOOK_PORT)], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = nfce.read_line(self.proc.stdout, 10)
        if not line:
            err = self.proc.stderr.read() if self.proc.poll() is not None else b""
            nfce.fail(f"webhook receiver did not start: {err.decode(errors='replace').strip()}")
        self.q = queue.Queue()
        self.got = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                self.q.put(json.loads(line))
            except ValueError:
                self.q.put({"path": "?", "body": {"unparsable": line.decode(errors="replace")}})

    def notifications(self):
        while True:
            try:
                self.got.append(self.q.get_nowait())
            except queue.Empty:
                return self.got

    def alerts(self, status):
        """{(alertname, severity): (payload, alert)} of the alerts notified with status."""
        out = {}
        for n in self.notifications():
            for a in n["body"].get("alerts") or []:
                if a.get("status") == status:
                    out.setdefault((a["labels"].get("alertname"), a["labels"].get("severity")), (n["body"], a))
        return out

    def stop(self):
        nfce._stop_process(self.proc)


class Alertmanager:
    def __init__(self, ns, tmpdir):
        self.ns = ns
        self.dir = tmpdir
        self.config = os.path.join(tmpdir, "alertmanager.yml")
        cfg = {  # JSON is YAML
            "global": {"resolve_timeout": "10s"},
            "route": {"receiver": RECEIVER, "group_by": ["alertname", "severity", "instance"],
                      "group_wait": "0s", "group_interval": "1s", "repeat_interval": "1h"},
            "receivers": [{"name": RECEIVER, "webhook_configs": [
                {"url": f"http://127.0.0.1:{HOOK_PORT}/hook", "send_resolved": True}]}],
        }
        with open(self.config, "w") as f:
            json.dump(cfg, f, indent=2)
        self.log_file = open(os.path.join(tmpdir, "alertmanager.log"), "w+b")
        self.proc = None

    def start(self, timeout=30):
        self.proc = self.ns.popen([ALERTMANAGER, f"--config.file={self.config}",
                                   f"--storage.path={os.path.join(self.dir, 'am-data')}",
                                   f"--web.listen-address=127.0.0.1:{AM_PORT}",
                                   "--cluster.listen-address=", "--log.level=debug"],
                                  stdin=subprocess.DEVNULL, stdout=self.log_file, stderr=self.log_file)
        for _ in nfce.deadline_loop(timeout, 0.2):
            if self.proc.poll() is not None:
                nfce.skip(f"{ALERTMANAGER} exited with status {self.proc.returncode} at start:\n{self.log()}")
            if self.ns.http("GET", "/-/ready", port=AM_PORT, timeout=5).status == 200:
                return
        nfce.fail(f"alertmanager not ready on 127.0.0.1:{AM_PORT} after {timeout}s:\n{self.log()}")

    def stop(self):
        if self.proc is not None:
            nfce._stop_process(self.proc, timeout=10)

    def log(self, tail=40):
        self.log_file.seek(0)
        return "\n".join(self.log_file.read().decode(errors="replace").splitlines()[-tail:])


def doc_anchors():
    with open(DOCS) as f:
        doc = f.read()
    anchors = {re.sub(r"[^a-z0-9 _-]", "", h.strip().lower()).replace(" ", "-")
               for h in re.findall(r"^#+\s+(.+?)\s*$", doc, re.M)}
    return anchors | set(re.findall(r"<a (?:id|name)=\"([^\"]+)\"", doc))


def check_alert(ck, what, payload, a, status, inst, base, anchors):
    name, sev = a["labels"].get("alertname"), a["labels"].get("severity")
    ck.eq(f"{what}: receiver", RECEIVER, payload.get("receiver"))
    ck.eq(f"{what}: alert status", status, a.get("status"))
    ck.eq(f"{what}: labels", {"alertname": name, "severity": sev, "job": pe2e.JOB, "instance": inst}, a["labels"])
    ann = a.get("annotations") or {}
    ck.true(f"{what}: summary names the instance", inst in ann.get("summary", ""), repr(ann.get("summary")))
    ck.true(f"{what}: description names the instance", inst in ann.get("description", ""),
            repr(ann.get("description")))
    url = ann.get("runbook_url", "")
    ck.eq(f"{what}: runbook_url", f"{base}#{name.lower()}", url)
    ck.true(f"{what}: runbook_url is absolute", re.match(r"https?://[^/\s]+/", url), repr(url))
    ck.true(f"{what}: runbook anchor is a heading of docs/alerts.md", url.split("#", 1)[-1] in anchors, url)


def expect_notified(ck, hook, status, timeout, t0, since, prom_state, inst, base, anchors):
    """Every EXPECTED alert notified with @status within @timeout, each carrying what the
    on-call needs."""
    got = nfce.wait_until(lambda: (lambda g: g if EXPECTED <= set(g) else None)(hook.alerts(status)),
                          timeout, interval=0.3) or hook.alerts(status)
    nfce.log(f"{status} notifications {time.monotonic() - t0:.1f}s after {since}: {sorted(got)}")
    for k in sorted(EXPECTED):
        if ck.true(f"{k[0]}/{k[1]} notified {status}", k in got,
                   f"not within {timeout}s; notified {status}: {sorted(got)}; Prometheus: {prom_state()}"):
            check_alert(ck, f"{k[0]}/{k[1]} {status}", *got[k], status, inst, base, anchors)


def test(ck):
    if not os.path.exists(nfce.MAX_FILE):
        nfce.skip("nf_conntrack is not loaded in the initial namespace")
    t0 = time.monotonic()
    tmpdir = nfce.run_tmpdir(TMP_PREFIX)
    base, anchors = pe2e.runbook_base(), doc_anchors()
    try:
        with nfce.Netns("alertmanager_e2e") as ns:
            rules_file = os.path.join(tmpdir, "rules.yml")
            pe2e.generate_rules(rules_file)
            # Prometheus's API, its pushes to Alertmanager, the notifications: out of conntrack
            ns.notrack(pe2e.PROM_PORT, AM_PORT, HOOK_PORT)
            with nfce.Exporter(ns) as exp:
                hook = Receiver(ns)
                am = Alertmanager(ns, tmpdir)
                prom = pe2e.Prometheus(ns, tmpdir, rules_file, [f"{exp.host}:{exp.port}"],
                                       alertmanagers=[f"127.0.0.1:{AM_PORT}"],
                                       args=["--rules.alert.resend-delay=1s"])
                try:
                    am.start()
                    prom.start()
                    nfce.log(f"alertmanager and prometheus ready after {time.monotonic() - t0:.1f}s")
                    run(ck, ns, exp, prom, hook, base, anchors)
                except nfce.TestFailure:
                    nfce.log("prometheus log (tail):\n" + prom.log(20))
                    nfce.log("alertmanager log (tail):\n" + am.log())
                    raise
                finally:
                    prom.stop()
                    am.stop()
                    hook.stop()
                    prom.log_file.close()
                    am.log_file.close()
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def run(ck, ns, exp, prom, hook, base, anchors):
    inst = f"{exp.host}:{exp.port}"
    # Quiet table: rules healthy, Alertmanager known to Prometheus, nothing notified.
    def ready():
        rules = prom.rules()
        ams = prom.api("/api/v1/alertmanagers").get("activeAlertmanagers") or []
        return rules and all(r.get("health") == "ok" for r in rules) and ams and \
            prom.one(f'up{{job="{pe2e.JOB}"}}') == 1
    ck.true("rules healthy, exporter up and Alertmanager active in Prometheus",
            nfce.wait_until(ready, 20, interval=0.3),
            repr(prom.api("/api/v1/alertmanagers")))
    ck.eq("notifications on a quiet table", [], hook.notifications())
    ck.raise_if_failed("before filling the table")

    with nfce.lowered_max(headroom=HEADROOM, max_others=pe2e.MAX_OTHERS) as (orig, limit), \
            ns.traffic() as fill:
        info = fill.do("fill", max=limit, udp=N_UDP, timeout=60)
        t_full = time.monotonic()
        nfce.log(f"table full: {info}")
        ck.eq("UDP datagrams refused with EPERM (dropped by conntrack)", N_UDP, info["udp_eperm"])
        dropper = ns.popen([sys.executable, "-c", pe2e.DROPPER, str(FIRE_TIMEOUT + 20),
                            str(nfce.UDP_BASE + 1000)],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        nfce.read_line(dropper.stdout, 10)
        expect_notified(ck, hook, "firing", FIRE_TIMEOUT, t_full, "the table filled",
                        lambda: sorted(prom.firing()), inst, base, anchors)
        try:  # closing its stdin stops it
            dropper.communicate(timeout=10)
        except (subprocess.TimeoutExpired, OSError, ValueError) as e:
            nfce.log(f"dropper did not stop: {e}")
        early = sorted(k for k in hook.alerts("resolved") if k in EXPECTED)
        t_restore = time.monotonic()
    ck.eq("nf_conntrack_max restored", orig, nfce.read_max())
    ck.eq("alerts notified resolved while the table was still full", [], early)

    expect_notified(ck, hook, "resolved", RESOLVE_TIMEOUT, t_restore, "the limit was restored",
                    lambda: sorted(prom.alerts()), inst, base, anchors)
    got = hook.notifications()
    ck.true("notifications received", len(got) >= 2, f"{len(got)}")
    ck.eq("notifications that are not Alertmanager's webhook JSON (version 4, to /hook)", [],
          [n for n in got if n.get("path") != "/hook" or n["body"].get("version") != "4"])


if __name__ == "__main__":
    nfce.main(test, tools=("ip", "nft", "conntrack", "nsenter", "prometheus", ALERTMANAGER))
