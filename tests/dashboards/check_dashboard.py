#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Static checks of the Grafana dashboard against what the exporter really exports.

usage: check_dashboard.py [--dashboard FILE] [--self-test] SCRAPE [SCRAPE...]

SCRAPE is the text of a real /metrics scrape of nf_conntrack_exporter (live_metrics.sh makes
one); several may be given, their metric names are added up. FILE defaults to
dashboards/grafana/nf_conntrack.json of this source tree.

Checks:
  * the file is JSON, in the current schema (schemaVersion >= 36, no deprecated panel types);
  * no `__inputs` (nor `${DS_...}` placeholders of an exported dashboard): a `datasource`
    template variable of type "datasource" (query "prometheus") exists, and every panel, every
    target and every query variable uses it as {"type": "prometheus", "uid": "${datasource}"};
  * `job` and `instance` query variables exist;
  * panel ids are unique, rows' nested panels included; gridPos fits the 24-column grid and
    panels of one section don't overlap;
  * every panel but rows has a unit (fieldConfig.defaults.unit) and a non-empty description,
    and at least one target with an expression; refIds are unique within a panel;
  * every vector selector of a panel query filters on job="$job" and instance="$instance";
  * every rate(), irate() and increase() takes `[$__rate_interval]`;
  * every metric a query names is in the scrape (plus `up`, and _bucket/_sum/_count of
    histogram families), and every label a selector matches on is one that metric has. Two
    kinds of names are taken from lists here when, and only when, the scrape cannot have them:
    statistics of newer kernels (KERNEL_DEPENDENT) and the arp_cache/ndisc_cache columns of a
    scrape made outside the initial network namespace (NEIGH_COLUMNS); a note says so;
  * every expression parses: Grafana variables are replaced ($__rate_interval by 5m, $job by a
    value...), the expressions are written as recording rules to a temporary file and
    `promtool check rules` parses them.

--self-test then feeds broken variants of the dashboard to the same checks (a metric typo, a
missing unit, a duplicate id, a rate without $__rate_interval, an unparsable query, ...) and
fails unless each of them is rejected for the expected reason.

