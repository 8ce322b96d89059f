#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Build the container image of deploy/container/Containerfile with buildah (or podman):
#   ./scripts/image.sh                       -> localhost/nf-conntrack-exporter:VERSION
# Environment: IMAGE (name:tag to build), BASE (the Debian 12 image of the build stage,
# default docker.io/library/debian:bookworm-slim). Further arguments go to `buildah bud`
# (e.g. --isolation=chroot, --platform=linux/arm64).
set -eu
cd "$(dirname "$0")/.."

version=$(sed -n "s/^[[:space:]]*version : '\([^']*\)',*$/\1/p" meson.build | head -n1)
image=${IMAGE:-nf-conntrack-exporter:$version}
set -- --layers=false -f deploy/container/Containerfile -t "$image" ${BASE:+--build-arg "BASE=$BASE"} "$@"
if command -v buildah >/dev/null; then
	exec buildah bud "$@" .
elif command -v podman >/dev/null; then
	exec podman build "$@" .
fi
echo "neither buildah nor podman is installed (Debian: apt-get install buildah)" >&2
exit 1
