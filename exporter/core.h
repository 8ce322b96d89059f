/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_CORE_H
#define NFCE_CORE_H

/* Inside exporter/ only: what exporter.c and nsfollow.c share. */

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"
#include "collector.h"
#include "config.h"
#include "ctnl.h"
#include "exporter.h"
#include "flags.h"
#include "log.h"
#include "metric_writer.h"
#include "netns.h"
#include "process_metrics.h"
#include "util.h"

/*
 * A ticket lock: first come, first served. A plain mutex let the main thread, busy with a
 * million-entry dump, take it back again and again while a scrape waited for a second.
 */
struct fair_lock {
	pthread_mutex_t mutex;
	pthread_cond_t cond;
	unsigned long next;
	unsigned long serving;
};

/* The collectors of one namespace (or of the host-wide facts) and their log state. */
struct collector_set {
	struct config cfg;
	struct ctnl nl; /* config.nl: one statistics socket for the set's collectors */
	struct collector c[COLLECTORS_MAX];
	size_t n;
	struct log_ratelimit fail_rl[COLLECTORS_MAX];
	const char *logged_note[COLLECTORS_MAX];
	int logged_note_error[COLLECTORS_MAX];
};

/* A followed network namespace (--netns): its fd for setns() and its collectors. */
struct netns_inst {
	struct collector_set set;
	dev_t dev;
	ino_t ino;
	pid_t pid;
	int fd;
	uint32_t gen; /* tells a freed and reused slot from the one an epoll event was for */
	bool seen;
	char label[NETNS_NAME_MAX + 1]; /* the netns label: its name, or inode:NNN */
	struct pod_id pod; /* from a process's /proc/PID/cgroup, at most NSIDENT_REFRESH_S old */
};

/* One namespace's part in an identity refresh, found again by slot and generation after. */
struct nsident_job {
	uint32_t slot;
	uint32_t gen;
	struct pod_id pod;
};

struct exporter {
	/* Scrapes run on the HTTP thread, events on the main one: this keeps them apart. */
	struct fair_lock lock;
	struct config cfg;
	/* Alone: everything. With --netns: the host-wide facts, unlabelled. */
	struct collector_set host;
	struct metric_writer w;
	struct process_metrics pm;
	struct scrape_observer obs;
	void (*extra_write)(void *ctx, struct metric_writer *w); /* exporter_add_writer() */
	void *extra_ctx;
	int epfd; /* the main loop's, for collectors' event fds; -1 before it exists */
	int tick_fd; /* one timer for every collector's tick and the namespace scans */
	uint64_t ticked_us; /* when the collectors' ticks last ran */

	/* --netns */
	bool netns_mode;
	bool netns_all;
	const char *const *netns_names;
	size_t n_netns_names;
	unsigned netns_max;
	unsigned netns_fd_max; /* what RLIMIT_NOFILE leaves room for */
	const bool *enabled; /* per registry entry */
	int self_ns_fd;
	struct netns_scan scan;
	bool netns_full; /* --netns.metrics=full */
	dev_t self_dev; /* the exporter's own namespace, which always gets every series */
	ino_t self_ino;
	uint64_t scanned_us; /* last namespace scan, monotonic; 0: never */
	bool scan_soon; /* /run/netns changed: scan at the next (short) tick */
	unsigned scan_retries; /* names seen before their mount, looked at again shortly */
	int inotify_fd; /* on /run/netns, -1 without */
	int inotify_wd; /* -1 while /run/netns is missing: added again at the next scan */
	struct netns_inst **ns; /* slots; NULL when free */
	size_t ns_slots;
	size_t ns_first_free; /* no free slot below it */
	struct netns_inst **idx; /* followed ones sorted by inode, rebuilt at each look */
	size_t n_idx, idx_cap;
	uint32_t next_gen;
	unsigned ns_over_limit; /* namespaces seen but not followed: --netns.max */
	unsigned ns_failed; /* namespaces that could not be entered */
	int fatal; /* a thread could not get back to its own namespace */
	struct metric_writer nsw; /* every namespace's families in turn, before mw_regroup() */
	/* Who each followed namespace is (pod UID, container, addresses): nsfollow.c */
	uint64_t ident_us; /* last identity refresh, monotonic; 0: never */
	bool ident_soon; /* a namespace was followed since: refresh after NETNS_SCAN_S */
	struct ns_addrmap addrs; /* address -> followed namespace, for the addr_owner hook */
	struct nsident_job *ident_jobs;
	struct netns_key *ident_keys;
	size_t ident_cap, ident_keys_cap;
	struct rbuf ident_buf; /* /proc/PID/cgroup */
};

