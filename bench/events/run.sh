#!/usr/bin/env bash
# Benchmark of the events collector (collectors/events.c): event ingestion rate and CPU per event
# next to `conntrack -E`, the listener's cost to the host's new-flow rate, /metrics latency at
# 1,000,000 entries under 50,000 new flows/s, startup (resync) time and resident memory at
# 1,000,000 entries, and `conntrack -L | awk` against one scrape. Everything runs inside two
# private network namespaces created here; all traffic is on their loopback (127.0.0.0/8).
#
# Needs root, gcc, nft, conntrack, wrk, curl, python3, /usr/bin/time.
# Usage: bench/events/run.sh     (environment overrides below; results go to $OUT)
#
# Changes to the host, all undone by the EXIT trap: net.netfilter.nf_conntrack_max (global, only
# writable from the initial namespace) is raised to CT_MAX for the run and restored to the value
# it had; the namespaces (with their own nf_conntrack_udp_timeout) are deleted; every process
# this script started is killed by its PID.
set -eEuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-/tmp/evbench-build}
EXPORTER=${EXPORTER:-$BUILD/exporter/nf_conntrack_exporter}
FLOWGEN=${FLOWGEN:-$BUILD/bench-events-flowgen}
OUT=${OUT:-$HERE/results}
RAW=$OUT/raw
PORT=${PORT:-39931}          # exporter's port, on 127.0.0.1 inside the namespaces
CT_MAX=${CT_MAX:-2000000}    # nf_conntrack_max during the run
BURST=${BURST:-10}           # s, target 1: full-speed burst
ROUNDS=${ROUNDS:-3}          # target 2: rounds of (none, exporter, conntrack -E)
RUN=${RUN:-5}                # s, target 2: generator run
FLOWS=${FLOWS:-1000000}      # targets 3-6: table size
EV_RATE=${EV_RATE:-50000}    # target 3: new flows/s during wrk
WRK_S=${WRK_S:-10}           # target 3: wrk duration
NS_RATE=nfce-evb-rate-$$
NS_FILL=nfce-evb-fill-$$

log() { printf '[evbench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
rec() { printf '%s\t%s\n' "$1" "$2" >>"$OUT/results.tsv"; log "$1 = $2"; }

PIDS=()
ORIG_MAX=
CREATED_NS=()
forget_pid() {
	local p keep=()
	for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}
cleanup() {
	local rc=$? p ns
	set +e
	trap - ERR
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for _ in $(seq 30); do
		local alive=0
		for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[[ $alive == 0 ]] && break
		sleep 0.1
	done
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	for ns in "${CREATED_NS[@]}"; do
		# Whatever is still inside a namespace this script created, this script started.
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
	if [[ -n $ORIG_MAX ]]; then
		sysctl -qw net.netfilter.nf_conntrack_max="$ORIG_MAX"
		log "restored nf_conntrack_max=$(cat /proc/sys/net/netfilter/nf_conntrack_max) (was $ORIG_MAX)"
	fi
	log "namespaces left matching nfce-evb-*-$$: $(ip netns list | grep -c -- "-$$" || true)"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'log "failed at line $LINENO: $BASH_COMMAND"' ERR

# --- helpers ----------------------------------------------------------------------------------

# metric FILE PREFIX [DEFAULT]: sum of the samples whose line starts with PREFIX (DEFAULT, else
# NA, if none: event counters only appear once non-zero)
metric() {
	awk -v k="$2" -v d="${3:-NA}" 'index($0, k) == 1 { s += $NF; f = 1 } END { if (f) printf "%.15g\n", s; else print d }' "$1"
}
scrape() { nsx "$1" curl -sS -m 20 -o "$2" "http://127.0.0.1:$PORT/metrics"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; } # utime+stime, 1/100 s
ctxsw() { awk '/^voluntary_ctxt_switches/ { v = $2 } /^nonvoluntary_ctxt_switches/ { n = $2 } END { print v + n }' "/proc/$1/status"; }
vm() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; } # kB
host_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat; }
nft_new() { nsx "$1" nft list chain inet t out | awk '/ct state new counter/ { for (i = 1; i <= NF; i++) if ($i == "packets") print $(i + 1) }'; }
ct_count() { nsx "$1" conntrack -C; }
kv() { sed -n "s/.*$2=\([^ ]*\).*/\1/p" "$1"; } # flowgen output field

make_ns() {
	local ns=$1
	ip netns add "$ns"
	CREATED_NS+=("$ns")
	nsx "$ns" ip link set lo up
	nsx "$ns" nft add table inet t
	nsx "$ns" nft add chain inet t out '{ type filter hook output priority 0; }'
	nsx "$ns" nft add rule inet t out ct state new counter accept
}

