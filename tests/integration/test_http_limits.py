#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""http_limits: hostile clients against the exporter in its own namespace, on 127.0.0.1.

After each attack a real scrape must get 200 promptly and the exporter's VmRSS must not have
grown by more than RSS_SLACK_KB:

* path traversal (`/../../etc/passwd`, `%2e%2e`, absolute-form, `//etc/passwd`): 404 (or 400),
  never the file;
* garbage bytes on many connections;
* huge headers (1 MiB): 431 or 400, or the connection closed, and no growth;
* concurrent scrapes: answered one at a time by the HTTP thread, all 200;
* fairness: 127.0.0.1 holding the per-address maximum of idle keep-alive connections (a
  neighbour behind Prometheus's NAT address) still gets a new connection's scrape answered
  within FAIR_DEADLINE: its oldest idle connection is closed to make room, and only that one;
  while the same maximum of connections have a request under way, a new one is refused and
  none of them is cut;
* a thousand idle connections from 100 source addresses 127.0.3.x: scrapes from 127.0.0.1
  still succeed within SCRAPE_DEADLINE; then the same reconnecting as fast as they are cut,
  where at least 3 scrapes of 5 must succeed;
* slowloris: connections sending one header byte a second from 127.0.2.x; scrapes go on, and
  each slow connection is cut about 30 s (the per-request deadline) after it opened.

The attackers run inside the namespace as a Python helper (ATTACK below). Not parallel: the
timings should not depend on what other tests make the CPU do."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfce  # noqa: E402

RSS_SLACK_KB = 8 * 1024
SCRAPE_DEADLINE = 5.0
REQUEST_DEADLINE_S = 30  # HTTP_REQUEST_DEADLINE_US in web/http.c
PER_ADDR_LIMIT = 16  # HTTP_PER_IP_LIMIT in web/http.c
FAIR_DEADLINE = 1.0

ATTACK = r"""
import json, os, random, resource, select, socket, sys, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
mode, port = sys.argv[1], int(sys.argv[2])
args = [int(a) for a in sys.argv[3:]]

def conn(src, block=True):
    s = socket.socket()
    s.bind((src, 0))
    if block:
        s.settimeout(10)
        s.connect(("127.0.0.1", port))
    else:
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
    return s

def first_line(s):
    data = b""
    try:
        while b"\r\n" not in data:
            c = s.recv(4096)
            if not c:
                break
            data += c
    except OSError as e:
        return "error: %s" % e
    return data.split(b"\r\n")[0].decode("latin-1") if data else "closed"

if mode == "slowloris":
    n, seconds = args
    socks = []
    for i in range(n):
        s = conn("127.0.2.%d" % (1 + i % 4))
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        socks.append([s, time.monotonic(), None])
    print(json.dumps({"ready": n}), flush=True)
    end = time.monotonic() + seconds
    while time.monotonic() < end and any(c[2] is None for c in socks):
        for c in socks:
            if c[2] is not None:
                continue
            try:
                r, _, _ = select.select([c[0]], [], [], 0)
                if r and not c[0].recv(4096):
                    raise ConnectionResetError("closed")
                c[0].send(b"a")
            except OSError:
                c[2] = time.monotonic() - c[1]
                c[0].close()
        time.sleep(1)
    print(json.dumps({"cut_after": [c[2] for c in socks]}), flush=True)

elif mode == "idle":
    n, nips, seconds, reconnect = args
    socks = {}
    made = cut = 0
    def top_up():
        global made
        while len(socks) < n:
            s = conn("127.0.3.%d" % (1 + made % nips), block=False)
            socks[s.fileno()] = s
            made += 1
    top_up()
    print(json.dumps({"ready": n}), flush=True)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if select.select([sys.stdin], [], [], 0)[0]:
            break
        r, _, _ = select.select(list(socks.values()), [], [], 0.1)
        for s in r:
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                del socks[s.fileno()]
                s.close()
                cut += 1
        if reconnect:
            top_up()
    print(json.dumps({"connections_made": made, "cut_by_server": cut}), flush=True)

elif mode == "garbage":
    n, size = args
    rnd = random.Random(42)
    out = {}
    for i in range(n):
        s = conn("127.0.4.%d" % (1 + i % 8))
        try:
            s.sendall(bytes(rnd.getrandbits(8) for _ in range(size)))
        except OSError:
            pass
        line = first_line(s)
        out[line[:12]] = out.get(line[:12], 0) + 1
        s.close()
    print(json.dumps(out), flush=True)

elif mode == "bigheader":
    n, size = args
    out = {}
    for i in range(n):
        s = conn("127.0.5.1")
        req = b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
        line = b"X-Pad-%d: " + b"a" * 1000 + b"\r\n"
        try:
            s.sendall(req)
            k = 0
            while k * 1000 < size:
                s.sendall(line % k)
                k += 1
            s.sendall(b"\r\n")
        except OSError:
            pass
        l = first_line(s)
        out[l[:12]] = out.get(l[:12], 0) + 1
        s.close()
    print(json.dumps(out), flush=True)

elif mode in ("keepalive", "inflight"):
    # n connections from 127.0.0.1, idle after one scrape each (keepalive) or in the middle of
    # a request (inflight); then one more connection scrapes, from the same address.
    n, = args
    def response(s, deadline):
        data = b""
        while b"\r\n\r\n" not in data:
            s.settimeout(max(deadline - time.monotonic(), 0.01))
            c = s.recv(65536)
            if not c:
                return "closed" if not data else "truncated"
            data += c
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for h in head.split(b"\r\n")[1:]:
            k, _, v = h.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        while len(body) < length:
            s.settimeout(max(deadline - time.monotonic(), 0.01))
            c = s.recv(65536)
            if not c:
                return "truncated"
            body += c
        return head.split(b"\r\n")[0].decode("latin-1")
    def attempt(s, deadline):
        try:
            return response(s, deadline)
        except socket.timeout:
            return "timeout"
        except OSError as e:
            return "closed: %s" % e
    REQ = b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
    socks = []
    for i in range(n):
        s = conn("127.0.0.1")
        if mode == "keepalive":
            s.sendall(REQ + b"\r\n")
            line = attempt(s, time.monotonic() + 10)
            if not line.startswith("HTTP/1.1 200"):
                print(json.dumps({"error": "connection %d: %s" % (i, line)}), flush=True)
                sys.exit(0)
        else:
            s.sendall(REQ + b"X-Partial: ")
        socks.append(s)
    # No wait needed for inflight: bytes the exporter has not read yet protect a connection
    # from eviction just as a request line it has read does.
    t0 = time.monotonic()
    new = conn("127.0.0.1")
    new.sendall(REQ + b"Connection: close\r\n\r\n")
    line = attempt(new, t0 + (5 if mode == "keepalive" else 3))
    took = time.monotonic() - t0
    # Which of the n the server closed, waiting up to 2 s for a close to show.
    closed = []
    end = time.monotonic() + 2
    pending = list(range(n))
    while pending and time.monotonic() < end:
        r, _, _ = select.select([socks[i] for i in pending], [], [], 0.05)
        for s in r:
            i = socks.index(s)
            try:
                gone = not s.recv(4096, socket.MSG_PEEK)
            except OSError:
                gone = True
            if gone:
                closed.append(i)
                pending.remove(i)
        if mode == "keepalive" and closed:
            break
    # The requests under way are completed: each must still be answered.
    done = []
    if mode == "inflight":
        for s in socks:
            try:
                s.sendall(b"1\r\n\r\n")
            except OSError:
                pass
        done = [attempt(s, time.monotonic() + 10) for s in socks]
    print(json.dumps({"new": line, "took": took, "closed": sorted(closed), "done": sorted(set(done))}), flush=True)

elif mode == "scrapes":
    import threading
    n, = args
    res = []
    def one(i):
        t0 = time.monotonic()
        try:
            s = conn("127.0.6.%d" % (1 + i % 4))
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                c = s.recv(65536)
                if not c:
                    break
                data += c
            line = data.split(b"\r\n")[0].decode("latin-1")
        except OSError as e:
            line = "error: %s" % e
        res.append((line, time.monotonic() - t0))
    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(json.dumps({"statuses": sorted(set(r[0] for r in res)), "max_s": max(r[1] for r in res)}), flush=True)
"""


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    nfce.fail(f"no VmRSS in /proc/{pid}/status")


def attack(ns, *args, timeout=120):
    """Run an attack to its end; its last JSON line."""
    r = ns.run([sys.executable, "-c", ATTACK] + [str(a) for a in args], timeout=timeout)
    return json.loads(r.stdout.strip().splitlines()[-1])


def start_attack(ns, *args):
    p = ns.popen([sys.executable, "-c", ATTACK] + [str(a) for a in args], stdin=subprocess.PIPE,
                 stdout=subprocess.PIPE, text=True)
    line = nfce.read_line(p.stdout, 30)
    if not line or "ready" not in line:
        nfce.fail(f"attack {args} did not start: {line!r}")
    return p


def finish_attack(p, timeout=60):
    out, _ = p.communicate(input="", timeout=timeout)  # EOF on its stdin: stop
    return json.loads(out.strip().splitlines()[-1])


def timed_scrape(ck, exp, what):
    t0 = time.monotonic()
    r = exp.get("/metrics")
    took = time.monotonic() - t0
    ck.eq(f"{what}: scrape status", 200, r.status)
    ck.true(f"{what}: scrape within {SCRAPE_DEADLINE}s", took < SCRAPE_DEADLINE, f"took {took:.1f}s")
    return took


def sanitized(pid):
    """ASan holds freed memory back in its quarantine (256 MiB): RSS says nothing there."""
    with open(f"/proc/{pid}/maps") as f:
        return "libasan" in f.read() or "ASAN_OPTIONS" in os.environ


class Rss:
    def __init__(self, ck, exp):
        self.ck, self.exp, self.report = ck, exp, []
        self.check = not sanitized(exp.pid)
        if not self.check:
            nfce.log("note: exporter built with ASan: VmRSS reported, not checked")

    def around(self, what, fn):
        before = rss_kb(self.exp.pid)
        result = fn()
        after = rss_kb(self.exp.pid)
        self.report.append(f"{what}: VmRSS {before} -> {after} kB")
        self.ck.true(f"{what}: VmRSS growth under {RSS_SLACK_KB} kB", not self.check or after - before < RSS_SLACK_KB,
                     f"{before} -> {after} kB")
        return result


def path_traversal(ck, ns, exp):
    for path in ("/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/metrics/../../../etc/passwd",
                 "/..%2f..%2fetc%2fpasswd", "//etc/passwd", "/etc/passwd",
                 f"http://127.0.0.1:{nfce.PORT}/../../etc/passwd", "http://localhost/etc/passwd",
                 "/metrics%00/../../etc/passwd", "/%2e%2e%5c%2e%2e%5cetc%5cpasswd"):
        r = exp.get(path)
        ck.true(f"GET {path}: 404 or 400", r.status in (404, 400), repr(r))
        ck.true(f"GET {path}: not the file", b"root:" not in r.body, repr(r.body[:200]))


def fairness(ck, ns, exp):
    """A neighbour's idle keep-alive connections at the per-address limit cannot lock out a
    scrape from the same address; connections with a request under way are never cut for it."""
    res = attack(ns, "keepalive", nfce.PORT, PER_ADDR_LIMIT)
    nfce.log(f"{PER_ADDR_LIMIT} idle keep-alive connections from 127.0.0.1, then a scrape: {res}")
    ck.true("keep-alive setup", "error" not in res, repr(res))
    if "error" not in res:
        ck.eq(f"{PER_ADDR_LIMIT} idle keep-alive: a new connection's scrape", "HTTP/1.1 200 OK", res["new"])
        ck.true(f"{PER_ADDR_LIMIT} idle keep-alive: answered within {FAIR_DEADLINE}s", res["took"] < FAIR_DEADLINE,
                f"took {res['took']:.2f}s")
        ck.eq(f"{PER_ADDR_LIMIT} idle keep-alive: the oldest one closed, and only it", [0], res["closed"])

    res = attack(ns, "inflight", nfce.PORT, PER_ADDR_LIMIT)
    nfce.log(f"{PER_ADDR_LIMIT} requests under way from 127.0.0.1, then a scrape: {res}")
    ck.true(f"{PER_ADDR_LIMIT} requests under way: a new connection is refused",
            res["new"].startswith("closed"), repr(res))
    ck.eq(f"{PER_ADDR_LIMIT} requests under way: none cut", [], res["closed"])
    ck.eq(f"{PER_ADDR_LIMIT} requests under way: all answered once complete", ["HTTP/1.1 200 OK"], res["done"])


def test(ck):
    with nfce.Netns("http_limits") as ns:
        with nfce.Exporter(ns) as exp:
            rss = Rss(ck, exp)
            timed_scrape(ck, exp, "warm-up")
            rss.around("path traversal", lambda: path_traversal(ck, ns, exp))
            timed_scrape(ck, exp, "after path traversal")

            res = rss.around("garbage", lambda: attack(ns, "garbage", nfce.PORT, 200, 65536))
            nfce.log(f"garbage, 200 connections of 64 KiB: first lines {res}")
            ck.true("garbage: never a 200", not any(k.startswith("HTTP/1.1 200") for k in res), repr(res))
            timed_scrape(ck, exp, "after garbage")

            res = rss.around("huge headers", lambda: attack(ns, "bigheader", nfce.PORT, 20, 1 << 20))
            nfce.log(f"huge headers, 20 requests of 1 MiB: first lines {res}")
            ck.true("huge headers: 431, 400 or closed",
                    all(k.startswith(("HTTP/1.1 431", "HTTP/1.1 400", "HTTP/1.1 413")) or k.startswith(("closed", "error"))
                        for k in res), repr(res))
            timed_scrape(ck, exp, "after huge headers")

            res = rss.around("40 concurrent scrapes", lambda: attack(ns, "scrapes", nfce.PORT, 40))
            nfce.log(f"40 concurrent scrapes: {res}")
            ck.eq("40 concurrent scrapes: all 200", ["HTTP/1.1 200 OK"], res["statuses"])

            fairness(ck, ns, exp)
            timed_scrape(ck, exp, "after the fairness checks")

            # A thousand idle connections.
            def idle():
                p = start_attack(ns, "idle", nfce.PORT, 1000, 100, 60, 0)
                took = [timed_scrape(ck, exp, f"with 1000 idle connections, scrape {i + 1}") for i in range(5)]
                return took, finish_attack(p)
            took, res = rss.around("1000 idle connections", idle)
            nfce.log(f"1000 idle connections: scrapes took {', '.join(f'{t:.2f}' for t in took)} s; {res}")
            timed_scrape(ck, exp, "after 1000 idle connections")

            # The same, reconnecting as fast as the exporter cuts them (thousands a second): a
            # flood no limit can fully hide. Most scrapes must still get through.
            def flood():
                p = start_attack(ns, "idle", nfce.PORT, 1000, 100, 60, 1)
                ok = 0
                for _ in range(5):
                    ok += exp.get("/metrics").status == 200
                return ok, finish_attack(p)
            ok, res = rss.around("1000 idle connections, reconnecting", flood)
            nfce.log(f"1000 idle connections reconnecting: {ok} of 5 scrapes got 200; {res}")
            ck.true("1000 idle connections reconnecting: at least 3 of 5 scrapes", ok >= 3, f"{ok} of 5")
            timed_scrape(ck, exp, "after the reconnecting flood")

            # Slowloris: 24 connections (4 addresses: under the per-address limit of 16) that
            # send a byte a second; scrapes go on meanwhile, the deadline cuts them.
            def slowloris():
                p = start_attack(ns, "slowloris", nfce.PORT, 24, REQUEST_DEADLINE_S + 15)
                took = []
                for i in range(3):
                    took.append(timed_scrape(ck, exp, f"during slowloris, scrape {i + 1}"))
                    time.sleep(1)
                out, _ = p.communicate(timeout=REQUEST_DEADLINE_S + 60)
                return took, json.loads(out.strip().splitlines()[-1])
            took, res = rss.around("slowloris", slowloris)
            cut = res["cut_after"]
            nfce.log(f"slowloris: scrapes took {', '.join(f'{t:.2f}' for t in took)} s; connections cut after "
                     f"{min(c or 1e9 for c in cut):.1f}..{max(c or 0 for c in cut):.1f} s")
            ck.true("slowloris: every connection cut", all(c is not None for c in cut), repr(cut))
            ck.true(f"slowloris: cut near the {REQUEST_DEADLINE_S}s deadline",
                    all(c is not None and REQUEST_DEADLINE_S - 2 <= c <= REQUEST_DEADLINE_S + 5 for c in cut),
                    repr(cut))
            timed_scrape(ck, exp, "after slowloris")
            for line in rss.report:
                nfce.log(line)
            ck.eq("exporter still running", None, exp.proc.poll())


if __name__ == "__main__":
    nfce.main(test)
