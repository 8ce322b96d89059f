#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""log_json: with --log.format=json every line the exporter writes to stderr is one JSON
object with "ts", "level" and "msg" first, then the same fields as logfmt would have.

In a namespace of its own, the exporter runs with --log.format=json --log.level=debug, a
--path.procfs that is an empty directory (so the collectors that read /proc fail and it warns)
and a telemetry path with characters that need care (a quote, a backslash, a byte that is not
UTF-8, and UTF-8 that is; --web.telemetry-path refuses control characters, which the unit test
test_log covers), which its "listening" line logs. A scrape, then SIGTERM. Every stderr line must parse with json.loads and round-trip the
odd path (the bad byte as U+FFFD); a "collector failed" warning names the collector and err.
The same run with logfmt keeps logfmt (no line starts with "{").
"""
import json
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfce  # noqa: E402

ODD_PATH = b'/m"e\\trics\xff\xc3\xa9'
ODD_PATH_DECODED = '/m"e\\trics\ufffd\u00e9'
TS_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def run(ns, procfs, fmt):
    args = [f"--log.format={fmt}", "--log.level=debug", f"--path.procfs={procfs}"]
    ex = nfce.Exporter(ns, args=[a.encode() for a in args] + [b"--web.telemetry-path=" + ODD_PATH])
    with ex:
        r = ns.http("GET", "/")  # the landing page scrapes too: the collectors fail and warn
        if r.status != 200:
            nfce.fail(f"GET /: status {r.status} ({r.error}); stderr:\n{ex.log()}")
        for _ in nfce.deadline_loop(10, 0.1):
            if "collector failed" in ex.log():
                break
    ex.stderr_file.seek(0)
    return ex.stderr_file.read()


def test(ck):
    procfs = tempfile.mkdtemp(prefix="nfce-log-json-procfs-")
    try:
        with nfce.Netns("log_json") as ns:
            raw = run(ns, procfs, "json")
            lines = raw.split(b"\n")
            ck.eq("stderr ends with a newline", b"", lines[-1])
            objs = []
            for i, line in enumerate(lines[:-1], 1):
                try:
                    o = json.loads(line.decode("utf-8"))
                except (UnicodeDecodeError, ValueError) as e:
                    ck.fail(f"stderr line {i} is not JSON", f"{e}: {line!r}")
                    continue
                if not ck.true(f"line {i} is an object", isinstance(o, dict), repr(o)):
                    continue
                objs.append(o)
                ck.eq(f"line {i}: first keys", ["ts", "level", "msg"], list(o)[:3])
                ck.true(f"line {i}: ts", TS_RE.fullmatch(str(o.get("ts"))), repr(o.get("ts")))
                ck.true(f"line {i}: level", o.get("level") in ("debug", "info", "warn", "error"), repr(o))
            ck.true("some lines", len(objs) >= 3, raw.decode(errors="replace"))
            listening = [o for o in objs if o.get("msg") == "listening"]
            ck.eq("one listening line", 1, len(listening))
            if listening:
                ck.eq("telemetry_path round-trips through JSON", ODD_PATH_DECODED,
                      listening[0].get("telemetry_path"))
                ck.true("address is a string", isinstance(listening[0].get("address"), str), repr(listening[0]))
            failed = [o for o in objs if o.get("msg") == "collector failed"]
            ck.true("a collector failed warning", failed, raw.decode(errors="replace"))
            for o in failed:
                ck.eq("collector failed: level", "warn", o.get("level"))
                ck.true("collector failed: collector and err", isinstance(o.get("collector"), str) and
                        isinstance(o.get("err"), str) and o["err"], repr(o))
                ck.true("collector failed: times is a number", isinstance(o.get("times"), int), repr(o))
            ck.true("a shutting down line", any(o.get("msg") == "shutting down" for o in objs), repr(objs[-3:]))

            raw = run(ns, procfs, "logfmt")
            lines = raw.decode(errors="replace").splitlines()
            ck.true("logfmt: lines", len(lines) >= 3, raw)
            ck.true("logfmt: no JSON", not any(l.startswith("{") for l in lines), raw)
            ck.true("logfmt: ts= level= msg=", all(re.match(r"ts=\S+ level=\w+ msg=", l) for l in lines), raw)
    finally:
        shutil.rmtree(procfs, ignore_errors=True)


if __name__ == "__main__":
    nfce.main(test)
