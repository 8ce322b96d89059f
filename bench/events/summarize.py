#!/usr/bin/env python3
"""Turn bench/events/run.sh's results.tsv and raw wrk outputs into markdown tables."""
import os
import re
import statistics
import sys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "results")
R = {}
with open(os.path.join(out, "results.tsv")) as f:
    for line in f:
        k, _, v = line.rstrip("\n").partition("\t")
        R[k] = v


def num(k):
    v = R.get(k, "NA")
    try:
        return float(v)
    except ValueError:
        return float("nan")


def d(a, b, field):
    return num(f"{b}.{field}") - num(f"{a}.{field}")


def events(a, b):
    return sum(d(a, b, t) for t in ("new", "update", "destroy"))


def kv(s, key):
    m = re.search(key + r"=([0-9.]+)", s)
    return float(m.group(1)) if m else float("nan")


def fmt(x, nd=0):
    if x != x:
        return "NA"
    return f"{x:,.{nd}f}"


def wrk(path):
    res = {}
    unit = {"us": 1.0, "ms": 1e3, "s": 1e6}
    with open(path) as f:
        txt = f.read()
    for p in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{p}%\s+([0-9.]+)(us|ms|s)\s*$", txt, re.M)
        res[p] = float(m.group(1)) * unit[m.group(2)] if m else float("nan")
    m = re.search(r"Latency\s+\S+\s+\S+\s+([0-9.]+)(us|ms|s)", txt)
    res["max"] = float(m.group(1)) * unit[m.group(2)] if m else float("nan")
    m = re.search(r"(\d+) requests in", txt)
    res["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Requests/sec:\s+([0-9.]+)", txt)
    res["rps"] = float(m.group(1)) if m else float("nan")
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", txt)
    res["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", txt)
    res["sockerr"] = m.group(1) if m else "none"
    return res


def ok(cond):
    return "**met**" if cond else "**missed**"


p = print
p(f"Run: {R.get('env.date')}, kernel {R.get('env.kernel')}, nproc {R.get('env.nproc')}, "
  f"CPU \"{R.get('env.cpu')}\", load average {R.get('env.loadavg_start')} at start, "
  f"{R.get('env.loadavg_end')} at end.")
p(f"Exporter: {R.get('env.exporter_version')}, built {R.get('env.exporter_mtime')} from "
  f"{R.get('env.git')}. {R.get('env.conntrack_version')}; {R.get('env.wrk_version')}.")
p(f"nf_conntrack_max {R.get('env.nf_conntrack_max_orig')} → {R.get('env.nf_conntrack_max_run')} "
  f"during the run; buckets {R.get('env.nf_conntrack_buckets')}; nf_conntrack_events "
  f"{R.get('env.nf_conntrack_events')}; rmem_default {R.get('env.rmem_default')}.")
p()

# ---- target 1
gen = R.get("t1.gen", "")
el = kv(gen, "elapsed")
sent = kv(gen, "sent")
span = d("t1.s0", "t1.s1", "t")
ev_burst = events("t1.s0", "t1.s1")
ev_all = events("t1.s0", "t1.s2")
cpu_burst = d("t1.s0", "t1.s1", "cpu_s")
cpu_all = d("t1.s0", "t1.s2", "cpu_s")
knew = d("t1.s0", "t1.s2", "nft_new")
cte_ticks = num("t1.ctE_ticks1") - num("t1.ctE_ticks0")
cte_lines = num("t1.ctE_new_lines") + num("t1.ctE_destroy_lines") + num("t1.ctE_update_lines")
us_ev = cpu_all / ev_all * 1e6 if ev_all else float("nan")
p("### Target 1: event ingestion (one full-speed burst, exporter and `conntrack -E` listening)")
p()
p(f"Generator: {fmt(sent)} flows in {el:.2f} s = {fmt(kv(gen, 'rate'))} new flows/s "
  f"(its CPU, elapsed/user/sys s: {R.get('t1.gen_time')}); host busy during the burst "
  f"{R.get('t1.host_busy_pct')} % of 200 %. Kernel new-flow count (nft `ct state new` counter) "
  f"over the burst and the 5 s after: {fmt(knew)}.")
