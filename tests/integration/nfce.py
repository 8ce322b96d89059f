#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Shared code of the nf_conntrack_exporter integration tests (Python 3 stdlib only).

Every test runs the exporter inside a network namespace of its own, makes real TCP and UDP
flows on loopback there, and compares what the exporter says with what the kernel says
(conntrack -C / -S, /proc/sys/net/netfilter, /proc/net/stat), read inside the same namespace.

Two halves:

* The library imported by test_*.py (runs in the initial namespace): namespace set-up and
  tear-down, the exporter process, kernel ground truth, a strict parser of the Prometheus text
  format and a Checker that collects "expected vs got" differences.
* A helper run as `ip netns exec NS python3 nfce.py SUBCOMMAND ...`: Debian 12's Python 3.11
  has no os.setns, so whatever must happen inside a namespace is a process started with
  `ip netns exec`: short-lived for HTTP requests and reading per-netns /proc files, and the
  traffic daemon (`traffic`, driven by Traffic) that makes and holds the flows.

Scrapes are kept out of conntrack: the ruleset has a raw-priority chain that marks TCP to and
from the exporter's port "notrack", so that scraping does not create entries or move the
conntrack statistics the tests compare (a tracked scrape would leave a TIME_WAIT entry behind).
"""

import base64
import collections
import contextlib
import fcntl
import fnmatch
import glob
import json
import os
import re
import resource
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.dont_write_bytecode = True

PORT = 39901
EXIT_PASS, EXIT_FAIL, EXIT_SKIP = 0, 1, 77
HERE = os.path.dirname(os.path.abspath(__file__))
SELF = os.path.abspath(__file__)
NF_SYSCTL = "/proc/sys/net/netfilter"
CAP_NET_ADMIN = 12
# Ports the tests' own flows use; the namespace's ephemeral range is moved above them so that
# no client socket ever gets the exporter's port or one of these as its source port.
UDP_BASE = 41000
LOCAL_PORT_RANGE = "43000 60999"
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# What each collector reads ("netlink": ctnetlink, needs CAP_NET_ADMIN; "procfs": files under
# --path.procfs; either one is enough) and which metric names are its own. Collectors the
# exporter has and this table doesn't know get lenient checks and a note in the output.
COLLECTOR_SOURCES = {
    "table": {"netlink", "procfs"},
    "stat": {"netlink", "procfs"},
    "timeouts": {"procfs"},
    "lnstat": {"procfs"},
    "events": {"netlink"},
}
COLLECTOR_METRICS = {
    "table": re.compile(r"nf_conntrack_(entries|entries_limit|buckets|expect_entries_limit)"),
    "stat": re.compile(r"nf_conntrack_stat_[a-z0-9_]+_total"),
    "timeouts": re.compile(r"nf_conntrack_timeout_seconds"),
    "lnstat": re.compile(r"lnstat_[a-zA-Z0-9_]+"),
    "events": re.compile(r"nf_conntrack_(state_entries|zone_entries|events?_[a-z0-9_]+|resyncs?_[a-z0-9_]+|"
                         r"flow_lifetime_seconds(_bucket|_sum|_count)?|"
                         r"top_(source|destination|dnat_target)_entries|snat_[a-z_]+|unreplied_[a-z_]+|"
                         r"attribution_error_entries)"),
}
HISTOGRAMS = {"nf_conntrack_flow_lifetime_seconds"}
ALL_SOURCES = frozenset({"netlink", "procfs"})
PROCESS_METRICS = (
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_open_fds",
    "process_max_fds",
    "process_start_time_seconds",
)
# /proc/net/stat/nf_conntrack spells some statistics differently from ctnetlink/conntrack -S.
PROC_STAT_ALIASES = {"icmp_error": "error", "clashres": "clash_resolve", "chainlength": "chaintoolong"}


# --------------------------------------------------------------------------------------------
# Outcome of a test
# --------------------------------------------------------------------------------------------


class TestFailure(Exception):
    pass


class TestSkip(Exception):
    pass


class Interrupted(BaseException):
    """SIGTERM/SIGINT/SIGHUP: unwinds through every finally block."""


def fail(msg):
    raise TestFailure(msg)


def skip(msg):
    raise TestSkip(msg)


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Checker:
    """Collects differences instead of stopping at the first one."""

    def __init__(self):
        self.failures = []
        self.checks = 0

    def fail(self, what, detail):
        self.failures.append(f"{what}: {detail}")

    def true(self, what, cond, detail=""):
        self.checks += 1
        if not cond:
            self.fail(what, detail or "condition is false")
        return bool(cond)

    def eq(self, what, expected, got):
        self.checks += 1
        if expected != got:
            self.fail(what, f"expected {expected!r}, got {got!r}")
            return False
        return True

    def between(self, what, lo, got, hi):
        self.checks += 1
        if got is None or not lo <= got <= hi:
            if lo == hi:
                self.fail(what, f"expected {lo!r}, got {got!r}")
            else:
                self.fail(what, f"expected within [{lo!r}, {hi!r}], got {got!r}")
            return False
        return True

    def merge(self, other):
        self.failures += other.failures
        self.checks += other.checks

    def raise_if_failed(self, context=""):
        if self.failures:
            fail((context + ":\n  " if context else "") + "\n  ".join(self.failures))


def _on_signal(signum, frame):
    # Raised once: a second signal during clean-up must not abort the clean-up.
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, signal.SIG_IGN)
    raise Interrupted(f"signal {signal.Signals(signum).name}")


def exporter_path():
    path = os.environ.get("NFCE_EXPORTER", "")
    if not path:
        fail("NFCE_EXPORTER is not set: it must be the absolute path of nf_conntrack_exporter")
    if not os.path.isabs(path) or not os.access(path, os.X_OK):
        fail(f"NFCE_EXPORTER={path!r} is not an absolute path to an executable")
    return path


def preflight(tools=("ip", "nft", "conntrack")):
    if os.geteuid() != 0:
        skip("these tests need root (network namespaces, nft, conntrack)")
    for t in tools:
        if not shutil.which(t):
            skip(f"`{t}` is not installed")
    exporter_path()


def main(test_fn, tools=("ip", "nft", "conntrack")):
    """Run test_fn(checker) and exit 0 (pass), 1 (fail) or 77 (skip)."""
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, _on_signal)
    name = os.path.basename(sys.argv[0])
    t0 = time.monotonic()
    code = EXIT_FAIL
    try:
        preflight(tools)
        ck = Checker()
        test_fn(ck)
        ck.raise_if_failed("differences")
        print(f"PASS: {name}: {ck.checks} checks in {time.monotonic() - t0:.1f}s", flush=True)
        code = EXIT_PASS
    except TestSkip as e:
        print("SKIP: " + " ".join(str(e).split()), flush=True)
        code = EXIT_SKIP
    except TestFailure as e:
        print(f"FAIL: {name}: {e}", flush=True)
    except Interrupted as e:
        print(f"FAIL: {name}: interrupted by {e}", flush=True)
    except Exception:
        traceback.print_exc()
        print(f"FAIL: {name}: unexpected error (traceback above)", flush=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def deadline_loop(timeout, interval=0.05):
    """Yields until the deadline; the caller breaks out when its condition holds."""
    end = time.monotonic() + timeout
    while True:
        yield
        if time.monotonic() >= end:
            return
        time.sleep(interval)


def wait_until(pred, timeout, what=None, interval=0.1):
    """Poll pred() until it returns something true, and return that. At the deadline: fail
    naming what and pred's last value; or, with what None, return that last value (for the
    caller's own assertion)."""
    last = None
    for _ in deadline_loop(timeout, interval):
        last = pred()
        if last:
            return last
    if what is not None:
        fail(f"not within {timeout}s: {what} (last: {last!r})")
    return last


