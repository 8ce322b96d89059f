#!/usr/bin/env python3
"""Turn the TSV files written by bench/run.sh into markdown tables (stdout).

Usage: summarize.py OUT             summary: per phase and mode, every target, ours ÷ node
       summarize.py --compare OUT   old vs new (OURS_OLD runs): ours_old vs ours, ours_like_old vs ours_like

runs.tsv columns: phase, mode, target, round, exporter CPU ticks, entries before, entries after,
key=value results. Files from before the modes existed (no mode column) read as keep-alive.
"""
import re
import statistics
import sys
from pathlib import Path

TARGET_RATIO = 0.5  # issue 12: default collectors ÷ node_exporter's conntrack collector, both modes
MODES = {"keepalive": "keep-alive (wrk -c1)", "fresh": "fresh connection per scrape"}
ORDER = ("ours", "ours_old", "ours_like", "ours_like_old", "node")
SHORT = {"ours": "ours (default)", "ours_old": "ours_old (default)", "ours_like": "ours (table+stat)",
         "ours_like_old": "ours_old (table+stat)", "node": "node_exporter"}


def tsv(path):
    p = Path(path)
    if not p.exists():
        return []
    return [line.split("\t") for line in p.read_text().splitlines() if line]


def kv(s):
    return {k: float(v) for k, v in (x.split("=", 1) for x in s.split())}


class Data:
    def __init__(self, out):
        self.env = dict(r[:2] for r in tsv(out / "env.tsv") if len(r) >= 2)
        self.clk = int(self.env.get("clk_tck", "100"))
        self.rows = []
        for r in tsv(out / "runs.tsv"):
            if len(r) == 7:
                r = [r[0], "keepalive"] + r[1:]
            phase, mode, target, rnd, ticks, before, after, rest = r
            d = kv(rest)
            d.update(phase=phase, mode=mode, target=target, round=int(rnd), ticks=int(ticks),
                     before=int(before), after=int(after))
            self.rows.append(d)
        self.runs = {}
        for d in self.rows:
            self.runs.setdefault((d["phase"], d["mode"], d["target"]), []).append(d)
        self.probe = {(p, t): (code, int(size), fails) for p, t, code, size, fails in tsv(out / "probe.tsv")}
        self.mem = {(w, t): (int(rss), int(hwm)) for w, t, rss, hwm in tsv(out / "mem.tsv")}
        self.fds = {(w, t): int(n) for w, t, n in tsv(out / "fds.tsv")}
        self.logwarn = dict(tsv(out / "logwarn.tsv"))
        self.phases = [p for p in ("empty", "full") if any(d["phase"] == p for d in self.rows)]
        self.modes = [m for m in MODES if any(d["mode"] == m for d in self.rows)]
        self.targets = [t for t in ORDER if any(d["target"] == t for d in self.rows)]
        m = re.search(r"version (\S+)", self.env.get("node_version", ""))
        self.names = {
            "ours": "nf_conntrack_exporter (default collectors)",
            "ours_old": "nf_conntrack_exporter OURS_OLD (default collectors)",
            "ours_like": "nf_conntrack_exporter (table + stat only)",
            "ours_like_old": "nf_conntrack_exporter OURS_OLD (table + stat only)",
            "node": f"node_exporter {m.group(1) if m else ''} (conntrack only)".replace("  ", " "),
        }

    def stats(self, phase, mode, t):
        rs = self.runs.get((phase, mode, t))
        if not rs:
            return None
        reqs = sum(r["requests"] for r in rs)
        secs = sum(r["duration_us"] for r in rs) / 1e6
        conns = [r["conns"] for r in rs if "conns" in r]
        return {
            "p50": statistics.median(r["p50_us"] for r in rs),
            "p90": statistics.median(r["p90_us"] for r in rs),
            "p99": statistics.median(r["p99_us"] for r in rs),
            "reqs": reqs,
            "rps": reqs / secs if secs else 0,
            "cpu": sum(r["ticks"] for r in rs) / self.clk / reqs * 1000 if reqs else 0,
            "errs": sum(r[k] for r in rs for k in r if k.startswith("err_")),
            "lo": min(r["before"] for r in rs),
            "hi": max(r["after"] for r in rs),
            "conns": sum(conns) / reqs if conns and reqs else None,
            "size": self.probe.get((phase, t), ("?", 0, ""))[1],
        }


def q(x, y):
    return x / y if y else None


