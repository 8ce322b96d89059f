#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Cost of following many network namespaces: N namespaces (default 200), each with the
# conntrack ruleset and FLOWS unreplied UDP flows on its loopback, and one exporter in a
# namespace of its own, started afresh for each variant; variants side by side in rounds:
#   own       the exporter's own namespace only (the default)
#   all       --netns=all (default per-namespace metrics)
#   all_full  --netns=all --netns.metrics=full
#   noev      --netns=all --no-collector.events
# For each: time from start until the first scrape answers, SCRAPES scrapes over one keep-alive
# connection and SCRAPES with a new TCP connection each (p50/p99 of both), response bytes,
# series (lines not starting with #), namespaces followed, RSS, open fds, and per followed
# namespace the RSS and fds above `own`. $OUT/netns.md has the table and the issue 12 targets
# for `all` (N=200: p50 ≤ 15 ms, p99 ≤ 30 ms; N=1000: p50 ≤ 60 ms, RSS ≤ 64 MiB, ≤ 4 fds per
# namespace), marked met/MISSED. Needs root, ip, nft, python3. Loopback traffic only.
#
# Usage: bench/netns/run.sh [BUILD_DIR]       (exporter: BUILD_DIR/exporter/nf_conntrack_exporter,
#                                              or EXE=path; BUILD_DIR defaults to ./build)
#   N=200  bench/netns/run.sh /tmp/build                         (about 2 minutes)
#   N=1000 SCRAPES=30 ROUNDS=2 bench/netns/run.sh /tmp/build      (namespaces: about 30 s)
#   N=20 SCRAPES=20 ROUNDS=1 OUT=/tmp/netns-smoke bench/netns/run.sh /tmp/build   (smoke test)
# Environment: N, FLOWS (20), SCRAPES (100 per mode), ROUNDS (3), OUT (bench/netns/results),
#   VARIANTS (words, default "own all all_full noev"; NAME=FLAG,FLAG... defines another, e.g.
#   VARIANTS="own all basic=--netns=all,--netns.metrics=basic"). A variant whose flags the binary
#   rejects (it exits before answering) is skipped in every later round and noted in netns.md.
#   READY_TIMEOUT (s, default 120; or READY_TRIES × 0.1 s): how long to wait for the first scrape.
#   JOBS (default nproc): parallel batches when setting up the namespaces.
# Other namespaces on the host are followed too by --netns=all; netns.md says how many were
# followed, and the per-namespace figures divide by that number (minus the exporter's own).
#
# EXE_OLD=path (optional): a second build (e.g. the one before a change); every variant then also
# runs with it, as own_old, all_old, ..., right next to the new one in the same rounds (which of
# the two goes first alternates by round), and $OUT/netns-compare.md has old vs new.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${1:-$ROOT/build}
EXE=${EXE:-$BUILD/exporter/nf_conntrack_exporter}
N=${N:-200}
FLOWS=${FLOWS:-20}
SCRAPES=${SCRAPES:-100}
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-$HERE/results}
EXE_OLD=${EXE_OLD:-}
VARIANTS=${VARIANTS:-own all all_full noev}
if [[ -n ${READY_TRIES:-} ]]; then
	READY_TIMEOUT=${READY_TIMEOUT:-$((READY_TRIES / 10 + 1))}
fi
READY_TIMEOUT=${READY_TIMEOUT:-120}
JOBS=${JOBS:-$(nproc)}
PREFIX=nfce-bn$$
HOME_NS=$PREFIX-home
PORT=39950
# The interpreter itself, not a pyenv shim: python3 starts once per variant and per batch.
PY=$(python3 -c 'import sys; print(sys.executable)')

