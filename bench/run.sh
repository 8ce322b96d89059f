#!/usr/bin/env bash
# Benchmark nf_conntrack_exporter against Debian's prometheus-node-exporter conntrack collector,
# side by side in the same rotating rounds: /metrics latency in two modes, response size, CPU per
# 1000 scrapes and resident memory, at an empty conntrack table and at a table filled with FLOWS
# UDP entries, all inside a private network namespace (loopback traffic only). Needs root, cc,
# wrk, nft, conntrack, curl, python3 and prometheus-node-exporter
# (./scripts/deps.sh prometheus-node-exporter wrk nftables conntrack).
#
# Usage: bench/run.sh            (environment overrides below; results go to $OUT)
#   e.g. OURS=/tmp/build/exporter/nf_conntrack_exporter OUT=/tmp/bench-run bench/run.sh
#        DURATION=2 ROUNDS=1 FLOWS=2000 OUT=/tmp/bench-smoke bench/run.sh     (a smoke test)
#
# Targets: ours (default collectors, :39901), ours_like (table + stat only, :39902), node
# (node_exporter --collector.disable-defaults --collector.conntrack, :9100).
# Modes (MODES, default "keepalive fresh"), each target in each mode once per round:
#   keepalive  wrk -t1 -c1 (bench/report.lua): one connection for the whole run, as Prometheus
#   fresh      bench/fresh.c: a new TCP connection per scrape (connect, GET, read all, close), as
#              curl does; its latency includes the handshake, the accept and the close
# The client's connections per run are counted (TcpActiveOpens of the bench namespace) and shown
# in the summary, to check that "fresh" opens one per scrape and "keepalive" one per run. The
# scrape connections are not tracked by conntrack (notrack rules for the exporters' ports), so
# the fresh mode does not fill the table it measures; TRACK_SCRAPES=1 tracks them.
# $OUT/summary.md: per phase and mode, p50/p99 of each target, ours ÷ node (target ≤ 0.5×, marked
# met/missed), CPU per 1000 scrapes, RSS.
#
# OURS_OLD=path (optional): a second build of nf_conntrack_exporter, e.g. the one before a change,
# run as two more targets, ours_old and ours_like_old (same flags as ours and ours_like, ports
# 39903 and 39904), in the same rotating rounds; summary.md then also has ours ÷ ours_old, and
# $OUT/compare.md has old vs new side by side. Unset: those targets are not run.
set -euo pipefail

NS=${NS:-nfce-bench}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=${BUILD:-/tmp/bench-build}
OURS=${OURS:-$BUILD/exporter/nf_conntrack_exporter}
NODE=${NODE:-/usr/bin/prometheus-node-exporter}
FLOWS=${FLOWS:-100000}          # UDP flows for the "full" phase
DURATION=${DURATION:-10}        # seconds per run (one target, one mode)
ROUNDS=${ROUNDS:-3}             # rounds per phase; each round runs every target once, rotating
UDP_TIMEOUT=${UDP_TIMEOUT:-600} # nf_conntrack_udp_timeout inside $NS only (per-netns sysctl)
OUT=${OUT:-$HERE/results}
OURS_OLD=${OURS_OLD:-}
read -r -a MODES <<<"${MODES:-keepalive fresh}"
TRACK_SCRAPES=${TRACK_SCRAPES:-0} # 1: let conntrack track the scrape connections

# ours: default collectors; ours_like: table+stat only; node: node_exporter conntrack only
TARGETS=(ours ours_like node)
declare -A PORT=([ours]=39901 [ours_like]=39902 [node]=9100 [ours_old]=39903 [ours_like_old]=39904)
[[ -n $OURS_OLD ]] && TARGETS=(ours ours_old ours_like ours_like_old node)
declare -A PID=()

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
nsx() { ip netns exec "$NS" "$@"; }