# start_exporter NS TAG: sets EPID; waits for the startup resync
start_exporter() {
	# Not through nsx: a backgrounded function is a subshell, and $! would be its PID.
	ip netns exec "$1" "$EXPORTER" --web.listen-address="127.0.0.1:$PORT" >"$RAW/exporter-$2.log" 2>&1 &
	EPID=$!
	PIDS+=("$EPID")
	check_comm "$EPID" nf_conntrack_ex
	for _ in $(seq 600); do
		if scrape "$1" "$RAW/.probe" 2>/dev/null &&
			[[ $(metric "$RAW/.probe" 'nf_conntrack_resyncs_total{reason="startup"}') == 1 ]]; then
			return 0
		fi
		kill -0 "$EPID" || { log "exporter died: $(tail -3 "$RAW/exporter-$2.log")"; return 1; }
		sleep 0.05
	done
	log "exporter did not finish its startup resync"
	return 1
}
# check_comm PID NAME: ip netns exec has exec'd NAME in PID (so that we signal the real thing)
check_comm() {
	for _ in $(seq 50); do
		[[ $(cat "/proc/$1/comm" 2>/dev/null) == "$2" ]] && return 0
		sleep 0.02
	done
	log "PID $1 is not $2"
	return 1
}
stop_pid() { # stop_pid PID [SIGNAL]
	kill -"${2:-TERM}" "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	forget_pid "$1"
}
# start_ctE NS TAG: conntrack -E with its defaults, lines counted by type; sets CPID
start_ctE() {
	: >"$RAW/ctE-$2.types"
	ip netns exec "$1" conntrack -E > >(awk '{ c[$1]++ } END { for (k in c) print k, c[k] }' >"$RAW/ctE-$2.types") \
		2>"$RAW/ctE-$2.err" &
	CPID=$!
	PIDS+=("$CPID")
	check_comm "$CPID" conntrack
}
stop_ctE() { # stop_ctE TAG
	stop_pid "$CPID" INT
	for _ in $(seq 50); do [[ -s $RAW/ctE-$1.types ]] && break; sleep 0.1; done
}
ctE_lines() { awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }' "$RAW/ctE-$1.types"; }
ctE_enobufs() { grep -c 'hit ENOBUFS' "$RAW/ctE-$1.err" || true; }
ctE_shown() { sed -n 's/.*: \([0-9]*\) flow events have been shown.*/\1/p' "$RAW/ctE-$1.err"; }

# snapshot TAG NS: one scrape and the exporter's /proc figures, as TAG.* records
snapshot() {
	local tag=$1 ns=$2 f=$RAW/metrics-$1.txt
	scrape "$ns" "$f"
	rec "$tag.new" "$(metric "$f" 'nf_conntrack_events_total{type="new"' 0)"
	rec "$tag.update" "$(metric "$f" 'nf_conntrack_events_total{type="update"' 0)"
	rec "$tag.destroy" "$(metric "$f" 'nf_conntrack_events_total{type="destroy"' 0)"
	rec "$tag.overruns" "$(metric "$f" 'nf_conntrack_event_overruns_total')"
	rec "$tag.bad" "$(metric "$f" 'nf_conntrack_event_bad_messages_total')"
	rec "$tag.resync_startup" "$(metric "$f" 'nf_conntrack_resyncs_total{reason="startup"}')"
	rec "$tag.resync_overrun" "$(metric "$f" 'nf_conntrack_resyncs_total{reason="overrun"}')"
	rec "$tag.resync_periodic" "$(metric "$f" 'nf_conntrack_resyncs_total{reason="periodic"}')"
	rec "$tag.resync_duration" "$(metric "$f" 'nf_conntrack_resync_duration_seconds')"
	rec "$tag.live" "$(metric "$f" 'nf_conntrack_state_entries{')"
	rec "$tag.silent" "$(metric "$f" 'nf_conntrack_event_silent_entries')"
	rec "$tag.kernel_entries_metric" "$(metric "$f" 'nf_conntrack_entries ')"
	rec "$tag.cpu_s" "$(metric "$f" 'process_cpu_seconds_total')"
	rec "$tag.rss_bytes" "$(metric "$f" 'process_resident_memory_bytes')"
	rec "$tag.ctxsw" "$(ctxsw "$EPID")"
	rec "$tag.vmrss_kb" "$(vm "$EPID" VmRSS)"
	rec "$tag.vmhwm_kb" "$(vm "$EPID" VmHWM)"
	rec "$tag.conntrack_C" "$(ct_count "$ns")"
	rec "$tag.nft_new" "$(nft_new "$ns")"
	rec "$tag.t" "$(date +%s.%N)"
}

