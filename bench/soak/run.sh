#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Soak: the exporter with its default collectors for DURATION seconds under a steady stream of
# new UDP flows (bench/events/flowgen.c at EV_RATE flows/s, UDP timeout 1 s, so NEW and DESTROY
# events arrive at about EV_RATE/s each) and SCRAPE_HZ scrapes per second, in a private network
# namespace on its loopback. Every SAMPLE_S seconds it records the exporter's VmRSS, open fds
# (/proc/PID/fd), nf_conntrack_event_overruns_total, resyncs, events and the table size.
#
# Verdict: RSS flat (mean of the last minute within max(2 %, 1 MiB) of the second minute's), fds
# flat (the last minute's largest count no more than 2 above the second minute's largest: a
# scrape connection may be open at the sample), and 0 overruns.
#
# Needs root, gcc, nft, conntrack, curl, python3.
# Usage: bench/soak/run.sh      (environment overrides below; results go to $OUT)
#
# Changes to the host: none outside the namespace it creates (deleted by the EXIT trap with
# whatever runs in it). nf_conntrack_max (global) is left as it is: at EV_RATE 50,000 and a 1 s
# timeout the namespace holds 50,000 to 180,000 entries (the kernel expires them in batches).
# Like every integration test namespace, the run holds /run/nfce-nf_conntrack_max.lock shared,
# so that the tests that lower the global limit (table_full, prometheus_e2e, doctor) wait, and
# skip after 60 s, rather than make this run's flows drop.
set -eEuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-/tmp/soak-build}
EXPORTER=${EXPORTER:-$BUILD/exporter/nf_conntrack_exporter}
FLOWGEN=${FLOWGEN:-$BUILD/bench-soak-flowgen}
OUT=${OUT:-$HERE/results}
DURATION=${DURATION:-600}    # s
EV_RATE=${EV_RATE:-50000}    # new flows/s (target 3 of bench/events ran at 50,000)
SCRAPE_HZ=${SCRAPE_HZ:-4}    # scrapes/s
SAMPLE_S=${SAMPLE_S:-10}     # s between samples
PORT=${PORT:-39941}          # on 127.0.0.1 inside the namespace: no host port is used
EXPORTER_ARGS=${EXPORTER_ARGS:-} # more flags, e.g. --collector.events.buffer-size=64MiB
LOCK=/run/nfce-nf_conntrack_max.lock
NS=nfce-soak-$$

log() { printf '[soak %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

PIDS=()
NS_MADE=
cleanup() {
	local rc=$? p
	set +e
	trap - ERR
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	if [[ -n $NS_MADE ]]; then
		for p in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		ip netns del "$NS" 2>/dev/null
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'log "failed at line $LINENO: $BASH_COMMAND"' ERR

metric() { # metric FILE PREFIX: sum of the samples whose line starts with PREFIX, else NA
	awk -v k="$2" 'index($0, k) == 1 { s += $NF; f = 1 } END { if (f) printf "%.15g\n", s; else print "NA" }' "$1"
}
scrape() { nsx "$NS" curl -sS -m 20 -o "$1" "http://127.0.0.1:$PORT/metrics"; }
vm() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; } # kB
# busy and total jiffies of all CPUs: the host's load, other processes included
host_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat; }

[[ $(id -u) == 0 ]] || { echo "run as root" >&2; exit 1; }
for t in gcc nft conntrack curl python3; do
	command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 1; }
done
if [[ ! -x $EXPORTER ]]; then
	meson setup "$BUILD" "$ROOT" -Dtests=disabled --buildtype=release
	ninja -C "$BUILD"