# --------------------------------------------------------------------------------------------
# Prometheus text format 0.0.4, strictly
# --------------------------------------------------------------------------------------------

_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_FLOAT_RE = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?Inf|NaN")
_TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


class Sample:
    __slots__ = ("name", "labels", "value", "line")

    def __init__(self, name, labels, value, line):
        self.name, self.labels, self.value, self.line = name, labels, value, line

    def __repr__(self):
        lab = ",".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()))
        return f"{self.name}{{{lab}}} {self.value}"


class MetricsParseError(TestFailure):
    pass


def _parse_labels(s, i, lineno):
    """s[i] == '{'; returns (labels, index after '}')."""
    labels = {}
    i += 1
    while True:
        if i < len(s) and s[i] == "}":
            return labels, i + 1
        m = _LABEL_NAME_RE.match(s, i)
        if not m:
            raise MetricsParseError(f"line {lineno}: bad label name at column {i + 1}: {s!r}")
        lname = m.group(0)
        i = m.end()
        if s[i:i + 2] != '="':
            raise MetricsParseError(f"line {lineno}: expected =\" after label {lname}: {s!r}")
        i += 2
        val = []
        while True:
            if i >= len(s):
                raise MetricsParseError(f"line {lineno}: unterminated label value: {s!r}")
            c = s[i]
            if c == "\\":
                nxt = s[i + 1:i + 2]
                if nxt not in ("\\", '"', "n"):
                    raise MetricsParseError(f"line {lineno}: bad escape \\{nxt} in label value: {s!r}")
                val.append("\n" if nxt == "n" else nxt)
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                raise MetricsParseError(f"line {lineno}: newline in label value")
            else:
                val.append(c)
                i += 1
        if lname in labels:
            raise MetricsParseError(f"line {lineno}: duplicate label {lname}: {s!r}")
        labels[lname] = "".join(val)
        if i < len(s) and s[i] == ",":
            i += 1
            continue
        if i < len(s) and s[i] == "}":
            return labels, i + 1
        raise MetricsParseError(f"line {lineno}: expected , or }} after label {lname}: {s!r}")


def _parse_float(tok, lineno, line):
    if not _FLOAT_RE.fullmatch(tok):
        raise MetricsParseError(f"line {lineno}: bad sample value {tok!r}: {line!r}")
    return float(tok.replace("Inf", "inf").replace("NaN", "nan"))


class Metrics:
    """A parsed exposition. Raises MetricsParseError on anything malformed:

    bad names, label syntax or escapes, values, duplicate series, duplicate or misplaced
    HELP/TYPE, samples without a TYPE and HELP before them, a family split in two, a missing
    final newline, CR characters, invalid UTF-8.
    """

    def __init__(self, text):
        if isinstance(text, (bytes, bytearray)):
            try:
                text = bytes(text).decode("utf-8")
            except UnicodeDecodeError as e:
                raise MetricsParseError(f"exposition is not UTF-8: {e}")
        if "\r" in text:
            raise MetricsParseError("exposition contains a CR character")
        if text and not text.endswith("\n"):
            raise MetricsParseError("exposition does not end with a newline")
        self.text = text
        self.samples = []
        self.types = {}
        self.helps = {}
        seen_series = set()
        closed = set()  # families whose samples are over
        current = None
        for lineno, line in enumerate(text.split("\n")[:-1] if text else [], 1):
            if line == "":
                continue
            if line.startswith("#"):
                parts = line.split(" ", 3)
                if len(parts) >= 3 and parts[0] == "#" and parts[1] in ("HELP", "TYPE"):
                    kind, fam = parts[1], parts[2]
                    if not _NAME_RE.fullmatch(fam):
                        raise MetricsParseError(f"line {lineno}: bad metric name in {kind}: {line!r}")
                    if fam in closed:
                        raise MetricsParseError(f"line {lineno}: {kind} for family {fam}, whose block is over")
                    if fam != current and current is not None:
                        closed.add(current)
                    current = fam
                    rest = parts[3] if len(parts) == 4 else ""
                    if kind == "HELP":
                        if fam in self.helps:
                            raise MetricsParseError(f"line {lineno}: second HELP for {fam}")
                        if re.search(r"\\[^\\n]|\\$", rest):
                            raise MetricsParseError(f"line {lineno}: bad escape in HELP: {line!r}")
                        self.helps[fam] = rest.replace("\\n", "\n").replace("\\\\", "\\")
                    else:
                        if fam in self.types:
                            raise MetricsParseError(f"line {lineno}: second TYPE for {fam}")
                        if rest not in _TYPES:
                            raise MetricsParseError(f"line {lineno}: unknown type {rest!r}")
                        if any(s.name == fam for s in self.samples):
                            raise MetricsParseError(f"line {lineno}: TYPE for {fam} after its samples")
                        self.types[fam] = rest
                    continue
                if line.startswith("# HELP") or line.startswith("# TYPE"):
                    raise MetricsParseError(f"line {lineno}: malformed {line[2:6]} line: {line!r}")
                continue  # a plain comment
            m = _NAME_RE.match(line)
            if not m:
                raise MetricsParseError(f"line {lineno}: bad metric name: {line!r}")
            name = m.group(0)
            i = m.end()
            labels = {}
            if i < len(line) and line[i] == "{":
                labels, i = _parse_labels(line, i, lineno)
            if i >= len(line) or line[i] != " ":
                raise MetricsParseError(f"line {lineno}: expected a space before the value: {line!r}")
            toks = line[i + 1:].split(" ")
            if len(toks) not in (1, 2) or "" in toks:
                raise MetricsParseError(f"line {lineno}: expected VALUE [TIMESTAMP]: {line!r}")
            value = _parse_float(toks[0], lineno, line)
            if len(toks) == 2 and not re.fullmatch(r"-?[0-9]+", toks[1]):
                raise MetricsParseError(f"line {lineno}: bad timestamp: {line!r}")
            fam = self._family_of(name)
            if fam is None:
                raise MetricsParseError(f"line {lineno}: sample {name} has no TYPE line before it")
            if fam not in self.helps:
                raise MetricsParseError(f"line {lineno}: family {fam} has no HELP line")
            if fam != current:
                raise MetricsParseError(f"line {lineno}: sample of {fam} outside its family's block")
            key = (name, tuple(sorted(labels.items())))
            if key in seen_series:
                raise MetricsParseError(f"line {lineno}: duplicate series: {line!r}")
            seen_series.add(key)
            self.samples.append(Sample(name, labels, value, line))

    def _family_of(self, name):
        if name in self.types:
            t = self.types[name]
            return name if t not in ("histogram", "summary") else None
        for suffix, kinds in (("_bucket", ("histogram",)), ("_sum", ("histogram", "summary")),
                              ("_count", ("histogram", "summary"))):
            if name.endswith(suffix) and self.types.get(name[: -len(suffix)]) in kinds:
                return name[: -len(suffix)]
        return None

    def names(self):
        return {s.name for s in self.samples}

    def find(self, name, **labels):
        return [s for s in self.samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]

    def get(self, name, **labels):
        """The value of the one series name{labels} (labels matched exactly); None when absent."""
        hits = [s for s in self.samples if s.name == name and s.labels == labels]
        if len(hits) > 1:
            fail(f"{name}{labels} matches {len(hits)} series")
        return hits[0].value if hits else None

    def series(self, name):
        """{frozenset(labels.items()): value} of every series of name."""
        return {frozenset(s.labels.items()): s.value for s in self.samples if s.name == name}


