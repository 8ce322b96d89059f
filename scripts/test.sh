#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Build and run the whole test suite twice, a plain build and one under ASan+UBSan, and the
# unit and fuzz-corpus suites once more under valgrind (it sees into libmnl, which ASan doesn't).
# Unit and fuzz-corpus tests run anywhere; integration tests need root, a kernel with
# nf_conntrack and network namespaces, and say why when they skip.
#   --werror   build with -Werror (CI does)
set -eu
cd "$(dirname "$0")/.."

werror=false
for a in "$@"; do
	case "$a" in
	--werror) werror=true ;;
	*) echo "usage: $0 [--werror]" >&2; exit 2 ;;
	esac
done

./scripts/deps.sh gcc meson ninja-build pkg-config libmnl-dev libmicrohttpd-dev libyaml-dev libgnutls28-dev libcrypt-dev apache2-utils openssl check \
	python3 iproute2 nftables conntrack curl prometheus prometheus-alertmanager libcap2-bin clang-format chromium valgrind \
	python3-yaml python3-prometheus-client groff-base man-db passwd \
	debootstrap buildah podman runc

status=0
run_suite() {
	dir=$1
	shift
	if [ -d "$dir" ]; then
		meson configure "$dir" -Dwerror=$werror "$@" >/dev/null
	else
		meson setup "$dir" -Dwerror=$werror -Dtests=enabled "$@" >/dev/null
	fi
	ninja -C "$dir" >/dev/null
	meson test -C "$dir" --print-errorlogs --num-processes 2 || status=1
}

run_suite build
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	run_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false

meson test -C build --setup valgrind --suite unit --suite fuzz-regress --print-errorlogs \
	--num-processes 2 || status=1

python3 scripts/summarize-tests.py build/meson-logs/testlog.json \
	build-asan/meson-logs/testlog.json build/meson-logs/testlog-valgrind.json
exit $status
