/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_CGROUP_H
#define NFCE_CGROUP_H

#include <stddef.h>

/* A pod UID: 36 characters in the dashed form, or 32 hex (a static pod's config hash). */
#define POD_UID_MAX 36
#define CONTAINER_ID_LEN 64

/* Who a process is to Kubernetes, from its cgroup path alone. "" for what is not known. */
struct pod_id {
	char uid[POD_UID_MAX + 1];
	char container_id[CONTAINER_ID_LEN + 1];
};

/*
 * A /proc/PID/cgroup file: "0::/path" (cgroup v2) and "N:controllers:/path" (v1) lines. The
 * pod UID comes from the kubelet's pod cgroup, systemd driver (kubepods-besteffort-pod<uid
 * with _>.slice, kubepods-burstable-pod..., kubepods-pod...) or cgroupfs driver
 * (/kubepods[/besteffort|/burstable]/pod<uid>), and is returned dashed; the container ID from
 * the cgroup right below it (cri-containerd-<id>.scope, crio-<id>.scope, docker-<id>.scope or a
 * bare <id>) or, outside a pod, from the last one of the systemd forms. The v2 line is
 * preferred, then the first v1 line that has the most. 0 when a UID or a container ID was
 * found, -ENOENT when the file is well-formed but names neither, -EINVAL when it is not a
 * cgroup file. Reads nothing past @len, allocates nothing; *@ret written only on success.
 */
int cgroup_pod_parse(const char *buf, size_t len, struct pod_id *ret);

#endif