def fmt_ratio(r, mark=False):
    if r is None:
        return "n/a"
    if not mark:
        return f"{r:.2f}"
    return f"{r:.2f} {'met' if r <= TARGET_RATIO else 'MISSED'}"


def summary(out):
    d = Data(out)
    old = "ours_old" in d.targets
    print(f"## ours (default collectors) ÷ node_exporter (conntrack only); target ≤ {TARGET_RATIO}× "
          "in both modes\n")
    print("p50/p99: median over the rounds of each run's percentile, in µs. Ratios at or below the target "
          "are marked met, others MISSED.\n")
    head = "| table | mode | ours p50 | node p50 | ours ÷ node p50 | ours p99 | node p99 | ours ÷ node p99 |"
    rule = "|---|---|---:|---:|---:|---:|---:|---:|"
    if old:
        head += " ours_old p50 | ours_old p99 | ours ÷ ours_old p50 | ours ÷ ours_old p99 |"
        rule += "---:|---:|---:|---:|"
    print(head)
    print(rule)
    verdicts = []
    for phase in d.phases:
        for mode in d.modes:
            a, n = d.stats(phase, mode, "ours"), d.stats(phase, mode, "node")
            if not (a and n):
                continue
            r50, r99 = q(a["p50"], n["p50"]), q(a["p99"], n["p99"])
            verdicts.append((phase, mode, r50))
            line = (f"| {phase} | {MODES[mode]} | {a['p50']:.0f} | {n['p50']:.0f} | {fmt_ratio(r50, True)} | "
                    f"{a['p99']:.0f} | {n['p99']:.0f} | {fmt_ratio(r99, True)} |")
            o = d.stats(phase, mode, "ours_old") if old else None
            if o:
                line += (f" {o['p50']:.0f} | {o['p99']:.0f} | {fmt_ratio(q(a['p50'], o['p50']))} | "
                         f"{fmt_ratio(q(a['p99'], o['p99']))} |")
            elif old:
                line += " | | | |"
            print(line)
    if verdicts:
        missed = [f"{p} {m} ({r:.2f})" for p, m, r in verdicts if r is None or r > TARGET_RATIO]
        print(f"\nTarget p50 ≤ {TARGET_RATIO}× node_exporter: "
              + ("met in every phase and mode" if not missed else "MISSED in " + ", ".join(missed)))
    print()

    print("## Every target\n")
    print("| table | mode | exporter | entries during runs | p50 µs | p90 µs | p99 µs | req/s | "
          "CPU s / 1000 scrapes | body bytes | connections / scrape | failed requests |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for phase in d.phases:
        for mode in d.modes:
            for t in d.targets:
                s = d.stats(phase, mode, t)
                if not s:
                    continue
                conns = f"{s['conns']:.3f}" if s["conns"] is not None else "?"
                print(f"| {phase} | {mode} | {d.names[t]} | {s['lo']:,}–{s['hi']:,} | {s['p50']:.0f} | "
                      f"{s['p90']:.0f} | {s['p99']:.0f} | {s['rps']:,.0f} | {s['cpu']:.3f} | {s['size']:,} | "
                      f"{conns} | {s['errs']:.0f} of {s['reqs']:,.0f} |")
    print()
    print("p50/p90/p99: median over the rounds of each run's percentile; req/s and CPU: totals over "
          "all rounds. Connections / scrape: TCP connections the client opened (TcpActiveOpens of the "
          "bench namespace) ÷ scrapes; about 1 for fresh, about 0 for keep-alive.")
    print()
    print("| table | mode | ours ÷ node: p50 latency | ours ÷ node: req/s | ours ÷ node: CPU per scrape | "
          "ours (table+stat) ÷ node: p50 | ours (table+stat) ÷ node: req/s | ours (table+stat) ÷ node: CPU |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for phase in d.phases:
        for mode in d.modes:
            n, a, b = (d.stats(phase, mode, t) for t in ("node", "ours", "ours_like"))
            if not (n and a and b):
                continue
            print(f"| {phase} | {mode} | {fmt_ratio(q(a['p50'], n['p50']))} | {fmt_ratio(q(a['rps'], n['rps']))} | "
                  f"{fmt_ratio(q(a['cpu'], n['cpu']))} | {fmt_ratio(q(b['p50'], n['p50']))} | "
                  f"{fmt_ratio(q(b['rps'], n['rps']))} | {fmt_ratio(q(b['cpu'], n['cpu']))} |")
    print()
    whens = ["startup"] + ["after-" + p for p in d.phases]
    print("| exporter | " + " | ".join(f"VmRSS / VmHWM {w} (kB)" for w in whens) + " | open fds at end |")
    print("|---|" + "---:|" * (len(whens) + 1))
    for t in d.targets:
        cells = []
        for w in whens:
            rss, hwm = d.mem.get((w, t), (0, 0))
            cells.append(f"{rss:,} / {hwm:,}")
        fds = d.fds.get((whens[-1], t), "?")
        print(f"| {d.names[t]} | " + " | ".join(cells) + f" | {fds} |")
    print()
    print("Per run, in the order run. Last column: CPU used on the host by anything other than "
          "this exporter and the client during the run, in % of one core (2 cores = 200 %); process "
          "and host tick accounting disagree by about ±10 points, so values near 0 mean a quiet host.")
    print()
    print("| table | round | mode | exporter | p50 µs | p90 µs | p99 µs | max µs | req/s | "
          "connections | other host CPU, % of a core |")
    print("|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in d.rows:
        sec = r["duration_us"] / 1e6
        other = f"{r['other_ticks'] / d.clk / sec * 100:.0f}" if "other_ticks" in r and sec else "?"
        conns = f"{r['conns']:.0f}" if "conns" in r else "?"
        print(f"| {r['phase']} | {r['round']} | {r['mode']} | {SHORT[r['target']]} | {r['p50_us']:.0f} | "
              f"{r['p90_us']:.0f} | {r['p99_us']:.0f} | {r['max_us']:.0f} | {r['requests'] / sec:,.0f} | "
              f"{conns} | {other} |")
    print()
    print("Probe scrapes (HTTP status, failed collectors): " + "; ".join(
        f"{p} {t}: {c} {f}" for (p, t), (c, _, f) in sorted(d.probe.items())))
    print()
    print("Environment: " + "; ".join(f"{k}={v}" for k, v in d.env.items()))
    print()
    print("warn/error lines in exporter logs: " + ", ".join(f"{t}: {n}" for t, n in d.logwarn.items()))


def compare(out):
    d = Data(out)
    print("old = OURS_OLD, new = OURS; p50/p90/p99: median over the rounds of each run's "
          "percentile; req/s and CPU: totals over all rounds; ratio = new / old\n")
    print("| table | mode | exporter | metric | old | new | new / old |")
    print("|---|---|---|---|---:|---:|---:|")
    for phase in d.phases:
        for mode in d.modes:
            for new, old, label in (("ours", "ours_old", "default collectors"),
                                    ("ours_like", "ours_like_old", "table + stat only")):
                a, b = d.stats(phase, mode, old), d.stats(phase, mode, new)
                if not (a and b):
                    continue
                rows = {
                    "p50 µs": (a["p50"], b["p50"]), "p90 µs": (a["p90"], b["p90"]),
                    "p99 µs": (a["p99"], b["p99"]), "req/s": (a["rps"], b["rps"]),
                    "CPU ms / 1000 scrapes": (a["cpu"] * 1000, b["cpu"] * 1000),
                    "body bytes": (a["size"], b["size"]),
                    "VmRSS kB after phase": (d.mem.get(("after-" + phase, old), (0, 0))[0],
                                             d.mem.get(("after-" + phase, new), (0, 0))[0]),
                    "open fds after phase": (d.fds.get(("after-" + phase, old), 0),
                                             d.fds.get(("after-" + phase, new), 0)),
                }
                for k, (x, y) in rows.items():
                    print(f"| {phase} | {mode} | {label} | {k} | {x:,.0f} | {y:,.0f} | {fmt_ratio(q(y, x))} |")
    print()
    print("Per run, in the order run (p50 µs / p99 µs):\n")
    cols = ("ours_old", "ours", "ours_like_old", "ours_like")
    print("| table | mode | round | " + " | ".join(cols) + " |")
    print("|---|---|---:|" + "---:|" * len(cols))
    rounds = sorted({r["round"] for r in d.rows})
    for phase in d.phases:
        for mode in d.modes:
            for rnd in rounds:
                cells = []
                for t in cols:
                    rs = [r for r in d.runs.get((phase, mode, t), []) if r["round"] == rnd]
                    cells.append(f"{rs[0]['p50_us']:.0f} / {rs[0]['p99_us']:.0f}" if rs else "")
                print(f"| {phase} | {mode} | {rnd} | " + " | ".join(cells) + " |")


def main():
    args = sys.argv[1:]
    if args and args[0] == "--compare":
        compare(Path(args[1]))
    elif len(args) == 1:
        summary(Path(args[0]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
