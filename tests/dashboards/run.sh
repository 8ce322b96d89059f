#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The dashboard test: a live scrape of the exporter (live_metrics.sh), then check_dashboard.py
# on the dashboard with that scrape, self-test included.
# usage: run.sh EXPORTER [DASHBOARD]
# Exit 0 pass, 1 fail, 77 skip (not root, or ip/nft/curl/promtool missing).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { echo "FAIL: usage: $0 EXPORTER [DASHBOARD]"; exit 1; }
EXPORTER=$1
DASHBOARD=${2:-$HERE/../../dashboards/grafana/nf_conntrack.json}
PYTHON=${PYTHON:-python3}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/nfce-dash-run.XXXXXX") || { echo "FAIL: mktemp failed"; exit 1; }
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM HUP

"$HERE/live_metrics.sh" "$EXPORTER" "$TMP/metrics.txt" "$TMP/lnstat.txt"
rc=$?
[ $rc -eq 0 ] || exit $rc # 77 (skip) passes through

set -- "$TMP/metrics.txt"
[ -s "$TMP/lnstat.txt" ] && set -- "$@" "$TMP/lnstat.txt"
"$PYTHON" "$HERE/check_dashboard.py" --self-test --dashboard "$DASHBOARD" "$@"
