#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Write the Prometheus recording and alerting rules of nf_conntrack_exporter.

    python3 generate.py                        # config.yml -> nf_conntrack.rules.yml
    python3 generate.py -o - --override my.yml # config.yml + my.yml -> stdout
    python3 generate.py --dump-config          # the merged configuration, as JSON

Everything one may want to tune (the job selector, thresholds, `for:` durations, windows,
severity names, extra labels, where runbook links point) is in config.yml; the PromQL and the
texts are here. Python 3 standard library only: config.yml is read by a parser of the small
YAML subset it is written in (nested block mappings, scalars, comments), and the rules are
written by a small emitter, so the output is the same wherever it is generated.

An override file (--override, repeatable) has the same shape as config.yml and may set only
keys that config.yml has: tests/integration/test_prometheus_e2e.py uses e2e-overrides.yml to
get the same rules with second-long windows.
"""

import argparse
import json
import os
import re
import sys

sys.dont_write_bytecode = True

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CONFIG = os.path.join(HERE, "config.yml")
DEFAULT_OUTPUT = os.path.join(HERE, "nf_conntrack.rules.yml")


class ConfigError(Exception):
    pass


# --------------------------------------------------------------------------------------------
# The YAML subset of config.yml
# --------------------------------------------------------------------------------------------

_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_INT_RE = re.compile(r"[-+]?[0-9]+")
_FLOAT_RE = re.compile(r"[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][-+]?[0-9]+)?")
# Plain scalars YAML 1.1 would read as something else than a string: refused, so that
# PyYAML and this parser always agree on config.yml.
_AMBIGUOUS = {"yes", "no", "on", "off", "y", "n", "~", "null", "true", "false"}


def _strip_comment(line, where):
    """The line without its comment: '#' at the start or after a blank, outside quotes."""
    quote = None
    i = 0
    while i < len(line):
        c = line[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 2
                continue
            if c == quote:
                if quote == "'" and line[i + 1:i + 2] == "'":
                    i += 2
                    continue
                quote = None
        elif c in "'\"" and (i == 0 or line[i - 1] in " :"):
            quote = c
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
        i += 1
    if quote:
        raise ConfigError(f"{where}: unterminated quoted string")
    return line.rstrip()


def _scalar(tok, where):
    if tok == "{}":
        return {}
    if tok.startswith("'"):
        if len(tok) < 2 or not tok.endswith("'"):
            raise ConfigError(f"{where}: bad single-quoted string {tok}")
        body = tok[1:-1]
        if re.search(r"(?<!')'(?!')", body.replace("''", "")):
            raise ConfigError(f"{where}: stray quote in {tok}")
        return body.replace("''", "'")
    if tok.startswith('"'):
        try:
            v = json.loads(tok)
        except ValueError:
            raise ConfigError(f"{where}: bad double-quoted string {tok} (JSON escapes only)")
        if not isinstance(v, str):
            raise ConfigError(f"{where}: bad double-quoted string {tok}")
        return v
    low = tok.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("null", "~"):
        return None
    if _INT_RE.fullmatch(tok):
        return int(tok)
    if _FLOAT_RE.fullmatch(tok):
        return float(tok)
    if low in _AMBIGUOUS or tok[0] in "[]{}&*!|>%@`,?-:#" or ": " in tok or tok.endswith(":"):
        raise ConfigError(f"{where}: {tok!r} must be quoted (this parser reads only plain "
                          f"strings, numbers, true/false and quoted strings)")
    return tok


def parse_config(text, filename):
    """Nested block mappings of scalars -> dict. Anything else is an error with a line number."""
    lines = []
    for no, raw in enumerate(text.split("\n"), 1):
        where = f"{filename}:{no}"
        if "\t" in raw[:len(raw) - len(raw.lstrip())]:
            raise ConfigError(f"{where}: tab in indentation")
        body = _strip_comment(raw, where)
        if not body.strip():
            continue
        if body.strip() in ("---", "..."):
            raise ConfigError(f"{where}: document markers are not supported")
        indent = len(body) - len(body.lstrip(" "))
        lines.append((no, indent, body.strip()))

    root = {}
    stack = [(-1, root)]  # (indent of the mapping's keys, mapping)
    pending = None  # (indent, mapping, key) of a "key:" waiting for its nested mapping
    for no, indent, s in lines:
        where = f"{filename}:{no}"
        if pending is not None:
            p_indent, p_map, p_key = pending
            if indent > p_indent:
                child = {}
                p_map[p_key] = child
                stack.append((indent, child))
            else:
                p_map[p_key] = None
            pending = None
        while stack and indent < stack[-1][0]:
            stack.pop()
        if indent != stack[-1][0]:
            if stack[-1][0] == -1 and not stack[-1][1]:
                stack[-1] = (indent, root)
            else:
                raise ConfigError(f"{where}: indentation does not match any enclosing mapping")
        mapping = stack[-1][1]
        if s.startswith("- "):
            raise ConfigError(f"{where}: lists are not supported")
        if s[0] in "'\"":
            m = re.match(r"('(?:[^']|'')*'|\"(?:[^\"\\]|\\.)*\")\s*:(?:\s+|$)", s)
            if not m:
                raise ConfigError(f"{where}: expected 'key: value'")
            key = _scalar(m.group(1), where)
        else:
            m = re.match(r"([^:\s]+)\s*:(?:\s+|$)", s)
            if not m or not _KEY_RE.fullmatch(m.group(1)):
                raise ConfigError(f"{where}: expected 'key: value', got {s!r}")
            key = m.group(1)
        if key in mapping:
            raise ConfigError(f"{where}: duplicate key {key!r}")
        rest = s[m.end():].strip()
        if rest:
            mapping[key] = _scalar(rest, where)
        else:
            mapping[key] = None
            pending = (indent, mapping, key)
    return root


def load_config(path):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}")
    return parse_config(text, path)


def merge(base, override, path=""):
    """base with override's values; override may only name keys that base has."""
    out = dict(base)
    for k, v in override.items():
        here = f"{path}.{k}" if path else k
        if k not in base:
            raise ConfigError(f"override sets {here}, which config.yml does not have")
        if isinstance(base[k], dict) and base[k] and not isinstance(v, dict):
            raise ConfigError(f"override sets {here} to a scalar, config.yml has a mapping there")
        if isinstance(v, dict) and isinstance(base[k], dict) and base[k]:
            out[k] = merge(base[k], v, here)
        else:
            out[k] = v
    return out


