#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""runas: --runas=USER:GROUP with a throwaway system user and group the test creates (and
deletes). After start-up /proc/PID/status must show that uid and gid (real, effective, saved,
filesystem), no supplementary groups, CapPrm = CapEff = CapBnd = CAP_NET_ADMIN alone on every
thread (libmicrohttpd's too, where scrapes run), no ambient capabilities and NoNewPrivs 1.
Then the exporter must still do its job from netlink: nf_conntrack_entries equals
`conntrack -C`, the events collector's per-state counts equal `conntrack -L` as flows are
made and deleted, process_open_fds is exported (the process is dumpable again).
With --netns=all, CAP_SYS_ADMIN, CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH are kept as well.
Refusals (exit 1, level=error naming the cause, nothing listening): an unknown user, uid 0, gid 0,
and --runas when not started as root. A numeric USER:GROUP without passwd entries works."""
import contextlib
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import events_util as eu  # noqa: E402
import nfce  # noqa: E402

CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE, CAP_SYS_ADMIN = 2, 19, 21
NET_ADMIN = 1 << nfce.CAP_NET_ADMIN
NETNS_CAPS = NET_ADMIN | 1 << CAP_DAC_READ_SEARCH | 1 << CAP_SYS_PTRACE | 1 << CAP_SYS_ADMIN


@contextlib.contextmanager
def throwaway_user():
    name = f"nfce-runas-{os.getpid()}"[:32]
    r = subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", name], capture_output=True, text=True)
    if r.returncode != 0:
        nfce.skip(f"useradd cannot create a system user: {r.stderr.strip()}")
    try:
        out = subprocess.run(["id", "-u", name], capture_output=True, text=True, check=True).stdout
        grp = subprocess.run(["id", "-g", name], capture_output=True, text=True, check=True).stdout
        yield name, int(out), int(grp)
    finally:
        subprocess.run(["userdel", name], capture_output=True)
        subprocess.run(["groupdel", name], capture_output=True)


def status_fields(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.split()
    return out


def check_creds(ck, pid, uid, gid, caps, label):
    st = status_fields(pid)
    ck.eq(f"{label}: Uid (real, effective, saved, fs)", [str(uid)] * 4, st.get("Uid"))
    ck.eq(f"{label}: Gid (real, effective, saved, fs)", [str(gid)] * 4, st.get("Gid"))
    ck.eq(f"{label}: supplementary Groups", [], st.get("Groups"))
    ck.eq(f"{label}: NoNewPrivs", ["1"], st.get("NoNewPrivs"))
    ck.eq(f"{label}: CapAmb", 0, int(st["CapAmb"][0], 16))
    ck.eq(f"{label}: CapInh", 0, int(st["CapInh"][0], 16))
    tasks = os.listdir(f"/proc/{pid}/task")
    ck.true(f"{label}: libmicrohttpd's thread is running", len(tasks) >= 2, f"tasks {tasks}")
    for tid in tasks:
        t = status_fields(f"{pid}/task/{tid}")
        for which in ("CapPrm", "CapEff", "CapBnd"):
            ck.eq(f"{label}: thread {tid} {which}", f"{caps:016x}", t[which][0])


def check_refused(ck, ns, args, pattern, wrapper=()):
    p = ns.popen(list(wrapper) + [nfce.exporter_path(), "--web.listen-address=127.0.0.1:39901"] + args,
                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        ck.fail(f"{args}: refused", "still running after 10 s")
        return
    err = err.decode(errors="replace")
    ck.eq(f"{args}: exit status", 1, p.returncode)
    ck.true(f"{args}: a level=error line matching {pattern!r}",
            any(re.search(r"\blevel=error\b", l) and re.search(pattern, l) for l in err.splitlines()),
            f"stderr:\n{err}")
    ck.true(f"{args}: never listened", "msg=listening" not in err, f"stderr:\n{err}")


def test(ck):
    with throwaway_user() as (user, uid, gid), nfce.Netns("runas") as ns:
        with nfce.Exporter(ns, args=[f"--runas={user}:{user}"]) as exp:
            check_creds(ck, exp.pid, uid, gid, NET_ADMIN, f"--runas={user}:{user}")
            log = exp.log()
            ck.true("an info line says privileges were dropped",
                    re.search(r'level=info msg="dropped privileges".*capabilities=cap_net_admin\b', log), log)
            m = exp.scrape()
            for c in ("table", "stat", "timeouts", "events"):
                ck.eq(f'collector_success{{collector="{c}"}}', 1.0,
                      m.get("nf_conntrack_exporter_collector_success", collector=c))
            ck.true("process_open_fds is exported", m.get("process_open_fds"), "missing or 0")
            eu.wait_synced(exp)
            with ns.traffic() as tr:
                tr.do("udp_server", port=26000, echo=True)
                tr.do("tcp_listen", port=26001)
                tr.do("udp_flows", port=26000, n=5, tag="u")
                tr.do("tcp_established", port=26001, n=3, tag="t")
                k, m = eu.require(ck, "flows made after the drop", eu.converge(ns, exp, 15))
                ck.true("the kernel has the test's 8 entries", k and k.count >= 8, repr(k))
                ck.eq("nf_conntrack_entries vs conntrack -C", float(k.count) if k else None,
                      m.get("nf_conntrack_entries") if m else None)
                ck.true("nf_conntrack_events_total{type=new,protocol=udp} counts the flows",
                        m and eu.events(m, "new", "udp") >= 5, "below 5")
                n = eu.conntrack_delete(ns, "-p", "udp")
                ck.eq("conntrack -D -p udp deleted", 5, n)
                eu.require(ck, "after deleting the UDP entries", eu.converge(ns, exp, 15))
            ck.true("the exporter is still running", exp.proc.poll() is None, exp.state())
            ck.true("no level=error line", not re.search(r"\blevel=error\b", exp.log()), exp.log())
            ck.eq("exit status on SIGTERM", 0, exp.stop())

        # The namespace-following capabilities, whatever --netns=all itself does with them.
        with nfce.Exporter(ns, args=["--runas=65534:65534", "--netns=all"]) as exp:
            check_creds(ck, exp.pid, 65534, 65534, NETNS_CAPS, "--runas=65534:65534 --netns=all")
            exp.scrape()
            ck.eq("exit status on SIGTERM (--netns=all)", 0, exp.stop())

        check_refused(ck, ns, ["--runas=nfce-no-such-user-here"], r"cannot resolve the user")
        check_refused(ck, ns, ["--runas=root"], r"uid or gid 0")
        check_refused(ck, ns, ["--runas=65534:0"], r"uid or gid 0")
        check_refused(ck, ns, [f"--runas={user}"], r"needs the exporter to be started as root",
                      wrapper=["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
                               "--inh-caps=-all", "--"])


if __name__ == "__main__":
    nfce.main(test, tools=("ip", "nft", "conntrack", "useradd", "userdel", "setpriv"))
