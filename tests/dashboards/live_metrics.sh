#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Save one real scrape of nf_conntrack_exporter, for check_dashboard.py.
#
# usage: live_metrics.sh EXPORTER OUTPUT [LNSTAT_OUTPUT]
#
# Runs the exporter in a throw-away network namespace (nfce-dash-PID) with a one-rule nft
# ruleset that turns conntrack on there, makes a few UDP flows on that namespace's loopback
# (and ends one with `conntrack -D`, when conntrack(8) is installed, so the flow lifetime
# histogram has an observation), waits until /metrics shows nf_conntrack_state_entries and
# writes the scrape to OUTPUT. All traffic stays on the namespace's loopback.
#
# /proc/net/stat/arp_cache and ndisc_cache exist in the initial network namespace only, so the
# scrape above has no lnstat series for them. With LNSTAT_OUTPUT, a second exporter, in the
# same throw-away namespace and with only the lnstat collector, reads /proc/net/stat of the
# namespace of PID 1 (or of this script) through --path.procfs=/proc/PID, and its scrape is
# written there (empty when neither has arp_cache: check_dashboard.py then says so).
#
# Exit 0 on success, 1 on failure, 77 ("SKIP: ...") when not root or a tool is missing.
set -u

PORT=39901
ADDR=127.0.0.1
DEADLINE_S=30
NS="nfce-dash-$$"

die() { echo "FAIL: live_metrics.sh: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }

[ $# -eq 2 ] || [ $# -eq 3 ] || die "usage: $0 EXPORTER OUTPUT [LNSTAT_OUTPUT]"
EXPORTER=$1
OUT=$2
LNSTAT_OUT=${3:-}
LNSTAT_PORT=39902
[ -x "$EXPORTER" ] || die "exporter '$EXPORTER' is not an executable file"

[ "$(id -u)" -eq 0 ] || skip "live_metrics.sh needs root (network namespace, nft)"
for t in ip nft curl; do
	command -v "$t" >/dev/null 2>&1 || skip "\`$t\` is not installed"
done

EXP_PID=
LN_PID=
NS_MADE=
LOG=$(mktemp "${TMPDIR:-/tmp}/nfce-dash-log.XXXXXX") || die "mktemp failed"
BODY=$(mktemp "${TMPDIR:-/tmp}/nfce-dash-body.XXXXXX") || die "mktemp failed"

stop() { # PID: SIGTERM, then SIGKILL after 5 s
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null
	for _ in $(seq 50); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	stop "$EXP_PID"
	stop "$LN_PID"
	[ -n "$NS_MADE" ] && ip netns del "$NS" 2>/dev/null
	rm -f "$LOG" "$BODY"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

in_ns() { ip netns exec "$NS" "$@"; }

ip netns add "$NS" || die "ip netns add $NS failed"
NS_MADE=1
ip -n "$NS" link set lo up || die "could not bring lo up in $NS"
if ! { in_ns nft add table inet t &&
	in_ns nft add chain inet t out '{ type filter hook output priority 0; }' &&
	in_ns nft add rule inet t out ct state new counter accept; }; then
	skip "could not load the nft ruleset in $NS (nf_tables or nf_conntrack missing?)"
fi

# Not through in_ns: $! must be the exporter itself (ip netns exec execs it), not a subshell.
# --netns=all: per-namespace series carry the netns label the dashboard selects on, and the
# namespace metrics (host entries, followed) exist.
ip netns exec "$NS" "$EXPORTER" --web.listen-address="$ADDR:$PORT" --log.level=info --netns=all >"$LOG" 2>&1 &
EXP_PID=$!

scrape() { in_ns curl -sf --max-time 2 -o "$BODY" "http://$ADDR:$PORT/metrics"; }

# Wait until the startup dump is done: nf_conntrack_state_entries appears.
end=$((SECONDS + DEADLINE_S))
until scrape && grep -q '^nf_conntrack_state_entries{' "$BODY"; do
	kill -0 "$EXP_PID" 2>/dev/null || { cat "$LOG" >&2; EXP_PID=; die "the exporter exited"; }
	[ $SECONDS -lt $end ] || { cat "$LOG" >&2; die "no nf_conntrack_state_entries within ${DEADLINE_S}s"; }
	sleep 0.2
done

# A few UDP flows on loopback (nobody listens: the datagrams only create conntrack entries).
for p in 41001 41002 41003 41004 41005; do
	in_ns bash -c "echo nfce-dash >/dev/udp/$ADDR/$p" 2>/dev/null
done
# End one so that nf_conntrack_flow_lifetime_seconds gets an observation (optional).
if command -v conntrack >/dev/null 2>&1; then
	sleep 0.3
	in_ns conntrack -D -p udp --dport 41001 >/dev/null 2>&1
	end=$((SECONDS + 10))
	until scrape && grep -Eq '^nf_conntrack_flow_lifetime_seconds_count\{[^}]*\} [1-9]' "$BODY"; do
		[ $SECONDS -lt $end ] || { echo "note: no flow lifetime observation yet" >&2; break; }
		sleep 0.2
	done
fi

scrape || die "final scrape failed"
grep -q '^nf_conntrack_state_entries{' "$BODY" || die "final scrape has no nf_conntrack_state_entries"
cp "$BODY" "$OUT" || die "could not write $OUT"
echo "live_metrics.sh: $(grep -c '^[a-z]' "$OUT") samples written to $OUT"
stop "$EXP_PID"
EXP_PID=

[ -n "$LNSTAT_OUT" ] || exit 0
: >"$LNSTAT_OUT" || die "could not write $LNSTAT_OUT"
procdir=
for pid in 1 $$; do
	if [ -r "/proc/$pid/net/stat/arp_cache" ]; then
		procdir=/proc/$pid
		break
	fi
done
if [ -z "$procdir" ]; then
	echo "note: no /proc/net/stat/arp_cache in reach (not in the initial network namespace)" >&2
	exit 0
fi
ip netns exec "$NS" "$EXPORTER" --web.listen-address="$ADDR:$LNSTAT_PORT" --collector.disable-defaults \
	--collector.lnstat --path.procfs="$procdir" >"$LOG" 2>&1 &
LN_PID=$!
end=$((SECONDS + DEADLINE_S))
until in_ns curl -sf --max-time 2 -o "$BODY" "http://$ADDR:$LNSTAT_PORT/metrics"; do
	kill -0 "$LN_PID" 2>/dev/null || { cat "$LOG" >&2; LN_PID=; die "the lnstat-only exporter exited"; }
	[ $SECONDS -lt $end ] || { cat "$LOG" >&2; die "no scrape of the lnstat-only exporter within ${DEADLINE_S}s"; }
	sleep 0.2
done
grep -q '^lnstat_entries{table="arp_cache"}' "$BODY" ||
	die "the lnstat-only exporter reading $procdir/net/stat shows no arp_cache"
cp "$BODY" "$LNSTAT_OUT" || die "could not write $LNSTAT_OUT"
echo "live_metrics.sh: $(grep -c '^[a-z]' "$LNSTAT_OUT") lnstat samples of $procdir/net/stat written to $LNSTAT_OUT"
exit 0
