#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Build nf_conntrack_exporter and run it in the foreground on :39901 (Ctrl-C stops it).
# Extra arguments go to the exporter, e.g. ./scripts/start.sh --web.listen-address=127.0.0.1:39901
set -eu
cd "$(dirname "$0")/.."

./scripts/deps.sh gcc meson ninja-build pkg-config libmnl-dev libmicrohttpd-dev libyaml-dev libgnutls28-dev libcrypt-dev
[ -d build ] || meson setup build -Dtests=disabled >/dev/null
ninja -C build exporter/nf_conntrack_exporter >/dev/null
exec ./build/exporter/nf_conntrack_exporter "$@"
