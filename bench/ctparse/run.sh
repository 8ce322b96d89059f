#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Our conntrack message parser (netlink/ctevent.c) against libnetfilter_conntrack's
# nfct_nlmsg_parse(), on messages recorded from the kernel (issue 13). See README.md.
#
#   bench/ctparse/run.sh capture   record bench/ctparse/corpus.bin (root; a namespace of its own)
#   bench/ctparse/run.sh [bench]   build the harness, check, malformed input, timings
#
# Environment: SRC (head: the committed HEAD, exported and built apart with meson's release
# buildtype, as the events benchmark's exporter was; tree: the work tree and its BUILD),
# BUILD (build, for SRC=tree: its netlink/common/collectors static libraries are linked),
# RUNS (21), PER_RUN (500000 messages per variant and run), CPU (1: taskset -c),
# FLOWS (8: flows of each kind in the capture), OUT (bench/results/raw/ctparse).
set -eEuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SRC=${SRC:-head}
BUILD=${BUILD:-$ROOT/build}
RUNS=${RUNS:-21}
PER_RUN=${PER_RUN:-500000}
CPU=${CPU:-1}
FLOWS=${FLOWS:-8}
OUT=${OUT:-$ROOT/bench/results/raw/ctparse}
CORPUS=${CORPUS:-$HERE/corpus.bin}
TMP=$(mktemp -d /tmp/ctparse.XXXXXX)
NS=nfce-ctparse-$$
CAP_PID=

