#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Start one exporter, time its first answered scrape, scrape it, measure it, stop it.

Usage: measure.py PORT SCRAPES READY_TIMEOUT_S FIRST_MODE BODY_FILE LOG_FILE -- EXE ARGS...

Run inside the namespace the exporter should run in (bench/netns/run.sh: ip netns exec HOME).
FIRST_MODE (keepalive or fresh) goes first. Prints one line of key=value pairs:
  ready_ms       from starting the exporter until the first GET /metrics answered 200
  ka_p50_ms ka_p99_ms        SCRAPES scrapes over one keep-alive connection
  fresh_p50_ms fresh_p99_ms  SCRAPES scrapes, each on a new TCP connection (closed after it)
  ka_conns fresh_conns       TCP connections opened during each mode (TcpActiveOpens delta)
  bytes series followed      size of the last body, its lines not starting with '#', and the
                             value of nf_conntrack_exporter_netns_followed in it (-1: absent)
  unfollowed                 namespaces left out for --netns.max (..._unfollowed{reason="limit"})
  rss_kb hwm_kb fds          VmRSS, VmHWM and open descriptors after the scrapes
or, if the exporter exits before answering: status=exited exit=CODE msg=FIRST_LOG_LINE
or, if it does not answer within READY_TIMEOUT_S: status=timeout.
"""
import ctypes
import http.client
import math
import os
import signal
import subprocess
import sys
import time

PR_SET_PDEATHSIG = 1
libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent():
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def active_opens():
    with open("/proc/net/snmp") as f:
        lines = [line.split() for line in f if line.startswith("Tcp:")]
    return int(lines[1][lines[0].index("ActiveOpens")])


def pct(xs, p):
    xs = sorted(xs)
    return xs[max(0, math.ceil(len(xs) * p / 100) - 1)]


def get(conn):
    conn.request("GET", "/metrics")
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        raise RuntimeError(f"HTTP {r.status}")
    return body


def keepalive(port, n):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    t, body = [], b""
    for _ in range(n):
        t0 = time.perf_counter()
        body = get(conn)
        t.append((time.perf_counter() - t0) * 1000)
    conn.close()
    return t, body


def fresh(port, n):
    t, body = [], b""
    for _ in range(n):
        t0 = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        body = get(conn)
        conn.close()
        t.append((time.perf_counter() - t0) * 1000)
    return t, body


def status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def main():
    a = sys.argv[1:]
    sep = a.index("--")
    port, scrapes, timeout, first, body_file, log_file = a[:sep]
    port, scrapes, timeout = int(port), int(scrapes), float(timeout)
    cmd = a[sep + 1:]
    res = {}
    with open(log_file, "wb") as log:
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                             preexec_fn=die_with_parent)
    try:
        while True:
            if p.poll() is not None:
                with open(log_file, errors="replace") as f:
                    msg = (f.readline().strip() or "(no output)").replace(" ", "_")
                print(f"status=exited exit={p.returncode} msg={msg}")
                return
            if time.monotonic() - t0 > timeout:
                print("status=timeout")
                return
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
                get(conn)
                conn.close()
                res["ready_ms"] = (time.monotonic() - t0) * 1000
                break
            except (ConnectionRefusedError, ConnectionResetError):
                time.sleep(0.02)
        modes = ["keepalive", "fresh"] if first == "keepalive" else ["fresh", "keepalive"]
        for m in modes:
            o0 = active_opens()
            t, body = (keepalive if m == "keepalive" else fresh)(port, scrapes)
            k = "ka" if m == "keepalive" else "fresh"
            res[f"{k}_conns"] = active_opens() - o0
            res[f"{k}_p50_ms"] = pct(t, 50)
            res[f"{k}_p99_ms"] = pct(t, 99)
        res["rss_kb"] = status_kb(p.pid, "VmRSS")
        res["hwm_kb"] = status_kb(p.pid, "VmHWM")
        res["fds"] = len(os.listdir(f"/proc/{p.pid}/fd"))
        with open(body_file, "wb") as f:
            f.write(body)
        lines = body.decode(errors="replace").splitlines()
        res["bytes"] = len(body)
        res["series"] = sum(1 for line in lines if line and not line.startswith("#"))
        res["followed"] = next((int(float(line.split()[-1])) for line in lines
                                if line.startswith("nf_conntrack_exporter_netns_followed ")), -1)
        res["unfollowed"] = next((int(float(line.split()[-1])) for line in lines if line.startswith(
            'nf_conntrack_exporter_netns_unfollowed{reason="limit"} ')), 0)
        print("status=ok " + " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                                      for k, v in res.items()))
    finally:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


if __name__ == "__main__":
    main()
