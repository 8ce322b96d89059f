#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Two exporter binaries side by side on the live kernel: the same namespace, the same flows,
# scraped at the same moment, in the text format and in OpenMetrics, alone and with --netns;
# the expositions must be identical but for values that change by themselves (durations,
# process_*, the events collector's resync timings). For a change that must not alter output.
#
# Usage (root): tests/golden/compare-live.sh OLD_BINARY NEW_BINARY
# NEW_ARGS (optional, space-separated): flags for the new binary only, e.g.
# NEW_ARGS=--netns.metrics=full to check that it restores the old per-namespace output.
set -euo pipefail
OLD=$1
NEW=$2
read -r -a NEW_ARGS <<<"${NEW_ARGS:-}"
NS=nfce-golden-$$
OUT=$(mktemp -d)
PIDS=()
cleanup() {
	set +e
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for n in $(ip netns list | awk '{print $1}' | grep "^$NS"); do ip netns del "$n"; done
	rm -rf "$OUT"
}
trap cleanup EXIT

mkns() {
	ip netns add "$1"
	ip -n "$1" link set lo up
	ip netns exec "$1" nft -f - <<'NFT'
table inet t {
	chain out {
		type filter hook output priority 0; ct state new counter accept;
	}
	# The scrapes themselves leave no entries.
	chain rawout {
		type filter hook output priority -300; tcp dport 39961-39962 notrack; tcp sport 39961-39962 notrack;
	}
	chain rawpre {
		type filter hook prerouting priority -300; tcp dport 39961-39962 notrack; tcp sport 39961-39962 notrack;
	}
}
NFT
	# A few UDP flows that stay: unreplied, 30 s default timeout.
	ip netns exec "$1" python3 -c '
import socket
for p in range(5000, 5000 + '"$2"'):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b"x", ("127.0.0.1", p))'
}

mkns "$NS" 20
mkns "$NS-a" 5
mkns "$NS-b" 7

# Values that move by themselves between two processes started a moment apart.
normalize() {
	grep -v -E '^(process_|nf_conntrack_exporter_collector_duration_seconds|nf_conntrack_exporter_collector_data_age_seconds|nf_conntrack_resync|nf_conntrack_event_socket)' |
		grep -v -E '^nf_conntrack_(events_total|flow_lifetime_seconds)' |
		grep -v 'table="rt_cache"' || true # host-wide, moves with any traffic
}

status=0
run() { # label, extra args...
	local label=$1 o n
	shift
	ip netns exec "$NS" "$OLD" --web.listen-address=127.0.0.1:39961 "$@" 2>/dev/null &
	PIDS+=($!)
	ip netns exec "$NS" "$NEW" --web.listen-address=127.0.0.1:39962 "$@" "${NEW_ARGS[@]}" 2>/dev/null &
	PIDS+=($!)
	for _ in $(seq 100); do
		ip netns exec "$NS" curl -sf -o /dev/null http://127.0.0.1:39961/metrics &&
			ip netns exec "$NS" curl -sf -o /dev/null http://127.0.0.1:39962/metrics && break
		sleep 0.1
	done
	sleep 1 # both have dumped and synced their events
	for fmt in text om; do
		local h=()
		[[ $fmt == om ]] && h=(-H 'Accept: application/openmetrics-text; version=1.0.0')
		o=$OUT/$label.$fmt.old
		n=$OUT/$label.$fmt.new
		ip netns exec "$NS" curl -sf "${h[@]}" http://127.0.0.1:39961/metrics | normalize >"$o"
		ip netns exec "$NS" curl -sf "${h[@]}" http://127.0.0.1:39962/metrics | normalize >"$n"
		if cmp -s "$o" "$n"; then
			echo "identical: $label $fmt ($(wc -l <"$n") lines compared)"
		else
			echo "DIFFERENT: $label $fmt"
			diff "$o" "$n" | head -20 || true
			status=1
		fi
	done
	kill "${PIDS[@]}" 2>/dev/null
	wait "${PIDS[@]}" 2>/dev/null || true
	PIDS=()
}

run alone
run netns-named --netns="$NS-a" --netns="$NS-b"
run no-events --no-collector.events
exit $status
