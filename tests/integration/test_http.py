#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""http: status codes, content types, the landing page, 405 with Allow, a custom telemetry
path, and a clean exit (status 0, port closed) on SIGTERM and on SIGINT."""
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfce  # noqa: E402


def check_metrics_response(ck, what, r):
    ck.eq(f"{what}: status", 200, r.status)
    ck.eq(f"{what}: Content-Type", nfce.METRICS_CONTENT_TYPE, r.header("Content-Type"))
    ck.true(f"{what}: no transport error", r.error is None, r.error)
    try:
        m = nfce.Metrics(r.body)
    except nfce.MetricsParseError as e:
        ck.fail(f"{what}: body", f"malformed exposition: {e}")
        return None
    ck.true(f"{what}: body has nf_conntrack_entries", m.get("nf_conntrack_entries") is not None,
            f"{len(r.body)} bytes")
    return m


def check_endpoints(ck, ns, exp, path):
    check_metrics_response(ck, f"GET {path}", exp.get(path))

    r = exp.get(path, method="HEAD")
    ck.eq(f"HEAD {path}: status", 200, r.status)
    ck.eq(f"HEAD {path}: Content-Type", nfce.METRICS_CONTENT_TYPE, r.header("Content-Type"))
    ck.eq(f"HEAD {path}: body bytes", b"", r.body)

    r = exp.get("/")
    ck.eq("GET /: status", 200, r.status)
    ct = r.header("Content-Type") or ""
    ck.true("GET /: Content-Type text/html", re.match(r"text/html(;|$)", ct), repr(ct))
    ck.true(f"GET /: links to {path}", re.search(rf'<a\s[^>]*href="{re.escape(path)}"', r.body.decode(errors="replace")),
            repr(r.body[:500]))

    for p in ("/nope", path + "/", path + "x", "/metrics/../nope"):
        if p == path:
            continue
        r = exp.get(p)
        ck.eq(f"GET {p}: status", 404, r.status)

    for method in ("POST", "PUT", "DELETE"):
        r = ns.http(method, path, host=exp.host, port=exp.port, body="a=1" if method != "DELETE" else None)
        ck.eq(f"{method} {path}: status", 405, r.status)
        allow = r.header("Allow")
        methods = {x.strip() for x in allow.split(",")} if isinstance(allow, str) else set()
        ck.true(f"{method} {path}: Allow header lists GET and HEAD", {"GET", "HEAD"} <= methods,
                f"Allow: {allow!r}")
        ck.true(f"{method} {path}: Allow header does not list {method}", method not in methods, f"Allow: {allow!r}")


def check_shutdown(ck, ns, exp, sig):
    name = signal.Signals(sig).name
    t0 = time.monotonic()
    rc = exp.stop(sig, timeout=5)
    took = time.monotonic() - t0
    ck.eq(f"exit status on {name}", 0, rc)
    ck.true(f"exit within 5 s of {name}", rc is not None and took < 5, f"took {took:.1f}s")
    ck.eq(f"port after {name}", "refused", ns.probe(exp.host, exp.port))
    ck.true(f"log says it is shutting down on {name}", "shutting down" in exp.log(), exp.log())


def test(ck):
    with nfce.Netns("http") as ns:
        with nfce.Exporter(ns) as exp:
            check_endpoints(ck, ns, exp, "/metrics")
            # still serving after all that
            check_metrics_response(ck, "GET /metrics again", exp.get("/metrics"))
            check_shutdown(ck, ns, exp, signal.SIGTERM)

        with nfce.Exporter(ns, args=["--web.telemetry-path=/custom/path"]) as exp:
            check_endpoints(ck, ns, exp, "/custom/path")
            r = exp.get("/metrics")
            ck.eq("GET /metrics with --web.telemetry-path=/custom/path: status", 404, r.status)
            check_shutdown(ck, ns, exp, signal.SIGINT)

        # SIGTERM while a keep-alive connection is open and idle: still a prompt exit.
        with nfce.Exporter(ns) as exp:
            idle = ns.popen([sys.executable, "-c",
                             "import socket,sys,time; s=socket.create_connection(('127.0.0.1', %d)); "
                             "s.sendall(b'GET /metrics HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'); s.recv(1); "
                             "print('ok', flush=True); sys.stdin.read()" % nfce.PORT],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            ck.eq("keep-alive client got a response", "ok\n", nfce.read_line(idle.stdout, 10))
            check_shutdown(ck, ns, exp, signal.SIGTERM)
            idle.stdin.close()
            idle.wait(5)


if __name__ == "__main__":
    nfce.main(test)
