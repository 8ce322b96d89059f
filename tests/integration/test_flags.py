#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""flags: bad flags exit 2 with one line naming the flag and never listen; --help and
--version exit 0; collector selection flags; listening on [::1], localhost and :PORT."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfce  # noqa: E402

LISTEN = f"--web.listen-address=127.0.0.1:{nfce.PORT}"
SELF_PREFIXES = ("nf_conntrack_exporter_", "process_")
TABLE_METRICS = {"nf_conntrack_entries", "nf_conntrack_entries_limit", "nf_conntrack_buckets",
                 "nf_conntrack_expect_entries_limit"}

# (argv, text the one-line error must contain)
BAD = [
    ([LISTEN, "--nope"], "--nope"),
    ([LISTEN, "--nope=1"], "--nope"),
    ([LISTEN, "--log.level=bogus"], "--log.level"),
    ([LISTEN, "--log.level"], "--log.level"),
    (["--web.listen-address=nonsense"], "--web.listen-address"),
    ([f"--web.listen-address=:99999"], "--web.listen-address"),
    (["--web.listen-address=127.0.0.1:"], "--web.listen-address"),
    (["--web.listen-address=::1:9100"], "--web.listen-address"),
    ([LISTEN, "--path.procfs=/nonexistent"], "--path.procfs"),
    ([LISTEN, "--path.procfs="], "--path.procfs"),
    ([LISTEN, "--web.telemetry-path=metrics"], "--web.telemetry-path"),
    ([LISTEN, "positional"], "positional"),
    ([LISTEN, "-x"], "-x"),
    ([LISTEN, "--"], "--"),
    ([LISTEN, "--collector.table=1"], "--collector.table"),
    ([LISTEN, "--no-collector.lnstat=0"], "--no-collector.lnstat"),
    ([LISTEN, "--collector.bogus"], "--collector.bogus"),
    ([LISTEN, "--version=yes"], "--version"),
]


def check_bad(ck, ns):
    bad = list(BAD)
    help_text = nfce.run_exporter_once(ns, ["--help"])[1]
    for flag, values in (("--collector.events.buffer-size", ("lots", "-1", "")),
                         ("--collector.events.max-zones", ("many", "-3"))):
        if flag in help_text:
            bad += [([LISTEN, f"{flag}={v}"], flag) for v in values]
    for argv, needle in bad:
        what = " ".join(argv[1:] if argv[0] == LISTEN else argv)
        rc, out, err = nfce.run_exporter_once(ns, argv)
        ck.eq(f"[{what}] exit status", 2, rc)
        ck.eq(f"[{what}] stdout", "", out)
        lines = err.splitlines()
        ck.true(f"[{what}] stderr is exactly one line", len(lines) == 1 and err.endswith("\n"), repr(err))
        ck.true(f"[{what}] stderr names {needle!r}", needle in err, repr(err))
        ck.eq(f"[{what}] port {nfce.PORT} afterwards", "refused", ns.probe())


def check_help_version(ck, ns):
    rc, out, err = nfce.run_exporter_once(ns, ["--version"])
    ck.eq("--version exit status", 0, rc)
    ck.true("--version prints one line 'nf_conntrack_exporter VERSION'",
            re.fullmatch(r"nf_conntrack_exporter \S+\n", out), repr(out))
    ck.eq("--version stderr", "", err)
    for h in ("--help", "-h"):
        rc, out, err = nfce.run_exporter_once(ns, [h])
        ck.eq(f"{h} exit status", 0, rc)
        ck.eq(f"{h} stderr", "", err)
        for word in ("--web.listen-address", "--web.telemetry-path", "--path.procfs", "--log.level",
                     "--collector.disable-defaults", "--version") + tuple(nfce.collectors()):
            ck.true(f"{h} mentions {word}", word in out, f"stdout:\n{out}")
    ck.eq("port after --help/--version", "refused", ns.probe())