Exit status: 0 pass, 1 fail, 77 skip ("SKIP: ..." when promtool is not installed).
"""

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

EXIT_PASS, EXIT_FAIL, EXIT_SKIP = 0, 1, 77
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DASHBOARD = os.path.join(HERE, "..", "..", "dashboards", "grafana", "nf_conntrack.json")

DS_VAR = "datasource"
DS_UIDS = ("${datasource}", "$datasource")
PANEL_TYPES = {"stat", "gauge", "timeseries", "table", "bargauge", "row"}
MIN_SCHEMA = 36
GRID_W = 24
RATE_FUNCS = {"rate", "irate", "increase"}
RATE_INTERVAL_VAR = "__rate_interval"
# Labels Prometheus adds to every series of a target.
TARGET_LABELS = {"job", "instance"}
# Metrics Prometheus makes itself for every target.
SYNTHETIC_METRICS = {"up"}
# The columns of /proc/net/stat/{arp,ndisc}_cache (neigh_stat_seq_show() in the kernel, the
# same header since 2.6). Those tables exist in the initial network namespace only, so a scrape
# taken elsewhere has no lnstat_<column>_total{table="arp_cache"}: only then are these names
# taken from this list instead of from the scrape.
NEIGH_COLUMNS = ("allocs", "destroys", "hash_grows", "lookups", "hits", "res_failed",
                 "rcv_probes_mcast", "rcv_probes_ucast", "periodic_gc_runs", "forced_gc_runs",
                 "unresolved_discards", "table_fulls")
NEIGH_TABLES = ("arp_cache", "ndisc_cache")
# Statistics only newer kernels report (docs/metrics.md): a scrape taken on an older kernel
# lacks them, and then only these names are taken from this list.
KERNEL_DEPENDENT = {
    "nf_conntrack_stat_clash_resolve_total": "kernel 5.10+",
    "nf_conntrack_stat_chaintoolong_total": "kernel 5.15+",
}

AGGREGATORS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
               "bottomk", "topk", "quantile", "limitk", "limit_ratio"}
LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = {"and", "or", "unless", "bool", "offset", "atan2", "start", "end"}
NUMBER_WORDS = {"inf", "nan"}

# Values given to Grafana's variables before promtool parses an expression.
DURATION_VARS = {"__rate_interval": "5m", "__interval": "5m", "__range": "5m"}
NUMBER_VARS = {"__interval_ms": "300000", "__range_s": "300", "__range_ms": "300000"}
VAR_RE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)(?::[^\]]*)?\]\]")
LABEL_VALUES_RE = re.compile(r"^\s*label_values\(\s*(.*?)\s*,\s*([a-zA-Z_]\w*)\s*\)\s*$", re.S)


# ------------------------------------------------------------------------------------------
# The scrape
# ------------------------------------------------------------------------------------------


def parse_labels(s, where):
    """Label names of the inside of {...} of an exposition sample."""
    names, i = [], 0
    while i < len(s):
        m = re.compile(r'\s*([a-zA-Z_]\w*)\s*=\s*"').match(s, i)
        if not m:
            raise ValueError(f"{where}: bad labels {{{s}}}")
        names.append(m.group(1))
        i = m.end()
        while i < len(s) and s[i] != '"':
            i += 2 if s[i] == "\\" else 1
        if i >= len(s):
            raise ValueError(f"{where}: unterminated label value in {{{s}}}")
        i += 1
        m = re.compile(r"\s*,?\s*").match(s, i)
        i = m.end()
    return names


class Known:
    """Metric names (and their label names) a set of scrapes shows."""

    def __init__(self):
        self.labels = {}  # metric name -> set of label names, or None when unknown
        self.notes = []
        self.lnstat_tables = set()

    def add(self, name, labels):
        cur = self.labels.get(name)
        if labels is None:
            self.labels.setdefault(name, None)
        else:
            self.labels[name] = (cur or set()) | set(labels)

    def load(self, path):
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        samples = 0
        for n, line in enumerate(text.splitlines(), 1):
            where = f"{path}:{n}"
            line = line.strip()
            if not line:
                continue
            if line.startswith("#"):
                p = line.split()
                if len(p) >= 4 and p[1] == "TYPE":
                    name, typ = p[2], p[3]
                    if typ in ("histogram", "gaugehistogram"):
                        for sfx in ("_bucket", "_sum", "_count"):
                            self.add(name + sfx, None)
                    elif typ == "summary":
                        for sfx in ("", "_sum", "_count"):
                            self.add(name + sfx, None)
                    else:
                        self.add(name, None)
                continue
            m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+\S+", line)
            if not m:
                raise ValueError(f"{where}: not a sample line: {line[:80]!r}")
            labels = parse_labels(m.group(3), where) if m.group(3) else []
            self.add(m.group(1), labels)
            samples += 1
            if m.group(1) == "lnstat_entries":
                t = re.search(r'table="([^"]*)"', m.group(3) or "")
                if t:
                    self.lnstat_tables.add(t.group(1))
        if samples == 0:
            raise ValueError(f"{path}: no samples: not a scrape of /metrics")
        return samples

    def finish(self):
        for name in SYNTHETIC_METRICS:
            self.add(name, [])
        for name, since in KERNEL_DEPENDENT.items():
            if name not in self.labels:
                self.notes.append(f"note: {name} is not in the scrape ({since}): taken as known")
                self.add(name, [])
        missing = [t for t in NEIGH_TABLES if t not in self.lnstat_tables]
        if missing:
            self.notes.append(f"note: no {'/'.join(missing)} lnstat table in the scrape (it exists in the "
                              "initial network namespace only): their columns are taken from the "
                              "kernel's fixed header")
            for col in NEIGH_COLUMNS:
                self.add(f"lnstat_{col}_total", ["table"])
            self.add("lnstat_entries", ["table"])


# ------------------------------------------------------------------------------------------
# PromQL, as far as these checks need it
# ------------------------------------------------------------------------------------------

TOKEN_RE = re.compile(r"""
    (?P<ws>\s+|\#[^\n]*)
  | (?P<var>\$\{\w+(?::[^}]*)?\}|\$\w+|\[\[\w+(?::[^\]]*)?\]\])
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<dur>\d+(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*(?![\w:]))
  | (?P<num>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<id>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=@,(){}\[\]:])
