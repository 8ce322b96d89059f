#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Instructions per scrape, old vs new build, counted by callgrind (not timing: not noisy).
# N namespaces made like bench/netns/run.sh does (the conntrack ruleset and FLOWS unreplied UDP
# flows each) plus one for the exporter; each build runs under
#   valgrind --tool=callgrind --toggle-collect=render_metrics --toggle-collect=render_status
# so only the work of the /metrics and status handlers is counted (collection, rendering,
# regrouping and, for the status page, its rendering; not libmicrohttpd, not the events thread),
# for the variants own (default) and all (--netns=all). After 2 warm-up requests of each path the
# counters are zeroed (callgrind_control -z), SCRAPES GET /metrics are counted and dumped, then
# SCRAPES GET /status.json. Loopback only. Output: $OUT/callgrind.tsv (build, variant, requests,
# Ir of the /metrics requests, Ir of the /status.json requests, bytes of each, VmRSS kB, open fds
# under valgrind, netns label values in the response), $OUT/callgrind.md, annotate-*.txt.
#
# Usage: EXE=new EXE_OLD=old [N=200] [SCRAPES=20] [OUT=dir] callgrind.sh
#    or: BUILDS="old=PATH new=PATH head=PATH ..." callgrind.sh   (ratios against the first)
set -euo pipefail
BUILDS=${BUILDS:-old=${EXE_OLD:?old binary} new=${EXE:?new binary}}
N=${N:-200}
FLOWS=${FLOWS:-20}
SCRAPES=${SCRAPES:-20}
OUT=${OUT:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
PREFIX=nfce-cg$$
HOME_NS=$PREFIX-home
PORT=39960
WORK=$(mktemp -d /tmp/nfce-cg.XXXXXX)

log() { printf '[callgrind %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
PID=
cleanup() {
	set +e
	[ -n "$PID" ] && { kill "$PID" 2>/dev/null; sleep 1; kill -KILL "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; }
	for ns in $(ip netns list | awk '{print $1}' | grep "^$PREFIX-"); do ip netns del "$ns"; done
	rm -rf "$WORK"
}
trap cleanup EXIT

mkns() {
	ip netns add "$1"
	ip -n "$1" link set lo up
	ip netns exec "$1" nft -f - <<-'NFT'
	table inet t {
		chain out {
			type filter hook output priority 0;
			ct state new counter accept
		}
	}
	NFT
}
mkns "$HOME_NS"
if [ "$N" -gt 0 ]; then
	log "creating $N namespaces"
	for i in $(seq "$N"); do
		mkns "$PREFIX-$i"
		ip netns exec "$PREFIX-$i" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for p in range(20000, 20000 + int(sys.argv[1])):
    s.sendto(b"x", ("127.0.0.1", p))' "$FLOWS"
	done
fi

get() { # path -> bytes
	ip netns exec "$HOME_NS" curl -sf -o /dev/null -w '%{size_download}\n' "http://127.0.0.1:$PORT$1"
}
ir() { # callgrind dump -> total Ir
	awk '/^(summary|totals):/ {print $2; exit}' "$1"
}

: >"$OUT/callgrind.tsv"
run() { # build name exe args...
	local build=$1 name=$2 exe=$3 f bytes_m bytes_s
	shift 3
	f=$WORK/cg-$build-$name
	ip netns exec "$HOME_NS" valgrind --tool=callgrind --callgrind-out-file="$f" \
		--toggle-collect=render_metrics --toggle-collect=render_status \
		"$exe" --web.listen-address=127.0.0.1:$PORT --log.level=warn "$@" 2>"$f.log" &
	PID=$!
	for _ in $(seq 600); do
		get /-/healthy >/dev/null 2>&1 && break
		kill -0 "$PID" || { cat "$f.log" >&2; exit 1; }
		sleep 0.5
	done
	get /metrics >/dev/null; get /metrics >/dev/null
	get /status.json >/dev/null; get /status.json >/dev/null
	callgrind_control -z "$PID" >/dev/null
	for _ in $(seq "$SCRAPES"); do bytes_m=$(get /metrics); done
	callgrind_control -d metrics "$PID" >/dev/null
	for _ in $(seq "$SCRAPES"); do bytes_s=$(get /status.json); done
	callgrind_control -d status "$PID" >/dev/null
	local rss fds nns
	# namespaces in the response (other namespaces on the host are followed too with --netns=all)
	nns=$(ip netns exec "$HOME_NS" curl -sf "http://127.0.0.1:$PORT/metrics" | { grep -o 'netns="[^"]*"' || true; } | sort -u | wc -l)
	rss=$(awk '/^VmRSS/ {print $2}' "/proc/$PID/status")
	fds=$(find "/proc/$PID/fd" -mindepth 1 -maxdepth 1 | wc -l)
	kill "$PID"
	wait "$PID" || true
	PID=
	local dm ds
	dm=$(grep -l '^desc: Trigger:.*metrics' "$f".* | head -1)
	ds=$(grep -l '^desc: Trigger:.*status' "$f".* | head -1)
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$build" "$name" "$SCRAPES" \
		"$(ir "$dm")" "$(ir "$ds")" "$bytes_m" "$bytes_s" "$rss" "$fds" "$nns" | tee -a "$OUT/callgrind.tsv"
	# the top of the profile of the /metrics scrapes, inclusive
	callgrind_annotate --inclusive=yes "$dm" 2>/dev/null | sed -n '1,150p' >"$OUT/annotate-$build-$name-metrics.txt"
	callgrind_annotate --inclusive=yes "$ds" 2>/dev/null | sed -n '1,150p' >"$OUT/annotate-$build-$name-status.txt"
	log "$build $name done"
}
for v in own all; do
	args=()
	[ "$v" = all ] && args=(--netns=all)
	for b in $BUILDS; do
		run "${b%%=*}" "$v" "${b#*=}" "${args[@]}"
	done
done

python3 - "$OUT/callgrind.tsv" "$N" "$SCRAPES" "$BUILDS" <<'PY' | tee "$OUT/callgrind.md"
import sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().splitlines() if l]
d = {(r[0], r[1]): r for r in rows}
builds = [b.split("=", 1)[0] for b in sys.argv[4].split()]
first = builds[0]
print(f"{sys.argv[2]} extra namespaces; instructions (callgrind Ir) inside render_metrics / "
      f"render_status per request, mean of {sys.argv[3]} requests after 2 warm-ups; "
      f"ratios against {first}; builds: {sys.argv[4]}\n")
print("| variant | request | " + " | ".join(f"{b} Ir/request" for b in builds) + " | " +
      " | ".join(f"{b} / {first}" for b in builds[1:]) + " | bytes (" + " / ".join(builds) +
      ") | netns labels |")
print("|---|---|" + "---:|" * (2 * len(builds) - 1) + "---:|---:|")
for v, label in (("own", "own namespace only"), ("all", "--netns=all")):
    rs = [d[(b, v)] for b in builds]
    k = int(rs[0][2])
    for i, path, bi in ((3, "/metrics", 5), (4, "/status.json", 6)):
        ir = [int(r[i]) / k for r in rs]
        print(f"| {label} | {path} | " + " | ".join(f"{x:,.0f}" for x in ir) + " | " +
              " | ".join(f"{x / ir[0]:.3f}" for x in ir[1:]) + " | " +
              " / ".join(f"{int(r[bi]):,}" for r in rs) + " | " + " / ".join(r[9] for r in rs) + " |")
PY
