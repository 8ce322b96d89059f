#!/usr/bin/env bash
# Cost of attribution (issue 13): the events collector's CPU per event before and after, and
# memory and scrape time under a storm of distinct source addresses. Old and new binaries run
# side by side in the same rounds. Everything runs in network namespaces created here; all
# traffic is on their loopback (127.0.0.0/8).
#
#   bench/attrib/run.sh rate    # OLD alone at each of RATES new flows/s: where do overruns start?
#                               # (RATE_CONFIGS="old old_nat": plain, then NAT'ed flows)
#   bench/attrib/run.sh cpu     # ROUNDS rounds of CONFIGS at RATE: CPU per event of each
#   bench/attrib/run.sh storm   # 200,000 sources + 1 heavy vs 100 sources + 1 heavy: RSS, scrape
#   bench/attrib/run.sh ir      # each of CONFIGS under callgrind, IR_COUNT flows at IR_RATE, then
#                               # the same deleted: user-space instructions per NEW and per DESTROY
#                               # event, which the machine's load leaves alone
#
# Environment: OLD, NEW (exporter binaries), OUT (results folder), and the knobs below.
# Needs root, gcc, nft, conntrack, curl, taskset. Results: $OUT/<mode>.tsv (key, value) and
# $OUT/<mode>/ (every scrape body, generator output and exporter log).
#
# Changes to the host, undone by the EXIT trap: the namespaces (with their own UDP timeout) are
# deleted and every process started here is killed by its PID. nf_conntrack_max is not touched:
# the storm peaks at 210,000 entries, a FLOWS=count run at COUNT (200,000), both under the usual
# 262,144; FLOWS=steady relies on the 1 s UDP timeout and the kernel's GC keeping up (under load
# it may not: the generator then counts errors, the table being full).
set -eEuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
MODE=${1:?usage: run.sh rate|cpu|storm}
OLD=${OLD:-/tmp/i13-base/exporter/nf_conntrack_exporter}
NEW=${NEW:-/tmp/i13-new-build/exporter/nf_conntrack_exporter}
OUT=${OUT:-$ROOT/bench/results/raw/issue13}
RAW=$OUT/$MODE
BIN=${BIN:-/tmp/i13-bench-bin}
PORT=${PORT:-39951}             # first exporter port, on 127.0.0.1 inside the namespaces
FLOWS=${FLOWS:-count}           # count: COUNT new flows that outlive the run (NEW events only,
                                # UDP timeout 600 s); steady: RUN s of flows that expire after 1 s
                                # (NEW and DESTROY, the kernel's GC paces the DESTROYs)
COUNT=${COUNT:-200000}          # new flows per run (FLOWS=count), under nf_conntrack_max
RUN=${RUN:-10}                  # s, generator run (FLOWS=steady)
SETTLE=${SETTLE:-}              # s after the generator, before the last reading (default 1 / 3)
RATES=${RATES:-"60000 80000 100000 120000 140000 0"} # rate mode; 0 = as fast as one core can
RATE=${RATE:-60000}             # cpu mode: new flows/s of the plain configs
NAT_RATE=${NAT_RATE:-40000}     # cpu mode: new flows/s of the *_nat configs (NAT costs the sender)
ROUNDS=${ROUNDS:-5}             # cpu mode
CONFIGS=${CONFIGS:-"old new new_noattr old_nat new_nat"}
GEN_CPU=${GEN_CPU:-0}           # generator's CPU
EXP_CPU=${EXP_CPU:-1}           # exporter's CPU
STORM_SOURCES=${STORM_SOURCES:-200000}
FEW_SOURCES=${FEW_SOURCES:-100}
HEAVY=${HEAVY:-10000}           # entries of the one heavy source (127.9.9.9), both cases
STORM_RATE=${STORM_RATE:-40000} # packets/s of the storm generator
SCRAPES=${SCRAPES:-30}          # timed scrapes per exporter (storm)
IR_COUNT=${IR_COUNT:-30000}     # ir mode: new flows per config
IR_RATE=${IR_RATE:-3000}        # ir mode: new flows/s (callgrind runs the exporter ~50x slower)
IR_DRAIN=${IR_DRAIN:-20}        # ir mode: s for callgrind to read phase 2's DESTROYs
TAG=$$