log() { printf '[ctparse %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

cleanup() {
	set +e
	[[ -n $CAP_PID ]] && kill "$CAP_PID" 2>/dev/null && wait "$CAP_PID" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

need_lib() {
	if [[ ! -e /usr/include/libnetfilter_conntrack/libnetfilter_conntrack.h ]]; then
		log "installing libnetfilter-conntrack-dev"
		apt-get install -y libnetfilter-conntrack-dev >/dev/null ||
			{ apt-get update >/dev/null && apt-get install -y libnetfilter-conntrack-dev >/dev/null; }
	fi
	[[ -e /usr/include/libmnl/libmnl.h ]] || apt-get install -y libmnl-dev >/dev/null
}

capture() {
	[[ $(id -u) == 0 ]] || { echo "capture needs root" >&2; exit 1; }
	for t in ip nft conntrack python3 gcc; do
		command -v $t >/dev/null || { echo "capture needs $t" >&2; exit 1; }
	done
	need_lib
	gcc -O2 -Wall -Wextra -o "$TMP/ctcapture" "$HERE/ctcapture.c" -lmnl
	ip netns add "$NS"
	ip netns exec "$NS" ip link set lo up
	for i in 1 2 3 4; do ip netns exec "$NS" ip -6 addr add "fd00::$i/128" dev lo nodad; done
	# The tests' conntrack-using rule (tests/integration/nfce.py), and NAT on loopback:
	# dnat in output (8080 -> the other address's 7001, 8053 -> its 7002), snat in postrouting.
	ip netns exec "$NS" nft -f - <<-'EOF'
	add table inet t
	add chain inet t out { type filter hook output priority 0; }
	add rule inet t out ct state new counter accept
	add table ip nat
	add chain ip nat out { type nat hook output priority -100; }
	add rule ip nat out ip daddr 127.0.0.1 tcp dport 8080 dnat to 127.0.0.2:7001
	add rule ip nat out ip daddr 127.0.0.1 udp dport 8053 dnat to 127.0.0.2:7002
	add chain ip nat post { type nat hook postrouting priority 100; }
	add rule ip nat post ip daddr 127.0.0.3 snat to 127.0.0.4
	add table ip6 nat
	add chain ip6 nat out { type nat hook output priority -100; }
	add rule ip6 nat out ip6 daddr ::1 tcp dport 8080 dnat to [fd00::2]:7001
	add rule ip6 nat out ip6 daddr ::1 udp dport 8053 dnat to [fd00::2]:7002
	add chain ip6 nat post { type nat hook postrouting priority 100; }
	add rule ip6 nat post ip6 daddr fd00::3 snat to fd00::4
	EOF
	mkdir -p "$OUT"
	# Events and the dump go to separate files: two writers appending to one interleave.
	ip netns exec "$NS" "$TMP/ctcapture" events "$TMP/events.bin" "$TMP/ready" 2>"$TMP/events.log" &
	CAP_PID=$!
	for _ in $(seq 100); do [[ -e $TMP/ready ]] && break; sleep 0.05; done
	[[ -e $TMP/ready ]] || { echo "ctcapture did not start" >&2; cat "$TMP/events.log" >&2; exit 1; }
	log "traffic: $FLOWS flows of each kind"
	ip netns exec "$NS" python3 "$HERE/traffic.py" "$FLOWS"
	ip netns exec "$NS" conntrack -L >"$TMP/table.txt" 2>/dev/null
	ip netns exec "$NS" "$TMP/ctcapture" dump "$TMP/dump.bin" 2>"$TMP/dump.log"
	# Every entry dies at once: DESTROY events without waiting out the timeouts.
	ip netns exec "$NS" conntrack -F 2>/dev/null
	sleep 0.5
	kill -TERM "$CAP_PID"
	wait "$CAP_PID"
	CAP_PID=
	cat "$TMP/events.bin" "$TMP/dump.bin" >"$CORPUS"
	{
		echo "capture $(date -u '+%F %T') UTC, kernel $(uname -r), FLOWS=$FLOWS"
		cat "$TMP/events.log" "$TMP/dump.log"
		echo "corpus $(stat -c %s "$CORPUS") bytes"
		echo "--- conntrack -L before the dump"
		cat "$TMP/table.txt"
	} >"$OUT/capture.txt"
	head -4 "$OUT/capture.txt" >&2
}

bench() {
	need_lib
	[[ -s $CORPUS ]] || { echo "no corpus at $CORPUS: run '$0 capture' first" >&2; exit 1; }
	local src=$ROOT
	if [[ $SRC == head ]]; then
		# A shared work tree may hold someone's half-done change: measure what is committed.
		src=$TMP/src BUILD=$TMP/build
		mkdir -p "$src"
		git -C "$ROOT" archive HEAD | tar -x -C "$src"
		meson setup "$BUILD" "$src" -Dtests=disabled --buildtype=release >"$TMP/meson.log"
	fi
	ninja -C "$BUILD" netlink/libnetlink.a common/libcommon.a collectors/libcollectors.a >/dev/null
	gcc -O2 -g -Wall -Wextra -std=gnu11 -I"$src/netlink" -I"$src/collectors" -I"$src/common" \
		-o "$TMP/ctbench" "$HERE/ctbench.c" "$BUILD/collectors/libcollectors.a" \
		"$BUILD/netlink/libnetlink.a" "$BUILD/common/libcommon.a" \
		-lnetfilter_conntrack -lmnl -lm
	mkdir -p "$OUT"
	{
		echo "date: $(date -u '+%F %T') UTC"
		echo "commit: $(git -C "$ROOT" log -1 --format='%h %s' | cut -c1-100)"
		[[ $SRC == head ]] || echo "uncommitted: $(git -C "$ROOT" status --porcelain -- netlink collectors common | wc -l) paths in netlink/ collectors/ common/"
		echo "source: $SRC, build: $BUILD"
		python3 -c "import json,sys; o=json.load(open(sys.argv[1])); print('buildtype:', [x['value'] for x in o if x['name']=='buildtype'][0])" \
			"$BUILD/meson-info/intro-buildoptions.json" 2>/dev/null || true
		echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), nproc $(nproc), pinned to $CPU"
		echo "kernel: $(uname -r)"
		echo "libnetfilter-conntrack3: $(dpkg-query -W -f '${Version}' libnetfilter-conntrack3 2>/dev/null)"
		echo "libmnl0: $(dpkg-query -W -f '${Version}' libmnl0 2>/dev/null)"
		echo "gcc: $(gcc --version | head -1)"
		echo "loadavg: $(cat /proc/loadavg)"
	} >"$OUT/env.txt"
	"$TMP/ctbench" check "$CORPUS" >"$OUT/check.txt" || true
	tail -1 "$OUT/check.txt" >&2
	# The mis-sized cases fork a child each: libnetfilter_conntrack may exit() on them.
	"$TMP/ctbench" malformed "$CORPUS" >"$OUT/malformed.txt" 2>"$TMP/malformed.err"
	sort "$TMP/malformed.err" | uniq -c | sed 's/^/stderr: /' >>"$OUT/malformed.txt"
	cat "$OUT/malformed.txt" >&2
	if command -v valgrind >/dev/null; then
		valgrind "$TMP/ctbench" malformed "$CORPUS" nosizes >/dev/null 2>"$TMP/vg.txt" || true
		{
			echo "valgrind memcheck on 'ctbench malformed CORPUS nosizes' (truncated and cut messages):"
			grep -E 'ERROR SUMMARY|definitely lost' "$TMP/vg.txt" | sed 's/^==[0-9]*== //' || true
		} >"$OUT/malformed-valgrind.txt"
		cat "$OUT/malformed-valgrind.txt" >&2
	fi
	log "timing: $RUNS runs x 5 variants, pinned to CPU $CPU"
	echo "loadavg before: $(cat /proc/loadavg)" >>"$OUT/env.txt"
	taskset -c "$CPU" "$TMP/ctbench" time "$CORPUS" "$RUNS" "$PER_RUN" >"$OUT/time.txt"
	echo "loadavg after: $(cat /proc/loadavg)" >>"$OUT/env.txt"
	# Instructions per message, which the load of a shared machine does not move: callgrind,
	# inclusive cost of each variant's loop (perf's counters are not available in this VM).
	if command -v valgrind >/dev/null; then
		for set in all udp-new-destroy; do
			valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.$set" \
				"$TMP/ctbench" count "$CORPUS" $set 20 >"$TMP/count.$set" 2>/dev/null
			msgs=$(sed -n 's/.*messages=\([0-9]*\) passes=\([0-9]*\).*/\1 \2/p' "$TMP/count.$set")
			callgrind_annotate --inclusive=yes "$TMP/cg.$set" 2>/dev/null | grep -v '=>' |
				sed -n 's/^ *\([0-9,]*\) .*ctbench.c:v_\([a-z_]*\) .*/\1 \2/p' | tr -d , |
				awk -v set=$set -v m="${msgs% *}" -v p="${msgs#* }" \
					'{ v = $2; sub("_apply", "+apply", v); sub("_reset", "+reset", v);
					   printf "instr\t%s\t%s\t%.0f\n", set, v, $1 / (m * p) }'
		done >"$OUT/instructions.txt"
	fi
	awk -F'\t' '
		/^# corpus/ { print }
		$1 == "median" { m[$2, $3] = $4; lo[$2, $3] = $5; hi[$2, $3] = $6; w[$2, $3] = $7 }
		$1 == "instr" { ins[$2, $3] = $4 }
		END {
			split("all udp-new-destroy", sets, " ")
			split("ours nfct nfct+reset ours+apply nfct+apply", vs, " ")
			print "| variant | all: CPU ns/msg, median (min-max) | instructions/msg | unreplied UDP NEW+DESTROY: CPU ns/msg | instructions/msg |"
			print "|---|---:|---:|---:|---:|"
			for (i = 1; i <= 5; i++)
				printf "| %s | %.0f (%.0f-%.0f) | %s | %.0f (%.0f-%.0f) | %s |\n", vs[i],
					m["all", vs[i]], lo["all", vs[i]], hi["all", vs[i]], ins["all", vs[i]],
					m["udp-new-destroy", vs[i]], lo["udp-new-destroy", vs[i]],
					hi["udp-new-destroy", vs[i]], ins["udp-new-destroy", vs[i]]
			for (k = 1; k <= 2; k++) {
				s = sets[k]
				printf "%s: nfct/ours %.2fx, nfct+reset/ours %.2fx; whole path nfct+apply/ours+apply %.2fx, %+.0f ns and %+d instructions per message\n",
					s, m[s, "nfct"] / m[s, "ours"], m[s, "nfct+reset"] / m[s, "ours"],
					m[s, "nfct+apply"] / m[s, "ours+apply"], m[s, "nfct+apply"] - m[s, "ours+apply"],
					ins[s, "nfct+apply"] - ins[s, "ours+apply"]
			}
		}' "$OUT/time.txt" "$OUT/instructions.txt" | tee "$OUT/summary.md"
}

case ${1:-bench} in
capture) capture ;;
bench) bench ;;
*) echo "usage: $0 [capture|bench]" >&2; exit 2 ;;
esac