# --------------------------------------------------------------------------------------------
# Checked access to the configuration
# --------------------------------------------------------------------------------------------

_DURATION_RE = re.compile(r"(?:[0-9]+(?:ms|s|m|h|d|w|y))+")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def duration_seconds(d):
    return sum(int(n) * _UNIT_SECONDS[u] for n, u in re.findall(r"([0-9]+)(ms|s|m|h|d|w|y)", d))


class Cfg:
    def __init__(self, data):
        self.data = data

    def get(self, path):
        node = self.data
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                raise ConfigError(f"config.yml has no {path}")
            node = node[part]
        return node

    def string(self, path, allow_empty=False):
        v = self.get(path)
        if v is None and allow_empty:
            return ""
        if not isinstance(v, str) or (not v and not allow_empty):
            raise ConfigError(f"{path} must be a{'' if allow_empty else ' non-empty'} string, not {v!r}")
        return v

    def number(self, path, lo=None):
        v = self.get(path)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ConfigError(f"{path} must be a number, not {v!r}")
        if lo is not None and v < lo:
            raise ConfigError(f"{path} must be >= {lo}, not {v!r}")
        return v

    def duration(self, path, allow_zero=True, allow_empty=False):
        v = self.get(path)
        if (v is None or v == "") and allow_empty:
            return ""
        if isinstance(v, int) and v == 0 and allow_zero:
            return "0s"
        if not isinstance(v, str) or not _DURATION_RE.fullmatch(v):
            raise ConfigError(f"{path} must be a Prometheus duration such as 5m or 1h30m, not {v!r}")
        if not allow_zero and duration_seconds(v) == 0:
            raise ConfigError(f"{path} must be longer than 0")
        return v

    def boolean(self, path):
        v = self.get(path)
        if not isinstance(v, bool):
            raise ConfigError(f"{path} must be true or false, not {v!r}")
        return v

    def mapping(self, path):
        v = self.get(path)
        if v is None:
            return {}
        if not isinstance(v, dict):
            raise ConfigError(f"{path} must be a mapping")
        return v


def num(x):
    """A threshold as PromQL and people write it: 4, 0.75, 1e-06."""
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        x = int(x)
    return str(x) if isinstance(x, int) else repr(x)


def percent(x):
    return num(round(x * 100, 6)) + "%"