log() { printf '[attrib %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
rec() { printf '%s\t%s\n' "$1" "$2" >>"$OUT/$MODE.tsv"; log "$1 = $2"; }

PIDS=()
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
	sleep 0.5
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	for ns in "${CREATED_NS[@]}"; do
		# Whatever is still inside a namespace this script created, this script started.
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
	log "namespaces left matching nfce-i13-*-$TAG: $(ip netns list | grep -c -- "nfce-i13-.*-$TAG" || true)"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'log "failed at line $LINENO: $BASH_COMMAND"' ERR

# metric FILE PREFIX [DEFAULT]: sum of the samples whose line starts with PREFIX
metric() {
	awk -v k="$2" -v d="${3:-NA}" 'index($0, k) == 1 { s += $NF; f = 1 } END { if (f) printf "%.15g\n", s; else print d }' "$1"
}
scrape() { nsx "$1" curl -sS -m 20 -o "$3" "http://127.0.0.1:$2/metrics"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; } # utime+stime of all threads, 1/100 s
run_ns() { cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f\n", s }'; }
vm() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; } # kB
kv() { sed -n "s/.*$2=\([^ ]*\).*/\1/p" "$1"; }
events() { metric "$1" 'nf_conntrack_events_total{' 0; }

# make_ns NAME [nat]: loopback up, conntrack on (a ct rule), UDP timeout UDP_TIMEOUT; with nat, every
# generated flow is DNAT'ed to 127.0.0.3 and SNAT'ed to 127.0.0.2 with a random source port
# (without "random" every SNAT walks the kernel's by-source chain of all the entries that share
# flowgen's one source port, and the generator slows down as the table grows).
make_ns() {
	local ns=$1
	ip netns add "$ns"
	CREATED_NS+=("$ns")
	nsx "$ns" ip link set lo up
	nsx "$ns" nft -f - <<-'EOF'
		table inet t {
			chain out { type filter hook output priority 0; ct state new counter accept; }
			chain in { type filter hook input priority 0; udp dport 9 drop; }
		}
	EOF
	if [[ ${2:-} == nat ]]; then
		# flowgen's destinations are 127.1.0.0/16; the exporter's own TCP stays untouched.
		nsx "$ns" nft -f - <<-'EOF'
			table ip nat {
				chain out { type nat hook output priority -100; ip daddr 127.1.0.0/16 meta l4proto udp dnat to 127.0.0.3; }
				chain post { type nat hook postrouting priority 100; ip daddr 127.0.0.3 meta l4proto udp snat to 127.0.0.2 random; }
			}
		EOF
	fi
	nsx "$ns" sysctl -qw net.netfilter.nf_conntrack_udp_timeout="$UDP_TIMEOUT"
}

check_comm() {
	for _ in $(seq 100); do
		[[ $(cat "/proc/$1/comm" 2>/dev/null) == "$2" ]] && return 0
		sleep 0.02
	done
	log "PID $1 is not $2"
	return 1
}
# start_exporter NS PORT LOG BINARY [ARGS...]: sets EPID; waits for the startup resync. Pinned to
# EXP_CPU (cpu and rate modes) so that its CPU figures are not shared with the generator's core.
start_exporter() {
	local ns=$1 port=$2 logf=$3 bin=$4 pin=()
	shift 4
	local comm=nf_conntrack_ex
	[[ $MODE == storm || $MODE == ir ]] || pin=(taskset -c "$EXP_CPU")
	[[ $bin != valgrind ]] || comm=callgrind-amd64
	# Not through nsx: a backgrounded function is a subshell, and $! would be its PID.
	"${pin[@]}" ip netns exec "$ns" "$bin" "$@" --web.listen-address="127.0.0.1:$port" >"$logf" 2>&1 &
	EPID=$!
	PIDS+=("$EPID")
	check_comm "$EPID" "$comm"
	for _ in $(seq 1200); do
		if scrape "$ns" "$port" "$RAW/.probe" 2>/dev/null &&
			[[ $(metric "$RAW/.probe" 'nf_conntrack_resyncs_total{reason="startup"}') == 1 ]]; then
			return 0
		fi
		kill -0 "$EPID" || { log "exporter died: $(tail -3 "$logf")"; return 1; }
		sleep 0.05
	done
	log "exporter did not finish its startup resync"
	return 1
}
stop_pid() {
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	forget_pid "$1"
}

# binary and arguments of a config name
config_cmd() {
	case $1 in
	old | old_nat) CMD=("$OLD") ;;
	new | new_nat) CMD=("$NEW") ;;
	new_noattr) CMD=("$NEW" --no-collector.attribution) ;;
	new_k100) CMD=("$NEW" --collector.attribution.top-k=100) ;;
	new_m8192) CMD=("$NEW" --collector.attribution.sketch-size=8192) ;;
	*) log "unknown config $1"; return 1 ;;
	esac
}