""", re.X)


class Tok:
    __slots__ = ("kind", "text", "pos")

    def __init__(self, kind, text, pos):
        self.kind, self.text, self.pos = kind, text, pos

    def __repr__(self):
        return f"{self.kind}:{self.text}"


def tokenize(expr):
    out, i = [], 0
    while i < len(expr):
        m = TOKEN_RE.match(expr, i)
        if not m:
            raise ValueError(f"unexpected character {expr[i]!r} at {i}")
        if m.lastgroup != "ws":
            out.append(Tok(m.lastgroup, m.group(), i))
        i = m.end()
    return out


def var_name(text):
    m = VAR_RE.fullmatch(text)
    return next(g for g in m.groups() if g) if m else None


def unquote(s):
    if s.startswith("`"):
        return s[1:-1]
    try:
        return json.loads('"' + s[1:-1].replace('\\\'', "'") + '"')
    except ValueError:
        return s[1:-1]


class Selector:
    def __init__(self, metric, pos):
        self.metric = metric
        self.pos = pos
        self.matchers = []  # (label, op, value)


def closing(toks, i, open_, close):
    """Index of the token closing toks[i] (an `open_`), or len(toks)."""
    depth = 0
    for j in range(i, len(toks)):
        if toks[j].text == open_:
            depth += 1
        elif toks[j].text == close:
            depth -= 1
            if depth == 0:
                return j
    return len(toks)


def analyse(expr):
    """Vector selectors, and the range of each rate()/irate()/increase() call.

    Lenient: it does not validate the syntax (promtool does), it only finds what is needed."""
    toks = tokenize(expr)
    sels, rate_calls = [], []
    i = 0
    while i < len(toks):
        t = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if t.text == "[":  # range or subquery: durations only
            i = closing(toks, i, "[", "]") + 1
            continue
        if t.kind == "id" and t.text in LABEL_LIST_KEYWORDS:
            i = closing(toks, i + 1, "(", ")") + 1 if nxt is not None and nxt.text == "(" else i + 1
            continue
        if t.kind == "id" and (t.text in AGGREGATORS or t.text in KEYWORDS
                               or t.text.lower() in NUMBER_WORDS):
            i += 1
            continue
        if t.kind == "id" and nxt is not None and nxt.text == "(":
            if t.text in RATE_FUNCS:
                end = closing(toks, i + 1, "(", ")")
                ranges = []
                j = i + 2
                while j < end:
                    if toks[j].text == "[":
                        k = closing(toks, j, "[", "]")
                        ranges.append("".join(x.text for x in toks[j + 1:k]))
                        j = k
                    j += 1
                rate_calls.append((t.text, ranges))
            i += 1
            continue
        if t.kind == "id" or t.text == "{":
            sel = Selector(t.text if t.kind == "id" else None, t.pos)
            if t.kind == "id":
                i += 1
            if i < len(toks) and toks[i].text == "{":
                end = closing(toks, i, "{", "}")
                j = i + 1
                while j + 2 < end + 1 and j < end:
                    if toks[j].kind == "id" and j + 2 < end and toks[j + 2].kind == "str":
                        sel.matchers.append((toks[j].text, toks[j + 1].text, unquote(toks[j + 2].text)))
                        j += 3
                    else:
                        j += 1
                i = end + 1
            for lbl, op, val in sel.matchers:
                if lbl == "__name__" and op == "=" and sel.metric is None:
                    sel.metric = val
            sels.append(sel)
            continue
        i += 1
    return sels, rate_calls


def substitute(expr):
    """The expression with Grafana's variables replaced by values promtool can parse."""
    def repl(m):
        name = next(g for g in m.groups() if g)
        if name in DURATION_VARS:
            return DURATION_VARS[name]
        if name in NUMBER_VARS:
            return NUMBER_VARS[name]
        return "x"
    return VAR_RE.sub(repl, expr)


# ------------------------------------------------------------------------------------------
# The dashboard
# ------------------------------------------------------------------------------------------


def walk_panels(panels, parent=None):
    for p in panels or []:
        if not isinstance(p, dict):
            continue
        yield p, parent
        if p.get("type") == "row" or p.get("panels"):
            yield from walk_panels(p.get("panels"), p)


def panel_name(p):
    return f'panel {p.get("id")!r} "{p.get("title", "")}"'


def is_ds_ref(ds):
    return (isinstance(ds, dict) and ds.get("uid") in DS_UIDS
            and ds.get("type") in ("prometheus", None)) or ds in DS_UIDS