def check_selection(ck, ns):
    with nfce.Exporter(ns, args=["--no-collector.lnstat"]) as exp:
        m = exp.scrape()
        ck.eq("--no-collector.lnstat: lnstat_* metrics", [], sorted(n for n in m.names() if n.startswith("lnstat_")))
        nfce.check_collectors(ck, m, nfce.expected_success(
            enabled=[c for c, on in nfce.collectors().items() if on and c != "lnstat"]))
        ck.true("--no-collector.lnstat: the other collectors still report",
                m.get("nf_conntrack_entries") is not None and m.find("nf_conntrack_timeout_seconds")
                and m.get("nf_conntrack_stat_invalid_total") is not None, sorted(m.names()))

    with nfce.Exporter(ns, args=["--collector.disable-defaults", "--collector.table"]) as exp:
        m = exp.scrape()
        others = sorted(n for n in m.names() if n not in TABLE_METRICS and not n.startswith(SELF_PREFIXES))
        ck.eq("--collector.disable-defaults --collector.table: metrics besides table's and self", [], others)
        ck.eq("--collector.disable-defaults --collector.table: table metrics", sorted(TABLE_METRICS),
              sorted(n for n in m.names() if n in TABLE_METRICS))
        nfce.check_collectors(ck, m, {"table": 1.0})
        nfce.check_self_metrics(ck, m)

    # Order does not matter: an explicit enable wins over disable-defaults given after it.
    with nfce.Exporter(ns, args=["--collector.stat", "--collector.disable-defaults"]) as exp:
        m = exp.scrape()
        nfce.check_collectors(ck, m, {"stat": 1.0})
        ck.eq("--collector.stat --collector.disable-defaults: non-stat, non-self metrics", [],
              sorted(n for n in m.names() if not n.startswith(("nf_conntrack_stat_",) + SELF_PREFIXES)))

    with nfce.Exporter(ns, args=["--collector.disable-defaults"]) as exp:
        m = exp.scrape()
        nfce.check_collectors(ck, m, {})
        ck.eq("--collector.disable-defaults alone: non-self metrics", [],
              sorted(n for n in m.names() if not n.startswith(SELF_PREFIXES)))
        nfce.check_self_metrics(ck, m)


def check_listen(ck, ns):
    has_v6 = "::1/128" in ns.run(["ip", "-6", "addr", "show", "dev", "lo"], check=False).stdout
    if has_v6:
        with nfce.Exporter(ns, listen=f"[::1]:{nfce.PORT}") as exp:
            m = exp.scrape()
            ck.true("[::1]:PORT serves metrics", m.get("nf_conntrack_entries") is not None, "")
            ck.eq("[::1]:PORT: 127.0.0.1 is not listened on", "refused", ns.probe("127.0.0.1"))
            ck.true("[::1]:PORT: logged address", f"address=[::1]:{nfce.PORT}" in exp.log(), exp.log())
    else:
        nfce.log("no ::1 on lo in the namespace (IPv6 disabled?): [::1] and dual-stack checks left out")

    with nfce.Exporter(ns, listen=f"localhost:{nfce.PORT}", host="localhost") as exp:
        m = exp.scrape()
        ck.true("localhost:PORT serves metrics", m.get("nf_conntrack_entries") is not None, "")
        logged = re.search(r"msg=listening address=(\S+)", exp.log())
        ck.true("localhost:PORT: logged a loopback address",
                logged and logged.group(1) in (f"127.0.0.1:{nfce.PORT}", f"[::1]:{nfce.PORT}"), exp.log())

    with nfce.Exporter(ns, listen=f":{nfce.PORT}") as exp:
        for host in ("127.0.0.1",) + (("::1",) if has_v6 else ()):
            r = ns.http("GET", "/metrics", host=host)
            ck.eq(f":PORT reachable on {host}", 200, r.status)


def test(ck):
    with nfce.Netns("flags") as ns:
        check_bad(ck, ns)
        check_help_version(ck, ns)
        check_selection(ck, ns)
        check_listen(ck, ns)


if __name__ == "__main__":
    nfce.main(test)
