/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_EXPORTER_H
#define NFCE_EXPORTER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector.h"
#include "config.h"
#include "flags.h"
#include "log.h"
#include "metric_writer.h"
#include "netns.h"
#include "process_metrics.h"
#include "status.h"

/* A scrape bigger than this is refused (HTTP 500) rather than eating the host's memory. */
#define SCRAPE_MAX_BYTES (64u << 20)

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

void fair_lock_init(struct fair_lock *l);
void fair_lock(struct fair_lock *l);
void fair_unlock(struct fair_lock *l);

/* The collectors of one namespace (or of the host-wide facts) and their log state. */
struct collector_set {
	struct config cfg;
	struct collector c[FLAGS_MAX_COLLECTORS];
	size_t n;
	struct log_ratelimit fail_rl[FLAGS_MAX_COLLECTORS];
	const char *logged_note[FLAGS_MAX_COLLECTORS];
	int logged_note_error[FLAGS_MAX_COLLECTORS];
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
};

/* A rendered family of one namespace's output, for regrouping families across namespaces. */
struct ns_segment {
	size_t name, name_len; /* offsets into the namespace writer */
	size_t head, body, end;
	unsigned family;
};

struct exporter {
	/* Scrapes run on the HTTP thread, events on the main one: this keeps them apart. */
	struct fair_lock lock;
	struct config cfg;
	/* Alone: everything. With --netns: the host-wide facts, unlabelled. */
	struct collector_set host;
	struct metric_writer w;
	struct process_metrics pm;
	struct status status;
	int epfd; /* the main loop's, for collectors' event fds; -1 before it exists */

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
	struct netns_inst **ns; /* slots; NULL when free */
	size_t ns_slots;
	size_t ns_first_free; /* no free slot below it */
	struct netns_inst **idx; /* followed ones sorted by inode, rebuilt at each look */
	size_t n_idx, idx_cap;
	uint32_t next_gen;
	unsigned ns_over_limit; /* namespaces seen but not followed: --netns.max */
	unsigned ns_failed; /* namespaces that could not be entered */
	int fatal; /* a thread could not get back to its own namespace */
	struct metric_writer nsw;
	struct ns_segment *seg;
	size_t n_seg, seg_cap;
	size_t *order;
	size_t order_cap;
};

int exporter_init(struct exporter *e, const struct flags *f);
void exporter_fini(struct exporter *e);
/* Render all enabled collectors and the self metrics into e->w, and sample the status. */
int exporter_scrape(struct exporter *e);
/* Register the collectors' event fds with the main loop's epoll @epfd (tags below 2^56). */
int exporter_watch(struct exporter *e, int epfd);
/*
 * Handle the event fd tagged @tag; takes the lock. Returns 0, a holdoff in microseconds
 * (> 0) the caller should wait before the next round, or -errno, with the collector's name
 * in *@ret_name.
 */
int exporter_on_event(struct exporter *e, uint64_t tag, const char **ret_name);
/* Follow namespaces that appeared, drop those gone; takes no lock (the caller holds it). */
void exporter_netns_refresh(struct exporter *e);

#endif
