/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_CONFIG_H
#define NFCE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

struct ctnl;

/*
 * What a collector instance collects. Alone (the default), one instance does both. With
 * --netns, one instance collects the host-wide facts and one per namespace the rest, so that
 * each series is written once: unlabelled for the host, with a netns label per namespace.
 */
#define SCOPE_HOST 0x1 /* the same whatever the namespace: limits, buckets, timeouts */
#define SCOPE_NETNS 0x2 /* counted per network namespace: entries, statistics, events */

/* Series of one namespace with --netns.metrics=basic, netns_info and collector_success included. */
#define NETNS_BASIC_SERIES 20

/* What collectors may know of the command line. Filled by exporter/, read-only after. */
struct config {
	unsigned scope; /* SCOPE_* this instance collects */
	/* /proc/net of the namespace, relative to procfs_fd: "net", or "thread-self/net" in
	 * another namespace, where /proc/net would still show the process's own. */
	const char *net_dir;
	const char *procfs; /* --path.procfs */
	int procfs_fd; /* O_PATH directory fd of procfs; every /proc read is relative to it */
	int sysfs_fd; /* O_PATH of --path.sysfs, or -1 */
	bool no_netlink; /* read /proc only: what unit tests on captured files need */
	/*
	 * The namespace's statistics socket, shared by its collectors (one descriptor instead of
	 * one each); NULL: no netlink, as with no_netlink. Opened lazily inside the namespace.
	 */
	struct ctnl *nl;
	/*
	 * --netns.metrics=basic, in a followed namespace other than the exporter's own: only the
	 * series an operator alerts and drills down on, at most NETNS_BASIC_SERIES of them.
	 */
	bool basic;
	size_t events_buffer_size; /* --collector.events.buffer-size */
	unsigned events_max_zones; /* --collector.events.max-zones */
	/* --collector.attribution*: who fills the table (collectors/attrib.h) */
	struct {
		bool enabled;
		unsigned top_k; /* series per family before "other" */
		unsigned sketch_size; /* Space-Saving slots per family */
		unsigned prefix4, prefix6; /* sources aggregated to these prefix lengths */
		unsigned snat_ports; /* size of the SNAT source-port range */
		unsigned refresh_s; /* rebuild summaries that evicted keys this often (0: never) */
	} attrib;
	/* With --netns: the followed namespace owning @addr (AF_INET: 4 bytes, AF_INET6: 16), or NULL. */
	const char *(*addr_owner)(const void *ctx, int family, const void *addr);
	const void *addr_owner_ctx;
};

#endif