# --------------------------------------------------------------------------------------------
# Kernel ground truth, parsed
# --------------------------------------------------------------------------------------------


def parse_conntrack_S(text):
    """`conntrack -S` (or `-S exp`) per-CPU lines -> {statistic: sum over CPUs}."""
    sums, cpus = {}, set()
    for line in text.splitlines():
        if not line.strip():
            continue
        m = re.fullmatch(r"cpu=(\d+)\s+((?:[a-z_]+=\d+\s*)+)", line.strip())
        if not m:
            fail(f"cannot parse conntrack -S line {line!r}")
        cpu = int(m.group(1))
        if cpu in cpus:
            fail(f"conntrack -S lists cpu={cpu} twice")
        cpus.add(cpu)
        for tok in m.group(2).split():
            k, v = tok.split("=")
            sums[k] = sums.get(k, 0) + int(v)
    if not cpus:
        fail(f"conntrack -S printed no CPU line: {text!r}")
    return sums


def parse_lnstat(text):
    """A /proc/net/stat/* file, parsed by its header ->
    {'entries': value or None (namespace-wide: the first row's), 'counters': {col: hex sum}}."""
    lines = [l for l in text.split("\n") if l.strip()]
    if not lines:
        fail("empty /proc/net/stat file")
    header = lines[0].split()
    entries, counters = None, {}
    for row_no, line in enumerate(lines[1:]):
        vals = line.split()
        if len(vals) != len(header):
            fail(f"/proc/net/stat row has {len(vals)} values for {len(header)} columns: {line!r}")
        for col, v in zip(header, vals):
            n = int(v, 16)
            if col == "entries":
                if row_no == 0:
                    entries = n
            else:
                counters[col] = counters.get(col, 0) + n
    return {"entries": entries, "counters": counters, "rows": len(lines) - 1}


def timeout_labels(filename):
    """nf_conntrack_<proto>_timeout[_<state>] -> (protocol, state), else None."""
    m = re.fullmatch(r"nf_conntrack_(?:([a-z0-9_]+?)_)?timeout(?:_([a-z0-9_]+))?", filename)
    if not m:
        return None
    return (m.group(1) or "generic", m.group(2) or "default")


# --------------------------------------------------------------------------------------------
# Network namespace
# --------------------------------------------------------------------------------------------


def _pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def run_tmpdir(prefix):
    """A temporary directory PREFIX<pid>-XXXX for this run; those of SIGKILLed runs (their pid
    gone) are removed first."""
    for d in glob.glob(os.path.join(tempfile.gettempdir(), prefix + "*")):
        pid = os.path.basename(d)[len(prefix):].split("-")[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(d, ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-")


def reap_stale_namespaces():
    """Delete nfce-<test>-<pid> namespaces left behind by a test process that is gone."""
    ours = {f[5:-3] for f in os.listdir(HERE) if f.startswith("test_") and f.endswith(".py")}
    # errors="replace": test_odd_names makes names that are not UTF-8 (never ours to reap)
    r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, errors="replace")
    for line in r.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.fullmatch(r"nfce-([a-z0-9_]+)-(\d+)", name)
        if m and m.group(1) in ours and int(m.group(2)) != os.getpid() and not _pid_alive(int(m.group(2))):
            _kill_netns_pids(name)
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


def _kill_netns_pids(name):
    r = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True)
    for tok in r.stdout.split():
        with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
            os.kill(int(tok), signal.SIGKILL)


class Response:
    def __init__(self, d):
        self.status = d["status"]
        self.reason = d["reason"]
        self.raw_headers = d["headers"]
        self.body = base64.b64decode(d["body"])
        self.error = d.get("error")

    def header(self, name):
        vals = [v for k, v in self.raw_headers if k.lower() == name.lower()]
        return vals[0] if len(vals) == 1 else (None if not vals else vals)

    def __repr__(self):
        return f"<HTTP {self.status} {self.reason} headers={self.raw_headers} body={self.body[:200]!r}>"


# flock on MAX_LOCK_FILE: held shared while this process has a test namespace, exclusively while
# lowered_max() has nf_conntrack_max lowered; so that no test of another run (another checkout
# on this machine) has its flows dropped or its limit changed under it, and a saved value found
# while holding it is one a killed run left. One fd per process: the shared lock is converted
# to an exclusive one and back (a conversion that must wait lets go of the shared one meanwhile).
MAX_LOCK_FILE = "/run/nfce-nf_conntrack_max.lock"
_lock = {"fd": None, "users": 0, "exclusive": False}


