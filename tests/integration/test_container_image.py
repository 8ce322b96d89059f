#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""container_image: deploy/container/Containerfile, built and run here with no registry.

A Debian 12 base from Debian's packages (debootstrap --variant=minbase, cached under
CACHE_DIR), imported into podman's storage; the image built on it by scripts/image.sh
(buildah bud --isolation=chroot); the container started by podman (runc) in a network
namespace of the test's, with every capability dropped but CAP_NET_ADMIN and a read-only
root; the host's exporter runs in the same namespace. Checked: /-/ready answers; the process
runs as uid/gid 65532 with CAP_NET_ADMIN alone on a read-only root; the image's size and user;
the table's entries within conntrack -C's range for both, the same limit, the same stat and
timeout families and values, every collector succeeding as on the host; a clean SIGTERM exit.
A step this machine cannot run (debootstrap without the mirror, podman without a usable
runtime) makes the test skip naming the step and why. Everything it makes is removed after."""
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfce  # noqa: E402

SRC = os.path.dirname(os.path.dirname(nfce.HERE))
CACHE_DIR = "/var/tmp/nfce-debootstrap-bookworm"
ROOTFS_TAR = os.path.join(CACHE_DIR, "rootfs.tar")
MIRROR = "http://deb.debian.org/debian"
HOST_PORT = nfce.PORT + 1
IMAGE_USER = 65532
MAX_IMAGE_BYTES = 32 << 20
N_TCP, N_UDP = 20, 30


def run(argv, timeout=600):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def tail(r, n=15):
    return "\n".join((r.stdout + r.stderr).strip().splitlines()[-n:])


def debootstrap_tar():
    """The cached tarball of a minbase bookworm, made first if absent."""
    if os.path.exists(ROOTFS_TAR):
        return ROOTFS_TAR
    os.makedirs(CACHE_DIR, exist_ok=True)
    tmp = os.path.join(CACHE_DIR, f"rootfs.tmp-{os.getpid()}")
    try:
        t0 = time.monotonic()
        r = run(["debootstrap", "--variant=minbase", "bookworm", tmp, MIRROR], timeout=900)
        if r.returncode != 0:
            nfce.skip(f"step debootstrap: `debootstrap --variant=minbase bookworm` from {MIRROR} "
                      f"exited {r.returncode}:\n{tail(r)}")
        shutil.rmtree(os.path.join(tmp, "var/cache/apt/archives"), ignore_errors=True)
        r = run(["tar", "-C", tmp, "-cf", ROOTFS_TAR + ".tmp", "."])
        if r.returncode != 0:
            nfce.fail(f"tar of the debootstrap: {tail(r)}")
        os.rename(ROOTFS_TAR + ".tmp", ROOTFS_TAR)
        nfce.log(f"debootstrap of bookworm cached in {ROOTFS_TAR} ({time.monotonic() - t0:.0f}s)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if os.path.exists(ROOTFS_TAR + ".tmp"):
            os.unlink(ROOTFS_TAR + ".tmp")
    return ROOTFS_TAR


def proc_status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def root_mount_options(pid):
    with open(f"/proc/{pid}/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == "/":
                return fields[5].split(",")
    return []


def compare(ck, cm, hm, before, after):
    lo, hi = sorted((before, after))
    for who, m in (("container", cm), ("host binary", hm)):
        ck.between(f"{who}: nf_conntrack_entries within conntrack -C before/after", lo,
                   m.get("nf_conntrack_entries"), hi)
    ck.true("nf_conntrack_entries_limit present", cm.get("nf_conntrack_entries_limit") is not None)
    ck.eq("nf_conntrack_entries_limit: host binary vs container", hm.get("nf_conntrack_entries_limit"),
          cm.get("nf_conntrack_entries_limit"))
    fams = sorted(n for n in hm.names() if n.startswith("nf_conntrack_stat_"))
    ck.true("the host binary exports nf_conntrack_stat_* families", fams, "none")
    ck.eq("nf_conntrack_stat_* families: host binary vs container", fams,
          sorted(n for n in cm.names() if n.startswith("nf_conntrack_stat_")))
    ck.eq("nf_conntrack_timeout_seconds: host binary vs container", hm.series("nf_conntrack_timeout_seconds"),
          cm.series("nf_conntrack_timeout_seconds"))
    ck.eq("nf_conntrack_exporter_collector_success: host binary (root) vs container (uid 65532)",
          hm.series("nf_conntrack_exporter_collector_success"),
          cm.series("nf_conntrack_exporter_collector_success"))


def check_names(ck):
    """The DaemonSet's image is the name scripts/image.sh gives by default."""
    with open(os.path.join(SRC, "meson.build")) as f:
        version = re.search(r"version : '([^']+)'", f.read()).group(1)
    with open(os.path.join(SRC, "deploy/kubernetes/daemonset.yaml")) as f:
        images = re.findall(r"^\s*image:\s*(\S+)", f.read(), re.M)
    ck.eq("deploy/kubernetes/daemonset.yaml image: vs scripts/image.sh's default name",
          [f"nf-conntrack-exporter:{version}"], images)