# --- setup ------------------------------------------------------------------------------------

[[ $(id -u) == 0 ]] || { echo "run as root" >&2; exit 1; }
for t in gcc nft conntrack wrk curl python3 /usr/bin/time; do
	command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 1; }
done
if [[ ! -x $EXPORTER ]]; then
	meson setup "$BUILD" "$ROOT" -Dtests=disabled --buildtype=release
	ninja -C "$BUILD"
fi
mkdir -p "$RAW"
rm -f "$RAW"/* "$OUT/results.tsv"
gcc -O2 -Wall -o "$FLOWGEN" "$HERE/flowgen.c"

ORIG_MAX_NOW=$(cat /proc/sys/net/netfilter/nf_conntrack_max)
rec env.date "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
rec env.kernel "$(uname -r)"
rec env.nproc "$(nproc)"
rec env.cpu "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
rec env.loadavg_start "$(cut -d' ' -f1-3 /proc/loadavg)"
rec env.git "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo NA) + $(git -C "$ROOT" status --porcelain 2>/dev/null | wc -l) uncommitted paths"
rec env.exporter_mtime "$(date -u -r "$EXPORTER" '+%Y-%m-%d %H:%M:%S UTC')"
rec env.exporter_version "$("$EXPORTER" --version 2>&1 | head -1)"
rec env.conntrack_version "$(conntrack --version 2>&1 | head -1)"
rec env.wrk_version "$( (wrk -v 2>&1 || true) | head -1 | cut -d' ' -f1-2)"
rec env.nf_conntrack_max_orig "$ORIG_MAX_NOW"
rec env.nf_conntrack_buckets "$(cat /proc/sys/net/netfilter/nf_conntrack_buckets)"
rec env.nf_conntrack_events "$(cat /proc/sys/net/netfilter/nf_conntrack_events)"
rec env.rmem_default "$(cat /proc/sys/net/core/rmem_default)"
rec env.rmem_max "$(cat /proc/sys/net/core/rmem_max)"

ORIG_MAX=$ORIG_MAX_NOW
sysctl -qw net.netfilter.nf_conntrack_max="$CT_MAX"
rec env.nf_conntrack_max_run "$(cat /proc/sys/net/netfilter/nf_conntrack_max)"

make_ns "$NS_RATE"
NEXT=0 # next flow index for flowgen: every run uses fresh tuples

# --- target 1: ingestion, side by side with conntrack -E --------------------------------------

log "target 1: full-speed burst of ${BURST}s, exporter and conntrack -E listening"
nsx "$NS_RATE" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=1
rec t1.udp_timeout "$(nsx "$NS_RATE" cat /proc/sys/net/netfilter/nf_conntrack_udp_timeout)"
start_exporter "$NS_RATE" burst
sleep 2
snapshot t5.empty "$NS_RATE" # target 5's baseline: empty table, after startup and a few scrapes
start_ctE "$NS_RATE" burst
sleep 0.5
read -r HB0 HT0 < <(host_busy)
snapshot t1.s0 "$NS_RATE"
rec t1.ctE_ticks0 "$(ticks "$CPID")"
nsx "$NS_RATE" /usr/bin/time -f '%e %U %S' -o "$RAW/gen-burst.time" \
	"$FLOWGEN" --duration "$BURST" --start "$NEXT" >"$RAW/gen-burst.txt"
snapshot t1.s1 "$NS_RATE"
read -r HB1 HT1 < <(host_busy)
rec t1.gen "$(cat "$RAW/gen-burst.txt")"
rec t1.gen_time "$(cat "$RAW/gen-burst.time")"
rec t1.host_busy_pct "$(awk -v b="$((HB1 - HB0))" -v t="$((HT1 - HT0))" 'BEGIN { printf "%.0f", 200 * b / t }')"
NEXT=$(kv "$RAW/gen-burst.txt" next)
sleep 5 # quiet: let the exporter drain and expiries (1 s) come in
snapshot t1.s2 "$NS_RATE"
rec t1.live_in_hash "$(nsx "$NS_RATE" conntrack -L 2>/dev/null | wc -l)"
rec t1.ctE_ticks1 "$(ticks "$CPID")"
stop_ctE burst
rec t1.ctE_new_lines "$(ctE_lines burst '[NEW]')"
rec t1.ctE_destroy_lines "$(ctE_lines burst '[DESTROY]')"
rec t1.ctE_update_lines "$(ctE_lines burst '[UPDATE]')"
rec t1.ctE_enobufs_warnings "$(ctE_enobufs burst)"
rec t1.ctE_shown "$(ctE_shown burst)"
sleep 3
snapshot t1.s3 "$NS_RATE" # conntrack -E gone
stop_pid "$EPID"
rec t1.exporter_log_warn_error "$(grep -cE 'level=(warn|error)' "$RAW/exporter-burst.log" || true)"

# --- target 2: the listener's cost to the host ------------------------------------------------

log "target 2: $ROUNDS rounds of ${RUN}s full-speed runs: none / exporter / conntrack -E"
nsx "$NS_RATE" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=600
rec t2.udp_timeout "$(nsx "$NS_RATE" cat /proc/sys/net/netfilter/nf_conntrack_udp_timeout)"
CONFIGS=(none exporter ctE)
for r in $(seq "$ROUNDS"); do
	for k in 0 1 2; do
		cfg=${CONFIGS[$(((k + r - 1) % 3))]}
		tag=t2.r$r.$cfg
		nsx "$NS_RATE" conntrack -F 2>/dev/null || true # nobody listens now: no events
		sleep 0.5
		case $cfg in
		exporter) start_exporter "$NS_RATE" "t2-r$r"; scrape "$NS_RATE" "$RAW/metrics-$tag-0.txt" ;;
		ctE) start_ctE "$NS_RATE" "t2-r$r" ;;
		esac
		n0=$(nft_new "$NS_RATE")
		read -r HB0 HT0 < <(host_busy)
		nsx "$NS_RATE" "$FLOWGEN" --duration "$RUN" --start "$NEXT" >"$RAW/gen-$tag.txt"
		read -r HB1 HT1 < <(host_busy)
		n1=$(nft_new "$NS_RATE")
		NEXT=$(kv "$RAW/gen-$tag.txt" next)
		rec "$tag.rate" "$(kv "$RAW/gen-$tag.txt" rate)"
		rec "$tag.kernel_new" "$((n1 - n0))"
		rec "$tag.elapsed" "$(kv "$RAW/gen-$tag.txt" elapsed)"
		rec "$tag.host_busy_pct" "$(awk -v b="$((HB1 - HB0))" -v t="$((HT1 - HT0))" 'BEGIN { printf "%.0f", 200 * b / t }')"
		rec "$tag.conntrack_C" "$(ct_count "$NS_RATE")"
		case $cfg in
		exporter)
			sleep 0.5
			scrape "$NS_RATE" "$RAW/metrics-$tag-1.txt"
			rec "$tag.overruns" "$(metric "$RAW/metrics-$tag-1.txt" nf_conntrack_event_overruns_total)"
			rec "$tag.events" "$(awk -v a="$(metric "$RAW/metrics-$tag-0.txt" 'nf_conntrack_events_total{' 0)" \
				-v b="$(metric "$RAW/metrics-$tag-1.txt" 'nf_conntrack_events_total{' 0)" 'BEGIN { print b - a }')"
			stop_pid "$EPID"
			;;
		ctE)
			stop_ctE "t2-r$r"
			rec "$tag.ctE_lines" "$(ctE_shown "t2-r$r")"
			rec "$tag.ctE_enobufs_warnings" "$(ctE_enobufs "t2-r$r")"
			;;
		esac
	done
done
nsx "$NS_RATE" conntrack -F 2>/dev/null || true
ip netns del "$NS_RATE"

# --- targets 3-6: a table of FLOWS entries ----------------------------------------------------

log "targets 3-6: filling a table of $FLOWS entries"
make_ns "$NS_FILL"
nsx "$NS_FILL" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=600
rec fill.udp_timeout "$(nsx "$NS_FILL" cat /proc/sys/net/netfilter/nf_conntrack_udp_timeout)"
nsx "$NS_FILL" "$FLOWGEN" --count "$FLOWS" --start "$NEXT" >"$RAW/gen-fill.txt"
NEXT=$(kv "$RAW/gen-fill.txt" next)
rec fill.gen "$(cat "$RAW/gen-fill.txt")"
rec fill.conntrack_C "$(ct_count "$NS_FILL")"

log "target 4: startup on the full table"
T0=$(date +%s.%N)
ip netns exec "$NS_FILL" "$EXPORTER" --web.listen-address="127.0.0.1:$PORT" >"$RAW/exporter-full.log" 2>&1 &
EPID=$!
PIDS+=("$EPID")
check_comm "$EPID" nf_conntrack_ex
T_HTTP=
T_SYNC=
for _ in $(seq 1200); do # poll every 50 ms, up to a minute
	if scrape "$NS_FILL" "$RAW/.probe" 2>/dev/null; then
		now=$(date +%s.%N)
		[[ -n $T_HTTP ]] || T_HTTP=$now
		if [[ $(metric "$RAW/.probe" 'nf_conntrack_resyncs_total{reason="startup"}') == 1 ]]; then
			T_SYNC=$now
			break
		fi
	fi
	kill -0 "$EPID"
	sleep 0.05
done
[[ -n $T_SYNC ]] || { log "no startup resync within a minute"; exit 1; }
rec t4.first_http_s "$(awk -v a="$T0" -v b="$T_HTTP" 'BEGIN { printf "%.3f", b - a }')"
rec t4.startup_s "$(awk -v a="$T0" -v b="$T_SYNC" 'BEGIN { printf "%.3f", b - a }')"
snapshot t4.synced "$NS_FILL"

log "target 5: memory at $FLOWS live flows"
sleep 2
snapshot t5.full "$NS_FILL"

log "target 6: conntrack -L | awk vs a scrape"
for i in 1 2 3 4 5; do
	nsx "$NS_FILL" curl -sS -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$PORT/metrics" >>"$RAW/t6-curl.txt"
done
rec t6.curl_s "$(sort -n "$RAW/t6-curl.txt" | tr '\n' ' ')"
for i in 1 2; do
	/usr/bin/time -f '%e %U %S' -o "$RAW/t6-ctL-$i.time" sh -c \
		"ip netns exec $NS_FILL conntrack -L 2>/dev/null | awk '{ if (\$1 == \"tcp\") s = \$4; else if (/\\[ASSURED\\]/) s = \"ASSURED\"; else if (/\\[UNREPLIED\\]/) s = \"UNREPLIED\"; else s = \"REPLIED\"; c[\$1 \" \" s]++ } END { for (k in c) print k, c[k] }'" \
		>"$RAW/t6-ctL-$i.txt"
	rec "t6.ctL_$i.time_e_u_s" "$(cat "$RAW/t6-ctL-$i.time")"
	rec "t6.ctL_$i.counts" "$(tr '\n' ';' <"$RAW/t6-ctL-$i.txt")"
done

log "target 3: wrk at $FLOWS entries, quiet, then with $EV_RATE new flows/s"
snapshot t3.quiet0 "$NS_FILL"
c0=$(ticks "$EPID")
nsx "$NS_FILL" wrk -t1 -c1 -d"${WRK_S}s" --latency "http://127.0.0.1:$PORT/metrics" >"$RAW/wrk-quiet.txt"
c1=$(ticks "$EPID")
rec t3.quiet.exporter_ticks "$((c1 - c0))"
snapshot t3.quiet1 "$NS_FILL"
rec t3.quiet.conntrack_C "$(ct_count "$NS_FILL")"
# New flows from now on expire after 1 s (the FLOWS entries keep their 600 s).
nsx "$NS_FILL" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=1
ip netns exec "$NS_FILL" "$FLOWGEN" --rate "$EV_RATE" --duration "$((WRK_S + 5))" --start "$NEXT" >"$RAW/gen-load.txt" &
GPID=$!
PIDS+=("$GPID")
check_comm "$GPID" "$(basename "$FLOWGEN" | cut -c1-15)"
sleep 2
snapshot t3.load0 "$NS_FILL"
read -r HB0 HT0 < <(host_busy)
nsx "$NS_FILL" wrk -t1 -c1 -d"${WRK_S}s" --latency "http://127.0.0.1:$PORT/metrics" >"$RAW/wrk-load.txt"
read -r HB1 HT1 < <(host_busy)
snapshot t3.load1 "$NS_FILL"
rec t3.load.host_busy_pct "$(awk -v b="$((HB1 - HB0))" -v t="$((HT1 - HT0))" 'BEGIN { printf "%.0f", 200 * b / t }')"
wait "$GPID" || true
forget_pid "$GPID"
NEXT=$(kv "$RAW/gen-load.txt" next)
rec t3.gen "$(cat "$RAW/gen-load.txt")"
sleep 4
snapshot t3.after "$NS_FILL"
rec t3.after.live_in_hash "$(nsx "$NS_FILL" conntrack -L 2>/dev/null | wc -l)"
snapshot t3.after2 "$NS_FILL"
stop_pid "$EPID"
rec t3.exporter_log_warn_error "$(grep -cE 'level=(warn|error)' "$RAW/exporter-full.log" || true)"
rec env.loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"

log "summary"
python3 "$HERE/summarize.py" "$OUT" | tee "$OUT/summary.md"
