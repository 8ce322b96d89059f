#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""promtool: a live scrape (every collector producing, netlink and procfs fallback alike)
passes `promtool check metrics` with exit status 0 and no output at all."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfce  # noqa: E402


def promtool(body):
    r = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, timeout=30)
    return r.returncode, (r.stdout + r.stderr).decode(errors="replace")


def test(ck):
    # The harness itself must be able to see a failure.
    rc, out = promtool(b"# HELP x_total a counter\n# TYPE x_total counter\nx_total{a=\"b\" 1\n")
    if rc == 0:
        nfce.fail(f"promtool accepted a malformed exposition: {out!r}")
    rc, out = promtool(b"# HELP x a gauge\n# TYPE x counter\nx 1\n")
    if rc == 0 or not out.strip():
        nfce.fail(f"promtool's lint did not complain about a counter without _total: exit {rc}, {out!r}")

    with nfce.Netns("promtool") as ns:
        with ns.flows(tcp=5, udp=10, invalid=2):
            for label, wrapper, sources in (("netlink", [], nfce.ALL_SOURCES),
                                            ("procfs fallback", nfce.drop_net_admin_wrapper(), {"procfs"})):
                with nfce.Exporter(ns, wrapper=wrapper) as exp:
                    for i in range(2):
                        r = exp.get()
                        ck.eq(f"{label} scrape {i + 1}: status", 200, r.status)
                        m = nfce.Metrics(r.body)
                        nfce.check_collectors(ck, m, nfce.expected_success(sources))
                        rc, out = promtool(r.body)
                        ck.true(f"{label} scrape {i + 1}: promtool check metrics exit 0 and silent",
                                rc == 0 and out == "", f"exit {rc}, output:\n{out}")
                    ck.eq(f"{label}: exporter exit status on SIGTERM", 0, exp.stop())


if __name__ == "__main__":
    nfce.main(test, tools=("ip", "nft", "conntrack", "promtool"))
