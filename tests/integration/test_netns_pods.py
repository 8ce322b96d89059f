#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""netns_pods: who a followed namespace is (issue 13), with no Kubernetes API.

Three namespaces of the test's own: A, where the exporter runs (--netns=A --netns=B --netns=C:
A is its own namespace, the "host" whose table is attributed), B, the "pod", and C, a pod gone
wrong. B's processes are moved into a cgroup named like a kubelet's (systemd driver, containerd:
kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid with _>.slice/
cri-containerd-<64 hex>.scope), made under the test's own cgroup v2 and removed at the end; C's
into one whose UID and container ID are one character short. A veth pair joins A and B
(198.18.0.0/15, the benchmarking range; routes only between the two), and B holds TCP
connections to a listener in A, so that A's conntrack table has B's address as a source:
- nf_conntrack_netns_info{netns=B} carries pod_uid (dashed) and container_id from the cgroup;
- C's and A's pod_uid are "" (junk in a cgroup name is no UID, and no crash);
- nf_conntrack_top_source_entries{source=B's address} of A's table has owner_netns=B, and
  A's own address (not a followed namespace's) has owner_netns="".
"""
import os
import subprocess
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfce  # noqa: E402

ADDR_A, ADDR_B = "198.18.13.1", "198.18.13.2"
CONNS = 6
# How long the exporter may take: its first identity refresh is at its first one-second tick,
# then every 30 s; NETNS_SCAN_S (5 s) after a namespace is first followed.
IDENT_TIMEOUT = 15

LISTENER = r"""
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 0))
s.listen(64)
print(s.getsockname()[1], flush=True)
conns = []
while True:
    conns.append(s.accept())