def _flock(mode, timeout=60):
    """Take MAX_LOCK_FILE in mode (fcntl.LOCK_SH or LOCK_EX), polling up to timeout: True if held."""
    if _lock["fd"] is None:
        _lock["fd"] = os.open(MAX_LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    for _ in deadline_loop(timeout, 0.1):
        with contextlib.suppress(BlockingIOError):
            fcntl.flock(_lock["fd"], mode | fcntl.LOCK_NB)
            return True
    return False


def _lock_holders():
    """The other processes that have MAX_LOCK_FILE open, for the message of a wait that failed."""
    out = []
    for fd in glob.glob("/proc/[0-9]*/fd/*"):
        with contextlib.suppress(OSError):
            pid = fd.split("/")[2]
            if os.readlink(fd) == MAX_LOCK_FILE and int(pid) != os.getpid():
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
                out.append(f"pid {pid} ({cmd[:80]})")
    return ", ".join(sorted(set(out))) or "none left"


def _unlock_if_unused():
    if not _lock["users"] and not _lock["exclusive"] and _lock["fd"] is not None:
        os.close(_lock["fd"])
        _lock["fd"] = None


# The ruleset of every test namespace: conntrack tracks (a `ct state` rule), and the raw-priority
# chain "raw" keeps scrapes out of conntrack (see the module's docstring; notrack() adds ports).
BASE_NFT = """
add table inet t
add chain inet t out { type filter hook output priority 0; }
add rule inet t out ct state new counter accept
add chain inet t raw { type filter hook output priority -300; }
"""


class Netns:
    """A fresh network namespace nfce-<test>-<pid> with lo up, the ephemeral port range above
    the tests' own ports, the conntrack-using ruleset (table inet t) and `nft`, more statements
    for `nft -f` (zones, notrack, timeout policies...); removed on exit (also on a failure or a
    signal) together with every process in it. Namespaces of killed runs are reaped first."""

    def __init__(self, test, nft=""):
        self.name = f"nfce-{test}-{os.getpid()}"
        self.extra_nft = nft
        self.procs = []
        self.created = False
        self.locked = False

    # -- life cycle --

    def __enter__(self):
        self.locked = True
        _lock["users"] += 1
        if _lock["users"] == 1 and not _lock["exclusive"]:
            if _flock(fcntl.LOCK_SH):
                restore_stale_max()  # nobody has it lowered while we hold the lock
            else:
                log(f"note: {MAX_LOCK_FILE} stayed locked for 60s ({_lock_holders()}); going on without it")
        try:
            self.setup()
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False

    def setup(self):
        reap_stale_namespaces()
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
        r = subprocess.run(["ip", "netns", "add", self.name], capture_output=True, text=True)
        if r.returncode != 0:
            skip(f"cannot create a network namespace: {r.stderr.strip()}")
        self.created = True
        self.run(["ip", "link", "set", "lo", "up"])
        self.write_sysctl("/proc/sys/net/ipv4/ip_local_port_range", LOCAL_PORT_RANGE)
        r = self.nft(BASE_NFT, check=False)
        if r.returncode != 0:
            skip(f"nft cannot install the conntrack ruleset (nf_conntrack / nf_tables missing?): {r.stderr.strip()}")
        self.notrack(PORT)
        if self.extra_nft:
            r = self.nft(self.extra_nft, check=False)
            if r.returncode != 0:
                if "syntax error" in r.stderr:
                    fail(f"the test's nft statements do not parse: {r.stderr.strip()}\n{self.extra_nft}")
                skip(f"nft cannot install the test's ruleset (kernel feature missing?): {r.stderr.strip()}")
        if not self.exists(f"{NF_SYSCTL}/nf_conntrack_count"):
            skip("nf_conntrack is not available in the test namespace")

    def cleanup(self):
        for p in self.procs:
            _stop_process(p)
        self.procs = []
        if self.created:
            _kill_netns_pids(self.name)
            for _ in deadline_loop(5, 0.1):
                r = subprocess.run(["ip", "netns", "del", self.name], capture_output=True, text=True)
                if r.returncode == 0 or "No such file" in r.stderr:
                    break
            self.created = False
        if self.locked:
            self.locked = False
            _lock["users"] -= 1
            _unlock_if_unused()

    # -- running things inside --

    def cmd(self, argv):
        return ["ip", "netns", "exec", self.name] + list(argv)

    def run(self, argv, check=True, timeout=30, input=None):
        r = subprocess.run(self.cmd(argv), capture_output=True, text=True, timeout=timeout, input=input)
        if check and r.returncode != 0:
            fail(f"`{' '.join(argv)}` in {self.name} exited {r.returncode}: {r.stderr.strip()}")
        return r

    def popen(self, argv, **kw):
        p = subprocess.Popen(self.cmd(argv), **kw)
        self.procs.append(p)
        return p

    def helper(self, *args, timeout=30):
        r = self.run([sys.executable, SELF] + [str(a) for a in args], check=False, timeout=timeout)
        if r.returncode != 0:
            fail(f"helper {' '.join(map(str, args))} failed ({r.returncode}): {r.stderr.strip()}")
        return json.loads(r.stdout)

    def exists(self, path):
        return self.run(["test", "-e", path], check=False).returncode == 0

    def write_sysctl(self, path, value):
        self.run(["sh", "-c", 'echo "$1" > "$2"', "sh", value, path])

    def nft(self, script, check=True):
        """Run an nft script (nft -f -) in the namespace."""
        r = self.run(["nft", "-f", "-"], check=False, input=script)
        if check and r.returncode != 0:
            fail(f"nft -f failed in {self.name}: {r.stderr.strip()}\nscript:\n{script}")
        return r

    def notrack(self, *ports):
        """TCP to and from these ports bypasses conntrack (scrapes, Prometheus's API)."""
        self.nft("".join(f"add rule inet t raw tcp {d} {p} notrack\n" for p in ports for d in ("dport", "sport")))

    def udp_timeout_policy(self, name, seconds, match):
        """Give new UDP entries that match (an nft expression, e.g. "udp dport 20000-20009") a
        timeout of seconds, replied or not, with an nft ct timeout policy (no sysctl). Returns
        False, changing nothing, when the kernel has no ct timeout support."""
        r = self.nft(f"""
            add ct timeout inet t {name} {{ protocol udp; l3proto ip;
                policy = {{ unreplied: {seconds}, replied: {seconds} }}; }}
            add chain inet t tmo_{name} {{ type filter hook output priority -10; }}
            add rule inet t tmo_{name} {match} ct timeout set "{name}"
        """, check=False)
        if r.returncode != 0:
            if "syntax error" in r.stderr:
                fail(f"ct timeout statements do not parse: {r.stderr.strip()}")
            log(f"no nft ct timeout support ({r.stderr.strip()}): default UDP timeouts apply")
            return False
        return True

    # -- HTTP inside the namespace --

    def http(self, method, path, host="127.0.0.1", port=PORT, body=None, timeout=10):
        args = ["http", method, host, port, path, "--timeout", timeout]
        if body is not None:
            args += ["--body", body]
        return Response(self.helper(*args, timeout=timeout + 20))

    def probe(self, host="127.0.0.1", port=PORT):
        """'open' or 'refused' (or an error string)."""
        return self.helper("probe", host, port)["result"]

    # -- ground truth --

    def read_files(self, *paths):
        """{path: content or None}; a directory is read one level deep."""
        return self.helper("dump", *paths)

    def conntrack_count(self):
        r = self.run(["conntrack", "-C"])
        if not re.fullmatch(r"\d+\n?", r.stdout):
            fail(f"cannot parse conntrack -C output {r.stdout!r}")
        return int(r.stdout)

    def conntrack_stats(self):
        return parse_conntrack_S(self.run(["conntrack", "-S"]).stdout)

    def conntrack_exp_stats(self):
        """None when this conntrack has no `-S exp`."""
        r = self.run(["conntrack", "-S", "exp"], check=False)
        if r.returncode != 0 or "cpu=" not in r.stdout:
            return None
        return parse_conntrack_S(r.stdout)

    def lnstat(self):
        """{table: parse_lnstat(...)} of every /proc/net/stat file in the namespace."""
        files = self.read_files("/proc/net/stat")
        return {os.path.basename(p): parse_lnstat(c) for p, c in files.items() if c is not None}

    def sysctls(self):
        return {os.path.basename(p): c for p, c in self.read_files(NF_SYSCTL).items() if c is not None}

    # -- traffic --

    def traffic(self, timeout=30):
        """A traffic daemon in the namespace (see Traffic)."""
        return Traffic(self, timeout)

    def flows(self, tcp=0, udp=0, invalid=0, icmp_error=0, hold=True, udp_base=UDP_BASE, udp_replied=0,
              tcp_closed=0, icmp_echo=0):
        """Real flows inside the namespace, made by a traffic daemon: tcp established connections,
        udp datagrams from one socket to as many ports from udp_base on (unreplied), udp_replied
        answered UDP flows, tcp_closed connections closed at once (TIME_WAIT), icmp_echo
        answered pings, invalid TCP segments (SYN+FIN), icmp_error ICMP messages of an unknown
        type. Returns the daemon, with info {"tcp_port", "udp_sport"}; with hold the connections
        stay open until its close()."""
        tr = self.traffic()
        try:
            port = tr.do("tcp_listen")["port"]
            tr.do("tcp_established", port=port, n=tcp)
            sport = tr.do("udp_ports", base=udp_base, n=udp)["sport"]
            if udp_replied:
                tr.do("udp_flows", port=tr.do("udp_server", echo=True)["port"], n=udp_replied, expect_reply=True)
            tr.do("tcp_closed", port=port, n=tcp_closed)
            tr.do("icmp_echo", n=icmp_echo)
            tr.do("invalid_tcp", n=invalid)
            tr.do("bad_icmp", n=icmp_error)
            tr.info = {"tcp_port": port, "udp_sport": sport}
        except BaseException:
            tr.close()
            raise
        if not hold:
            tr.close()
        return tr


# --------------------------------------------------------------------------------------------
# The global nf_conntrack_max, for the tests that lower it (table_full, netns_table_full,
# prometheus_e2e, doctor)
# --------------------------------------------------------------------------------------------

MAX_FILE = f"{NF_SYSCTL}/nf_conntrack_max"


def read_max():
    with open(MAX_FILE) as f:
        return int(f.read())


def write_max(v):
    with open(MAX_FILE, "w") as f:
        f.write(f"{v}\n")


def restore_stale_max():
    """A killed run left the original value behind in /run/nfce-<test>.nf_conntrack_max: put
    it back before reading "the original" ourselves."""
    for path in sorted(glob.glob("/run/nfce-*.nf_conntrack_max")):
        try:
            with open(path) as f:
                saved = int(f.read())
        except (OSError, ValueError):
            with contextlib.suppress(OSError):
                os.unlink(path)
            continue
        log(f"restoring nf_conntrack_max={saved} left by an interrupted run ({path}; now {read_max()})")
        write_max(saved)
        os.unlink(path)


def netns_counts():
    """nf_conntrack_count of every network namespace reachable through /run/netns or a process."""
    seen = {}
    for path in glob.glob("/run/netns/*") + glob.glob("/proc/[0-9]*/ns/net"):
        with contextlib.suppress(OSError):
            st = os.stat(path)
            seen.setdefault((st.st_dev, st.st_ino), path)
    counts = {}
    for path in seen.values():
        r = subprocess.run(["nsenter", f"--net={path}", "cat", f"{NF_SYSCTL}/nf_conntrack_count"],
                           capture_output=True, text=True, timeout=10)
        if r.returncode == 0 and r.stdout.strip().isdigit():
            counts[path] = int(r.stdout)
    return counts


def fill_limit(headroom, max_others=20000):
    """The nf_conntrack_max for a test that fills its own table: the entries of every namespace
    plus headroom, so that only its fill reaches the limit. Skips the test when the other
    namespaces hold more than max_others, or filling would need more fds than allowed."""
    counts = netns_counts()
    total = sum(counts.values())
    if total > max_others:
        skip(f"{total} conntrack entries in other namespaces: too many to fill up to")
    limit = total + headroom
    fds = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if fds != resource.RLIM_INFINITY and 2 * limit + 100 > fds:
        skip(f"filling {limit} entries needs {2 * limit + 100} file descriptors, RLIMIT_NOFILE allows {fds}")
    log(f"{total} entries in {len(counts)} namespaces")
    return limit


@contextlib.contextmanager
def lowered_max(limit=None, headroom=None, max_others=20000, timeout=60):
    """with lowered_max(limit) as (orig, limit): the global nf_conntrack_max is limit inside.

    Takes MAX_LOCK_FILE exclusively (skips the test if other tests keep it for timeout seconds),
    puts back a value a killed run left behind, then lowers nf_conntrack_max to limit (or, with
    headroom, to fill_limit(headroom, max_others)), keeping the original in
    /run/nfce-<test>.nf_conntrack_max for the next run should this one be SIGKILLed. On the way
    out, however it goes (failure, SIGTERM/SIGINT/SIGHUP), the original is written back and the
    lock goes back to shared."""
    if not _flock(fcntl.LOCK_EX, timeout):
        if _lock["users"]:
            _flock(fcntl.LOCK_SH)
        skip(f"other tests kept {MAX_LOCK_FILE} locked for {timeout}s (open in: {_lock_holders()})")
    _lock["exclusive"] = True
    state = f"/run/nfce-{os.path.basename(sys.argv[0])[5:-3]}.nf_conntrack_max"
    try:
        restore_stale_max()
        orig = read_max()
        if headroom is not None:
            limit = fill_limit(headroom, max_others)
        if limit >= orig:
            skip(f"nf_conntrack_max is already as low as {orig} (wanted {limit})")
        with open(state, "w") as f:
            f.write(f"{orig}\n")
        try:
            log(f"nf_conntrack_max {orig} -> {limit}")
            write_max(limit)
            yield orig, limit
        finally:
            write_max(orig)
            os.unlink(state)
            log(f"nf_conntrack_max restored to {orig}")
    finally:
        _lock["exclusive"] = False
        if _lock["users"]:
            _flock(fcntl.LOCK_SH)
        _unlock_if_unused()


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------


def _stop_process(p, sig=signal.SIGTERM, timeout=3):
    if p.poll() is not None:
        return p.returncode
    with contextlib.suppress(ProcessLookupError):
        p.send_signal(sig)
    try:
        return p.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            p.kill()
        return p.wait(5)


def read_line(stream, timeout):
    """One line of a subprocess's stdout with a deadline; '' on EOF."""
    end = time.monotonic() + timeout
    buf = b""
    fd = stream.fileno()
    while not buf.endswith(b"\n"):
        left = end - time.monotonic()
        if left <= 0:
            fail(f"no line within {timeout}s (got {buf!r})")
        r, _, _ = select.select([fd], [], [], left)
        if r:
            c = os.read(fd, 1)
            if not c:
                break
            buf += c
    return buf.decode()


class Traffic:
    """The traffic daemon: `python3 nfce.py traffic` in a namespace, which makes, holds and
    closes TCP connections and UDP/ICMP flows on loopback on command. do(op, **args) sends one
    command (a JSON line on its stdin: the operations are TrafficDaemon's op_* methods) and
    returns its reply (a JSON line on its stdout); the sockets stay open until close()."""

    def __init__(self, ns, timeout=30):
        self.timeout = timeout
        self.info = {}
        self.proc = ns.popen([sys.executable, SELF, "traffic"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def do(self, op, timeout=None, **kw):
        kw["op"] = op
        with contextlib.suppress(BrokenPipeError):
            self.proc.stdin.write((json.dumps(kw) + "\n").encode())
            self.proc.stdin.flush()
        line = read_line(self.proc.stdout, timeout or self.timeout)
        if not line:
            err = self.proc.stderr.read() if self.proc.poll() is not None else b""
            fail(f"traffic daemon died during {kw}: {err.decode(errors='replace').strip()}")
        r = json.loads(line)
        if r.get("error"):
            fail(f"traffic daemon: {kw}: {r['error']}")
        return r

    def close(self):
        if self.proc.poll() is None:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for s in (self.proc.stdout, self.proc.stderr):
            with contextlib.suppress(Exception):
                s.close()
        return self.proc.returncode


# --------------------------------------------------------------------------------------------
# The exporter
# --------------------------------------------------------------------------------------------


def drop_net_admin_wrapper():
    """argv prefix that runs a command without CAP_NET_ADMIN (bounding and inheritable sets)."""
    if shutil.which("capsh"):
        return ["capsh", "--drop=cap_net_admin", "--", "-c", 'exec "$0" "$@"']
    if shutil.which("setpriv"):
        return ["setpriv", "--inh-caps=-net_admin", "--bounding-set=-net_admin", "--"]
    skip("neither capsh (libcap2-bin) nor setpriv (util-linux) is installed")


def proc_caps(pid, which="CapEff"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(which + ":"):
                return int(line.split()[1], 16)
    fail(f"no {which} in /proc/{pid}/status")


class Exporter:
    def __init__(self, ns, args=(), listen=f"127.0.0.1:{PORT}", wrapper=(), host=None, port=None):
        self.ns = ns
        self.args = list(args)
        self.listen = listen
        self.wrapper = list(wrapper)
        if host is None or port is None:
            h, _, p = (listen or f"127.0.0.1:{PORT}").rpartition(":")
            host = host or (h.strip("[]") or "127.0.0.1")
            port = port or int(p)
        self.host, self.port = host, port
        self.proc = None
        self.stderr_file = tempfile.TemporaryFile()
        self.stdout_file = tempfile.TemporaryFile()
        self.started_at = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def argv(self):
        a = self.wrapper + [exporter_path()]
        if self.listen is not None:
            a.append(f"--web.listen-address={self.listen}")
        return a + self.args

    def start(self, wait=True, timeout=10):
        self.started_at = time.time()
        self.proc = self.ns.popen(self.argv(), stdin=subprocess.DEVNULL, stdout=self.stdout_file,
                                  stderr=self.stderr_file)
        if wait:
            self.wait_ready(timeout)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def wait_ready(self, timeout=10):
        r = self.ns.helper("wait", self.host, self.port, self.proc.pid, timeout, timeout=timeout + 20)
        if r["result"] != "open":
            rc = self.proc.poll()
            fail(f"exporter not listening on {self.host}:{self.port} after {timeout}s "
                 f"({r['result']}, exit status {rc}); args {self.argv()}; stderr:\n{self.log()}")

    def state(self):
        rc = self.proc.poll() if self.proc else None
        if self.proc is None:
            return "not started"
        if rc is None:
            return f"pid {self.proc.pid} running"
        return f"exited with status {rc}" if rc >= 0 else f"killed by {signal.Signals(-rc).name}"

    def log(self):
        self.stderr_file.seek(0)
        return self.stderr_file.read().decode(errors="replace")

    def stdout(self):
        self.stdout_file.seek(0)
        return self.stdout_file.read().decode(errors="replace")

    def get(self, path="/metrics", method="GET"):
        return self.ns.http(method, path, host=self.host, port=self.port)

    def scrape(self, path="/metrics"):
        """GET path: checks status 200 and the content type, returns the parsed Metrics."""
        r = self.get(path)
        if r.status != 200:
            fail(f"GET {path}: expected status 200, got {r.status} {r.reason} ({r.error}); exporter "
                 f"{self.state()}; stderr:\n{self.log()}")
        ct = r.header("Content-Type")
        if ct != METRICS_CONTENT_TYPE:
            fail(f"GET {path}: expected Content-Type {METRICS_CONTENT_TYPE!r}, got {ct!r}")
        try:
            return Metrics(r.body)
        except MetricsParseError as e:
            fail(f"malformed exposition: {e}")

    def stop(self, sig=signal.SIGTERM, timeout=5):
        """Signal the exporter; returns its exit status (None if it had to be killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            return self.proc.returncode
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            return None


def run_exporter_once(ns, args, timeout=5):
    """Run the exporter with args (no implicit listen address) and wait for it to exit.
    Returns (exit status or None if it had to be killed, stdout, stderr)."""
    p = ns.popen([exporter_path()] + list(args), stdin=subprocess.DEVNULL,
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=timeout)
        return p.returncode, out.decode(errors="replace"), err.decode(errors="replace")
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        return None, out.decode(errors="replace"), err.decode(errors="replace")


# --------------------------------------------------------------------------------------------
# Comparisons shared by several tests
# --------------------------------------------------------------------------------------------


def stat_metric(name):
    return f"nf_conntrack_stat_{name}_total"


def compare_window(attempts, snapshot, scrape, compare, quiet=None):
    """Kernel snapshot, scrape, kernel snapshot; compare(before, metrics, after, checker).

    Counters are checked within [before, after] (they only grow). A value that may go up and
    down (a count) can leave that range without anyone being wrong, so the window is tried
    again, up to attempts times; a systematic difference fails every attempt. quiet(before,
    after) may demand an unchanged kernel and retry otherwise. Returns (before, metrics, after).
    """
    last = None
    for i in range(attempts):
        before = snapshot()
        m = scrape()
        after = snapshot()
        ck = Checker()
        if quiet is not None and not quiet(before, after):
            last = ck
            ck.fail("quiet window", f"the kernel changed during the scrape (attempt {i + 1})")
            continue
        compare(before, m, after, ck)
        if not ck.failures:
            return before, m, after, ck
        last = ck
        time.sleep(0.2)  # the next window a moment later (a retry, not a wait for a condition)
    return before, m, after, last


def check_stat_counters(ck, before, m, after, names, label=""):
    """Every nf_conntrack_stat_<name>_total within the kernel's [before, after]."""
    for k in names:
        ck.between(f"{label}{stat_metric(k)}", before.get(k), m.get(stat_metric(k)), after.get(k))


def check_lnstat(ck, before, m, after):
    """lnstat_entries / lnstat_<col>_total{table} against /proc/net/stat/* read in the namespace."""
    exp_tables = set(before) | set(after)
    got_tables = {dict(k)["table"] for n in m.names() if n.startswith("lnstat_")
                  for k in m.series(n)}
    ck.eq("lnstat tables", sorted(exp_tables), sorted(got_tables))
    exp_names = {"lnstat_entries"} if any(before[t]["entries"] is not None for t in before) else set()
    for t in before:
        exp_names |= {f"lnstat_{c}_total" for c in before[t]["counters"]}
    got_names = {n for n in m.names() if n.startswith("lnstat_")}
    ck.eq("lnstat metric names", sorted(exp_names), sorted(got_names))
    for t in sorted(exp_tables & set(after)):
        b, a = before[t], after[t]
        if b["entries"] is not None:
            lo, hi = sorted((b["entries"], a["entries"]))
            ck.between(f'lnstat_entries{{table="{t}"}}', lo, m.get("lnstat_entries", table=t), hi)
        else:
            ck.eq(f'lnstat_entries{{table="{t}"}} (no entries column)', None, m.get("lnstat_entries", table=t))
        for c in sorted(set(b["counters"]) | set(a["counters"])):
            ck.between(f'lnstat_{c}_total{{table="{t}"}}', b["counters"].get(c),
                       m.get(f"lnstat_{c}_total", table=t), a["counters"].get(c))


def check_timeouts(ck, sysctls, m):
    exp = {}
    for fname, content in sysctls.items():
        if not fnmatch.fnmatchcase(fname, "nf_conntrack_*timeout*"):
            continue
        lab = timeout_labels(fname)
        if lab is None:
            ck.fail(f"timeout sysctl {fname}", "name not of the form nf_conntrack_<protocol>_timeout[_<state>]")
        elif lab in exp:
            ck.fail(f"timeout sysctl {fname}", f"labels {lab} taken by another sysctl too")
        else:
            exp[lab] = float(content.strip())
    got = {(dict(k)["protocol"], dict(k)["state"]): v for k, v in m.series("nf_conntrack_timeout_seconds").items()}
    ck.true("timeout sysctls exist", len(exp) > 0, "no nf_conntrack_*timeout* sysctl in the namespace")
    ck.eq("nf_conntrack_timeout_seconds label sets", sorted(exp), sorted(got))
    for lab in sorted(set(exp) & set(got)):
        ck.eq(f'nf_conntrack_timeout_seconds{{protocol="{lab[0]}",state="{lab[1]}"}}', exp[lab], got[lab])
    for s in m.find("nf_conntrack_timeout_seconds"):
        ck.eq(f"labels of {s}", ["protocol", "state"], sorted(s.labels))


_collectors_cache = None


def collectors():
    """{name: enabled by default}, in --help order, from the exporter's --help."""
    global _collectors_cache
    if _collectors_cache is None:
        r = subprocess.run([exporter_path(), "--help"], capture_output=True, text=True, timeout=10)
        if r.returncode != 0:
            fail(f"--help exited {r.returncode}: {r.stderr.strip()}")
        sect = r.stdout.split("\nCollectors", 1)
        if len(sect) != 2:
            fail(f"--help has no Collectors section:\n{r.stdout}")
        found = {}
        for line in sect[1].splitlines()[1:]:
            m = re.fullmatch(r"  ([a-z0-9_]+)\s+.*\(default (enabled|disabled)\)", line)
            if m:
                found[m.group(1)] = m.group(2) == "enabled"
        if not found:
            fail(f"no collector in --help:\n{r.stdout}")
        unknown = sorted(set(found) - set(COLLECTOR_SOURCES))
        if unknown:
            log(f"note: collectors these tests don't know yet, checked leniently: {unknown}")
        _collectors_cache = found
    return _collectors_cache


def expected_success(sources=ALL_SOURCES, enabled=None):
    """{collector: 1.0/0.0, or None (unknown collector: either)} for the collectors enabled
    (default: those enabled by default) when the exporter can reach sources."""
    if enabled is None:
        enabled = [c for c, on in collectors().items() if on]
    return {c: (float(bool(COLLECTOR_SOURCES[c] & set(sources))) if c in COLLECTOR_SOURCES else None)
            for c in enabled}


def owner_of(metric):
    """The collector a metric name belongs to, "self", or None."""
    if metric.startswith(("nf_conntrack_exporter_", "process_")):
        return "self"
    for c, rx in COLLECTOR_METRICS.items():
        if rx.fullmatch(metric):
            return c
    return None


def check_collectors(ck, m, expected):
    """collector_success{collector} == expected[collector] (None: 0 or 1) for exactly the
    collectors given, a duration for each, and no metric of a collector that failed or is off."""
    got = {dict(k).get("collector"): v for k, v in m.series("nf_conntrack_exporter_collector_success").items()}
    ck.eq("collectors with a collector_success series", sorted(expected), sorted(got))
    for c, v in sorted(expected.items()):
        if v is None:
            ck.true(f'nf_conntrack_exporter_collector_success{{collector="{c}"}} is 0 or 1', got.get(c) in (0.0, 1.0),
                    repr(got.get(c)))
        else:
            ck.eq(f'nf_conntrack_exporter_collector_success{{collector="{c}"}}', v, got.get(c))
    dur = {dict(k).get("collector") for k in m.series("nf_conntrack_exporter_collector_duration_seconds")}
    ck.eq("collectors with a collector_duration_seconds series", sorted(expected), sorted(dur))
    lenient = any(c not in COLLECTOR_SOURCES for c in expected)
    for name in sorted(m.names()):
        o = owner_of(name)
        if o == "self":
            continue
        if o is None:
            ck.true(f"{name} belongs to a collector", lenient, "no known collector makes it")
        elif got.get(o) != 1.0:
            ck.fail(f"{name}", f"exported although its collector {o} is "
                    f"{'off' if o not in got else 'failing (collector_success 0)'}")


def check_self_metrics(ck, m):
    ck.true("nf_conntrack_exporter_build_info present", len(m.find("nf_conntrack_exporter_build_info")) == 1,
            f"got {m.find('nf_conntrack_exporter_build_info')}")
    for s in m.find("nf_conntrack_exporter_build_info"):
        ck.eq("nf_conntrack_exporter_build_info value", 1.0, s.value)
        ck.true("nf_conntrack_exporter_build_info has a version label", bool(s.labels.get("version")), repr(s))
    for n in PROCESS_METRICS:
        ck.true(f"{n} present", m.get(n) is not None, "missing")


def check_types(ck, m):
    """*_total families are counters, the known histograms histograms, everything else gauges."""
    for fam, t in m.types.items():
        want = "counter" if fam.endswith("_total") else "histogram" if fam in HISTOGRAMS else "gauge"
        ck.eq(f"TYPE of {fam}", want, t)


# --------------------------------------------------------------------------------------------
# The in-namespace helper: python3 nfce.py SUBCOMMAND ...
# --------------------------------------------------------------------------------------------


def _h_http(argv):
    import argparse

    ap = argparse.ArgumentParser(prog="nfce.py http")
    ap.add_argument("method")
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("path")
    ap.add_argument("--body")
    ap.add_argument("--timeout", type=float, default=10)
    a = ap.parse_args(argv)
    hosthdr = f"[{a.host}]" if ":" in a.host else a.host
    body = a.body.encode() if a.body is not None else b""
    req = f"{a.method} {a.path} HTTP/1.1\r\nHost: {hosthdr}:{a.port}\r\nUser-Agent: nfce-itest\r\nConnection: close\r\n"
    if a.body is not None:
        req += f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
    req = req.encode() + b"\r\n" + body
    out = {"status": None, "reason": None, "headers": [], "body": "", "error": None}
    data = b""
    try:
        s = socket.create_connection((a.host, a.port), timeout=a.timeout)
        s.sendall(req)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
    except OSError as e:
        out["error"] = f"{type(e).__name__}: {e}"
    head, sep, rest = data.partition(b"\r\n\r\n")
    if sep:
        lines = head.decode("latin-1").split("\r\n")
        m = re.fullmatch(r"HTTP/1\.[01] (\d{3}) ?(.*)", lines[0])
        if m:
            out["status"], out["reason"] = int(m.group(1)), m.group(2)
        for l in lines[1:]:
            k, _, v = l.partition(":")
            out["headers"].append([k.strip(), v.strip()])
        hdrs = {k.lower(): v for k, v in out["headers"]}
        if a.method == "HEAD":
            body = rest  # must be empty: checked by the caller
        elif hdrs.get("transfer-encoding", "").lower() == "chunked":
            body, r = b"", rest
            while True:
                size_line, _, r = r.partition(b"\r\n")
                n = int(size_line.split(b";")[0], 16)
                if n == 0:
                    break
                body, r = body + r[:n], r[n + 2:]
        elif "content-length" in hdrs:
            n = int(hdrs["content-length"])
            body = rest[:n]
            if len(rest) != n:
                out["error"] = (out["error"] or "") + f" body is {len(rest)} bytes, Content-Length {n}"
        else:
            body = rest
        out["body"] = base64.b64encode(body).decode()
    elif out["error"] is None:
        out["error"] = f"no HTTP response ({len(data)} bytes)"
    print(json.dumps(out))


def _connect_state(host, port, timeout=1.0):
    try:
        s = socket.create_connection((host, port), timeout=timeout)
        s.close()
        return "open"
    except ConnectionRefusedError:
        return "refused"
    except OSError as e:
        return f"error: {e}"


def _h_probe(argv):
    print(json.dumps({"result": _connect_state(argv[0], int(argv[1]))}))


def _h_wait(argv):
    host, port, pid, timeout = argv[0], int(argv[1]), int(argv[2]), float(argv[3])
    end = time.monotonic() + timeout
    res = "timeout"
    while time.monotonic() < end:
        if not _pid_alive(pid):
            res = "process exited"
            break
        st = _connect_state(host, port, timeout=max(0.1, min(1.0, end - time.monotonic())))
        if st == "open":
            res = "open"
            break
        res = st
        time.sleep(0.02)
    print(json.dumps({"result": res}))


def _h_dump(argv):
    out = {}
    for p in argv:
        paths = [os.path.join(p, n) for n in sorted(os.listdir(p))] if os.path.isdir(p) else [p]
        for q in paths:
            try:
                with open(q) as f:
                    out[q] = f.read()
            except OSError:
                out[q] = None
    print(json.dumps(out))


def _inet_checksum(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack(f"!{len(b) // 2}H", b))
    t = (t >> 16) + (t & 0xFFFF)
    t += t >> 16
    return ~t & 0xFFFF


LO, LO6 = "127.0.0.1", "::1"


class TrafficDaemon:
    """`python3 nfce.py traffic`, in a namespace: one JSON command a line on stdin, {"op": NAME,
    args...} runs op_NAME(args...), one JSON reply a line on stdout ({"error": ...} if it
    raised). Sockets are kept (by tag) until stdin closes. Loopback only."""

    def __init__(self):
        self.listeners = {}
        self.pairs = collections.defaultdict(list)  # tag -> [(client, server or None)]
        self.udp = collections.defaultdict(list)  # tag -> [(socket, (host, port))]
        self.keep = []
        self.icmp_ident = os.getpid() & 0x7FFF

    def serve(self):
        for line in sys.stdin:
            if not line.strip():
                continue
            cmd = json.loads(line)
            try:
                reply = getattr(self, "op_" + cmd.pop("op"))(**cmd)
            except Exception as e:  # reported to the test, which fails with it
                reply = {"error": f"{type(e).__name__}: {e}"}
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()
        # stdin closed: the test is done with us; the sockets close on exit.

    # TCP

    def op_tcp_listen(self, port=0, backlog=1024):
        """A listener on port (0: any free one); returns its port."""
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((LO, port))
        s.listen(backlog)
        s.settimeout(5)
        port = s.getsockname()[1]
        self.listeners[port] = s
        return {"port": port}

    def _pair(self, port):
        c = socket.create_connection((LO, port), timeout=5)
        s, _ = self.listeners[port].accept()
        s.settimeout(5)
        c.sendall(b"x")
        s.recv(1)
        s.sendall(b"y")
        c.recv(1)
        return c, s

    def op_tcp_established(self, port, n, tag=None):
        """n connections to a listener of ours, data both ways: ESTABLISHED, ASSURED."""
        for _ in range(n):
            self.pairs[tag].append(self._pair(port))
        return {"n": len(self.pairs[tag])}

    def op_tcp_closed(self, port, n):
        """n connections to a listener of ours, each closed at once, client first: TIME_WAIT."""
        for _ in range(n):
            c, s = self._pair(port)
            c.close()
            s.recv(1)  # EOF
            s.close()
        return {}

    def op_tcp_connect_nb(self, port, n, tag=None):
        """n non-blocking connects; the connection is left to whatever the ruleset does to it."""
        res = []
        for _ in range(n):
            c = socket.socket()
            c.setblocking(False)
            res.append(c.connect_ex((LO, port)))
            self.pairs[tag].append((c, None))
        return {"errnos": res}

    def op_shutdown_wr(self, tag=None, side="client"):
        for c, s in self.pairs[tag]:
            (c if side == "client" else s).shutdown(socket.SHUT_WR)
        return {}

    def op_close(self, tag=None, side="client", rst=False, wait_eof=False):
        """Close one side (or both: client first, then the server after it read the FIN)."""
        for c, s in self.pairs[tag]:
            for x in {"client": [c], "server": [s], "both": [c, s]}[side]:
                if x is None:
                    continue
                if rst:
                    x.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                if wait_eof and x is s:
                    while s.recv(4096):
                        pass
                x.close()
        return {}

    def op_fill(self, max, udp=0):
        """Established TCP connections (ASSURED entries, which cannot be early-dropped) until the
        namespace's table holds max entries, then udp datagrams to distinct ports: each needs a
        new entry, finds the table full and nothing to early-drop, and is dropped (EPERM)."""
        def count():
            with open(f"{NF_SYSCTL}/nf_conntrack_count") as f:
                return int(f.read())

        port = self.op_tcp_listen(backlog=4096)["port"]
        tcp = 0
        while count() < max and tcp < max + 16:
            self.op_tcp_established(port, 1, "fill")
            tcp += 1
        full = count()
        r = self.op_udp_ports(UDP_BASE, udp)
        return {"tcp": tcp, "count_when_full": full, "udp_eperm": r["eperm"], "udp_sent": r["sent"],
                "count_after": count()}

    # UDP

    def op_udp_server(self, port=0, echo=False, v6=False, host=None):
        """A UDP socket on port (0: any free one) of host (default: loopback): echoes every
        datagram, or silently swallows them (no ICMP port unreachable). Returns its port."""
        host = host or (LO6 if v6 else LO)
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((host, port))
        self.keep.append(s)

        def run():
            while True:
                try:
                    data, addr = s.recvfrom(65536)
                except OSError:
                    return
                if echo:
                    s.sendto(data, addr)

        threading.Thread(target=run, daemon=True).start()
        return {"port": s.getsockname()[1]}

    def op_udp_flows(self, port, n, tag=None, expect_reply=False, v6=False):
        """n flows to port, each from a socket of its own (its own source port)."""
        replies = 0
        host = LO6 if v6 else LO
        for _ in range(n):
            u = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
            u.bind((host, 0))
            u.settimeout(5)
            u.sendto(b"nfce", (host, port))
            if expect_reply:
                u.recvfrom(100)
                replies += 1
            self.udp[tag].append((u, (host, port)))
        return {"replies": replies}

    def op_udp_again(self, tag=None, expect_reply=False):
        """One more datagram on each flow of tag."""
        replies = 0
        for u, dst in self.udp[tag]:
            u.sendto(b"again", dst)
            if expect_reply:
                u.recvfrom(100)
                replies += 1
        return {"replies": replies}

    def op_udp_ports(self, base, n):
        """One socket, datagrams to n consecutive ports from base: n unreplied flows, as fast as
        it goes; datagrams conntrack drops (table full) are counted, not sent."""
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind((LO, 0))
        t0 = time.monotonic()
        sent = eperm = 0
        for p in range(base, base + n):
            try:
                try:
                    u.sendto(b"nfce", (LO, p))
                except ConnectionRefusedError:  # an ICMP error of an earlier datagram, reported late
                    u.sendto(b"nfce", (LO, p))
                sent += 1
            except PermissionError:
                eperm += 1
        self.keep.append(u)
        return {"sent": sent, "eperm": eperm, "seconds": time.monotonic() - t0, "sport": u.getsockname()[1]}

    def op_has_ipv6(self):
        try:
            socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).bind((LO6, 0))
            return {"ipv6": True}
        except OSError as e:
            return {"ipv6": False, "why": str(e)}

    # ICMP and invalid packets (raw sockets, to 127.0.0.1)

    def op_icmp_echo(self, n, ident_base=None):
        """n echo requests with distinct ids (one replied entry each), waiting for each reply."""
        if ident_base is None:
            ident_base, self.icmp_ident = self.icmp_ident, self.icmp_ident + n
        r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        r.settimeout(5)
        got = 0
        for i in range(n):
            ident = (ident_base + i) & 0xFFFF
            hdr = struct.pack("!BBHHH", 8, 0, 0, ident, 1) + b"nfce"
            r.sendto(hdr[:2] + struct.pack("!H", _inet_checksum(hdr)) + hdr[4:], (LO, 0))
            while True:  # a raw ICMP socket sees the request too: wait for the reply
                data = r.recv(1500)
                ihl = (data[0] & 0x0F) * 4
                t, _, _, rid, _ = struct.unpack("!BBHHH", data[ihl:ihl + 8])
                if t == 0 and rid == ident:
                    got += 1
                    break
        r.close()
        return {"replies": got}

    def op_invalid_tcp(self, n):
        """n TCP segments with SYN+FIN, an invalid flag combination: conntrack counts them as invalid."""
        with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP) as r:
            for _ in range(n):
                r.sendto(struct.pack("!HHIIBBHHH", 42999, 42998, 1, 0, 5 << 4, 0x03, 1024, 0, 0), (LO, 0))
        return {}

    def op_bad_icmp(self, n):
        """n ICMP messages of a type beyond NR_ICMP_TYPES: conntrack counts them as "error"
        (icmp_error in /proc/net/stat/nf_conntrack)."""
        with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as r:
            for _ in range(n):
                r.sendto(struct.pack("!BBHI", 200, 0, 0, 0), (LO, 0))
        return {}


if __name__ == "__main__":
    helpers = {"http": _h_http, "probe": _h_probe, "wait": _h_wait, "dump": _h_dump,
               "traffic": lambda argv: TrafficDaemon().serve()}
    if len(sys.argv) < 2 or sys.argv[1] not in helpers:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(helpers)}}} ...")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    helpers[sys.argv[1]](sys.argv[2:])
