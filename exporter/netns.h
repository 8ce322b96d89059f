/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_NETNS_H
#define NFCE_NETNS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Where ip-netns(8) bind-mounts named namespaces. */
#define NETNS_RUN_DIR "/run/netns"
#define NETNS_NAME_MAX 255
#define NETNS_PENDING_S 2

/* One network namespace seen on the host, known by its nsfs inode. */
struct netns_seen {
	dev_t dev;
	ino_t ino;
	pid_t pid; /* lowest process in it, 0 when none was looked for or found */
	char name[NETNS_NAME_MAX + 1]; /* under /run/netns, smallest of several; "" for none */
	bool followed; /* the caller's mark */
};

/* What one discovery found, reused from one to the next. */
struct netns_scan {
	struct netns_seen *v;
	size_t n;
	size_t cap;
	dev_t nsfs_dev; /* a file under /run/netns not on nsfs is no namespace (yet) */
	/* Such files made in the last NETNS_PENDING_S: "ip netns add" made the name, not yet the mount. */
	unsigned pending;
};

/*
 * With @names == NULL, every namespace: the /run/netns bind mounts under @run_dir and each
 * process's /proc/PID/ns/net under @procfs_fd. Otherwise only the @n_names given names.
 * Sorted by inode, each once. Processes that end mid-scan are skipped, not errors.
 */
int netns_scan(struct netns_scan *s, int procfs_fd, const char *run_dir, const char *const *names,
	       size_t n_names);
void netns_scan_free(struct netns_scan *s);

/*
 * Open the namespace @seen for setns(), checking that what the path leads to now is still
 * that namespace: a pid may have been reused, a name re-pointed. -ESTALE if not.
 */
int netns_open(const struct netns_seen *seen, int procfs_fd, const char *run_dir);

#endif