"""

CLIENT = r"""
import socket, sys, time
conns = [socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5) for _ in range(int(sys.argv[3]))]
print("connected", flush=True)
time.sleep(3600)
"""


def cgroup2_root():
    """The cgroup v2 mount (/sys/fs/cgroup, or .../unified on a hybrid host) and our path in it."""
    mnt = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[0] == "cgroup2":
                mnt = left.split()[4]
                break
    own = None
    with open("/proc/self/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                own = line[3:].strip()
    if not mnt or own is None:
        nfce.skip("no cgroup v2 hierarchy mounted (needed to make a kubelet-like cgroup)")
    return mnt, own


class KubeletCgroup:
    """kubepods.slice/.../kubepods-besteffort-pod<uid>.slice/cri-containerd-<id>.scope under
    the test's own cgroup v2, in a directory of the run's own; processes moved in are moved
    back out to where they came from at exit, and the directories removed."""

    def __init__(self, tag, pod_dir, scope):
        mnt, own = cgroup2_root()
        self.own = os.path.join(mnt, own.lstrip("/"))
        self.top = os.path.join(self.own, f"nfce-netns_pods-{tag}-{os.getpid()}")
        self.dirs = [self.top]
        for part in ("kubepods.slice", "kubepods-besteffort.slice", pod_dir, scope):
            self.dirs.append(os.path.join(self.dirs[-1], part))
        self.leaf = self.dirs[-1]
        self.cgroup_path = "/" + os.path.relpath(self.leaf, mnt)

    def __enter__(self):
        try:
            for d in self.dirs:
                os.mkdir(d)
        except OSError as e:
            self.__exit__()
            nfce.skip(f"cannot make a cgroup under {self.own}: {e}")
        return self

    def add(self, pid):
        with open(os.path.join(self.leaf, "cgroup.procs"), "w") as f:
            f.write(f"{pid}\n")

    def __exit__(self, *exc):
        for _ in nfce.deadline_loop(5, 0.1):
            try:
                with open(os.path.join(self.leaf, "cgroup.procs")) as f:
                    pids = f.read().split()
            except OSError:
                pids = []
            for pid in pids:
                try:
                    with open(os.path.join(self.own, "cgroup.procs"), "w") as f:
                        f.write(f"{pid}\n")
                except OSError:
                    pass  # gone meanwhile
            left = [d for d in reversed(self.dirs) if os.path.isdir(d)]
            for d in left:
                try:
                    os.rmdir(d)
                except OSError:
                    break
            if not any(os.path.isdir(d) for d in self.dirs):
                return False
        nfce.log(f"note: could not remove {self.top}")
        return False


def ns_pids(ns):
    r = subprocess.run(["ip", "netns", "pids", ns.name], capture_output=True, text=True, check=True)
    return sorted(int(p) for p in r.stdout.split())


def veth(a, b):
    """vA in A, vB in B, made directly in them: nothing is ever in the initial namespace."""
    a.run(["ip", "link", "add", "vA", "type", "veth", "peer", "name", "vB", "netns", b.name])
    a.run(["ip", "addr", "add", f"{ADDR_A}/30", "dev", "vA"])
    b.run(["ip", "addr", "add", f"{ADDR_B}/30", "dev", "vB"])
    a.run(["ip", "link", "set", "vA", "up"])
    b.run(["ip", "link", "set", "vB", "up"])


def connect(frm, to, addr, n):
    """n TCP connections from namespace frm to a listener on addr in namespace to, held open."""
    lst = to.popen([sys.executable, "-c", LISTENER, addr], stdout=subprocess.PIPE)
    port = int(nfce.read_line(lst.stdout, 10))
    cli = frm.popen([sys.executable, "-c", CLIENT, addr, str(port), str(n)], stdout=subprocess.PIPE)
    if nfce.read_line(cli.stdout, 10).strip() != "connected":
        nfce.fail(f"no connections from {frm.name} to {addr}:{port} over the veth")


def info_of(m, name):
    hits = m.find("nf_conntrack_netns_info", netns=name)
    return hits[0].labels if len(hits) == 1 else None


def test(ck):
    pod_uid = str(uuid.uuid4())
    cid = uuid.uuid4().hex + uuid.uuid4().hex
    bad_uid = pod_uid[:-1]
    pod_dir = f"kubepods-besteffort-pod{pod_uid.replace('-', '_')}.slice"
    bad_dir = f"kubepods-besteffort-pod{bad_uid.replace('-', '_')}.slice"
    with KubeletCgroup("b", pod_dir, f"cri-containerd-{cid}.scope") as cg_b, \
            KubeletCgroup("c", bad_dir, f"cri-containerd-{cid[:-1]}.scope") as cg_c, \
            nfce.Netns("netns_pods_a") as a, nfce.Netns("netns_pods_b") as b, \
            nfce.Netns("netns_pods_c") as c:
        veth(a, b)
        # The pod's "pause" process, and C's.
        b.popen(["sleep", "infinity"])
        c.popen(["sleep", "infinity"])
        connect(b, a, ADDR_A, CONNS)  # B's address a source in A's table
        connect(a, b, ADDR_B, 1)  # and A's own
        # Every process of B in the pod's cgroup: whichever the exporter picks is the pod's.
        for pid in ns_pids(b):
            cg_b.add(pid)
        for pid in ns_pids(c):
            cg_c.add(pid)
        with open(f"/proc/{ns_pids(b)[0]}/cgroup") as f:
            nfce.log(f"B's lowest pid's cgroup: {f.read().strip()!r}")

        args = [f"--netns={a.name}", f"--netns={b.name}", f"--netns={c.name}"]
        with nfce.Exporter(a, args) as exp:
            nfce.wait_until(lambda: (info_of(exp.scrape(), b.name) or {}).get("pod_uid"), IDENT_TIMEOUT)
            m = exp.scrape()
            got = info_of(m, b.name) or {}
            ck.eq(f"nf_conntrack_netns_info{{netns={b.name}}} pod_uid", pod_uid, got.get("pod_uid"))
            ck.eq(f"nf_conntrack_netns_info{{netns={b.name}}} container_id", cid, got.get("container_id"))
            got = info_of(m, c.name) or {}
            ck.eq(f"nf_conntrack_netns_info{{netns={c.name}}} (cgroup names one character short) pod_uid",
                  "", got.get("pod_uid"))
            ck.eq(f"nf_conntrack_netns_info{{netns={c.name}}} container_id", "", got.get("container_id"))
            got = info_of(m, a.name) or {}
            ck.eq(f"nf_conntrack_netns_info{{netns={a.name}}} (the test's own cgroup) pod_uid",
                  "", got.get("pod_uid"))
            ck.true("every nf_conntrack_netns_info has pod_uid and container_id labels",
                    all("pod_uid" in s.labels and "container_id" in s.labels
                        for s in m.find("nf_conntrack_netns_info")),
                    [s.line for s in m.find("nf_conntrack_netns_info")])

            # NEEDS the main developer's attribution families ("attribution:" commits): B's
            # connections in A's table, attributed to B by B's veth address.
            def owner():
                s = exp.scrape().find("nf_conntrack_top_source_entries", netns=a.name, source=ADDR_B)
                return s[0] if s and s[0].labels.get("owner_netns") else None
            s = nfce.wait_until(owner, 10)
            if s is None:
                m = exp.scrape()
                ck.fail(f"nf_conntrack_top_source_entries{{source={ADDR_B}}} with owner_netns={b.name}",
                        f"none; the family: {[x.line for x in m.find('nf_conntrack_top_source_entries')]}")
            else:
                nfce.log(f"attributed: {s.line}")
                ck.eq(f"owner_netns of source {ADDR_B} in {a.name}'s table", b.name, s.labels["owner_netns"])
                ck.eq(f"... its netns label (the table is {a.name}'s)", a.name, s.labels["netns"])
                ck.true(f"... its entries >= the {CONNS} held connections", s.value >= CONNS, s.line)
            own = exp.scrape().find("nf_conntrack_top_source_entries", netns=a.name, source=ADDR_A)
            ck.eq(f"owner_netns of {a.name}'s own address {ADDR_A} (no followed namespace's)",
                  [""], [x.labels.get("owner_netns") for x in own])
            ck.eq("exporter exit status on SIGTERM", 0, exp.stop())


if __name__ == "__main__":
    nfce.main(test)
