#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Cost of following many network namespaces: N namespaces (default 200), each with the
# conntrack ruleset and FLOWS unreplied UDP flows on its loopback, and one exporter in a
# namespace of its own scraped SCRAPES times per variant, variants side by side in rounds:
#   own     the exporter's own namespace only (the default)
#   all     --netns=all, every collector (events keeps a flow table per namespace)
#   noev    --netns=all --no-collector.events
# Reports scrape latency p50/p99, response size, RSS and open fds, and the cost per namespace.
# Needs root, ip, nft, python3. Loopback traffic only.
#
# Usage: bench/netns/run.sh [BUILD_DIR]   (N, FLOWS, SCRAPES, ROUNDS from the environment)
#
# EXE_OLD=path (optional): a second build (e.g. the one before a change); every variant then also
# runs with it, as own_old, all_old and noev_old, right next to the new one in the same rounds
# (which of the two goes first alternates by round), and $OUT/netns-compare.md has old vs new.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${1:-$ROOT/build}
EXE=$BUILD/exporter/nf_conntrack_exporter
N=${N:-200}
FLOWS=${FLOWS:-20}
SCRAPES=${SCRAPES:-100}
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-$HERE/results}
EXE_OLD=${EXE_OLD:-}
PREFIX=nfce-bn$$
HOME_NS=$PREFIX-home
PORT=39950

