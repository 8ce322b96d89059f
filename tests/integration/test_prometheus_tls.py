#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""prometheus_tls: a real Prometheus (Debian's `prometheus`) scrapes the exporter over TLS with
basic auth, verifying the exporter's certificate against the test CA; the target must be "up"
with no scrape error and its samples queryable. A second job with a wrong password must be
"down" with a 401, so that "up" is known to mean the credentials were checked."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfce  # noqa: E402
import test_webconfig as wct  # noqa: E402

PROM_PORT = 39990  # inside the test's namespace


def prometheus_api(ns, path, **params):
    url = path + ("?" + urllib.parse.urlencode(params) if params else "")
    r = ns.http("GET", url, port=PROM_PORT, timeout=10)
    if r.status != 200:
        nfce.fail(f"GET {url}: status {r.status} ({r.error}): {r.body[:300]!r}")
    return json.loads(r.body)["data"]


def targets(ns):
    """{job: activeTarget}"""
    return {t["labels"]["job"]: t for t in prometheus_api(ns, "/api/v1/targets")["activeTargets"]}


def test(ck):
    for tool in ("prometheus", "openssl"):
        if not shutil.which(tool):
            nfce.skip(f"`{tool}` is not installed")
    d = tempfile.mkdtemp(prefix="nfce-prometheus-tls-")
    try:
        wct.make_pki(d)
        yml = os.path.join(d, "web.yml")
        wct.write(yml, wct.web_yml(tls={"cert_file": "server.crt", "key_file": "server.key"},
                                   users={"prometheus": wct.bcrypt("scrape secret")}))
        target = f"127.0.0.1:{nfce.PORT}"
        tls = {"ca_file": os.path.join(d, "ca.crt")}
        cfg = {  # JSON is YAML
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
            "scrape_configs": [
                {"job_name": "nf_conntrack", "scheme": "https", "tls_config": tls,
                 "basic_auth": {"username": "prometheus", "password": "scrape secret"},
                 "static_configs": [{"targets": [target]}]},
                {"job_name": "wrong_password", "scheme": "https", "tls_config": tls,
                 "basic_auth": {"username": "prometheus", "password": "guess"},
                 "static_configs": [{"targets": [target]}]},
            ],
        }
        with open(os.path.join(d, "prometheus.yml"), "w") as f:
            json.dump(cfg, f)
        with nfce.Netns("prometheus_tls") as ns, \
                nfce.Exporter(ns, args=[f"--web.config.file={yml}"]) as exp, \
                open(os.path.join(d, "prometheus.log"), "w+b") as plog:
            prom = ns.popen(["prometheus", f"--config.file={d}/prometheus.yml",
                             f"--storage.tsdb.path={d}/data", f"--web.listen-address=127.0.0.1:{PROM_PORT}"],
                            stdin=subprocess.DEVNULL, stdout=plog, stderr=plog)

            def plog_text():
                plog.seek(0)
                return "\n".join(plog.read().decode(errors="replace").splitlines()[-40:])

            for _ in nfce.deadline_loop(30, 0.2):
                if prom.poll() is not None:
                    nfce.fail(f"prometheus exited with status {prom.returncode}:\n{plog_text()}")
                if ns.http("GET", "/-/ready", port=PROM_PORT, timeout=5).status == 200:
                    break
            else:
                nfce.fail(f"prometheus not ready after 30s:\n{plog_text()}")

            t = {}
            for _ in nfce.deadline_loop(30, 0.5):
                t = targets(ns)
                if t.get("nf_conntrack", {}).get("health") == "up" and \
                        t.get("wrong_password", {}).get("health") == "down":
                    break
            good, bad = t.get("nf_conntrack", {}), t.get("wrong_password", {})
            ck.eq("target over TLS with basic auth: health", "up", good.get("health"))
            ck.eq("target over TLS with basic auth: lastError", "", good.get("lastError"))
            ck.eq("target with a wrong password: health", "down", bad.get("health"))
            ck.true("target with a wrong password: 401", "401" in (bad.get("lastError") or ""), repr(bad))
            res = prometheus_api(ns, "/api/v1/query", query='nf_conntrack_entries{job="nf_conntrack"}')["result"]
            ck.eq("nf_conntrack_entries scraped over TLS", 1, len(res))
            nfce.log(f"targets: nf_conntrack {good.get('health')} ({good.get('lastScrapeDuration', 0):.4f}s), "
                     f"wrong_password {bad.get('health')} ({bad.get('lastError')})")
            prom.terminate()
            prom.wait(15)
            ck.eq("exporter still running", None, exp.proc.poll())
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    nfce.main(test, tools=("ip", "nft", "conntrack", "openssl", "prometheus"))