fi
mkdir -p "$OUT"
RAW=$OUT/raw
mkdir -p "$RAW"
rm -f "$RAW"/* "$OUT/samples.tsv" "$OUT/env.tsv" "$OUT/verdict.md"
gcc -O2 -Wall -o "$FLOWGEN" "$ROOT/bench/events/flowgen.c"

{
	printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	printf 'kernel\t%s\n' "$(uname -r)"
	printf 'nproc\t%s\n' "$(nproc)"
	printf 'loadavg_start\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
	printf 'git\t%s + %s uncommitted paths\n' "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo NA)" \
		"$(git -C "$ROOT" status --porcelain 2>/dev/null | wc -l)"
	printf 'exporter\t%s, built %s\n' "$("$EXPORTER" --version 2>&1 | head -1)" \
		"$(date -u -r "$EXPORTER" '+%Y-%m-%d %H:%M:%S UTC')"
	printf 'duration_s\t%s\nev_rate\t%s\nscrape_hz\t%s\nsample_s\t%s\n' "$DURATION" "$EV_RATE" "$SCRAPE_HZ" "$SAMPLE_S"
	printf 'nf_conntrack_max\t%s\n' "$(cat /proc/sys/net/netfilter/nf_conntrack_max)"
	printf 'exporter_args\t%s\n' "$EXPORTER_ARGS"
} >"$OUT/env.tsv"

exec 9>>"$LOCK"
flock -s -w 600 9 || { log "$LOCK stayed locked exclusively for 10 minutes"; exit 1; }
ip netns add "$NS"
NS_MADE=1
nsx "$NS" ip link set lo up
# A conntrack match, so that the namespace tracks connections at all.
nsx "$NS" nft add table inet t
nsx "$NS" nft add chain inet t out '{ type filter hook output priority 0; }'
nsx "$NS" nft add rule inet t out ct state new counter accept
nsx "$NS" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=1

log "exporter in $NS on 127.0.0.1:$PORT"
# Not through nsx: $! of a backgrounded function would be a subshell's PID.
# shellcheck disable=SC2086 # EXPORTER_ARGS: words
ip netns exec "$NS" "$EXPORTER" --web.listen-address="127.0.0.1:$PORT" $EXPORTER_ARGS >"$RAW/exporter.log" 2>&1 &
EPID=$!
PIDS+=("$EPID")
for _ in $(seq 200); do
	scrape "$RAW/.probe" 2>/dev/null &&
		[[ $(metric "$RAW/.probe" 'nf_conntrack_resyncs_total{reason="startup"}') == 1 ]] && break
	kill -0 "$EPID"
	sleep 0.05
done
[[ $(cat "/proc/$EPID/comm") == nf_conntrack_ex ]] || { log "PID $EPID is not the exporter"; exit 1; }
rm -f "$RAW/.probe"

log "flowgen at $EV_RATE flows/s and $SCRAPE_HZ scrapes/s for ${DURATION}s"
ip netns exec "$NS" "$FLOWGEN" --rate "$EV_RATE" --duration "$((DURATION + 5))" >"$RAW/flowgen.txt" &
PIDS+=($!)
# The scraper: one curl per scrape (a new TCP connection each time, as Prometheus after an idle
# timeout), paced by sleep; failures are counted, not fatal.
# shellcheck disable=SC2016 # expanded by the inner bash
ip netns exec "$NS" bash -c '
	ok=0 bad=0
	trap "echo ok=\$ok failed=\$bad; exit 0" TERM
	while :; do
		if curl -sS -m 10 -o /dev/null "http://127.0.0.1:$1/metrics" 2>/dev/null; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
		sleep "$2" & wait $!
	done' soak-scraper "$PORT" "$(awk -v h="$SCRAPE_HZ" 'BEGIN { printf "%.3f", 1 / h }')" >"$RAW/scraper.txt" &
SPID=$!
PIDS+=("$SPID")

printf 't_s\tvmrss_kb\tvmhwm_kb\tfds\toverruns\tresyncs_overrun\tresyncs_periodic\tevents_total\tlive_entries\tconntrack_C\tcpu_s\thost_busy_pct\tload1\n' >"$OUT/samples.tsv"
T0=$(date +%s)
next=$T0
read -r HB0 HT0 < <(host_busy)
while :; do
	now=$(date +%s)
	t=$((now - T0))
	f=$RAW/metrics-$t.txt
	scrape "$f"
	read -r HB1 HT1 < <(host_busy)
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$(vm "$EPID" VmRSS)" "$(vm "$EPID" VmHWM)" \
		"$(find "/proc/$EPID/fd" -mindepth 1 -maxdepth 1 | wc -l)" \
		"$(metric "$f" nf_conntrack_event_overruns_total)" \
		"$(metric "$f" 'nf_conntrack_resyncs_total{reason="overrun"}')" \
		"$(metric "$f" 'nf_conntrack_resyncs_total{reason="periodic"}')" \
		"$(metric "$f" 'nf_conntrack_events_total{')" \
		"$(metric "$f" 'nf_conntrack_state_entries{')" \
		"$(nsx "$NS" conntrack -C)" \
		"$(metric "$f" process_cpu_seconds_total)" \
		"$(awk -v b="$((HB1 - HB0))" -v t="$((HT1 - HT0))" 'BEGIN { printf "%.0f", t ? 100 * b / t : 0 }')" \
		"$(cut -d' ' -f1 /proc/loadavg)" >>"$OUT/samples.tsv"
	HB0=$HB1 HT0=$HT1
	# Keep the first, the last and one a minute of the bodies.
	((t % 60 < SAMPLE_S)) || rm -f "$f"
	((t >= DURATION)) && break
	next=$((next + SAMPLE_S))
	sleep "$((next - $(date +%s) > 0 ? next - $(date +%s) : 0))"
done
kill -0 "$EPID" || { log "the exporter died"; exit 1; }
kill -TERM "$SPID"
wait "$SPID" || true
for _ in $(seq 100); do [[ -s $RAW/flowgen.txt ]] && break; sleep 0.1; done
{
	printf 'loadavg_end\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
	printf 'scraper\t%s\n' "$(cat "$RAW/scraper.txt")"
	printf 'flowgen\t%s\n' "$(cat "$RAW/flowgen.txt")"
	printf 'nf_conntrack_max_end\t%s\n' "$(cat /proc/sys/net/netfilter/nf_conntrack_max)"
	printf 'exporter_log_warn_error\t%s\n' "$(grep -cE 'level=(warn|error)' "$RAW/exporter.log" || true)"
	printf 'exporter_stderr_lines\t%s\n' "$(wc -l <"$RAW/exporter.log")"
} >>"$OUT/env.tsv"

python3 - "$OUT" <<'EOF' | tee "$OUT/verdict.md"
import sys, statistics
out = sys.argv[1]
rows = [l.rstrip("\n").split("\t") for l in open(f"{out}/samples.tsv")]
head, rows = rows[0], rows[1:]
col = {h: i for i, h in enumerate(head)}
def val(r, k):
    try:
        return float(r[col[k]])
    except ValueError:
        return None
def window(lo, hi):
    return [r for r in rows if lo <= int(r[0]) < hi]
end = int(rows[-1][0])
second, last = window(60, 120) or rows[:1], window(end - 60 + 1, end + 1)  # short runs: first sample
rss2 = statistics.mean(val(r, "vmrss_kb") for r in second)
rssl = statistics.mean(val(r, "vmrss_kb") for r in last)
fd2 = max(val(r, "fds") for r in second)
fdl = max(val(r, "fds") for r in last)
ovr = [val(r, "overruns") for r in rows if val(r, "overruns") is not None]
ev0, ev1 = val(rows[0], "events_total"), val(rows[-1], "events_total")
t0, t1 = int(rows[0][0]), int(rows[-1][0])
rss_ok = rssl - rss2 <= max(0.02 * rss2, 1024)
fd_ok = fdl <= fd2 + 2
ovr_ok = bool(ovr) and max(ovr) == 0
print(f"# Soak: {end} s\n")
print("| t (s) | VmRSS (kB) | VmHWM (kB) | fds | overruns | overrun resyncs | periodic resyncs | events | exporter's live entries | conntrack -C | exporter CPU (s) | host busy (%) | load1 |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    print("| " + " | ".join(r) + " |")
print()
print(f"- events received: {ev1 - ev0:.0f} in {t1 - t0} s ({(ev1 - ev0) / max(1, t1 - t0):.0f}/s)")
print(f"- RSS, mean of the second minute {rss2:.0f} kB, of the last minute {rssl:.0f} kB "
      f"({rssl - rss2:+.0f} kB): {'flat' if rss_ok else 'GROWING'}")
half = [r for r in rows if int(r[0]) <= end // 2]
hwm1, hwm2 = max(val(r, "vmhwm_kb") for r in half), val(rows[-1], "vmhwm_kb")
live2 = statistics.mean(val(r, "live_entries") for r in second)
livel = statistics.mean(val(r, "live_entries") for r in last)
print(f"- live entries the exporter tracks, mean of the second minute {live2:.0f}, of the last minute "
      f"{livel:.0f}; peak RSS (VmHWM) by half time {hwm1:.0f} kB, at the end {hwm2:.0f} kB")
busy = [val(r, "host_busy_pct") for r in rows[1:]]
print(f"- host CPU busy (both cores, every process): mean {statistics.mean(busy):.0f} %, max {max(busy):.0f} %")
print(f"- fds, largest count in the second minute {fd2:.0f}, in the last minute {fdl:.0f}: "
      f"{'flat' if fd_ok else 'GROWING'}")
print(f"- overruns at the end: {max(ovr) if ovr else 'NA'}: {'none' if ovr_ok else 'LOST EVENTS'}")
print(f"\nverdict: {'PASS' if rss_ok and fd_ok and ovr_ok else 'FAIL'}")
EOF
cat "$OUT/env.tsv" >&2