# --------------------------------------------------------------------------------------------
# The rules
# --------------------------------------------------------------------------------------------


class Builder:
    def __init__(self, cfg):
        self.cfg = c = Cfg(cfg)
        sel = c.string("selector", allow_empty=True).strip().strip("{}").strip()
        if '"' in sel and not re.fullmatch(r'\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=|!=|=~|!~)\s*".*', sel):
            raise ConfigError(f"selector {sel!r} is not a list of label matchers such as job=\"nf_conntrack\"")
        self.selector = sel
        self.rate_w = c.duration("windows.rate", allow_zero=False)
        self.growth_w = c.duration("windows.growth", allow_zero=False)
        self.events_w = c.duration("windows.events", allow_zero=False)
        self.runbook_base = c.string("runbook_base")
        # Absolute: a relative path is no link in a chat message, a page or an email.
        if not re.fullmatch(r"https?://[^\s/#?]+(/[^\s#]*)?", self.runbook_base):
            raise ConfigError(f"runbook_base must be an absolute http(s) URL without #anchor, "
                              f"not {self.runbook_base!r}")
        self.severity_names = {k: c.string(f"severity.{k}") for k in ("info", "warning", "critical")}
        self.extra_labels = {}
        for k, v in c.mapping("extra_labels").items():
            if not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", k) or k in ("severity", "alertname"):
                raise ConfigError(f"extra_labels.{k}: not a label name one may set")
            if not isinstance(v, (str, int, float)) or isinstance(v, bool):
                raise ConfigError(f"extra_labels.{k} must be a string")
            self.extra_labels[k] = str(v)
        self.records = []
        self.alerts = []
        self.record_names = {}

    # -- helpers --

    def m(self, metric, extra=""):
        """metric{selector[,extra]}"""
        inner = ", ".join(x for x in (self.selector, extra) if x)
        return f"{metric}{{{inner}}}" if inner else metric

    def record(self, key, name, expr):
        self.records.append({"record": name, "expr": expr})
        self.record_names[key] = name
        return name

    def severity(self, path):
        level = self.cfg.string(path)
        if level not in self.severity_names:
            raise ConfigError(f"{path} must be one of {sorted(self.severity_names)}, not {level!r}")
        return self.severity_names[level]

    def alert(self, path, name, expr, severity, summary, description, for_path=None):
        rule = {"alert": name, "expr": expr}
        f = self.cfg.duration(for_path or f"{path}.for")
        if duration_seconds(f) > 0:
            rule["for"] = f
        kff_path = (for_path or f"{path}.for").rsplit(".", 1)[0] + ".keep_firing_for"
        try:
            kff = self.cfg.duration(kff_path, allow_empty=True)
        except ConfigError as e:
            if "has no" not in str(e):
                raise
            kff = ""
        if kff and duration_seconds(kff) > 0:
            rule["keep_firing_for"] = kff
        labels = {"severity": severity}
        labels.update(self.extra_labels)
        rule["labels"] = labels
        rule["annotations"] = {
            "summary": summary,
            "description": description,
            "runbook_url": f"{self.runbook_base}#{name.lower()}",
        }
        self.alerts.append(rule)

    def enabled(self, path):
        return self.cfg.boolean(f"{path}.enabled")

    # -- recording rules --

    def build_records(self):
        entries, limit, buckets = (self.m("nf_conntrack_entries"), self.m("nf_conntrack_entries_limit"),
                                   self.m("nf_conntrack_buckets"))
        # nf_conntrack_max 0 means "no limit" to the kernel: `> 0` drops such series, so the
        # ratio is absent rather than +Inf or NaN.
        # With --netns, entries are per network namespace (a netns label) while the limit is
        # the host's, one series: each namespace's fill is its entries over that one limit.
        self.record("fill", "instance:nf_conntrack_entries:fill_ratio",
                    f"{entries}\n  / ignoring(netns) group_left()\n  ({limit} > 0)")
        # The fullest namespace of each host: the host view of the dashboard.
        self.record("fill_max", "instance:nf_conntrack_entries:max_fill_ratio",
                    "max without(netns) (instance:nf_conntrack_entries:fill_ratio)")
        # All namespaces share the hash table: with --netns=all the exporter sums them.
        host = f"({self.m('nf_conntrack_host_entries')} or sum without(netns) ({entries}))"
        self.record("per_bucket", "instance:nf_conntrack_entries:per_bucket", f"{host}\n  / ({buckets} > 0)")
        g = self.record("deriv", f"instance:nf_conntrack_entries:deriv{self.growth_w}",
                        f"deriv({entries}[{self.growth_w}])")
        # Headroom over the growth per second, only where the table is growing: absent when
        # flat or shrinking (or without a limit), 0 once full.
        self.record("time_to_full", "instance:nf_conntrack_entries:seconds_to_full",
                    f"clamp_min(({limit} > 0) - ignoring(netns) group_right {entries}, 0)\n  / ({g} > 0)")
        for stat in ("drop", "early_drop", "insert_failed", "chaintoolong"):
            self.record(stat, f"instance:nf_conntrack_stat_{stat}:rate{self.rate_w}",
                        f"rate({self.m(f'nf_conntrack_stat_{stat}_total')}[{self.rate_w}])")
        # Entries that have waited more than a minute for a reply (the events collector's
        # attribution), over all protocols: an answer takes milliseconds, so these are flows to
        # something that never answers. Absent, like the family, until the first dump is done.
        unreplied = self.m("nf_conntrack_unreplied_entries", 'age=~"1m_to_10m|over_10m"')
        self.record("unreplied_over_1m", "instance:nf_conntrack_unreplied_entries:over_1m",
                    f"sum without(protocol, age) (\n  {unreplied}\n)")

    # -- alerts --

    def rate_alert_expr(self, stat, above):
        """rate > above, except while the counter has gone backwards within the window: the
        exporter starts again from the kernel's current sum when it restarts, which is not
        always 0, and rate() would count all of it as new events."""
        total = self.m(f"nf_conntrack_stat_{stat}_total")
        return (f"{self.record_names[stat]} > {num(above)}\n"
                f"unless\nresets({total}[{self.rate_w}]) > 0")

    def build_alerts(self):
        c = self.cfg
        rw, ew = self.rate_w, self.events_w
        names = self.record_names
        fill, per_bucket, ttf = names["fill"], names["per_bucket"], names["time_to_full"]

        p = "alerts.table_almost_full"
        if self.enabled(p):
            for level in ("warning", "critical"):
                above = c.number(f"{p}.{level}.above", lo=0)
                if above >= 1:
                    raise ConfigError(f"{p}.{level}.above is a ratio of nf_conntrack_max: below 1, not {above}")
                self.alert(
                    p, "ConntrackTableAlmostFull", f"{fill} > {num(above)}", self.severity_names[level],
                    "Conntrack table of {{ $labels.instance }}{{ with $labels.netns }} (netns {{ . }}){{ end }} is {{ $value | humanizePercentage }} full.",
                    "The conntrack table of {{ $labels.instance }}{{ with $labels.netns }} (netns {{ . }}){{ end }} holds {{ $value | humanizePercentage }} of "
                    f"nf_conntrack_max (alert above {percent(above)}). Once it is full, each new flow "
                    "evicts an unassured entry or has its packet dropped (\"nf_conntrack: table full, "
                    "dropping packet\"). Raise nf_conntrack_max and the hash size, shorten the timeouts, or "
                    "find what fills it with nf_conntrack_state_entries and nf_conntrack_zone_entries.",
                    for_path=f"{p}.{level}.for")

        p = "alerts.table_filling_up"
        if self.enabled(p):
            for level in ("warning", "critical"):
                within = c.duration(f"{p}.{level}.within", allow_zero=False)
                floor = c.number(f"{p}.{level}.fill_above", lo=0)
                self.alert(
                    p, "ConntrackTableFillingUp",
                    f"{ttf} < {num(duration_seconds(within))}\nand\n{fill} > {num(floor)}",
                    self.severity_names[level],
                    f"Conntrack table of {{{{ $labels.instance }}}}{{{{ with $labels.netns }}}} (netns {{{{ . }}}}){{{{ end }}}} is predicted to be full within {within}.",
                    f"At the growth of the last {self.growth_w}, the conntrack table of {{{{ $labels.instance }}}}{{{{ with $labels.netns }}}} (netns {{{{ . }}}}){{{{ end }}}} "
                    "reaches nf_conntrack_max in {{ $value | humanizeDuration }}; it is more than "
                    f"{percent(floor)} full already. Find what is growing (nf_conntrack_state_entries, "
                    "nf_conntrack_zone_entries), then raise nf_conntrack_max or shorten the timeouts "
                    "before new flows get dropped.",
                    for_path=f"{p}.{level}.for")

        p = "alerts.packets_dropped"
        if self.enabled(p):
            self.alert(
                p, "ConntrackPacketsDropped", self.rate_alert_expr("drop", c.number(f"{p}.above", lo=0)),
                self.severity(f"{p}.severity"),
                "Conntrack table of {{ $labels.instance }}{{ with $labels.netns }} (netns {{ . }}){{ end }} is full: packets are dropped.",
                "{{ $value | printf \"%.4g\" }} packets/s dropped on {{ $labels.instance }}{{ with $labels.netns }} (netns {{ . }}){{ end }} over the last "
                f"{rw} because the conntrack table was full and no entry could be evicted "
                "(nf_conntrack_stat_drop_total; the kernel logs \"nf_conntrack: table full, dropping "
                "packet\"). New connections are failing. Raise nf_conntrack_max now, then find what fills "
                "the table.")

        p = "alerts.early_drops"
        if self.enabled(p):
            self.alert(
                p, "ConntrackEarlyDrops", self.rate_alert_expr("early_drop", c.number(f"{p}.above", lo=0)),
                self.severity(f"{p}.severity"),
                "Conntrack table of {{ $labels.instance }}{{ with $labels.netns }} (netns {{ . }}){{ end }} is full: entries are evicted early.",
                "{{ $value | printf \"%.4g\" }} entries/s evicted on {{ $labels.instance }}{{ with $labels.netns }} (netns {{ . }}){{ end }} over the last "
                f"{rw} to make room for new flows (nf_conntrack_stat_early_drop_total): the table is "
                "at nf_conntrack_max. Unreplied flows are being forgotten; once nothing can be evicted, "
                "packets are dropped. Raise nf_conntrack_max or shorten the timeouts.")

        p = "alerts.insert_failures"
        if self.enabled(p):
            self.alert(
                p, "ConntrackInsertFailures", self.rate_alert_expr("insert_failed", c.number(f"{p}.above", lo=0)),
                self.severity(f"{p}.severity"),
                "Conntrack inserts fail on {{ $labels.instance }}{{ with $labels.netns }} (netns {{ . }}){{ end }}.",
                "{{ $value | printf \"%.4g\" }} conntrack inserts/s failed on {{ $labels.instance }}{{ with $labels.netns }} (netns {{ . }}){{ end }} over the "
                f"last {rw} (nf_conntrack_stat_insert_failed_total); each failure drops a packet. "
                "Usually two packets of one new UDP flow (DNS A and AAAA queries) racing on two CPUs.")

        p = "alerts.hash_chain_too_long"
        if self.enabled(p):
            self.alert(
                p, "ConntrackHashChainTooLong", self.rate_alert_expr("chaintoolong", c.number(f"{p}.above", lo=0)),
                self.severity(f"{p}.severity"),
                "Conntrack hash chains too long on {{ $labels.instance }}{{ with $labels.netns }} (netns {{ . }}){{ end }}: packets are dropped.",
                "{{ $value | printf \"%.4g\" }} conntrack inserts/s refused on {{ $labels.instance }}{{ with $labels.netns }} (netns {{ . }}){{ end }} over the "
                f"last {rw} because a hash chain was too long (nf_conntrack_stat_chaintoolong_total); "
                "their packets are dropped. Raise the hash size (nf_conntrack_buckets); look for a flood "
                "of flows that hash alike.")

        p = "alerts.buckets_overloaded"
        if self.enabled(p):
            above = c.number(f"{p}.above", lo=0)
            self.alert(
                p, "ConntrackBucketsOverloaded", f"{per_bucket} > {num(above)}", self.severity(f"{p}.severity"),
                "Conntrack hash table of {{ $labels.instance }} is overloaded.",
                "{{ $labels.instance }} has {{ $value | printf \"%.1f\" }} conntrack entries per hash bucket "
                f"(alert above {num(above)}); every entry sits in two chains, so lookups walk about "
                "twice that. Raise the hash size (nf_conntrack_buckets, the hashsize module parameter).")

        self.build_attribution_alerts()

        p = "alerts.events_lost"
        if self.enabled(p):
            self.alert(
                p, "ConntrackExporterEventsLost",
                f"increase({self.m('nf_conntrack_event_overruns_total')}[{ew}]) > 0",
                self.severity(f"{p}.severity"),
                "nf_conntrack_exporter on {{ $labels.instance }} is losing conntrack events.",
                "The kernel dropped conntrack events for the exporter on {{ $labels.instance }} "
                f"{{{{ $value | printf \"%.4g\" }}}} times in the last {ew} (its socket buffer was full). The "
                "exporter re-reads the table after each loss, so its per-state counts come right again, "
                "but every re-read costs CPU. Raise --collector.events.buffer-size.")

        p = "alerts.bad_messages"
        if self.enabled(p):
            self.alert(
                p, "ConntrackExporterBadMessages",
                f"increase({self.m('nf_conntrack_event_bad_messages_total')}[{ew}]) > 0",
                self.severity(f"{p}.severity"),
                "nf_conntrack_exporter on {{ $labels.instance }} cannot parse conntrack messages.",
                f"{{{{ $value | printf \"%.4g\" }}}} conntrack event or dump messages in the last {ew} could not "
                "be parsed by the exporter on {{ $labels.instance }} "
                "(nf_conntrack_event_bad_messages_total); its per-state and per-zone counts may be "
                "wrong. Report it with the exporter's log and the kernel version.")

        p = "alerts.exporter_down"
        if self.enabled(p):
            self.alert(
                p, "ConntrackExporterDown", f"{self.m('up')} == 0", self.severity(f"{p}.severity"),
                "nf_conntrack_exporter on {{ $labels.instance }} is down.",
                "Prometheus cannot scrape nf_conntrack_exporter at {{ $labels.instance }}: nothing "
                "watches that host's conntrack table. Check the exporter's process, its log and the "
                "network path from Prometheus.")

        p = "alerts.collector_failing"
        if self.enabled(p):
            ignore = c.string(f"{p}.ignore_collectors", allow_empty=True)
            extra = f'collector!~"{ignore}"' if ignore else ""
            if '"' in ignore or "\\" in ignore:
                raise ConfigError(f"{p}.ignore_collectors: no quotes or backslashes, please")
            self.alert(
                p, "ConntrackExporterCollectorFailing",
                f"{self.m('nf_conntrack_exporter_collector_success', extra)} == 0",
                self.severity(f"{p}.severity"),
                "Collector {{ $labels.collector }} of nf_conntrack_exporter on {{ $labels.instance }} is failing.",
                "The {{ $labels.collector }} collector of nf_conntrack_exporter at {{ $labels.instance }} "
                "produces nothing (nf_conntrack_exporter_collector_success 0): its metrics and the "
                "alerts built on them are missing. The exporter's log says why (module not loaded, "
                "netlink refused without CAP_NET_ADMIN, file missing under --path.procfs).")

    def build_attribution_alerts(self):
        """Alerts on what fills the table (the attribution families of the events collector).
        Those families are absent until the exporter's first dump of the table, after an
        event overrun until the resync, and with --no-collector.attribution: every expression
        here is then empty, so a host without them never alerts."""
        c = self.cfg
        ns = "{{ with $labels.netns }} (netns {{ . }}){{ end }}"

        p = "alerts.snat_ports_almost_exhausted"
        if self.enabled(p):
            above = c.number(f"{p}.above", lo=0)
            if not 0 < above < 1:
                raise ConfigError(f"{p}.above is a ratio of the SNAT port range: between 0 and 1, not {above}")
            # The busiest destination is a label of another family: looked up when the alert is
            # sent rather than joined into the alert's labels, where a change of the busiest
            # destination would make a new alert and restart `for:`.
            busiest = ("nf_conntrack_snat_busiest_destination_entries"
                       "{job=%q,instance=%q,netns=%q,address=%q}")
            lookup = ("{{ with printf `" + busiest + "` $labels.job $labels.instance $labels.netns "
                      "$labels.address | query }}{{ with . | first }}{{ .Labels.protocol }} to "
                      "{{ .Labels.destination }}{{ with .Labels.port }} port {{ . }}{{ end }}, with "
                      "{{ .Value | printf \"%.0f\" }} entries{{ end }}{{ else }}unknown (no "
                      "nf_conntrack_snat_busiest_destination_entries for it){{ end }}")
            self.alert(
                p, "ConntrackSNATPortsAlmostExhausted",
                f"{self.m('nf_conntrack_snat_port_usage_ratio')} > {num(above)}",
                self.severity(f"{p}.severity"),
                "SNAT address {{ $labels.address }} of {{ $labels.instance }}" + ns
                + " is running out of source ports.",
                "Connections from SNAT address {{ $labels.address }} of {{ $labels.instance }}" + ns
                + " to one destination hold {{ $value | humanizePercentage }} of its source port range "
                f"(alert above {percent(above)}). That destination: " + lookup + ". Every "
                "connection to the same protocol, destination address and port needs its own "
                "source port; once the range is used up, new connections to it fail (their "
                "packets are dropped, counted in nf_conntrack_stat_insert_failed_total and "
                "nf_conntrack_stat_drop_total although the table is not full). Widen the "
                "port range of the SNAT rule, add SNAT addresses, shorten the timeouts that keep "
                "closed connections (tcp_timeout_time_wait), or have the clients reuse connections.")

        p = "alerts.source_large_share"
        if self.enabled(p):
            above = c.number(f"{p}.above", lo=0)
            if not 0 < above < 1:
                raise ConfigError(f"{p}.above is a share of nf_conntrack_max: between 0 and 1, not {above}")
            # Each shown count may exceed the true one by the sketch's error (0 when exact):
            # subtracted, so the alert fires on what the source certainly holds. The limit is
            # host-wide, one series without netns: every namespace's sources count against it,
            # as the namespace's entries do in instance:nf_conntrack_entries:fill_ratio.
            sources = self.m("nf_conntrack_top_source_entries", 'source!="other"')
            error = self.m("nf_conntrack_attribution_error_entries", 'family="source"')
            self.alert(
                p, "ConntrackSourceHoldsLargeShare",
                f"(\n  {sources}\n  - ignoring(source, owner_netns, family) group_left()\n  {error}\n)\n"
                f"/ ignoring(netns, source, owner_netns) group_left()\n"
                f"({self.m('nf_conntrack_entries_limit')} > 0)\n> {num(above)}",
                self.severity(f"{p}.severity"),
                "Source {{ $labels.source }} holds {{ $value | humanizePercentage }} of the conntrack "
                "table of {{ $labels.instance }}" + ns + ".",
                "Source {{ $labels.source }}{{ with $labels.owner_netns }} (an address of netns {{ . }})"
                "{{ end }} holds {{ $value | humanizePercentage }} of nf_conntrack_max in the conntrack "
                "table of {{ $labels.instance }}" + ns + f" (alert above {percent(above)}): one client "
                "(or one prefix, --collector.attribution.source-prefix) is filling the table. A "
                "runaway or retrying client, a scan or flood, or a proxy or NAT that hides many "
                "clients behind one address. Confirm with conntrack -L -s ADDRESS; fix the client, "
                "limit its connections (nft ct count), or raise nf_conntrack_max if the load is "
                "legitimate.")

        p = "alerts.unreplied_rising"
        if self.enabled(p):
            window = c.duration(f"{p}.window", allow_zero=False)
            floor = c.number(f"{p}.above", lo=0)
            growth = c.number(f"{p}.min_increase", lo=0)
            if growth <= 0:
                raise ConfigError(f"{p}.min_increase must be more than 0, not {growth}")
            over_1m = self.record_names["unreplied_over_1m"]
            secs = duration_seconds(window)
            # After the exporter starts, entries of its first dump count their age from that
            # dump (unless the kernel timestamps them, nf_conntrack_timestamp=1): the
            # over-a-minute count climbs from 0 to its true level within a minute, and deriv()
            # would see that climb for a window. No alert until it has passed.
            settle = secs + 60
            start = self.m("process_start_time_seconds")
            self.alert(
                p, "ConntrackUnrepliedEntriesRising",
                f"{over_1m} > {num(floor)}\nand\n"
                f"deriv({over_1m}[{window}]) * {num(secs)} > {num(growth)}\n"
                f"unless ignoring(netns)\n(time() - {start} < {num(settle)})",
                self.severity(f"{p}.severity"),
                "Unreplied conntrack entries pile up on {{ $labels.instance }}" + ns + ".",
                "{{ $value | printf \"%.0f\" }} conntrack entries of {{ $labels.instance }}" + ns
                + " have waited more than a minute for a reply, and their number grew by more than "
                f"{num(growth)} over the last {window} (alert above {num(floor)}). Flows keep being "
                "sent to something that never answers: most often a DNAT rule or a Service whose "
                "backend is gone, or a dead DNS or UDP server. See nf_conntrack_unreplied_entries "
                "by protocol and nf_conntrack_top_dnat_target_entries, or conntrack -L | grep "
                "UNREPLIED; fix or remove the stale backend.")

    def groups(self):
        """One group: Prometheus evaluates the rules of a group in order, so the alerts always
        see the recording rules of the same evaluation (in two groups they would see them one
        interval late or not, depending on the groups' offsets)."""
        self.build_records()
        self.build_alerts()
        interval = self.cfg.duration("interval", allow_empty=True, allow_zero=False)
        g = {"name": self.cfg.string("group")}
        if interval:
            g["interval"] = interval
        g["rules"] = self.records + self.alerts
        return [g]