/* Event fd tags: generation, set (a namespace slot, or the host set), collector. */
#define TAG_SET_SHIFT 8
#define TAG_GEN_SHIFT 24
#define TAG_HOST_SET 0xffff
/* The core's own fds: its one-second timer and the /run/netns watch. */
#define TAG_CORE_SET 0xfffe
#define TAG_CORE_TICK 0
#define TAG_CORE_INOTIFY 1
/* Namespace discovery: every NETNS_SCAN_S by the loop, at a scrape when twice that old. */
#define NETNS_SCAN_S 5
/*
 * Pod identity and addresses of followed namespaces: refreshed by the loop every
 * NSIDENT_REFRESH_S (one /proc walk for all of them), NETNS_SCAN_S after a new one is followed;
 * at most NSIDENT_ADDRS_MAX addresses a namespace.
 */
#define NSIDENT_REFRESH_S 30
#define NSIDENT_ADDRS_MAX 16

static inline uint64_t make_tag(size_t set, uint32_t gen, size_t i)
{
	return (uint64_t)gen << TAG_GEN_SHIFT | (uint64_t)set << TAG_SET_SHIFT | i;
}

/* exporter.c */
void fair_lock(struct fair_lock *l);
void fair_unlock(struct fair_lock *l);
int set_init(struct collector_set *s, const struct config *cfg, const bool *enabled,
	     const char *netns);
void set_fini(struct collector_set *s);
int set_watch(struct collector_set *s, int epfd, size_t set, uint32_t gen, int op);
void collect_set(struct collector_set *s, struct metric_writer *w,
		 const struct scrape_observer *obs, const char *netns);

/* tick.c: the core's timer and /run/netns watch, in the main loop under the lock */
int core_watch(struct exporter *e);
void core_event(struct exporter *e, size_t what);
/* Without a loop (doctor): the own set's ticks, when a second has passed. */
void tick_host(struct exporter *e);

/* nsfollow.c */
int netns_follow_init(struct exporter *e);
void netns_follow_fini(struct exporter *e);
int ns_enter(const struct netns_inst *n);
void ns_leave(struct exporter *e);
void drop_unenterable(struct exporter *e, size_t slot, int err);
size_t ns_count(const struct exporter *e);
/* Follow namespaces that appeared, drop those gone; the caller holds the lock. */
void exporter_netns_refresh(struct exporter *e);
/* From the tick: a scan when one is due; returns µs until the next tick should come, or 0. */
uint64_t netns_tick(struct exporter *e);
/* /run/netns changed: read the notifications; the scan follows shortly (the mount lags). */
void netns_inotify(struct exporter *e);
/* The /run/netns watch, made or made again (the directory may appear later). */
void netns_watch_run_dir(struct exporter *e);
/* The host set, then each namespace's collectors with the netns label, regrouped into e->w. */
int collect_namespaces(struct exporter *e);
/* From the tick: pod identity and addresses when due; may let the lock go in between. */
void nsident_tick(struct exporter *e);
/* nf_conntrack_netns_info and, when every namespace is followed, nf_conntrack_host_entries. */
void write_netns_facts(struct exporter *e);

#endif
