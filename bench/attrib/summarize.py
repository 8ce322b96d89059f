#!/usr/bin/env python3
"""Markdown tables from bench/attrib/run.sh's rate.tsv, cpu.tsv and storm.tsv (those present)."""
import os
import re
import statistics
import sys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "results", "raw", "issue13")


def load(mode):
    path = os.path.join(out, mode + ".tsv")
    if not os.path.exists(path):
        return None
    r = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("\t")
            r[k] = v
    return r


def num(r, k):
    try:
        return float(r.get(k, "nan"))
    except ValueError:
        return float("nan")


def kv(s, key):
    m = re.search(key + r"=([0-9.]+)", s or "")
    return float(m.group(1)) if m else float("nan")


def fmt(x, nd=0):
    return "NA" if x != x else f"{x:,.{nd}f}"


def env(r):
    print(f"Flows: {r.get('env.flows')}. Run {r.get('env.date')}, kernel {r.get('env.kernel')}, {r.get('env.nproc')} CPUs "
          f"({r.get('env.cpu')}), load average {r.get('env.loadavg_start')} at start, "
          f"{r.get('env.loadavg_end')} at end; new built from {r.get('env.new_src')}, "
          f"old = {r.get('env.old_src')}.")
    print()


R = load("rate")
if R:
    print("### Rate search (old binary alone)\n")
    env(R)
    print("| config | asked new flows/s | sent new flows/s | generator errors | events | µs/event (stat) | overruns |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    tags = sorted({k.rsplit(".", 1)[0] for k in R if k.startswith("rate")},
                  key=lambda t: (t.split(".")[1], int(t.split(".")[0][4:]) or 10**9))
    for t in tags:
        asked = int(t.split(".")[0][4:])
        gen = R.get(t + ".gen", "")
        ev = num(R, t + ".events")
        print(f"| {t.split('.', 1)[1]} | {'full speed' if asked == 0 else fmt(asked)} | "
              f"{fmt(kv(gen, 'rate'))} | {fmt(kv(gen, 'errors'))} | {fmt(ev)} | "
              f"{R.get(t + '.us_per_event_stat')} | {R.get(t + '.overruns')} |")
    print()