p()
p("| | exporter (`events`, 8 MiB buffer) | `conntrack -E` (default buffer) |")
p("|---|---:|---:|")
p(f"| NEW events received | {fmt(d('t1.s0', 't1.s2', 'new'))} | {fmt(num('t1.ctE_new_lines'))} |")
p(f"| DESTROY events received | {fmt(d('t1.s0', 't1.s2', 'destroy'))} | {fmt(num('t1.ctE_destroy_lines'))} |")
p(f"| UPDATE events received | {fmt(d('t1.s0', 't1.s2', 'update'))} | {fmt(num('t1.ctE_update_lines'))} |")
p(f"| events during the burst itself, per s | {fmt(ev_burst / span)} ({fmt(ev_burst)} in {span:.2f} s) | — |")
p(f"| NEW received ÷ kernel new flows | {d('t1.s0', 't1.s2', 'new') / knew:.4f} | {num('t1.ctE_new_lines') / knew:.4f} |")
p(f"| overruns (ENOBUFS) | {fmt(d('t1.s0', 't1.s2', 'overruns'))} | {R.get('t1.ctE_enobufs_warnings')} \"We have hit ENOBUFS\" warnings |")
p(f"| resyncs during the burst + 5 s (overrun / periodic) | {fmt(d('t1.s0', 't1.s2', 'resync_overrun'))} / {fmt(d('t1.s0', 't1.s2', 'resync_periodic'))} | — |")
p(f"| bad messages | {fmt(d('t1.s0', 't1.s2', 'bad'))} | — |")
p(f"| CPU, s (burst + 5 s) | {cpu_all:.2f} | {cte_ticks / 100:.2f} |")
p(f"| CPU per event, µs | {fmt(us_ev, 2)} | {fmt(cte_ticks / 100 / cte_lines * 1e6 if cte_lines else float('nan'), 2)} |")
p(f"| events per wakeup (events ÷ context switches) | {fmt(ev_all / d('t1.s0', 't1.s2', 'ctxsw'), 1)} | — |")
p()
p(f"Target ≤ 1.5 µs CPU per event: {fmt(us_ev, 2)} µs → {ok(us_ev <= 1.5)}.")
p()
p("Quiet-time agreement after the burst (udp timeout 1 s):")
p()
p("| when | exporter's live flows (sum of state_entries) | `conntrack -C` | entries in a `conntrack -L` dump |")
p("|---|---:|---:|---:|")
p(f"| 5 s after the burst, both listening | {fmt(num('t1.s2.live'))} | {fmt(num('t1.s2.conntrack_C'))} | {fmt(num('t1.live_in_hash'))} |")
p(f"| 3 s after `conntrack -E` exited | {fmt(num('t1.s3.live'))} | {fmt(num('t1.s3.conntrack_C'))} | — |")
p()

# ---- target 2
p("### Target 2: new-flow rate with and without a listener")
p()
rounds = sorted({int(m.group(1)) for k in R for m in [re.match(r"t2\.r(\d+)\.", k)] if m})
rates = {"none": [], "exporter": [], "ctE": []}
p("| round | config | new flows/s (generator) | kernel new flows | host busy % of 200 | listener saw |")
p("|---:|---|---:|---:|---:|---|")
order = []
for r in rounds:
    cfgs = [c for c in ("none", "exporter", "ctE") if f"t2.r{r}.{c}.rate" in R]
    # in run order: the keys were written in order
    keys = [k for k in R if re.match(rf"t2\.r{r}\.\w+\.rate$", k)]
    for k in keys:
        c = k.split(".")[2]
        rate = num(k)
        rates[c].append(rate)
        seen = ""
        if c == "exporter":
            seen = f"{fmt(num(f't2.r{r}.exporter.events'))} events, {fmt(num(f't2.r{r}.exporter.overruns'))} overruns"
        elif c == "ctE":
            seen = f"{fmt(num(f't2.r{r}.ctE.ctE_lines'))} events shown, {R.get(f't2.r{r}.ctE.ctE_enobufs_warnings')} ENOBUFS warnings"
        p(f"| {r} | {c} | {fmt(rate)} | {fmt(num(f't2.r{r}.{c}.kernel_new'))} | {R.get(f't2.r{r}.{c}.host_busy_pct')} | {seen} |")