def test(ck):
    check_names(ck)
    for tool in ("debootstrap", "buildah", "podman", "runc"):
        if not shutil.which(tool):
            nfce.skip(f"step tools: `{tool}` is not installed (Debian package {tool})")
    tag = f"nfce-{os.getpid()}"
    base, image, name = f"localhost/nfce-bookworm:{tag}", f"localhost/nfce-image:{tag}", f"nfce-image-{os.getpid()}"
    made = []
    try:
        tar = debootstrap_tar()
        r = run(["podman", "import", tar, base])
        if r.returncode != 0:
            nfce.skip(f"step import: `podman import {tar}` exited {r.returncode}:\n{tail(r)}")
        made.append(base)

        t0 = time.monotonic()
        env = dict(os.environ, IMAGE=image, BASE=base)
        r = subprocess.run([os.path.join(SRC, "scripts/image.sh"), "--isolation=chroot"], env=env,
                           capture_output=True, text=True, timeout=900)
        if run(["podman", "image", "exists", image]).returncode == 0:
            made.append(image)
        if r.returncode != 0:
            nfce.fail(f"step build: scripts/image.sh exited {r.returncode}:\n{tail(r, 30)}")
        nfce.log(f"image built in {time.monotonic() - t0:.0f}s")
        info = json.loads(run(["podman", "image", "inspect", image]).stdout)[0]
        size = info["Size"]
        nfce.log(f"image size: {size} bytes ({size / 1e6:.1f} MB)")
        ck.true(f"image size at most {MAX_IMAGE_BYTES >> 20} MiB", size <= MAX_IMAGE_BYTES, f"{size} bytes")
        ck.eq("image's user", f"{IMAGE_USER}:{IMAGE_USER}", info["Config"].get("User"))

        with nfce.Netns("container_image") as ns:
            ns.notrack(HOST_PORT)
            with ns.flows(tcp=N_TCP, udp=N_UDP):
                nfce.wait_until(lambda: ns.conntrack_count() >= N_TCP + N_UDP, 10, "conntrack -C counts the flows")
                nofile = min(resource.getrlimit(resource.RLIMIT_NOFILE)[1], 65536)
                nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[1], 4096)
                argv = ["podman", "run", "-d", "--name", name, "--runtime", "runc", "--cgroup-manager=cgroupfs",
                        f"--ulimit=nofile={nofile}:{nofile}", f"--ulimit=nproc={nproc}:{nproc}",
                        "--network", f"ns:/run/netns/{ns.name}", "--cap-drop=all", "--cap-add=NET_ADMIN",
                        "--read-only", image, f"--web.listen-address=127.0.0.1:{nfce.PORT}"]
                r = run(argv, timeout=60)
                made.append(name)
                if r.returncode != 0:
                    nfce.skip(f"step run: `{' '.join(argv)}` exited {r.returncode}:\n{tail(r)}")

                def logs():
                    return tail(run(["podman", "logs", name]), 30)

                if not nfce.wait_until(lambda: ns.probe() == "open", 20):
                    nfce.fail(f"the container does not listen on 127.0.0.1:{nfce.PORT} in {ns.name}; "
                              f"its log:\n{logs()}")
                ready = ns.http("GET", "/-/ready")
                ck.eq("container: GET /-/ready status", 200, ready.status)

                state = json.loads(run(["podman", "inspect", name]).stdout)[0]["State"]
                pid = state["Pid"]
                st = proc_status(pid)
                ck.eq("container process: Uid (real, effective, saved, fs)", [str(IMAGE_USER)] * 4, st["Uid"].split())
                ck.eq("container process: Gid (real, effective, saved, fs)", [str(IMAGE_USER)] * 4, st["Gid"].split())
                ck.eq("container process: CapEff is CAP_NET_ADMIN alone", 1 << nfce.CAP_NET_ADMIN,
                      int(st["CapEff"], 16))
                ck.true("container process: its root is mounted read-only", "ro" in root_mount_options(pid),
                        root_mount_options(pid))

                with nfce.Exporter(ns, listen=f"127.0.0.1:{HOST_PORT}") as host:
                    cexp = nfce.Exporter(ns, listen=f"127.0.0.1:{nfce.PORT}")  # not started: scrapes only

                    def snap():
                        return ns.conntrack_count()

                    def both():
                        return cexp.scrape(), host.scrape()

                    def cmp(b, m, a, c):
                        compare(c, m[0], m[1], b, a)

                    _, _, _, wck = nfce.compare_window(5, snap, both, cmp)
                    ck.merge(wck)

                r = run(["podman", "stop", "-t", "10", name], timeout=60)
                code = run(["podman", "inspect", "--format", "{{.State.ExitCode}}", name]).stdout.strip()
                ck.eq("container exit status after podman stop (SIGTERM)", "0", code)
                if code != "0":
                    nfce.log(f"container log:\n{logs()}")
    finally:
        for what in reversed(made):
            if what == name:
                run(["podman", "rm", "-f", "-t", "0", name], timeout=60)
            else:
                run(["podman", "rmi", "-f", what], timeout=60)


if __name__ == "__main__":
    nfce.main(test)