log() { printf '[netns-bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

PIDS=()
cleanup() {
	set +e
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for ns in $(ip netns list | awk '{print $1}' | grep "^$PREFIX-"); do
		ip netns del "$ns"
	done
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

[ -x "$EXE" ] || { echo "no exporter at $EXE (build first)" >&2; exit 1; }
[ -z "$EXE_OLD" ] || [ -x "$EXE_OLD" ] || { echo "EXE_OLD=$EXE_OLD is not executable" >&2; exit 1; }
log "creating $N namespaces with $FLOWS UDP flows each"
mkns "$HOME_NS"
t0=$(date +%s.%N)
for i in $(seq "$N"); do
	mkns "$PREFIX-$i"
	ip netns exec "$PREFIX-$i" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for p in range(20000, 20000 + int(sys.argv[1])):
    s.sendto(b"x", ("127.0.0.1", p))' "$FLOWS"
done
log "created in $(echo "$(date +%s.%N) - $t0" | bc) s"

# Scrape SCRAPES times from inside the home namespace; print p50 p99 bytes (ms, ms, bytes).
scrape() {
	ip netns exec "$HOME_NS" python3 - "$PORT" "$SCRAPES" <<-'PY'
	import http.client, statistics, sys, time
	port, n = int(sys.argv[1]), int(sys.argv[2])
	c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
	t = []
	for _ in range(n):
	    t0 = time.perf_counter()
	    c.request("GET", "/metrics")
	    r = c.getresponse()
	    body = r.read()
	    t.append((time.perf_counter() - t0) * 1000)
	    assert r.status == 200, r.status
	t.sort()
	print(f"{t[len(t) // 2]:.2f} {t[int(len(t) * 0.99) - 1]:.2f} {len(body)}")
	PY
}

run_variant() {
	local name=$1 pid rss fds res exe=$EXE
	shift
	[[ $name == *_old ]] && exe=$EXE_OLD
	ip netns exec "$HOME_NS" "$exe" --web.listen-address=127.0.0.1:$PORT --log.level=warn "$@" &
	pid=$!
	PIDS+=("$pid")
	# READY_TRIES: at 1000 namespaces --netns=all takes 20-30 s to listen on a busy 2-core host
	for _ in $(seq "${READY_TRIES:-100}"); do
		kill -0 "$pid" 2>/dev/null || { echo "exporter $name exited before listening" >&2; return 1; }
		ip netns exec "$HOME_NS" python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 0.2)" 2>/dev/null && break
		sleep 0.1
	done
	res=$(scrape)
	rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
	fds=$(ls "/proc/$pid/fd" | wc -l)
	kill "$pid"
	wait "$pid" || true
	echo "$name $res $rss $fds"
}

mkdir -p "$OUT"
raw=$OUT/netns-raw.txt
: >"$raw"
# with EXE_OLD: each variant for both builds, the old one first in odd rounds
pair() { # name args...
	local name=$1
	shift
	if [ -z "$EXE_OLD" ]; then
		run_variant "$name" "$@" >>"$raw"
	elif ((r % 2)); then
		run_variant "${name}_old" "$@" >>"$raw"
		run_variant "$name" "$@" >>"$raw"
	else
		run_variant "$name" "$@" >>"$raw"
		run_variant "${name}_old" "$@" >>"$raw"
	fi
}
for r in $(seq "$ROUNDS"); do
	log "round $r of $ROUNDS"
	pair own
	pair all --netns=all
	pair noev --netns=all --no-collector.events
done
followed=$(ip netns exec "$HOME_NS" true; ip netns list | wc -l)

python3 - "$raw" "$N" "$followed" "$FLOWS" <<'PY' | tee "$OUT/netns.md"
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
n, named, flows = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
by = {}
for name, p50, p99, size, rss, fds in rows:
    by.setdefault(name, []).append((float(p50), float(p99), int(size), int(rss), int(fds)))
med = {k: [statistics.median(x[i] for x in v) for i in range(5)] for k, v in by.items()}
print(f"{n} namespaces made by the bench ({named} named on the host in all), {flows} UDP flows each; "
      f"medians of {len(by['own'])} rounds of scrapes\n")
print("| variant | scrape p50 | scrape p99 | response | RSS | open fds |")
print("|---|---|---|---|---|---|")
for k, label in (("own", "own namespace only"), ("all", "--netns=all"), ("noev", "--netns=all --no-collector.events")):
    p50, p99, size, rss, fds = med[k]
    print(f"| {label} | {p50:.2f} ms | {p99:.2f} ms | {size / 1024:.0f} KiB | {rss / 1024:.1f} MiB | {fds:.0f} |")
o, a, e = med["own"], med["all"], med["noev"]
print(f"\nper namespace (--netns=all minus own, over {named} namespaces): "
      f"{(a[3] - o[3]) / named:.0f} KiB RSS, {(a[4] - o[4]) / named:.1f} fds, "
      f"{(a[0] - o[0]) / named * 1000:.0f} µs of scrape; without events: "
      f"{(e[3] - o[3]) / named:.0f} KiB, {(e[4] - o[4]) / named:.1f} fds, {(e[0] - o[0]) / named * 1000:.0f} µs")
print(f"ratio p50 --netns=all / own: {a[0] / o[0]:.1f}x; target: p50 under 50 ms at 200 namespaces: "
      f"{'met' if a[0] < 50 else 'MISSED'}")
PY

[ -n "$EXE_OLD" ] || exit 0
python3 - "$raw" "$N" "$EXE" "$EXE_OLD" <<'PY' | tee "$OUT/netns-compare.md"
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
by = {}
for name, p50, p99, size, rss, fds in rows:
    by.setdefault(name, []).append((float(p50), float(p99), int(size), int(rss), int(fds)))
med = {k: [statistics.median(x[i] for x in v) for i in range(5)] for k, v in by.items()}
print(f"{sys.argv[2]} namespaces; old = {sys.argv[4]}, new = {sys.argv[3]}; medians of "
      f"{len(by['own'])} rounds; ratio = new / old\n")
print("| variant | metric | old | new | new / old |")
print("|---|---|---:|---:|---:|")
for k, label in (("own", "own namespace only"), ("all", "--netns=all"), ("noev", "--netns=all --no-collector.events")):
    for i, (m, fmt) in enumerate((("scrape p50 ms", "{:.2f}"), ("scrape p99 ms", "{:.2f}"),
                                  ("response bytes", "{:,.0f}"), ("RSS KiB", "{:,.0f}"), ("open fds", "{:.0f}"))):
        o, n = med[k + "_old"][i], med[k][i]
        print(f"| {label} | {m} | {fmt.format(o)} | {fmt.format(n)} | {n / o:.2f} |" if o else
              f"| {label} | {m} | {fmt.format(o)} | {fmt.format(n)} | n/a |")
PY