p()
mn = statistics.mean(rates["none"]) if rates["none"] else float("nan")
me = statistics.mean(rates["exporter"]) if rates["exporter"] else float("nan")
mc = statistics.mean(rates["ctE"]) if rates["ctE"] else float("nan")
p(f"Mean new flows/s: none {fmt(mn)}, exporter {fmt(me)}, conntrack -E {fmt(mc)}. "
  f"Ratio exporter ÷ none = {me / mn:.3f}; conntrack -E ÷ none = {mc / mn:.3f}. "
  f"Per round (exporter ÷ none): "
  + ", ".join(f"{e / n:.3f}" for e, n in zip(rates["exporter"], rates["none"]))
  + "; (conntrack -E ÷ none): "
  + ", ".join(f"{c / n:.3f}" for c, n in zip(rates["ctE"], rates["none"])) + ".")
p()

# ---- targets 3-6
fill = R.get("fill.gen", "")
p("### Targets 3–6: a table of 1,000,000 entries")
p()
p(f"Fill: {fmt(kv(fill, 'sent'))} flows at {fmt(kv(fill, 'rate'))} flows/s, no listener; "
  f"`conntrack -C` = {fmt(num('fill.conntrack_C'))}.")
p()
st = num("t4.startup_s")
p(f"**Target 4 (startup ≤ 3 s):** exporter start → `nf_conntrack_resyncs_total{{reason=\"startup\"}} 1` "
  f"seen by a 50 ms poll: {st:.3f} s (first HTTP answer after {num('t4.first_http_s'):.3f} s); "
  f"`nf_conntrack_resync_duration_seconds` {num('t4.synced.resync_duration'):.3f} → {ok(st <= 3)}. "
  f"Live flows after the resync {fmt(num('t4.synced.live'))} vs `conntrack -C` {fmt(num('t4.synced.conntrack_C'))}.")
p()
flows = num("t5.full.live")
rss0 = num("t5.empty.rss_bytes")
rss1 = num("t5.full.rss_bytes")
limit = 8 * 1024 * 1024 + 16 * flows
limit_dec = 8e6 + 16 * flows
p("**Target 5 (RSS ≤ 8 MB + 16 B per live flow):**")
p()
p("| | live flows | process_resident_memory_bytes | VmRSS kB | VmHWM kB |")
p("|---|---:|---:|---:|---:|")
for tag, name in (("t5.empty", "empty table (after startup)"), ("t4.synced", "1M: right after the startup resync"),
                  ("t5.full", "1M: 2 s later"), ("t3.after", "1M: after both wrk runs and the 50k/s load")):
    p(f"| {name} | {fmt(num(tag + '.live'))} | {fmt(num(tag + '.rss_bytes'))} | {fmt(num(tag + '.vmrss_kb'))} | {fmt(num(tag + '.vmhwm_kb'))} |")
p()
p(f"Bytes per live flow (RSS at 1M − RSS empty) ÷ flows = {(rss1 - rss0) / flows:.1f}; "
  f"VmHWM per flow {(num('t5.full.vmhwm_kb') - num('t5.empty.vmhwm_kb')) * 1024 / flows:.1f}. "
  f"Limit 8 MiB + 16 B × {fmt(flows)} = {fmt(limit)} B (with 8 MB = 8,000,000: {fmt(limit_dec)}); "
  f"RSS {fmt(rss1)} → {ok(rss1 <= min(limit, limit_dec))}; VmHWM {fmt(num('t5.full.vmhwm_kb') * 1024)} → "
  f"{ok(num('t5.full.vmhwm_kb') * 1024 <= min(limit, limit_dec))}.")
p()
wq = wrk(os.path.join(out, "raw", "wrk-quiet.txt"))
wl = wrk(os.path.join(out, "raw", "wrk-load.txt"))
lspan = d("t3.load0", "t3.load1", "t")
lev = events("t3.load0", "t3.load1")
p("**Target 3 (/metrics at 1M entries under ~50,000 events/s: p50 ≤ 1 ms, p99 ≤ 5 ms):** "
  "`wrk -t1 -c1 -d10s --latency`")