log() { printf '[netns-bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

declare -A FLAGS=(
	[own]=""
	[all]="--netns=all"
	[all_full]="--netns=all --netns.metrics=full"
	[noev]="--netns=all --no-collector.events"
)
NAMES=()
for v in $VARIANTS; do
	if [[ $v == *=* ]]; then
		FLAGS[${v%%=*}]=${v#*=}
		FLAGS[${v%%=*}]=${FLAGS[${v%%=*}]//,/ }
		v=${v%%=*}
	fi
	[[ -v FLAGS[$v] ]] || { echo "unknown variant $v (known: ${!FLAGS[*]}; or NAME=FLAG,FLAG)" >&2; exit 1; }
	[[ $v != *_old ]] || { echo "variant names ending in _old are reserved for EXE_OLD" >&2; exit 1; }
	NAMES+=("$v")
done

CREATED=0
cleanup() {
	local rc=$? p left
	set +e
	if ((CREATED)); then
		# Everything still running in the exporter's namespace was started by this script.
		for p in $(ip netns pids "$HOME_NS" 2>/dev/null); do kill "$p" 2>/dev/null; done
		sleep 0.2
		for p in $(ip netns pids "$HOME_NS" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		ip netns list | awk '{print $1}' | grep "^$PREFIX-" | sed 's/^/netns del /' | ip -force -batch - 2>/dev/null
		left=$(ip netns list | awk '{print $1}' | grep -c "^$PREFIX-")
		log "deleted the namespaces $PREFIX-*; left: $left"
	fi
	rm -f "${RULESET:-}"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[[ $EUID -eq 0 ]] || { echo "run as root" >&2; exit 1; }
[ -x "$EXE" ] || { echo "no exporter at $EXE (build first, or EXE=path)" >&2; exit 1; }
[ -z "$EXE_OLD" ] || [ -x "$EXE_OLD" ] || { echo "EXE_OLD=$EXE_OLD is not executable" >&2; exit 1; }
mkdir -p "$OUT/raw"
rm -f "$OUT"/raw/* "$OUT/netns-raw.txt" "$OUT/netns.md" "$OUT/netns-compare.md"

RULESET=$(mktemp /tmp/nfce-bn-ruleset.XXXXXX)
cat >"$RULESET" <<-'NFT'
table inet t {
	chain out {
		type filter hook output priority 0;
		ct state new counter accept
	}
}
NFT

log "creating $((N + 1)) namespaces with $FLOWS UDP flows each ($JOBS in parallel)"
t0=$(date +%s%N)
CREATED=1
{
	echo "netns add $HOME_NS"
	for i in $(seq "$N"); do echo "netns add $PREFIX-$i"; done
} | ip -batch -
{
	echo "$HOME_NS"
	for i in $(seq "$N"); do echo "$PREFIX-$i"; done
} | xargs -P "$JOBS" -n $(((N + JOBS) / JOBS < 100 ? (N + JOBS) / JOBS : 100)) \
	"$PY" "$HERE/populate.py" "$FLOWS" "$RULESET"
setup_ms=$((($(date +%s%N) - t0) / 1000000))
log "created in $setup_ms ms"
echo "$(ip netns exec "$PREFIX-$N" cat /proc/sys/net/netfilter/nf_conntrack_count) conntrack entries in $PREFIX-$N" >&2

# One exporter run: sets LINE to "NAME round=R key=value..." (see measure.py). In the background
# and waited for, so that a TERM or INT reaches the trap (and the cleanup) at once.
run_variant() { # name round
	local name=$1 r=$2 exe=$EXE base=${1%_old} first=keepalive pid res=$OUT/raw/result.txt
	[[ $name == *_old ]] && exe=$EXE_OLD
	((r % 2)) || first=fresh
	# shellcheck disable=SC2086 # FLAGS are words
	ip netns exec "$HOME_NS" "$PY" "$HERE/measure.py" "$PORT" "$SCRAPES" "$READY_TIMEOUT" \
		"$first" "$OUT/raw/body-$name.txt" "$OUT/raw/log-$name-$r.txt" -- \
		"$exe" --web.listen-address=127.0.0.1:$PORT --log.level=warn ${FLAGS[$base]} >"$res" &
	pid=$!
	wait "$pid"
	LINE="$name round=$r $(cat "$res")"
}

declare -A SKIP=()
raw=$OUT/netns-raw.txt
for r in $(seq "$ROUNDS"); do
	log "round $r of $ROUNDS"
	for v in "${NAMES[@]}"; do
		if [ -z "$EXE_OLD" ]; then
			runs=("$v")
		elif ((r % 2)); then
			runs=("${v}_old" "$v")
		else
			runs=("$v" "${v}_old")
		fi
		for name in "${runs[@]}"; do
			[[ -z ${SKIP[$name]:-} ]] || continue
			run_variant "$name" "$r"
			echo "$LINE" >>"$raw"
			log "$LINE"
			if [[ $LINE == *status=exited* || $LINE == *status=timeout* ]]; then
				SKIP[$name]=1
				log "$name: skipped from now on"
			fi
		done
	done
done
named=$(ip netns list | wc -l)

"$PY" - "$raw" "$N" "$named" "$FLOWS" "$SCRAPES" "$setup_ms" "$EXE" "${EXE_OLD:--}" "$VARIANTS" \
	"$(declare -p FLAGS)" <<'PY' | tee "$OUT/netns.md"
import re, statistics, sys
raw, n, named, flows, scrapes, setup_ms, exe, exe_old, variants, flagdecl = sys.argv[1:]
n, named = int(n), int(named)
flags = dict(re.findall(r'\[([^]]+)\]="([^"]*)"', flagdecl))
runs, notes = {}, {}
for line in open(raw):
    name, *kv = line.split()
    d = dict(x.split("=", 1) for x in kv)
    if d.get("status") != "ok":
        notes[name] = (f"exited with status {d.get('exit')} before answering: "
                       f"{d.get('msg', '').replace('_', ' ')}" if d.get("status") == "exited"
                       else "no answer within READY_TIMEOUT")
        continue
    runs.setdefault(name, []).append({k: float(v) for k, v in d.items() if k != "status"})
med = {k: {m: statistics.median(r[m] for r in v) for m in v[0]} for k, v in runs.items()}
nrounds = max((len(v) for v in runs.values()), default=0)
print(f"N = {n} namespaces made by the bench ({named} named on the host in all), {flows} UDP flows "
      f"each, set up in {int(setup_ms) / 1000:.1f} s; {scrapes} scrapes per mode; medians of "
      f"{nrounds} rounds. Binary: {exe}" + (f"; old: {exe_old}" if exe_old != "-" else "") + "\n")
order = [v for v in variants.split() if v]
order = [v.split("=", 1)[0] for v in order]
names = [x for v in order for x in (v, v + "_old") if x in med or x in notes]
print("| variant | flags | ready ms | keep-alive p50 ms | keep-alive p99 ms | fresh p50 ms | "
      "fresh p99 ms | response KiB | series | namespaces followed | RSS MiB | open fds | "
      "RSS KiB / ns | fds / ns |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
perns = {}
for k in names:
    base = k[:-4] if k.endswith("_old") else k
    if k not in med:
        print(f"| {k} | {flags.get(base, '')} | skipped: {notes.get(k, '?')} |||||||||||")
        continue
    m = med[k]
    own = med.get("own_old" if k.endswith("_old") else "own")
    extra = m["followed"] - 1  # followed namespaces besides the exporter's own
    if own and base != "own" and extra > 0:
        perns[k] = ((m["rss_kb"] - own["rss_kb"]) / extra, (m["fds"] - own["fds"]) / extra)
        pk, pf = f"{perns[k][0]:.0f}", f"{perns[k][1]:.2f}"
    else:
        pk = pf = ""
    fol = f"{m['followed']:.0f}" if m["followed"] >= 0 else "1 (own)"
    print(f"| {k} | {flags.get(base, '') or '(none)'} | {m['ready_ms']:.0f} | {m['ka_p50_ms']:.2f} | "
          f"{m['ka_p99_ms']:.2f} | {m['fresh_p50_ms']:.2f} | {m['fresh_p99_ms']:.2f} | "
          f"{m['bytes'] / 1024:.0f} | {m['series']:.0f} | {fol} | {m['rss_kb'] / 1024:.1f} | "
          f"{m['fds']:.0f} | {pk} | {pf} |")
print("\nready: from starting the exporter until its first GET /metrics answered. Per namespace: "
      "(variant − own) ÷ (namespaces followed − 1). Connections opened per mode, median: " +
      "; ".join(f"{k} {med[k]['ka_conns']:.0f} keep-alive, {med[k]['fresh_conns']:.0f} fresh"
                for k in names if k in med))
if named > n + 1:
    print(f"\nNote: {named - n - 1} named namespaces on the host besides the bench's own {n + 1}; "
          "--netns=all follows them too (and unnamed ones, e.g. containers').")
for k, m in med.items():
    if m.get("unfollowed", 0) > 0:
        print(f"\nNote: {k} left {m['unfollowed']:.0f} namespaces unfollowed for --netns.max "
              "(default 1024): the figures are for the followed ones only.")
for k, note in notes.items():
    print(f"\nNote: {k} ({flags.get(k[:-4] if k.endswith('_old') else k, '')}) skipped: {note}")

# issue 12 targets, for `all` (--netns=all with the default per-namespace metrics)
print()
if n in (200, 1000):
    scale, indicative = n, ""
else:
    scale = 200 if abs(n - 200) <= abs(n - 1000) else 1000
    indicative = f" (indicative only: the targets are set for N = {scale}, this run has N = {n})"
print(f"Targets for N = {scale}, variant `all`{indicative}:\n")
if "all" in med or "all_old" in med:
    print("| variant | target | measured | |")
    print("|---|---|---:|---|")
else:
    print("(variant `all` not measured)")
def mark(ok):
    return "met" if ok else "MISSED"
for k in (x for x in ("all", "all_old") if x in med):
    m = med[k]
    checks = []
    if scale == 200:
        checks += [("keep-alive p50 ≤ 15 ms", m["ka_p50_ms"], 15, "ms"),
                   ("keep-alive p99 ≤ 30 ms", m["ka_p99_ms"], 30, "ms"),
                   ("fresh p50 ≤ 15 ms", m["fresh_p50_ms"], 15, "ms"),
                   ("fresh p99 ≤ 30 ms", m["fresh_p99_ms"], 30, "ms")]
    else:
        checks += [("keep-alive p50 ≤ 60 ms", m["ka_p50_ms"], 60, "ms"),
                   ("fresh p50 ≤ 60 ms", m["fresh_p50_ms"], 60, "ms"),
                   ("RSS ≤ 64 MiB", m["rss_kb"] / 1024, 64, "MiB")]
        if k in perns:
            # to 2 decimals: --netns itself holds a few descriptors (its timer, the /run/netns
            # watch, the own namespace's fd), which the division spreads over the namespaces
            checks.append(("≤ 4 fds per namespace", round(perns[k][1], 2), 4, "fds/ns"))
    for what, v, lim, unit in checks:
        print(f"| {k} | {what} | {v:.2f} {unit} | {mark(v <= lim)} |")
PY

[ -n "$EXE_OLD" ] || exit 0
"$PY" - "$raw" "$N" "$EXE" "$EXE_OLD" <<'PY' | tee "$OUT/netns-compare.md"
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, *kv = line.split()
    d = dict(x.split("=", 1) for x in kv)
    if d.get("status") == "ok":
        runs.setdefault(name, []).append({k: float(v) for k, v in d.items() if k != "status"})
med = {k: {m: statistics.median(r[m] for r in v) for m in v[0]} for k, v in runs.items()}
print(f"{sys.argv[2]} namespaces; old = {sys.argv[4]}, new = {sys.argv[3]}; medians over the "
      "rounds; ratio = new / old\n")
print("| variant | metric | old | new | new / old |")
print("|---|---|---:|---:|---:|")
metrics = (("ready_ms", "ready ms", "{:.0f}"), ("ka_p50_ms", "keep-alive p50 ms", "{:.2f}"),
           ("ka_p99_ms", "keep-alive p99 ms", "{:.2f}"), ("fresh_p50_ms", "fresh p50 ms", "{:.2f}"),
           ("fresh_p99_ms", "fresh p99 ms", "{:.2f}"), ("bytes", "response bytes", "{:,.0f}"),
           ("series", "series", "{:,.0f}"), ("rss_kb", "RSS KiB", "{:,.0f}"), ("fds", "open fds", "{:.0f}"))
for k in (k for k in med if not k.endswith("_old")):
    o, nw = med.get(k + "_old"), med[k]
    for m, label, fmt in metrics:
        ov = fmt.format(o[m]) if o else "skipped"
        r = f"{nw[m] / o[m]:.2f}" if o and o[m] else "n/a"
        print(f"| {k} | {label} | {ov} | {fmt.format(nw[m])} | {r} |")
PY
