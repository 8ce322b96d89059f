#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Build and run bench.c against a build dir's libraries: the typed sample path vs the old
# re-parsing of the exposition, at 1, 200 and 1000 namespaces. Usage: run.sh [BUILD_DIR]
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
B=${1:-$ROOT/build}
ninja -C "$B" common/libcommon.a netlink/libnetlink.a collectors/libcollectors.a web/libweb.a >/dev/null
cc -O2 -std=gnu11 -D_GNU_SOURCE -I"$ROOT/common" -I"$ROOT/collectors" -I"$ROOT/netlink" \
	-I"$ROOT/web" -I"$HERE" "$HERE/bench.c" "$HERE/old.c" \
	"$B/web/libweb.a" "$B/collectors/libcollectors.a" "$B/netlink/libnetlink.a" \
	"$B/common/libcommon.a" -lmnl -lm -o "$B/bench-typed-samples"
FIX=$ROOT/tests/fixtures/linux-6.18-2cpu
for n in 1 200 1000; do
	"$B/bench-typed-samples" "$FIX" "$n" $((n > 200 ? 10 : 50))
	echo
done
# Instructions per scrape (callgrind: the same count whatever else the machine is doing):
# a mode's total at 4 iterations minus its total at 0, divided by 4.
command -v valgrind >/dev/null || exit 0
ir() { # n, iterations, mode
	valgrind --tool=callgrind --callgrind-out-file=/dev/null "$B/bench-typed-samples" \
		"$FIX" "$1" "$2" "$3" 2>&1 | sed -n 's/.*Collected : *\([0-9]*\).*/\1/p'
}
printf 'namespaces\tmode\tinstructions_per_scrape\n'
for n in 1 200; do
	for mode in old_regroup regroup render render_tap render_old_parse; do
		a=$(ir "$n" 0 "$mode")
		b=$(ir "$n" 4 "$mode")
		printf '%s\t%s\t%s\n' "$n" "$mode" $(((b - a) / 4))
	done
done