STARTED_NS=0
TMPD=$(mktemp -d /tmp/nfce-bench.XXXXXX)
cleanup() {
	local rc=$? p alive
	set +e
	rm -rf "$TMPD"
	for p in "${PID[@]}"; do
		kill "$p" 2>/dev/null
	done
	for _ in $(seq 50); do # up to 5 s for a graceful exit
		alive=0
		for p in "${PID[@]}"; do
			kill -0 "$p" 2>/dev/null && alive=1
		done
		[[ $alive == 0 ]] && break
		sleep 0.1
	done
	for p in "${PID[@]}"; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [[ $STARTED_NS == 1 ]]; then
		# Anything still inside the namespace was started by this script.
		for p in $(ip netns pids "$NS" 2>/dev/null); do
			kill "$p" 2>/dev/null
		done
		sleep 0.2
		for p in $(ip netns pids "$NS" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
		ip netns del "$NS" 2>/dev/null
	fi
	log "cleaned up (exit $rc)"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[[ $EUID -eq 0 ]] || { echo "run as root" >&2; exit 1; }
for m in "${MODES[@]}"; do
	[[ $m == keepalive || $m == fresh ]] || { echo "unknown mode $m in MODES" >&2; exit 1; }
done
for t in cc wrk nft conntrack curl python3 ip; do
	command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 1; }
done
[[ -z $OURS_OLD || -x $OURS_OLD ]] || { echo "OURS_OLD=$OURS_OLD is not executable" >&2; exit 1; }
[[ -x $NODE ]] || { echo "missing $NODE (apt-get install -y prometheus-node-exporter)" >&2; exit 1; }
if [[ ! -x $OURS ]]; then
	log "building $OURS"
	[[ -d $BUILD ]] || meson setup "$BUILD" "$ROOT" -Dtests=disabled --buildtype=release >&2
	ninja -C "$BUILD" >&2
fi
if ip netns list | grep -qw "^$NS"; then
	echo "network namespace $NS already exists: another run in progress? (ip netns del $NS)" >&2
	exit 1
fi
if pgrep -x prometheus-node >/dev/null; then
	log "WARNING: a node exporter not started by this script is running: $(pgrep -ax prometheus-node)"
fi

mkdir -p "$OUT/raw"
rm -f "$OUT"/raw/* "$OUT"/*.tsv "$OUT/summary.md" "$OUT/compare.md"
rm -rf "$OUT/three"
FRESH=$TMPD/fresh
cc -O2 -o "$FRESH" "$HERE/fresh.c"
CLK_TCK=$(getconf CLK_TCK)

# --- environment --------------------------------------------------------------------------
{
	echo "date	$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "nproc	$(nproc)"
	echo "kernel	$(uname -r)"
	echo "cpu	$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
	echo "memtotal	$(awk '/MemTotal/ {print $2 " kB"}' /proc/meminfo)"
	echo "os	$(. /etc/os-release && echo "$PRETTY_NAME")"
	echo "ours_version	$("$OURS" --version 2>&1 | head -1)"
	echo "ours_binary_built	$(date -u -r "$OURS" +%Y-%m-%dT%H:%M:%SZ)"
	echo "ours_git	$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo ?) ($(git -C "$ROOT" status --porcelain 2>/dev/null | wc -l) uncommitted paths in tree)"
	if [[ -n $OURS_OLD ]]; then
		echo "ours_sha256	$(sha256sum "$OURS" | cut -c1-16)"
		echo "ours_old	$OURS_OLD"
		echo "ours_old_version	$("$OURS_OLD" --version 2>&1 | head -1)"
		echo "ours_old_binary_built	$(date -u -r "$OURS_OLD" +%Y-%m-%dT%H:%M:%SZ)"
		echo "ours_old_sha256	$(sha256sum "$OURS_OLD" | cut -c1-16)"
	fi
	echo "node_version	$("$NODE" --version 2>&1 | head -1)"
	echo "wrk_version	$(wrk -v 2>&1 | head -1 | awk '{print $1, $2}')"
	echo "modes	${MODES[*]}"
	echo "fresh_client	bench/fresh.c $(sha256sum "$HERE/fresh.c" | cut -c1-16)"
	echo "track_scrapes	$TRACK_SCRAPES"
	echo "nf_conntrack_max	$(cat /proc/sys/net/netfilter/nf_conntrack_max)"
	echo "udp_timeout_init_netns	$(cat /proc/sys/net/netfilter/nf_conntrack_udp_timeout)"
	echo "duration_s	$DURATION"
	echo "rounds	$ROUNDS"
	echo "flows	$FLOWS"
	echo "clk_tck	$CLK_TCK"
	echo "loadavg_start	$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/env.tsv"

# --- namespace ----------------------------------------------------------------------------
log "creating namespace $NS"
ip netns add "$NS"
STARTED_NS=1
ip -n "$NS" link set lo up
nsx nft add table inet t
nsx nft add chain inet t out '{ type filter hook output priority 0; }'
nsx nft add rule inet t out ct state new counter accept
if [[ $TRACK_SCRAPES != 1 ]]; then
	# The scrape connections bypass conntrack: with a new connection per scrape they would
	# otherwise add thousands of TIME_WAIT entries (and events) to the table being measured.
	ports="$(IFS=,; echo "${PORT[*]}")"
	for hook in prerouting output; do
		nsx nft add chain inet t "raw_$hook" "{ type filter hook $hook priority raw; }"
		nsx nft add rule inet t "raw_$hook" tcp dport "{ $ports }" notrack
		nsx nft add rule inet t "raw_$hook" tcp sport "{ $ports }" notrack
	done
fi
# Per-namespace sysctl: keeps the FLOWS unreplied UDP entries alive for the whole run
# (default 30 s). The init namespace's value and nf_conntrack_max are not touched.
nsx sysctl -qw net.netfilter.nf_conntrack_udp_timeout="$UDP_TIMEOUT"
echo "udp_timeout_bench_netns	$(nsx cat /proc/sys/net/netfilter/nf_conntrack_udp_timeout)" >>"$OUT/env.tsv"

# --- exporters ----------------------------------------------------------------------------
start() { # name cmd...
	local name=$1
	shift
	# A plain simple command (no function, no subshell) so that $! is the process that
	# ip netns exec turns into the exporter by exec.
	ip netns exec "$NS" "$@" >"$OUT/raw/$name.log" 2>&1 &
	PID[$name]=$!
}
start ours "$OURS" --web.listen-address=127.0.0.1:"${PORT[ours]}"
start ours_like "$OURS" --web.listen-address=127.0.0.1:"${PORT[ours_like]}" \
	--collector.disable-defaults --collector.table --collector.stat
start node "$NODE" --web.listen-address=127.0.0.1:"${PORT[node]}" \
	--collector.disable-defaults --collector.conntrack
if [[ -n $OURS_OLD ]]; then
	start ours_old "$OURS_OLD" --web.listen-address=127.0.0.1:"${PORT[ours_old]}"
	start ours_like_old "$OURS_OLD" --web.listen-address=127.0.0.1:"${PORT[ours_like_old]}" \
		--collector.disable-defaults --collector.table --collector.stat
fi
{
	echo "ours	$OURS --web.listen-address=127.0.0.1:${PORT[ours]}"
	echo "ours_like	$OURS --web.listen-address=127.0.0.1:${PORT[ours_like]} --collector.disable-defaults --collector.table --collector.stat"
	echo "node	$NODE --web.listen-address=127.0.0.1:${PORT[node]} --collector.disable-defaults --collector.conntrack"
	if [[ -n $OURS_OLD ]]; then
		echo "ours_old	$OURS_OLD --web.listen-address=127.0.0.1:${PORT[ours_old]}"
		echo "ours_like_old	$OURS_OLD --web.listen-address=127.0.0.1:${PORT[ours_like_old]} --collector.disable-defaults --collector.table --collector.stat"
	fi
} >"$OUT/commands.tsv"

for t in "${TARGETS[@]}"; do
	for _ in $(seq 100); do
		nsx ss -Hltn "sport = :${PORT[$t]}" | grep -q . && break
		kill -0 "${PID[$t]}" 2>/dev/null || { cat "$OUT/raw/$t.log" >&2; exit 1; }
		sleep 0.05
	done
	nsx ss -Hltn "sport = :${PORT[$t]}" | grep -q . || { echo "$t did not listen" >&2; exit 1; }
	# ip netns exec execs the command, so $! is the exporter itself.
	comm=$(cat "/proc/${PID[$t]}/comm")
	[[ $comm == nf_conntrack_ex || $comm == prometheus-node ||
		$comm == "$(basename "$OURS" | cut -c1-15)" ||
		(-n $OURS_OLD && $comm == "$(basename "$OURS_OLD" | cut -c1-15)") ]] ||
		{ echo "pid ${PID[$t]} is $comm, not the exporter" >&2; exit 1; }
	log "$t listening on :${PORT[$t]} (pid ${PID[$t]}, $comm)"
done
sleep 1

status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
mem() { # when
	for t in "${TARGETS[@]}"; do
		printf '%s\t%s\t%s\t%s\n' "$1" "$t" "$(status_kb "${PID[$t]}" VmRSS)" \
			"$(status_kb "${PID[$t]}" VmHWM)" >>"$OUT/mem.tsv"
		# open fds in a file of their own (mem.tsv keeps its four columns)
		printf '%s\t%s\t%s\n' "$1" "$t" \
			"$(find "/proc/${PID[$t]}/fd" -mindepth 1 -maxdepth 1 | wc -l)" >>"$OUT/fds.tsv"
	done
}
ct_count() { nsx conntrack -C; }
# All CPUs' busy ticks (user+nice+system+irq+softirq+steal), to see other load on the host.
host_busy() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
# TCP connections opened from the bench namespace (only the clients connect; the exporters don't).
active_opens() { nsx awk '$1 == "Tcp:" && $6 ~ /^[0-9]+$/ { print $6 }' /proc/net/snmp; }
alive_or_die() { # target
	[[ -r /proc/${PID[$1]}/stat ]] && [[ $(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/${PID[$1]}/stat") != Z ]] && return 0
	echo "exporter $1 (pid ${PID[$1]}) exited during the run; its log:" >&2
	tail -5 "$OUT/raw/$1.log" >&2
	exit 1
}

mem startup

# One plain scrape per target: HTTP status, body size, collector failures.
probe() { # phase
	local t body code size fails
	for t in "${TARGETS[@]}"; do
		body="$OUT/raw/body-$1-$t.txt"
		code=$(nsx curl -s -o "$body" -w '%{http_code}' "http://127.0.0.1:${PORT[$t]}/metrics")
		size=$(stat -c %s "$body")
		fails=$(grep -E '^(nf_conntrack_exporter_collector_success|node_scrape_collector_success)\{' "$body" |
			awk '$2 != 1' | tr '\n' ';')
		printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$t" "$code" "$size" "${fails:-none}" >>"$OUT/probe.tsv"
		log "$1 $t: HTTP $code, $size bytes, failed collectors: ${fails:-none}"
	done
}

# One run: one target, one mode, DURATION seconds; a line in runs.tsv.
bench_run() { # phase mode target round
	local phase=$1 mode=$2 t=$3 r=$4 c0 c1 h0 h1 o0 o1 w before after line raw
	local url="http://127.0.0.1:${PORT[$t]}/metrics"
	raw="$OUT/raw/$mode-$phase-$t-$r"
	before=$(ct_count)
	o0=$(active_opens)
	h0=$(host_busy)
	c0=$(cpu_ticks "${PID[$t]}")
	if [[ $mode == keepalive ]]; then
		nsx /usr/bin/time -f '%U %S' -o "$raw.cpu" \
			wrk -t1 -c1 -d"${DURATION}s" --latency -s "$HERE/report.lua" "$url" >"$raw.txt"
	else
		nsx /usr/bin/time -f '%U %S' -o "$raw.cpu" \
			"$FRESH" 127.0.0.1 "${PORT[$t]}" "$DURATION" /metrics >"$raw.txt"
	fi
	alive_or_die "$t"
	c1=$(cpu_ticks "${PID[$t]}")
	h1=$(host_busy)
	o1=$(active_opens)
	after=$(ct_count)
	line=$(grep '^RESULT ' "$raw.txt" | cut -d' ' -f2-)
	w=$(awk -v k="$CLK_TCK" '{ printf "%d", ($1 + $2) * k + 0.5 }' "$raw.cpu")
	# other = CPU used on the host by anything but this exporter and the client
	line="$line conns=$((o1 - o0)) host_busy_ticks=$((h1 - h0)) client_ticks=$w"
	line="$line other_ticks=$((h1 - h0 - (c1 - c0) - w))"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$phase" "$mode" "$t" "$r" "$((c1 - c0))" \
		"$before" "$after" "$line" >>"$OUT/runs.tsv"
	log "$phase round $r $t $mode: $line cpu_ticks=$((c1 - c0)) conntrack=$before->$after"
}

bench_phase() { # phase
	local phase=$1 r i j t m
	probe "$phase"
	for r in $(seq "$ROUNDS"); do
		for i in "${!TARGETS[@]}"; do
			# rotate the order each round so drift is spread over every target
			t=${TARGETS[$(((i + r - 1) % ${#TARGETS[@]}))]}
			# both modes of a target back to back; which goes first alternates by round
			for j in "${!MODES[@]}"; do
				m=${MODES[$(((j + r - 1) % ${#MODES[@]}))]}
				bench_run "$phase" "$m" "$t" "$r"
			done
		done
	done
	mem "after-$phase"
}

# --- phase 1: (nearly) empty table --------------------------------------------------------
log "phase empty: conntrack count $(ct_count)"
bench_phase empty

# --- phase 2: FLOWS UDP entries -----------------------------------------------------------
nsx conntrack -F >/dev/null 2>&1 || true
nsx python3 "$HERE/fill_udp.py" "$FLOWS" | tee "$OUT/raw/fill.txt" >&2
n=$(ct_count)
((n >= FLOWS)) || log "WARNING: only $n conntrack entries after sending $FLOWS flows"
log "phase full: conntrack count $n"
bench_phase full
echo "count_at_end	$(ct_count)" >>"$OUT/env.tsv"
echo "loadavg_end	$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/env.tsv"

# --- logs ---------------------------------------------------------------------------------
for t in "${TARGETS[@]}"; do
	n=$(grep -ciE 'level=(warn|error)' "$OUT/raw/$t.log" || true)
	printf '%s\t%s\n' "$t" "$n" >>"$OUT/logwarn.tsv"
done

python3 "$HERE/summarize.py" "$OUT" | tee "$OUT/summary.md"
[[ -z $OURS_OLD ]] || python3 "$HERE/summarize.py" --compare "$OUT" >"$OUT/compare.md"
