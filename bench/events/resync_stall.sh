#!/usr/bin/env bash
# Exploratory companion to bench/events/run.sh: how long does a scrape wait while the events
# collector dumps a table of FLOWS entries (its startup resync, then an overrun resync forced by
# a 64 KiB event buffer and a one-second full-speed burst)? Prints, per scrape: seconds since the
# exporter started (or since the burst ended), HTTP status, curl's time_total, and
# nf_conntrack_resyncs_total{startup,overrun,periodic}. Loopback traffic in a private namespace;
# nf_conntrack_max raised to CT_MAX and restored by the EXIT trap. Needs root.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${BUILD:-/tmp/evbench-build}
EXPORTER=${EXPORTER:-$BUILD/exporter/nf_conntrack_exporter}
FLOWGEN=${FLOWGEN:-$BUILD/bench-events-flowgen}
FLOWS=${FLOWS:-1000000}
CT_MAX=${CT_MAX:-2000000}
PORT=${PORT:-39932}
NS=nfce-evb-stall-$$
ORIG=$(cat /proc/sys/net/netfilter/nf_conntrack_max)
EP=
cleanup() {
	set +e
	if [[ -n $EP ]]; then kill "$EP" 2>/dev/null; wait "$EP" 2>/dev/null; fi
	ip netns del "$NS" 2>/dev/null
	sysctl -qw net.netfilter.nf_conntrack_max="$ORIG"
	echo "# restored nf_conntrack_max=$(cat /proc/sys/net/netfilter/nf_conntrack_max)"
}
trap cleanup EXIT
[[ -x $FLOWGEN ]] || gcc -O2 -Wall -o "$FLOWGEN" "$HERE/flowgen.c"
sysctl -qw net.netfilter.nf_conntrack_max="$CT_MAX"
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" nft add table inet t
ip netns exec "$NS" nft add chain inet t out '{ type filter hook output priority 0; }'
ip netns exec "$NS" nft add rule inet t out ct state new counter accept
ip netns exec "$NS" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=600
echo "# $(date -u '+%F %T UTC'); fill: $(ip netns exec "$NS" "$FLOWGEN" --count "$FLOWS")"
TMP=$(mktemp)
poll() { # poll T0 N: N scrapes, 50 ms apart
	for _ in $(seq "$2"); do
		s=$(date +%s.%N)
		r=$(ip netns exec "$NS" curl -s -m 30 -o "$TMP" -w '%{http_code} %{time_total}' "http://127.0.0.1:$PORT/metrics")
		printf '%s %s resyncs=%s\n' "$(awk -v a="$1" -v b="$s" 'BEGIN { printf "%.3f", b - a }')" "$r" \
			"$(awk '/^nf_conntrack_resyncs_total/ { printf "%s%s", n++ ? "," : "", $2 }' "$TMP")"
		sleep 0.05
	done
}
T0=$(date +%s.%N)
ip netns exec "$NS" "$EXPORTER" --web.listen-address="127.0.0.1:$PORT" \
	--collector.events.buffer-size=65536 >"$TMP.log" 2>&1 &
EP=$!
echo "# startup on $FLOWS entries: t_since_start http_code time_total resyncs"
poll "$T0" 8
echo "# burst: $(ip netns exec "$NS" "$FLOWGEN" --duration 1 --start 50000000)"
T1=$(date +%s.%N)
echo "# after the burst: t_since_burst http_code time_total resyncs"
poll "$T1" 10
echo "# exporter log:"
grep -v 'collector enabled' "$TMP.log" || true
rm -f "$TMP" "$TMP.log"