def strings_in(obj, path=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from strings_in(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for n, v in enumerate(obj):
            yield from strings_in(v, f"{path}[{n}]")
    elif isinstance(obj, str):
        yield path, obj


class Query:
    def __init__(self, where, expr, panel_query):
        self.where = where            # human-readable origin
        self.expr = expr              # as written in the dashboard
        self.panel_query = panel_query  # False for template variable queries


def check_structure(d, errors):
    """Everything but the queries' contents. Returns the list of queries."""
    queries = []
    if not isinstance(d, dict):
        errors.append("the dashboard is not a JSON object")
        return queries
    if "__inputs" in d or "__requires" in d:
        errors.append("`__inputs`/`__requires` present: an exported dashboard with data source "
                      "placeholders; use the `datasource` template variable instead")
    for path, s in strings_in(d):
        if "${DS_" in s or re.search(r"\$DS_\w", s):
            errors.append(f"{path}: data source placeholder {s!r} (from __inputs); use ${{datasource}}")
    sv = d.get("schemaVersion")
    if not isinstance(sv, int) or sv < MIN_SCHEMA:
        errors.append(f"schemaVersion is {sv!r}: expected the current schema (>= {MIN_SCHEMA})")
    for key in ("title", "uid"):
        if not isinstance(d.get(key), str) or not d.get(key):
            errors.append(f"the dashboard has no {key}")

    # Template variables.
    tvars = (d.get("templating") or {}).get("list") or []
    by_name = {v.get("name"): v for v in tvars if isinstance(v, dict)}
    dsv = by_name.get(DS_VAR)
    if dsv is None:
        errors.append(f"no `{DS_VAR}` template variable")
    else:
        if dsv.get("type") != "datasource":
            errors.append(f"variable `{DS_VAR}` has type {dsv.get('type')!r}, expected \"datasource\"")
        if dsv.get("query") != "prometheus":
            errors.append(f"variable `{DS_VAR}` has query {dsv.get('query')!r}, expected \"prometheus\"")
    for name in ("job", "instance"):
        v = by_name.get(name)
        if v is None:
            errors.append(f"no `{name}` template variable")
        elif v.get("type") != "query":
            errors.append(f"variable `{name}` has type {v.get('type')!r}, expected \"query\"")
    for v in tvars:
        if not isinstance(v, dict) or v.get("type") != "query":
            continue
        where = f'variable `{v.get("name")}`'
        if not is_ds_ref(v.get("datasource")):
            errors.append(f"{where}: datasource {v.get('datasource')!r} is not the `{DS_VAR}` variable")
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        if not isinstance(q, str) or not q.strip():
            errors.append(f"{where}: no query")
            continue
        m = LABEL_VALUES_RE.match(q)
        if m:
            queries.append(Query(where, m.group(1), False))
        elif re.match(r"^\s*(label_names|metrics|query_result)\(", q):
            inner = re.match(r"^\s*\w+\((.*)\)\s*$", q, re.S).group(1)
            if inner.strip():
                queries.append(Query(where, inner, False))
        else:
            errors.append(f"{where}: query {q!r} is not label_values(...) or another Grafana "
                          "Prometheus variable function")

    # Panels.
    panels = d.get("panels")
    if not isinstance(panels, list) or not panels:
        errors.append("the dashboard has no panels")
        return queries
    seen_ids = {}
    sections = [[]]
    for p, parent in walk_panels(panels):
        name = panel_name(p)
        pid = p.get("id")
        if not isinstance(pid, int) or isinstance(pid, bool):
            errors.append(f'panel "{p.get("title", "")}": id {pid!r} is not an integer')
        elif pid in seen_ids:
            errors.append(f"duplicate panel id {pid}: \"{seen_ids[pid]}\" and \"{p.get('title', '')}\"")
        else:
            seen_ids[pid] = p.get("title", "")
        ptype = p.get("type")
        if ptype not in PANEL_TYPES:
            errors.append(f"{name}: type {ptype!r} is not one of {sorted(PANEL_TYPES)}")
        gp = p.get("gridPos")
        if not isinstance(gp, dict) or not all(isinstance(gp.get(k), int) for k in "hwxy"):
            errors.append(f"{name}: gridPos {gp!r} lacks integer h, w, x, y")
        elif gp["x"] < 0 or gp["y"] < 0 or gp["w"] < 1 or gp["h"] < 1 or gp["x"] + gp["w"] > GRID_W:
            errors.append(f"{name}: gridPos {gp} does not fit the {GRID_W}-column grid")
        elif ptype == "row":
            sections.append([])
        else:
            for other_name, o in sections[-1]:
                if (gp["x"] < o["x"] + o["w"] and o["x"] < gp["x"] + gp["w"]
                        and gp["y"] < o["y"] + o["h"] and o["y"] < gp["y"] + gp["h"]):
                    errors.append(f"{name}: gridPos {gp} overlaps {other_name} {o}")
            sections[-1].append((name, gp))
        if ptype == "row":
            if p.get("datasource") is not None and not is_ds_ref(p["datasource"]):
                errors.append(f"{name}: datasource {p['datasource']!r} is not the `{DS_VAR}` variable")
            if p.get("targets"):
                errors.append(f"{name}: a row with targets")
            continue
        if parent is not None and parent.get("type") != "row":
            errors.append(f"{name}: nested in {panel_name(parent)}, which is not a row")
        if not is_ds_ref(p.get("datasource")):
            errors.append(f"{name}: datasource {p.get('datasource')!r} is not the `{DS_VAR}` variable")
        unit = ((p.get("fieldConfig") or {}).get("defaults") or {}).get("unit")
        if not isinstance(unit, str) or not unit.strip():
            errors.append(f"{name}: no unit (fieldConfig.defaults.unit)")
        desc = p.get("description")
        if not isinstance(desc, str) or not desc.strip():
            errors.append(f"{name}: no description")
        targets = p.get("targets")
        if not isinstance(targets, list) or not targets:
            errors.append(f"{name}: no targets")
            continue
        refids = set()
        for t in targets:
            ref = t.get("refId") if isinstance(t, dict) else None
            where = f"{name} target {ref!r}"
            if not isinstance(t, dict):
                errors.append(f"{name}: a target is not an object")
                continue
            if not ref:
                errors.append(f"{name}: a target without refId")
            elif ref in refids:
                errors.append(f"{name}: duplicate refId {ref!r}")
            refids.add(ref)
            if not is_ds_ref(t.get("datasource")):
                errors.append(f"{where}: datasource {t.get('datasource')!r} is not the `{DS_VAR}` variable")
            expr = t.get("expr")
            if not isinstance(expr, str) or not expr.strip():
                errors.append(f"{where}: no expr")
                continue
            queries.append(Query(where, expr, True))
    return queries


def check_queries(queries, known, errors):
    for q in queries:
        try:
            sels, rate_calls = analyse(q.expr)
        except ValueError as e:
            errors.append(f"{q.where}: cannot read {q.expr!r}: {e}")
            continue
        if not sels:
            errors.append(f"{q.where}: no metric in {q.expr!r}")
        for fn, ranges in rate_calls:
            want = "$" + RATE_INTERVAL_VAR
            ok = ranges and all(var_name(r) == RATE_INTERVAL_VAR for r in ranges)
            if not ok:
                errors.append(f"{q.where}: {fn}() must take [{want}], got "
                              f"{', '.join('[' + r + ']' for r in ranges) or 'no range'} in {q.expr!r}")
        for sel in sels:
            if sel.metric is None:
                errors.append(f"{q.where}: a selector without a metric name in {q.expr!r}")
                continue
            if sel.metric not in known.labels:
                errors.append(f"{q.where}: unknown metric {sel.metric!r} (not in the exporter's scrape) "
                              f"in {q.expr!r}")
                continue
            labels = known.labels[sel.metric]
            for lbl, op, val in sel.matchers:
                if labels is not None and lbl not in labels | TARGET_LABELS | {"__name__"}:
                    errors.append(f"{q.where}: {sel.metric} has no label {lbl!r} "
                                  f"(it has {sorted(labels) or 'none'}) in {q.expr!r}")
            if q.panel_query:
                m = {(lbl, op, val) for lbl, op, val in sel.matchers}
                for lbl in ("job", "instance"):
                    if (lbl, "=", f"${lbl}") not in m and (lbl, "=", f"${{{lbl}}}") not in m:
                        errors.append(f'{q.where}: {sel.metric} is not filtered on {lbl}="${lbl}" '
                                      f"in {q.expr!r}")


def promtool_check(queries, errors, promtool):
    """Parse every expression with `promtool check rules`."""
    rules, names = [], {}
    for n, q in enumerate(queries):
        rname = f"dashboard_query_{n}"
        names[rname] = q
        rules.append(f"      - record: {rname}\n        expr: {json.dumps(substitute(q.expr))}\n")
    text = "groups:\n  - name: dashboard\n    rules:\n" + "".join(rules)
    with tempfile.TemporaryDirectory(prefix="nfce-dash-") as tmp:
        path = os.path.join(tmp, "dashboard_rules.yml")
        with open(path, "w") as f:
            f.write(text)
        try:
            r = subprocess.run([promtool, "check", "rules", path], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            errors.append(f"promtool check rules did not run: {e}")
            return
    out = (r.stdout + r.stderr).strip()
    if r.returncode != 0:
        named = False
        for line in out.splitlines():
            for rname in re.findall(r'"(dashboard_query_\d+)"', line):
                q = names[rname]
                why = line.split(f'"{rname}":', 1)[-1].strip()
                errors.append(f"{q.where}: promtool cannot parse {q.expr!r}: {why}")
                named = True
        if not named:
            errors.append(f"promtool check rules failed (exit {r.returncode}):\n{out}")
    elif f"SUCCESS: {len(queries)} rules found" not in out:
        errors.append(f"promtool check rules did not report {len(queries)} rules:\n{out}")


def check(d, known, promtool):
    errors = []
    queries = check_structure(d, errors)
    check_queries(queries, known, errors)
    if promtool and queries:
        promtool_check(queries, errors, promtool)
    return errors, queries


# ------------------------------------------------------------------------------------------
# Self-test: broken variants must be rejected
# ------------------------------------------------------------------------------------------


def _targets(d):
    for p, _ in walk_panels(d["panels"]):
        for t in p.get("targets") or []:
            yield p, t


def _first_target(d, pattern):
    for p, t in _targets(d):
        if re.search(pattern, t.get("expr", "")):
            return p, t
    raise LookupError(f"no target matches {pattern!r}")


def _leaf_panels(d):
    return [p for p, _ in walk_panels(d["panels"]) if p.get("type") != "row"]


def _nested_panel(d):
    for p, parent in walk_panels(d["panels"]):
        if parent is not None:
            return p
    return _leaf_panels(d)[-1]


def _sub_expr(pattern, repl, count=1):
    def f(d):
        _, t = _first_target(d, pattern)
        t["expr"] = re.sub(pattern, repl, t["expr"], count=count)
    return f


def _typo(d):
    _, t = _first_target(d, r"\bnf_conntrack_entries_limit\b")
    t["expr"] = t["expr"].replace("nf_conntrack_entries_limit", "nf_conntrack_entries_limt", 1)


def _no_unit(d):
    del _leaf_panels(d)[0]["fieldConfig"]["defaults"]["unit"]


def _no_desc(d):
    _leaf_panels(d)[-1]["description"] = " "


def _dup_id(d):
    _nested_panel(d)["id"] = _leaf_panels(d)[0]["id"]


def _inputs(d):
    d["__inputs"] = [{"name": "DS_PROMETHEUS", "type": "datasource", "pluginId": "prometheus"}]
    _leaf_panels(d)[0]["datasource"] = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}


def _fixed_ds(d):
    _leaf_panels(d)[1]["datasource"] = {"type": "prometheus", "uid": "prometheus"}


def _target_ds(d):
    _, t = _first_target(d, r".")
    t["datasource"] = {"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}


def _no_ds_var(d):
    d["templating"]["list"] = [v for v in d["templating"]["list"] if v.get("name") != DS_VAR]


def _bad_query(d):
    _, t = _first_target(d, r"sum by \(")
    t["expr"] = t["expr"] + " +"


def _bad_query2(d):
    _, t = _first_target(d, r"histogram_quantile")
    t["expr"] = t["expr"].replace("histogram_quantile(", "histogram_quantile(0.5 0.9, ", 1)


def _old_panel(d):
    _leaf_panels(d)[2]["type"] = "graph"


def _overlap(d):
    leaves = [p for p in d["panels"] if p.get("type") != "row"]
    leaves[1]["gridPos"] = dict(leaves[0]["gridPos"])


SELF_TESTS = [
    ("metric name typo", _typo, "unknown metric 'nf_conntrack_entries_limt'"),
    ("unknown label", _sub_expr(r'protocol="tcp"', 'proto="tcp"'), "has no label 'proto'"),
    ("missing unit", _no_unit, "no unit"),
    ("empty description", _no_desc, "no description"),
    ("duplicate id inside a row", _dup_id, "duplicate panel id"),
    ("rate over [5m]", _sub_expr(r"(\brate\([^\[]*)\[\$__rate_interval\]", r"\1[5m]"),
     "rate() must take [$__rate_interval]"),
    ("increase over [$__interval]",
     _sub_expr(r"(\bincrease\([^\[]*)\[\$__rate_interval\]", r"\1[$__interval]"),
     "increase() must take [$__rate_interval]"),
    ("no instance filter", _sub_expr(r',instance="\$instance"', ""), 'not filtered on instance="$instance"'),
    ("no job filter", _sub_expr(r'job="\$job",', ""), 'not filtered on job="$job"'),
    ("trailing operator", _bad_query, "promtool cannot parse"),
    ("bad function arguments", _bad_query2, "promtool cannot parse"),
    ("__inputs", _inputs, "__inputs"),
    ("fixed panel data source", _fixed_ds, "is not the `datasource` variable"),
    ("fixed target data source", _target_ds, "is not the `datasource` variable"),
    ("no datasource variable", _no_ds_var, "no `datasource` template variable"),
    ("deprecated panel type", _old_panel, "type 'graph'"),
    ("overlapping panels", _overlap, "overlaps"),
]


def self_test(d, known, promtool):
    failures = []
    for name, mutate, expect in SELF_TESTS:
        v = copy.deepcopy(d)
        try:
            mutate(v)
        except (LookupError, IndexError, KeyError) as e:
            failures.append(f"self-test '{name}': cannot make the variant ({e!r})")
            continue
        if "promtool" in expect and not promtool:
            continue
        errs, _ = check(v, known, promtool)
        if not any(expect in e for e in errs):
            failures.append(f"self-test '{name}': the broken variant was not rejected with "
                            f"{expect!r}; errors: {errs or 'none'}")
    return failures


# ------------------------------------------------------------------------------------------


def main(argv):
    args = argv[1:]
    dashboard = DEFAULT_DASHBOARD
    run_self_test = False
    scrapes = []
    while args:
        a = args.pop(0)
        if a == "--dashboard" and args:
            dashboard = args.pop(0)
        elif a.startswith("--dashboard="):
            dashboard = a.split("=", 1)[1]
        elif a == "--self-test":
            run_self_test = True
        elif a in ("-h", "--help"):
            print(__doc__)
            return EXIT_PASS
        elif a.startswith("-"):
            print(f"FAIL: unknown option {a}", flush=True)
            return EXIT_FAIL
        else:
            scrapes.append(a)
    if not scrapes:
        print("FAIL: usage: check_dashboard.py [--dashboard FILE] [--self-test] SCRAPE [SCRAPE...]")
        return EXIT_FAIL

    known = Known()
    try:
        for s in scrapes:
            known.load(s)
    except (OSError, ValueError) as e:
        print(f"FAIL: cannot read the scrape: {e}", flush=True)
        return EXIT_FAIL
    known.finish()
    for n in known.notes:
        print(n)

    try:
        with open(dashboard, encoding="utf-8") as f:
            d = json.load(f)
    except (OSError, ValueError) as e:
        print(f"FAIL: {dashboard}: not valid JSON: {e}", flush=True)
        return EXIT_FAIL

    promtool = shutil.which("promtool")
    errors, queries = check(d, known, promtool)
    if run_self_test and not errors:
        errors += self_test(d, known, promtool)

    name = os.path.normpath(os.path.abspath(dashboard))
    if errors:
        for e in errors:
            print(f"FAIL: {name}: {e}", flush=True)
        print(f"FAIL: {name}: {len(errors)} problem(s)", flush=True)
        return EXIT_FAIL
    npanels = sum(1 for p, _ in walk_panels(d["panels"]) if p.get("type") != "row")
    done = (f"{npanels} panels, {len(queries)} queries, {len(known.labels)} known metric names"
            + (f", {len(SELF_TESTS)} broken variants rejected" if run_self_test else ""))
    if not promtool:
        print(f"SKIP: promtool is not installed (Debian: apt-get install prometheus); "
              f"everything else passed: {done}", flush=True)
        return EXIT_SKIP
    print(f"PASS: {name}: {done}; promtool parsed every query", flush=True)
    return EXIT_PASS


if __name__ == "__main__":
    sys.exit(main(sys.argv))
