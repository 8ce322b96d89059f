#!/usr/bin/env bash
# perf profile of one exporter (default: the new build) while flowgen sends COUNT flows at RATE,
# plain or NAT'ed (as run.sh's cpu mode, in a namespace of its own): where the CPU time goes,
# cache misses included, which callgrind's instruction counts do not show.
#   bench/attrib/profile.sh [plain|nat] > report.txt      (root; perf, nft, gcc)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KIND=${1:-plain}
EXE=${EXE:-/tmp/i13-new-build/exporter/nf_conntrack_exporter}
RATE=${RATE:-100000}
COUNT=${COUNT:-200000}
PORT=${PORT:-39990}
NS=nfce-i13-prof-$$
BIN=$(mktemp -d)
cleanup() {
	set +e
	[[ -z ${EP:-} ]] || { kill "$EP" 2>/dev/null; wait "$EP" 2>/dev/null; }
	ip netns del "$NS" 2>/dev/null
	rm -rf "$BIN"
}
trap cleanup EXIT
gcc -O2 -o "$BIN/flowgen" "$HERE/../events/flowgen.c"
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" nft -f - <<'NFT'
table inet t {
	chain out { type filter hook output priority 0; ct state new counter accept; }
}
NFT
if [[ $KIND == nat ]]; then
	ip netns exec "$NS" nft -f - <<'NFT'
table ip nat {
	chain out { type nat hook output priority -100; ip daddr 127.1.0.0/16 meta l4proto udp dnat to 127.0.0.3; }
	chain post { type nat hook postrouting priority 100; ip daddr 127.0.0.3 meta l4proto udp snat to 127.0.0.2 random; }
}
NFT
fi
ip netns exec "$NS" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=600
taskset -c 1 ip netns exec "$NS" "$EXE" --web.listen-address="127.0.0.1:$PORT" >"$BIN/exporter.log" 2>&1 &
EP=$!
sleep 1.5
perf record -q -F 4000 -g -p "$EP" -o "$BIN/perf.data" -- sleep $((COUNT / RATE + 2)) >/dev/null 2>&1 &
PP=$!
sleep 0.3
taskset -c 0 ip netns exec "$NS" "$BIN/flowgen" --rate "$RATE" --count "$COUNT"
wait "$PP"
echo "# $EXE, $KIND, $COUNT flows at $RATE/s; self time by symbol, 0.5 % and above"
perf report -i "$BIN/perf.data" --no-children --percent-limit 0.5 --stdio -g none --sort sym 2>/dev/null |
	grep -E '^ +[0-9]'