C = load("cpu")
if C:
    print("### CPU per event, rounds side by side\n")
    env(C)
    rounds = sorted({int(k.split(".")[0][1:]) for k in C if re.match(r"r\d+\.", k)})
    # A round counts only when every config finished it (an interrupted run leaves a partial one).
    rounds = [r for r in rounds if all(f"r{r}.{c}.us_per_event_stat" in C
                                       for c in {k.split(".")[1] for k in C if k.startswith("r1.")})]
    cfgs = []
    for k in C:
        m = re.match(r"r\d+\.([a-z_]+)\.events$", k)
        if m and m.group(1) not in cfgs:
            cfgs.append(m.group(1))
    order = [c for c in ("old", "new", "new_noattr", "old_nat", "new_nat") if c in cfgs]
    ctmax = C.get("env.nf_conntrack_max")

    def valid(r, c):
        """A run another test disturbed (nf_conntrack_max lowered: generator errors, early drops),
        that lost events or whose generator fell behind is left out."""
        asked = float(C.get("cpu.nat_rate" if c.endswith("_nat") else "cpu.rate"))
        gen = C.get(f"r{r}.{c}.gen")
        # A generator slowed by other work (below 90 % of the rate asked) gives its run fewer
        # events per wakeup, hence more CPU per event: not the same load as the others'.
        return (kv(gen, "errors") == 0 and C.get(f"r{r}.{c}.ct_max", ctmax) == ctmax
                and num(C, f"r{r}.{c}.overruns") == 0 and kv(gen, "rate") >= 0.9 * asked)

    med = {}
    print("| config | new flows/s asked | sent (median) | events/round (median) | µs/event per round (/proc/PID/stat) | **median** | ns-exact median (schedstat) | overruns (all rounds) | runs left out |")
    print("|---|---:|---:|---:|---|---:|---:|---:|---|")
    for c in order:
        ok = [r for r in rounds if valid(r, c)]
        if not ok:
            print(f"| {c} | no run kept | | | | | | | {len(rounds)} of {len(rounds)} |")
            continue
        out_ = [f"r{r}" for r in rounds if r not in ok]
        st = [num(C, f"r{r}.{c}.us_per_event_stat") for r in ok]
        ns = [num(C, f"r{r}.{c}.us_per_event_ns") for r in ok]
        sent = [kv(C.get(f"r{r}.{c}.gen"), "rate") for r in ok]
        ev = [num(C, f"r{r}.{c}.events") for r in ok]
        ov = sum(num(C, f"r{r}.{c}.overruns") for r in rounds)
        med[c] = (statistics.median(st), statistics.median(ns))
        asked = C.get("cpu.nat_rate" if c.endswith("_nat") else "cpu.rate")
        print(f"| {c} | {fmt(float(asked))} | {fmt(statistics.median(sent))} | "
              f"{fmt(statistics.median(ev))} | {', '.join(f'{x:.3f}' for x in st)} | "
              f"**{med[c][0]:.3f}** | {med[c][1]:.3f} | {fmt(ov)} | {', '.join(out_) or '—'} |")
    print()
    print("| delta | median of the per-round differences (stat) | difference of medians (stat) | (schedstat) | budget +0.3 µs |")
    print("|---|---:|---:|---:|---|")
    for a, b in (("new", "old"), ("new_noattr", "old"), ("new", "new_noattr"), ("new_nat", "old_nat")):
        pairs = [r for r in rounds if valid(r, a) and valid(r, b)] if a in med and b in med else []
        if pairs:
            pr = statistics.median(num(C, f"r{r}.{a}.us_per_event_stat") - num(C, f"r{r}.{b}.us_per_event_stat")
                                   for r in pairs)
            d = med[a][0] - med[b][0]
            dn = med[a][1] - med[b][1]
            # The budget is the cost of the feature: new against old, plain or NAT'ed.
            verdict = "—" if b != "old" and b != "old_nat" or a == "new_noattr" else (
                "within" if max(pr, d, dn) <= 0.3 else "**over**")
            print(f"| {a} − {b} | {pr:+.3f} µs | {d:+.3f} µs | {dn:+.3f} µs | {verdict} |")
    print()

