#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Every C file must be as clang-format leaves it with the committed .clang-format.
set -eu
top=$1
command -v clang-format >/dev/null || { echo "SKIP: clang-format is not installed"; exit 77; }
cd "$top"
bad=0
for f in $(find common netlink collectors web exporter tests bench -name '*.[ch]' | sort); do
	if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		echo "not formatted: $f (run clang-format -i $f)"
		bad=1
	fi
done
exit $bad