# one_run NS CONFIG RATE TAG: fresh table, fresh exporter, generator for RUN s, settle; records
# TAG.* (events, CPU ticks and ns, overruns, generator rate)
NEXT=0
one_run() {
	local ns=$1 cfg=$2 rate=$3 tag=$4 m0 m1 t0 t1 n0 n1 e
	config_cmd "$cfg"
	nsx "$ns" conntrack -F 2>/dev/null || true # nobody listens now: no events
	sleep 0.3
	start_exporter "$ns" "$PORT" "$RAW/exporter-$tag.log" "${CMD[@]}"
	sleep 0.5
	m0=$RAW/metrics-$tag-0.txt m1=$RAW/metrics-$tag-1.txt
	scrape "$ns" "$PORT" "$m0"
	t0=$(ticks "$EPID") n0=$(run_ns "$EPID")
	if [[ $FLOWS == count ]]; then
		taskset -c "$GEN_CPU" ip netns exec "$ns" "$BIN/flowgen" --rate "$rate" --count "$COUNT" \
			--start "$NEXT" >"$RAW/gen-$tag.txt"
	else
		taskset -c "$GEN_CPU" ip netns exec "$ns" "$BIN/flowgen" --rate "$rate" --duration "$RUN" \
			--start "$NEXT" >"$RAW/gen-$tag.txt"
	fi
	sleep "$SETTLE"
	t1=$(ticks "$EPID") n1=$(run_ns "$EPID")
	scrape "$ns" "$PORT" "$m1"
	NEXT=$(kv "$RAW/gen-$tag.txt" next)
	e=$(awk -v a="$(events "$m0")" -v b="$(events "$m1")" 'BEGIN { print b - a }')
	rec "$tag.gen" "$(cat "$RAW/gen-$tag.txt")"
	# Another test lowering the global nf_conntrack_max meanwhile shows as generator errors.
	rec "$tag.ct_max" "$(cat /proc/sys/net/netfilter/nf_conntrack_max)"
	rec "$tag.events" "$e"
	rec "$tag.new" "$(awk -v a="$(metric "$m0" 'nf_conntrack_events_total{type="new"' 0)" \
		-v b="$(metric "$m1" 'nf_conntrack_events_total{type="new"' 0)" 'BEGIN { print b - a }')"
	rec "$tag.ticks" "$((t1 - t0))"
	rec "$tag.cpu_ns" "$((n1 - n0))"
	rec "$tag.us_per_event_stat" "$(awk -v t="$((t1 - t0))" -v e="$e" 'BEGIN { printf "%.4f", e ? t * 1e4 / e : 0 }')"
	rec "$tag.us_per_event_ns" "$(awk -v t="$((n1 - n0))" -v e="$e" 'BEGIN { printf "%.4f", e ? t / 1e3 / e : 0 }')"
	rec "$tag.overruns" "$(metric "$m1" nf_conntrack_event_overruns_total 0)"
	rec "$tag.resync_overrun" "$(metric "$m1" 'nf_conntrack_resyncs_total{reason="overrun"}' 0)"
	rec "$tag.top_families" "$(grep -c '^nf_conntrack_\(top_\|snat_\|unreplied_\|attribution_\)' "$m1" || true)"
	stop_pid "$EPID"
}