S = load("storm")
if S:
    print("### Memory and scrape under a source storm\n")
    env(S)
    names = []
    for k in S:
        m = re.match(r"(storm|few)\.([a-z0-9_-]+)\.vmrss_kb$", k)
        if m and m.group(2) not in names:
            names.append(m.group(2))
    print(f"storm: {S.get('storm.distinct_sources')} distinct sources, {S.get('storm.conntrack_C')} entries; "
          f"few: {S.get('few.distinct_sources')} distinct sources, {S.get('few.conntrack_C')} entries.\n")
    print("| exporter | case | VmRSS empty → full (kB) | VmHWM (kB) | scrape median (ms) | series | attribution series | overruns | top sources |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for n in names:
        for c in ("storm", "few"):
            e = S.get(f"{c}.{n}.empty.vmrss_kb", "—")
            print(f"| {n} | {c} | {e} → {S.get(f'{c}.{n}.vmrss_kb')} | {S.get(f'{c}.{n}.vmhwm_kb')} | "
                  f"{S.get(f'{c}.{n}.scrape_ms_median')} | {S.get(f'{c}.{n}.series')} | "
                  f"{S.get(f'{c}.{n}.attrib_series')} | {S.get(f'{c}.{n}.overruns')} | "
                  f"{S.get(f'{c}.{n}.top_source', '').replace('nf_conntrack_top_source_entries', '').replace(';', '; ')} |")
    print()
    print("| exporter | VmRSS storm − few (kB) | VmHWM storm − few (kB) | scrape storm − few (ms) |")
    print("|---|---:|---:|---:|")
    for n in names:
        print(f"| {n} | {num(S, f'storm.{n}.vmrss_kb') - num(S, f'few.{n}.vmrss_kb'):+,.0f} | "
              f"{num(S, f'storm.{n}.vmhwm_kb') - num(S, f'few.{n}.vmhwm_kb'):+,.0f} | "
              f"{num(S, f'storm.{n}.scrape_ms_median') - num(S, f'few.{n}.scrape_ms_median'):+.3f} |")
    print()

I = load("ir")
if I:
    import collections
    import glob

    def cg_exclusive(path):
        """Exclusive instructions per function of a callgrind dump (callgrind_annotate 3.19 put
        everything under __libc_start_main for a dump taken after callgrind_control -z)."""
        names, excl, fn, skip = {}, collections.Counter(), None, False
        with open(path, errors="replace") as f:
            for line in f:
                line = line.rstrip("\n")
                m = re.match(r"^fn=\((\d+)\)(?: (.*))?$", line)
                if m:
                    if m.group(2):
                        names[m.group(1)] = m.group(2)
                    fn = names.get(m.group(1), m.group(1))
                    continue
                m = re.match(r"^c(fn|fi|fe|ob)=\((\d+)\)(?: (.*))?$", line)
                if m:
                    if m.group(1) == "fn" and m.group(3):
                        names[m.group(2)] = m.group(3)
                    continue
                if line.startswith("calls="):
                    skip = True  # the next cost line is the call's inclusive cost
                    continue
                if line and (line[0].isdigit() or line[0] in "+-*"):
                    if skip:
                        skip = False
                        continue
                    parts = line.split()
                    if len(parts) >= 2 and fn:
                        excl[fn.split("'")[0]] += int(parts[1])
        return excl

    print("### User-space instructions per event (callgrind)\n")
    env(I)
    cfgs = [c for c in ("old", "new", "new_noattr", "old_nat", "new_nat") if f"ir.{c}.ir" in I]
    print("| config | NEW events | instructions/NEW | vs old (plain or NAT) | DESTROY events (conntrack -D) | instructions/DESTROY | vs old | overruns |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for c in cfgs:
        base = "old_nat" if c.endswith("_nat") else "old"
        d = num(I, f"ir.{c}.ir_per_event") - num(I, f"ir.{base}.ir_per_event")
        dd = num(I, f"ir.{c}.destroy_ir_per_event") - num(I, f"ir.{base}.destroy_ir_per_event")
        ov = num(I, f"ir.{c}.overruns") + num(I, f"ir.{c}.destroy_overruns")
        print(f"| {c} | {fmt(num(I, f'ir.{c}.events'))} | {fmt(num(I, f'ir.{c}.ir_per_event'))} | "
              f"{'' if c == base else f'{d:+,.0f}'} | {fmt(num(I, f'ir.{c}.destroy_events'))} | "
              f"{fmt(num(I, f'ir.{c}.destroy_ir_per_event'))} | {'' if c == base else f'{dd:+,.0f}'} | "
              f"{fmt(ov)} |")
    print()
    for part, evkey, what in ((1, "events", "NEW"), (2, "destroy_events", "DESTROY")):
        prof = {}
        for c in cfgs:
            dumps = glob.glob(os.path.join(out, "ir", f"callgrind.{c}.*.{part}"))
            if dumps:
                ev = num(I, f"ir.{c}.{evkey}")
                prof[c] = {k: v / ev for k, v in cg_exclusive(dumps[0]).items()}
        if not prof:
            continue
        top = collections.Counter()
        for c in prof:
            for k, v in prof[c].items():
                top[k] = max(top[k], v)
        print(f"Instructions per {what} event by function (exclusive), the functions above 100 in any "
              "config:\n")
        print("| function | " + " | ".join(prof) + " |")
        print("|---|" + "---:|" * len(prof))
        for k, _ in top.most_common():
            if top[k] < 100:
                break
            print(f"| {k} | " + " | ".join(fmt(prof[c].get(k, 0.0)) for c in prof) + " |")
        print()