p()
p("| run | table during run | events/s during run | p50 µs | p75 µs | p90 µs | p99 µs | max µs | req/s | errors |")
p("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
p(f"| quiet (no traffic) | {fmt(num('t5.full.conntrack_C'))} → {fmt(num('t3.quiet.conntrack_C'))} | 0 | "
  f"{fmt(wq['50'])} | {fmt(wq['75'])} | {fmt(wq['90'])} | {fmt(wq['99'])} | {fmt(wq['max'])} | {fmt(wq['rps'])} | "
  f"non-2xx {wq['non2xx']}, socket {wq['sockerr']} |")
p(f"| {fmt(kv(R.get('t3.gen', ''), 'rate'))} new flows/s | {fmt(num('t3.load0.conntrack_C'))} → {fmt(num('t3.load1.conntrack_C'))} | "
  f"{fmt(lev / lspan)} (new {fmt(d('t3.load0', 't3.load1', 'new'))}, destroy {fmt(d('t3.load0', 't3.load1', 'destroy'))}) | "
  f"{fmt(wl['50'])} | {fmt(wl['75'])} | {fmt(wl['90'])} | {fmt(wl['99'])} | {fmt(wl['max'])} | {fmt(wl['rps'])} | "
  f"non-2xx {wl['non2xx']}, socket {wl['sockerr']} |")
p()
p(f"Quiet run: resyncs overrun/periodic {fmt(d('t3.quiet0', 't3.quiet1', 'resync_overrun'))}/"
  f"{fmt(d('t3.quiet0', 't3.quiet1', 'resync_periodic'))}, events {fmt(events('t3.quiet0', 't3.quiet1'))}.")
p()
p(f"Under load: p50 {fmt(wl['50'])} µs → {ok(wl['50'] <= 1000)}, p99 {fmt(wl['99'])} µs → {ok(wl['99'] <= 5000)}. "
  f"During the loaded run: overruns {fmt(d('t3.load0', 't3.load1', 'overruns'))}, resyncs overrun/periodic "
  f"{fmt(d('t3.load0', 't3.load1', 'resync_overrun'))}/{fmt(d('t3.load0', 't3.load1', 'resync_periodic'))}, "
  f"host busy {R.get('t3.load.host_busy_pct')} % of 200 %, exporter CPU "
  f"{d('t3.load0', 't3.load1', 'cpu_s'):.2f} s. Quiet run: exporter CPU per scrape "
  f"{num('t3.quiet.exporter_ticks') / 100 / wq['requests'] * 1e6 if wq['requests'] else float('nan'):.0f} µs.")
p()
curl = [float(x) for x in R.get("t6.curl_s", "").split()]
p("**Target 6 (`conntrack -L | awk` vs one scrape at 1M entries):**")
p()
p("| | wall s | user s | sys s |")
p("|---|---:|---:|---:|")
for i in (1, 2):
    t = R.get(f"t6.ctL_{i}.time_e_u_s", "NA NA NA").split()
    p(f"| `conntrack -L \\| awk` run {i} | {t[0]} | {t[1]} | {t[2]} |")
if curl:
    p(f"| one `curl` scrape (median of {len(curl)}) | {statistics.median(curl):.4f} | — | — |")
p()
p(f"`conntrack -L | awk` counts (run 1): {R.get('t6.ctL_1.counts')}")
p()
p("**Quiet-time agreement at 1M:**")
p()
p("| when | exporter's live flows | `conntrack -C` | `conntrack -L` entries | resyncs startup/overrun/periodic so far | silent entries |")
p("|---|---:|---:|---:|---|---:|")
for tag, name in (("t4.synced", "right after startup"), ("t5.full", "2 s later"), ("t3.quiet1", "after the quiet wrk run"),
                  ("t3.after", "4 s after the load"), ("t3.after2", "after the `conntrack -L` count")):
    hl = fmt(num("t3.after.live_in_hash")) if tag == "t3.after" else "—"
    p(f"| {name} | {fmt(num(tag + '.live'))} | {fmt(num(tag + '.conntrack_C'))} | {hl} | "
      f"{fmt(num(tag + '.resync_startup'))}/{fmt(num(tag + '.resync_overrun'))}/{fmt(num(tag + '.resync_periodic'))} | {fmt(num(tag + '.silent'))} |")
p()
p(f"warn/error lines in the exporter logs: burst {R.get('t1.exporter_log_warn_error')}, "
  f"1M {R.get('t3.exporter_log_warn_error')}.")
