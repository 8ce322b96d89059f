/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_NETNS_H
#define NFCE_NETNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
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

/*
 * Pod identity (issue 13): one walk of /proc finds, for each of the @n namespaces in @keys,
 * the lowest pid in it: each process's namespace is looked up among the keys (sorted here), not
 * one walk per namespace. pid 0 where none was found (a name with no process in it).
 */
struct netns_key {
	dev_t dev;
	ino_t ino;
	size_t user; /* the caller's, kept */
	pid_t pid; /* out */
};

int netns_find_pids(int procfs_fd, struct netns_key *keys, size_t n);

/*
 * Which followed namespace owns an address: (family, address) -> (slot, generation) of a
 * followed namespace, sorted for bsearch() at scrape time. An address found in more than one
 * namespace belongs to none (overlapping pod networks).
 */
struct ns_addr {
	unsigned char addr[16]; /* AF_INET: the first 4 bytes, the rest 0 */
	unsigned char family;
	uint32_t slot;
	uint32_t gen;
};

struct ns_addrmap {
	struct ns_addr *v;
	size_t n;
	size_t cap;
};

int ns_addrmap_add(struct ns_addrmap *m, int family, const void *addr, uint32_t slot, uint32_t gen);
/* Sort, and drop the addresses claimed by more than one namespace: after the last add. */
void ns_addrmap_seal(struct ns_addrmap *m);
const struct ns_addr *ns_addrmap_find(const struct ns_addrmap *m, int family, const void *addr);
void ns_addrmap_free(struct ns_addrmap *m);

#endif
