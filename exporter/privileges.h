/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_PRIVILEGES_H
#define NFCE_PRIVILEGES_H

#include <stdbool.h>
#include <stdint.h>

/*
 * --runas=USER[:GROUP]: become USER (a name or a number) and GROUP (default: USER's primary
 * group; for a number without a passwd entry, the group of the same number), clear the
 * supplementary groups, and keep only CAP_NET_ADMIN in the permitted and effective sets,
 * plus CAP_SYS_ADMIN, CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH with @keep_netns_caps (setns()
 * into, and /proc/PID/ns/net of, other users' namespaces). The bounding set is cut to the
 * same, no-new-privs is set. Must be called as root while the process has a single thread:
 * capabilities are per thread, and a thread started earlier would keep root's.
 * Logs why and returns -errno on any failure: the caller must then not go on.
 */
int privileges_drop(const char *spec, bool keep_netns_caps);

/* The capability mask privileges_drop() keeps, for tests and logs. */
uint64_t privileges_kept_caps(bool keep_netns_caps);

#endif