case $FLOWS in
count) UDP_TIMEOUT=600 SETTLE=${SETTLE:-1} ;;
steady) UDP_TIMEOUT=1 SETTLE=${SETTLE:-3} ;;
*) echo "FLOWS=count|steady" >&2; exit 2 ;;
esac
[[ $MODE != storm ]] || UDP_TIMEOUT=600

[[ $(id -u) == 0 ]] || { echo "run as root" >&2; exit 1; }
for t in gcc nft conntrack curl taskset; do
	command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 1; }
done
mkdir -p "$RAW" "$BIN"
rm -f "$RAW"/* "$OUT/$MODE.tsv"
gcc -O2 -Wall -o "$BIN/flowgen" "$ROOT/bench/events/flowgen.c"
gcc -O2 -Wall -Wextra -o "$BIN/srcgen" "$HERE/srcgen.c"

rec env.date "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
rec env.kernel "$(uname -r)"
rec env.nproc "$(nproc)"
rec env.cpu "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
rec env.loadavg_start "$(cut -d' ' -f1-3 /proc/loadavg)"
rec env.git "$(git -C "$ROOT" rev-parse --short HEAD)"
for b in OLD NEW; do
	rec "env.$b" "${!b} built $(date -u -r "${!b}" '+%H:%M:%S UTC'), $("${!b}" --version 2>&1 | head -1)"
done
# SOURCE_COMMIT: written beside the build by whoever built it (see docs/benchmarks.md)
rec env.new_src "$(cat "$(dirname "$NEW")/../SOURCE_COMMIT" 2>/dev/null || echo NA)"
rec env.old_src "$(git -C "$(dirname "$OLD")/.." log -1 --format=%h 2>/dev/null ||
	git -C /tmp/i13-base-src log -1 --format=%h 2>/dev/null || echo NA)"
rec env.nf_conntrack_max "$(cat /proc/sys/net/netfilter/nf_conntrack_max)"
rec env.nf_conntrack_events "$(cat /proc/sys/net/netfilter/nf_conntrack_events)"
rec env.flows "FLOWS=$FLOWS COUNT=$COUNT RUN=$RUN SETTLE=$SETTLE UDP_TIMEOUT=$UDP_TIMEOUT"

case $MODE in
rate)
	# The old binary alone at rising rates: the highest with 0 overruns is the rate of cpu mode.
	# RATE_CONFIGS="old old_nat": the same for NAT'ed flows.
	make_ns "nfce-i13-plain-$TAG"
	[[ ${RATE_CONFIGS:-old} != *_nat* ]] || make_ns "nfce-i13-nat-$TAG" nat
	for cfg in ${RATE_CONFIGS:-old}; do
		ns=nfce-i13-plain-$TAG
		[[ $cfg == *_nat ]] && ns=nfce-i13-nat-$TAG
		for r in $RATES; do
			one_run "$ns" "$cfg" "$r" "rate$r.$cfg"
		done
	done
	;;
cpu)
	make_ns "nfce-i13-plain-$TAG"
	make_ns "nfce-i13-nat-$TAG" nat
	read -r -a cfgs <<<"$CONFIGS"
	rec cpu.rate "$RATE"
	rec cpu.nat_rate "$NAT_RATE"
	for r in $(seq "$ROUNDS"); do
		for k in $(seq 0 $((${#cfgs[@]} - 1))); do
			# Rotate the order each round so that no config always runs first or last.
			cfg=${cfgs[$(((k + r - 1) % ${#cfgs[@]}))]}
			ns=nfce-i13-plain-$TAG rate=$RATE
			[[ $cfg == *_nat ]] && ns=nfce-i13-nat-$TAG rate=$NAT_RATE
			one_run "$ns" "$cfg" "$rate" "r$r.$cfg"
		done
	done
	;;
storm)
	# Three exporters listen side by side (old, new, new without attribution) while the table
	# fills; then two more start on the full table (their startup dump). Memory from
	# /proc/PID/status, scrape time from curl's time_total, median of SCRAPES.
	read -r -a EXP_NAMES <<<"${STORM_CONFIGS:-old new new_noattr}"
	read -r -a DUMP_NAMES <<<"${DUMP_CONFIGS:-old new}"
	storm_case() { # storm_case CASE SOURCES PER_SOURCE FIRST
		local c=$1 ns=nfce-i13-$1-$TAG i p name f
		local -A pid=()
		make_ns "$ns"
		i=0
		for name in "${EXP_NAMES[@]}"; do
			config_cmd "$name"
			start_exporter "$ns" $((PORT + i)) "$RAW/exporter-$c-$name.log" "${CMD[@]}"
			pid[$name]=$EPID
			i=$((i + 1))
		done
		for name in "${EXP_NAMES[@]}"; do
			rec "$c.$name.empty.vmrss_kb" "$(vm "${pid[$name]}" VmRSS)"
			rec "$c.$name.empty.vmhwm_kb" "$(vm "${pid[$name]}" VmHWM)"
		done
		nsx "$ns" "$BIN/srcgen" --first "$4" --sources "$2" --per-source "$3" --rate "$STORM_RATE" \
			>"$RAW/gen-$c.txt"
		nsx "$ns" "$BIN/srcgen" --first 127.9.9.9 --sources 1 --per-source "$HEAVY" --rate "$STORM_RATE" \
			>"$RAW/gen-$c-heavy.txt"
		rec "$c.gen" "$(cat "$RAW/gen-$c.txt")"
		rec "$c.gen_heavy" "$(cat "$RAW/gen-$c-heavy.txt")"
		sleep 3
		rec "$c.conntrack_C" "$(nsx "$ns" conntrack -C)"
		rec "$c.distinct_sources" "$(nsx "$ns" conntrack -L -p udp 2>/dev/null | awk '{ print $4 }' | sort -u | wc -l)"
		# The two startup-dump instances: they never saw an event of the storm.
		for name in "${DUMP_NAMES[@]}"; do
			config_cmd "$name"
			start_exporter "$ns" $((PORT + i)) "$RAW/exporter-$c-$name-dump.log" "${CMD[@]}"
			pid[$name-dump]=$EPID
			i=$((i + 1))
		done
		sleep 1
		i=0
		for name in "${EXP_NAMES[@]}" "${DUMP_NAMES[@]/%/-dump}"; do
			p=${pid[$name]}
			f=$RAW/metrics-$c-$name.txt
			scrape "$ns" $((PORT + i)) "$f"
			rec "$c.$name.vmrss_kb" "$(vm "$p" VmRSS)"
			rec "$c.$name.vmhwm_kb" "$(vm "$p" VmHWM)"
			rec "$c.$name.live" "$(metric "$f" 'nf_conntrack_state_entries{')"
			rec "$c.$name.overruns" "$(metric "$f" nf_conntrack_event_overruns_total 0)"
			rec "$c.$name.body_bytes" "$(wc -c <"$f")"
			rec "$c.$name.series" "$(grep -vc '^#' "$f")"
			rec "$c.$name.attrib_series" "$(grep -c '^nf_conntrack_\(top_\|snat_\|unreplied_\|attribution_\)' "$f" || true)"
			rec "$c.$name.top_source" "$(awk '/^nf_conntrack_top_source_entries/' "$f" | sort -k2 -rn | head -3 | paste -sd';')"
			rec "$c.$name.error_source" "$(metric "$f" 'nf_conntrack_attribution_error_entries{family="source"')"
			for _ in $(seq "$SCRAPES"); do
				nsx "$ns" curl -sS -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$((PORT + i))/metrics"
			done >"$RAW/scrape-$c-$name.txt"
			rec "$c.$name.scrape_ms_median" "$(sort -n "$RAW/scrape-$c-$name.txt" |
				awk '{ a[NR] = $1 } END { printf "%.3f", 1000 * (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }')"
			rec "$c.$name.cpu_ticks" "$(ticks "$p")"
			i=$((i + 1))
		done
		for name in "${EXP_NAMES[@]}" "${DUMP_NAMES[@]/%/-dump}"; do stop_pid "${pid[$name]}"; done
		ip netns del "$ns"
	}
	storm_case storm "$STORM_SOURCES" 1 127.16.0.1
	storm_case few "$FEW_SOURCES" $((STORM_SOURCES / FEW_SOURCES)) 127.32.0.1
	;;
ir)
	# callgrind counts the exporter's own instructions (not the kernel's): zeroed after the
	# startup resync and the first scrape, dumped after the flows, divided by the events.
	command -v callgrind_control >/dev/null || { echo "missing valgrind" >&2; exit 1; }
	make_ns "nfce-i13-plain-$TAG"
	make_ns "nfce-i13-nat-$TAG" nat
	for cfg in $CONFIGS; do
		config_cmd "$cfg"
		ns=nfce-i13-plain-$TAG
		[[ $cfg == *_nat ]] && ns=nfce-i13-nat-$TAG
		nsx "$ns" conntrack -F 2>/dev/null || true
		rm -f "$RAW/callgrind.$cfg".*
		# A buffer for all of phase 2's DESTROYs at once: the kernel deletes faster than callgrind reads.
		start_exporter "$ns" "$PORT" "$RAW/exporter-$cfg.log" valgrind --tool=callgrind \
			--callgrind-out-file="$RAW/callgrind.$cfg.%p" "${CMD[@]}" --collector.events.buffer-size=256MiB
		m0=$RAW/metrics-$cfg-0.txt m1=$RAW/metrics-$cfg-1.txt
		scrape "$ns" "$PORT" "$m0"
		callgrind_control -z "$EPID" >/dev/null
		nsx "$ns" "$BIN/flowgen" --rate "$IR_RATE" --count "$IR_COUNT" --start "$NEXT" >"$RAW/gen-$cfg.txt"
		NEXT=$(kv "$RAW/gen-$cfg.txt" next)
		sleep "$SETTLE" # FLOWS=steady: the DESTROYs of the last second's flows come in
		callgrind_control -d "$EPID" >/dev/null
		scrape "$ns" "$PORT" "$m1"
		# Phase 2: the same entries deleted (conntrack -D), DESTROY events only.
		callgrind_control -z "$EPID" >/dev/null
		nsx "$ns" conntrack -D -p udp >/dev/null 2>&1 || true
		sleep "$IR_DRAIN"
		callgrind_control -d "$EPID" >/dev/null
		m2=$RAW/metrics-$cfg-2.txt
		scrape "$ns" "$PORT" "$m2"
		stop_pid "$EPID"
		dump=$(ls "$RAW/callgrind.$cfg".*.1)
		ir=$(awk '$1 == "totals:" { print $2 }' "$dump")
		e=$(awk -v a="$(events "$m0")" -v b="$(events "$m1")" 'BEGIN { print b - a }')
		rec "ir.$cfg.gen" "$(cat "$RAW/gen-$cfg.txt")"
		rec "ir.$cfg.ct_max" "$(cat /proc/sys/net/netfilter/nf_conntrack_max)"
		rec "ir.$cfg.events" "$e"
		rec "ir.$cfg.overruns" "$(metric "$m1" nf_conntrack_event_overruns_total 0)"
		rec "ir.$cfg.ir" "$ir"
		rec "ir.$cfg.ir_per_event" "$(awk -v i="$ir" -v e="$e" 'BEGIN { printf "%.0f", i / e }')"
		dump2=$(ls "$RAW/callgrind.$cfg".*.2)
		ir=$(awk '$1 == "totals:" { print $2 }' "$dump2")
		e=$(awk -v a="$(events "$m1")" -v b="$(events "$m2")" 'BEGIN { print b - a }')
		rec "ir.$cfg.destroy_events" "$e"
		rec "ir.$cfg.destroy_overruns" "$(metric "$m2" nf_conntrack_event_overruns_total 0)"
		rec "ir.$cfg.destroy_ir" "$ir"
		rec "ir.$cfg.destroy_ir_per_event" "$(awk -v i="$ir" -v e="$e" 'BEGIN { printf "%.0f", i / e }')"
		callgrind_annotate --threshold=99 "$dump" 2>/dev/null | sed -n '/file:function/,$p' | head -40 \
			>"$RAW/annotate-$cfg.txt"
	done
	;;
*)
	echo "usage: run.sh rate|cpu|storm|ir" >&2
	exit 2
	;;
esac
rec env.loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"
