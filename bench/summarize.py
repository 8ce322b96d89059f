#!/usr/bin/env python3
"""Turn the TSV files written by bench/run.sh into markdown tables (stdout)."""
import statistics
import sys
from pathlib import Path

NAMES = {
    "ours": "nf_conntrack_exporter (default collectors)",
    "ours_like": "nf_conntrack_exporter (table + stat only)",
    "node": "node_exporter 1.5.0 (conntrack only)",
}


def tsv(path):
    p = Path(path)
    if not p.exists():
        return []
    return [line.split("\t") for line in p.read_text().splitlines() if line]


def main():
    out = Path(sys.argv[1])
    env = dict(tsv(out / "env.tsv"))
    clk = int(env.get("clk_tck", "100"))
    runs = {}
    for phase, target, rnd, ticks, before, after, kv in tsv(out / "runs.tsv"):
        d = dict(x.split("=") for x in kv.split())
        d = {k: float(v) for k, v in d.items()}
        d.update(round=int(rnd), ticks=int(ticks), before=int(before), after=int(after))
        runs.setdefault((phase, target), []).append(d)
    probe = {(p, t): (code, int(size), fails) for p, t, code, size, fails in tsv(out / "probe.tsv")}
    mem = {(w, t): (int(rss), int(hwm)) for w, t, rss, hwm in tsv(out / "mem.tsv")}
    logwarn = dict(tsv(out / "logwarn.tsv"))

    print("| table | exporter | entries during runs | p50 µs | p90 µs | p99 µs | req/s | CPU s / 1000 scrapes | body bytes | failed requests |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    phases = [p for p in ("empty", "full") if any(k[0] == p for k in runs)]
    summary = {}
    for phase in phases:
        for t in NAMES:
            rs = runs.get((phase, t))
            if not rs:
                continue
            p50 = statistics.median(r["p50_us"] for r in rs)
            p90 = statistics.median(r["p90_us"] for r in rs)
            p99 = statistics.median(r["p99_us"] for r in rs)
            reqs = sum(r["requests"] for r in rs)
            secs = sum(r["duration_us"] for r in rs) / 1e6
            rps = reqs / secs
            cpu = sum(r["ticks"] for r in rs) / clk / reqs * 1000
            errs = sum(r[k] for r in rs for k in r if k.startswith("err_"))
            lo = min(r["before"] for r in rs)
            hi = max(r["after"] for r in rs)
            size = probe.get((phase, t), ("?", 0, ""))[1]
            summary[(phase, t)] = (p50, rps, cpu)
            print(f"| {phase} | {NAMES[t]} | {lo:,}–{hi:,} | {p50:.0f} | {p90:.0f} | {p99:.0f} | "
                  f"{rps:,.0f} | {cpu:.3f} | {size:,} | {errs:.0f} of {reqs:,.0f} |")
    print()
    print("p50/p90/p99: median over the rounds of each wrk run's percentile; req/s and CPU: "
          "totals over all rounds.")
    print()
    print("| table | ours ÷ node: p50 latency | ours ÷ node: req/s | ours ÷ node: CPU per scrape | "
          "ours (table+stat) ÷ node: p50 | ours (table+stat) ÷ node: req/s | ours (table+stat) ÷ node: CPU |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for phase in phases:
        n = summary.get((phase, "node"))
        a = summary.get((phase, "ours"))
        b = summary.get((phase, "ours_like"))
        if not (n and a and b):
            continue
        def q(x, y):
            return f"{x / y:.2f}" if y else "n/a"
        print(f"| {phase} | {q(a[0], n[0])} | {q(a[1], n[1])} | {q(a[2], n[2])} | "
              f"{q(b[0], n[0])} | {q(b[1], n[1])} | {q(b[2], n[2])} |")
    print()
    whens = ["startup"] + ["after-" + p for p in phases]
    print("| exporter | " + " | ".join(f"VmRSS / VmHWM {w} (kB)" for w in whens) + " |")
    print("|---|" + "---:|" * len(whens))
    for t in NAMES:
        cells = []
        for w in whens:
            rss, hwm = mem.get((w, t), (0, 0))
            cells.append(f"{rss:,} / {hwm:,}")
        print(f"| {NAMES[t]} | " + " | ".join(cells) + " |")
    print()
    short = {"ours": "ours (default)", "ours_like": "ours (table+stat)", "node": "node_exporter"}
    print("Per wrk run, in the order run. Last column: CPU used on the host by anything other than "
          "this exporter and wrk during the run, in % of one core (2 cores = 200 %); process and "
          "host tick accounting disagree by about ±10 points, so values near 0 mean a quiet host.")
    print()
    print("| table | round | exporter | p50 µs | p90 µs | p99 µs | max µs | req/s | other host CPU, % of a core |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for phase, target, rnd, ticks, before, after, kv in tsv(out / "runs.tsv"):
        d = {k: float(v) for k, v in (x.split("=") for x in kv.split())}
        sec = d["duration_us"] / 1e6
        other = f"{d['other_ticks'] / clk / sec * 100:.0f}" if "other_ticks" in d else "?"
        print(f"| {phase} | {rnd} | {short[target]} | {d['p50_us']:.0f} | {d['p90_us']:.0f} | "
              f"{d['p99_us']:.0f} | {d['max_us']:.0f} | {d['requests'] / sec:,.0f} | {other} |")
    print()
    print("Probe scrapes (HTTP status, failed collectors): " + "; ".join(
        f"{p} {t}: {c} {f}" for (p, t), (c, _, f) in sorted(probe.items())))
    print()
    print("Environment: " + "; ".join(f"{k}={v}" for k, v in env.items()))
    print()
    print("warn/error lines in exporter logs: " + ", ".join(f"{t}: {n}" for t, n in logwarn.items()))


if __name__ == "__main__":
    main()