# --------------------------------------------------------------------------------------------
# YAML out
# --------------------------------------------------------------------------------------------

_PLAIN_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.:/-]*|[0-9]+(?:ms|s|m|h|d|w|y)")
_PLAIN_NOT = {"yes", "no", "on", "off", "y", "n", "true", "false", "null"}


def _emit_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return num(v)
    if _PLAIN_RE.fullmatch(v) and v.lower() not in _PLAIN_NOT:
        return v
    if "'" not in v and v.isprintable() and v == v.strip():
        return f"'{v}'"  # single-quoted: nothing is escaped in it, PromQL stays readable
    return json.dumps(v, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


def _block_ok(s):
    lines = s.split("\n")
    return (len(lines) > 1 and lines[0] and not lines[0].startswith(" ")
            and all(l == l.rstrip() and "\t" not in l for l in lines) and not s.endswith("\n"))


def emit(v, indent=0, out=None):
    """A YAML block of v (dicts keep their order) as a list of lines."""
    out = [] if out is None else out
    pad = " " * indent
    if isinstance(v, dict):
        for k, x in v.items():
            key = _emit_scalar(k)
            if isinstance(x, (dict, list)) and x:
                out.append(f"{pad}{key}:")
                emit(x, indent + 2, out)
            elif isinstance(x, str) and "\n" in x and _block_ok(x):
                out.append(f"{pad}{key}: |-")
                out.extend(f"{pad}  {l}" if l else "" for l in x.split("\n"))
            elif isinstance(x, dict):
                out.append(f"{pad}{key}: {{}}")
            elif isinstance(x, list):
                out.append(f"{pad}{key}: []")
            else:
                out.append(f"{pad}{key}: {_emit_scalar(x)}")
    elif isinstance(v, list):
        for x in v:
            sub = emit(x, indent + 2, [])
            out.append(f"{pad}- {sub[0].lstrip()}")
            out.extend(sub[1:])
    else:
        out.append(pad + _emit_scalar(v))
    return out


HEADER = """\
# Prometheus rules for nf_conntrack_exporter: table-full risk, drops, hash load, the exporter.
# GENERATED by dashboards/rules/generate.py from dashboards/rules/config.yml: do not edit by
# hand. Change config.yml, run `python3 dashboards/rules/generate.py`, then
# dashboards/rules/check.sh. What each alert means and what to do: docs/alerts.md.
"""


def render(cfg, note=""):
    groups = Builder(cfg).groups()
    head = HEADER + (f"# {note}\n" if note else "")
    return head + "\n".join(emit({"groups": groups})) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default=DEFAULT_CONFIG, help="the configuration (default: config.yml here)")
    ap.add_argument("--override", action="append", default=[], metavar="FILE",
                    help="a file of values that replace config.yml's (repeatable)")
    ap.add_argument("-o", "--output", default=DEFAULT_OUTPUT,
                    help="where to write the rules, - for stdout (default: nf_conntrack.rules.yml here)")
    ap.add_argument("--dump-config", action="store_true", help="print the merged configuration as JSON and exit")
    ap.add_argument("--dump-rules", action="store_true",
                    help="print the rule groups as JSON instead of YAML (check.sh compares the two)")
    a = ap.parse_args(argv)
    try:
        cfg = load_config(a.config)
        for o in a.override:
            cfg = merge(cfg, load_config(o), "")
        if a.dump_config:
            print(json.dumps(cfg, indent=2, sort_keys=True))
            return 0
        if a.dump_rules:
            print(json.dumps({"groups": Builder(cfg).groups()}, indent=2))
            return 0
        note = ""
        if a.override:
            note = "with overrides: " + ", ".join(os.path.basename(o) for o in a.override)
        text = render(cfg, note)
    except ConfigError as e:
        print(f"generate.py: {e}", file=sys.stderr)
        return 2
    if a.output == "-":
        sys.stdout.write(text)
    else:
        tmp = a.output + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, a.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
