#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""doctor: `nf_conntrack_exporter doctor` on a quiet table and on a table 95 % full.

In a namespace of its own with real established TCP connections: on the quiet table doctor
exits 0, its JSON parses and its entries and limit are the kernel's. Then the global
nf_conntrack_max is lowered so that this namespace's table is at least 95 % full (NOT parallel:
nfce.lowered_max(), the same exclusive lock and restore as table_full): doctor exits 1 and
names the fill, in text and in JSON. Run from another namespace with --netns naming both, it
names the full one as the worst. On the quiet table, the long TCP established timeout comes
with the count of established entries (the events collector's dump of this small table)."""
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfce  # noqa: E402

N_TCP = 40


def doctor(ns, *args):
    r = ns.run([os.environ["NFCE_EXPORTER"], "doctor", *args], check=False, timeout=30)
    return r.returncode, r.stdout, r.stderr


def test(ck):
    if not os.path.exists(nfce.MAX_FILE):
        nfce.skip("nf_conntrack is not loaded in the initial namespace")
    with nfce.Netns("doctor") as ns, ns.flows(tcp=N_TCP):
        rc, out, err = doctor(ns, "--format=json")
        ck.eq("doctor exit status on a quiet table", 0, rc)
        j = json.loads(out)
        ck.eq("doctor entries vs conntrack -C", ns.conntrack_count(), j["entries"])
        ck.eq("doctor limit vs nf_conntrack_max", nfce.read_max(), j["limit"])
        ck.eq("at_risk on a quiet table", False, j["at_risk"])
        est = len(ns.run(["conntrack", "-L", "-p", "tcp", "--state", "ESTABLISHED"]).stdout.splitlines())
        timeout = int(ns.sysctls().get("nf_conntrack_tcp_timeout_established", "0"))
        if timeout > 86400:
            titles = [f["title"] for f in j["findings"]]
            ck.true("the long established timeout comes with the entries in that state",
                    any(f"({est} entries in that state now)" in t for t in titles), repr(titles))

        ours = ns.conntrack_count()
        with nfce.lowered_max(math.floor(ours / 0.95)) as (orig, limit):  # at least 95 % full
            rc, out, err = doctor(ns)
            ck.eq("doctor exit status at 95 % full", 1, rc)
            ck.true("the text names the fill", f"table {100 * ours / limit:.1f} % full" in out, out)
            ck.true("the text gives the sysctl to raise", "net.netfilter.nf_conntrack_max=" in out, out)
            rc, out, err = doctor(ns, "--format=json")
            ck.eq("doctor --format=json exit status at 95 % full", 1, rc)
            j = json.loads(out)
            ck.eq("at_risk at 95 % full", True, j["at_risk"])
            ck.true("a risk finding about the fill",
                    any(f["severity"] == "risk" and "full" in f["title"] for f in j["findings"]),
                    repr(j["findings"]))
            with nfce.Netns("doctor_home") as home:
                rc, out, err = doctor(home, f"--netns={ns.name}", f"--netns={home.name}", "--format=json")
                ck.eq("doctor --netns exit status with one namespace 95 % full", 1, rc)
                j = json.loads(out)
                ck.eq("namespaces, fullest first", [ns.name, home.name], [n["netns"] for n in j["namespaces"]])
                ck.eq("the fullest namespace's entries", ours, j["namespaces"][0]["entries"])
                ck.true("the fill finding names the namespace",
                        any(f"in network namespace {ns.name}" in f["title"] for f in j["findings"]),
                        repr(j["findings"]))
        ck.eq("nf_conntrack_max restored", orig, nfce.read_max())
        rc, out, err = doctor(ns, "--format=yaml")
        ck.eq("doctor exit status on a bad flag", 2, rc)
        ck.true("the error names the flag", "--format" in err, err)


if __name__ == "__main__":
    nfce.main(test, tools=("ip", "nft", "conntrack", "nsenter"))
