#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""web_reload_downgrade: a reload must not open the endpoint (issue 15, item 3).

An editor or a config management tool that writes the web config in place leaves, for a
moment, an empty or half-written file; a SIGHUP then must not take away the TLS, the client
certificate or the basic auth the running config has. With TLS and basic auth running,
reloads of an empty file, of the file without its basic_auth_users, of the file without its
tls_server_config, and (with mutual TLS running) of the file cut after key_file are each
refused: an error names what the file would remove, /metrics still needs the password (or the
client certificate), nf_conntrack_exporter_web_config_reload_failures_total{reason="downgrade"}
counts them and ..._last_reload_successful is 0, until a good file is reloaded (1 again, with a
newer ..._last_reload_success_timestamp_seconds). A broken file counts as reason="invalid". The
reload metrics are in the OpenMetrics exposition too, before its "# EOF". At startup an empty
file still means plain HTTP without auth (exporter-toolkit's behaviour), and with
--web.config.allow-downgrade the empty file's reload is accepted, with a warning."""
import os
import re
import shutil
import signal
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfce  # noqa: E402
from test_webconfig import bcrypt, check_401, check_metrics, curl, make_pki, web_yml, write  # noqa: E402

FAILURES = "nf_conntrack_exporter_web_config_reload_failures_total"
LAST_OK = "nf_conntrack_exporter_web_config_last_reload_successful"
LAST_TIME = "nf_conntrack_exporter_web_config_last_reload_success_timestamp_seconds"
REFUSED = "web config reload refused, keeping the running one"
FAILED = "web config reload failed, keeping the running one"
RELOADED = 'msg="web config reloaded"'
DOWNGRADED = 'msg="web config reloaded, removing protection'
OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def sighup(exp, expect):
    """SIGHUP, then wait until the log has one more line containing expect."""
    before = exp.log().count(expect)
    exp.proc.send_signal(signal.SIGHUP)
    return nfce.wait_until(lambda: exp.log().count(expect) > before, 10)


def last_line(exp, text):
    return ([""] + [line for line in exp.log().splitlines() if text in line])[-1]


def reload_metrics(ck, ns, d, auth, what):
    """The reload metrics, each None when absent (or there was no scrape)."""
    r = curl(ns, "/metrics", pki=d, auth=auth)
    m = nfce.Metrics(r.body if ck.eq(f"{what}: status", 200, r.status) else "")
    return {
        "downgrade": m.get(FAILURES, reason="downgrade"),
        "invalid": m.get(FAILURES, reason="invalid"),
        "server": m.get(FAILURES, reason="server"),
        "ok": m.get(LAST_OK),
        "time": m.get(LAST_TIME),
    }


def test_refused(ck, ns, d):
    yml = os.path.join(d, "web.yml")
    alice = ("alice", "correct horse")
    tls = {"cert_file": "server.crt", "key_file": "server.key"}
    good = web_yml(tls=tls, users={"alice": bcrypt(alice[1])})
    write(yml, good)
    with nfce.Exporter(ns, args=[f"--web.config.file={yml}"]) as exp:
        m0 = reload_metrics(ck, ns, d, alice, what="at start")
        ck.eq("at start: reload failures (downgrade, invalid, server)", (0, 0, 0),
              (m0["downgrade"], m0["invalid"], m0["server"]))
        ck.eq("at start: last reload successful", 1, m0["ok"])
        ck.true("at start: last success timestamp is the start",
                m0["time"] is not None and abs(m0["time"] - exp.started_at) < 30, m0)

        cases = [
            ("an empty file", "", "TLS, basic auth"),
            ("the file without basic_auth_users", web_yml(tls=tls), "basic auth"),
            ("the file without tls_server_config", web_yml(users={"alice": bcrypt(alice[1])}), "TLS"),
        ]
        for n, (what, text, removes) in enumerate(cases, 1):
            write(yml, text)
            ck.true(f"reload of {what}: refused with an error", sighup(exp, REFUSED), exp.log()[-1500:])
            line = last_line(exp, REFUSED)
            ck.true(f"reload of {what}: the error says what the file would remove",
                    re.search(f'removes="?{removes}"?$', line) and "level=error" in line and yml in line, line)
            check_401(ck, f"after the reload of {what}: no credentials", curl(ns, "/metrics", pki=d))
            check_metrics(ck, f"after the reload of {what}: the password", curl(ns, "/metrics", pki=d, auth=alice))
            r = curl(ns, "/metrics", scheme="http")
            ck.true(f"after the reload of {what}: no plain HTTP", r.status is None, repr(r))
            m = reload_metrics(ck, ns, d, alice, what=f"after the reload of {what}")
            ck.eq(f"after the reload of {what}: failures{{reason=downgrade}}", n, m["downgrade"])
            ck.eq(f"after the reload of {what}: last reload successful", 0, m["ok"])
            ck.eq(f"after the reload of {what}: last success timestamp unchanged", m0["time"], m["time"])
        ck.true("no reload was applied", RELOADED not in exp.log(), exp.log()[-1500:])

        write(yml, good + "  bad: [\n")
        ck.true("reload of a broken file: failed", sighup(exp, FAILED), exp.log()[-1500:])
        m = reload_metrics(ck, ns, d, alice, what="after a broken file")
        ck.eq("after a broken file: failures{reason=invalid}", 1, m["invalid"])
        ck.eq("after a broken file: failures{reason=downgrade} unchanged", len(cases), m["downgrade"])

        write(yml, good)
        ck.true("reload of the good file: applied", sighup(exp, RELOADED), exp.log()[-1500:])
        m = reload_metrics(ck, ns, d, alice, what="after the good file")
        ck.eq("after the good file: last reload successful", 1, m["ok"])
        ck.true("after the good file: a newer last success timestamp", (m["time"] or 0) > (m0["time"] or 0), (m0, m))
        ck.eq("after the good file: failures stay counted", (len(cases), 1, 0),
              (m["downgrade"], m["invalid"], m["server"]))
        r = curl(ns, "/metrics", "-H", f"Accept: {OPENMETRICS}", pki=d, auth=alice)
        ck.true("OpenMetrics: the reload metrics, then one # EOF at the end",
                r.body.endswith("# EOF\n") and r.body.count("# EOF") == 1 and LAST_OK in r.body, r.body[-600:])
        ck.true("OpenMetrics: the counter family without _total, the same counts",
                f"# TYPE {FAILURES[:-len('_total')]} counter\n" in r.body
                and f'{FAILURES}{{reason="downgrade"}} {len(cases)}\n' in r.body
                and f'{FAILURES}{{reason="invalid"}} 1\n' in r.body, r.body[-600:])


def test_mtls_refused(ck, ns, d):
    yml = os.path.join(d, "mtls.yml")
    tls = {"cert_file": "server.crt", "key_file": "server.key"}
    client = ["--cert", os.path.join(d, "client.crt"), "--key", os.path.join(d, "client.key")]
    write(yml, web_yml(tls=dict(tls, client_auth_type="RequireAndVerifyClientCert", client_ca_file="ca.crt")))
    with nfce.Exporter(ns, args=[f"--web.config.file={yml}"]) as exp:
        write(yml, web_yml(tls=tls))  # cut after key_file
        ck.true("mTLS, reload of the file cut after key_file: refused", sighup(exp, REFUSED), exp.log()[-1500:])
        ck.true("mTLS: the error names the client certificate", 'removes="client certificate"' in exp.log(),
                exp.log()[-1500:])
        r = curl(ns, "/metrics", pki=d)
        ck.true("mTLS: without a certificate still refused", r.status in (None, 403), repr(r))
        check_metrics(ck, "mTLS: with the certificate", curl(ns, "/metrics", *client, pki=d))


def test_allowed(ck, ns, d):
    yml = os.path.join(d, "allow.yml")
    alice = ("alice", "correct horse")
    write(yml, web_yml(tls={"cert_file": "server.crt", "key_file": "server.key"}, users={"alice": bcrypt(alice[1])}))
    with nfce.Exporter(ns, args=[f"--web.config.file={yml}", "--web.config.allow-downgrade"]) as exp:
        check_401(ck, "allow-downgrade: auth before the reload", curl(ns, "/metrics", pki=d))
        write(yml, "")
        ck.true("allow-downgrade: the empty file's reload is applied", sighup(exp, DOWNGRADED), exp.log()[-1500:])
        line = last_line(exp, DOWNGRADED)
        ck.true("allow-downgrade: a warning says what it removed",
                "level=warn" in line and 'removes="TLS, basic auth"' in line, line)
        r = curl(ns, "/metrics", scheme="http")
        check_metrics(ck, "allow-downgrade: plain HTTP without credentials after the reload", r)
        m = nfce.Metrics(r.body)
        ck.eq("allow-downgrade: no failure counted", 0, m.get(FAILURES, reason="downgrade"))
        ck.eq("allow-downgrade: last reload successful", 1, m.get(LAST_OK))


def test_empty_at_start(ck, ns, d):
    yml = os.path.join(d, "empty.yml")
    write(yml, "")
    with nfce.Exporter(ns, args=[f"--web.config.file={yml}"]):
        check_metrics(ck, "an empty file at startup: plain HTTP, no auth", curl(ns, "/metrics", scheme="http"))


def test(ck):
    for tool in ("openssl", "curl", "htpasswd"):
        if not shutil.which(tool):
            nfce.skip(f"`{tool}` is not installed")
    d = tempfile.mkdtemp(prefix="nfce-reload-downgrade-")
    try:
        make_pki(d)
        with nfce.Netns("web-reload-downgrade") as ns:
            test_refused(ck, ns, d)
            test_mtls_refused(ck, ns, d)
            test_allowed(ck, ns, d)
            test_empty_at_start(ck, ns, d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    nfce.main(test)
