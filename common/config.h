/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_CONFIG_H
#define NFCE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* What collectors may know of the command line. Filled by exporter/, read-only after. */
struct config {
	const char *procfs; /* --path.procfs */
	int procfs_fd; /* O_PATH directory fd of procfs; every /proc read is relative to it */
	int sysfs_fd; /* O_PATH of --path.sysfs, or -1 */
	bool no_netlink; /* read /proc only: what unit tests on captured files need */
	size_t events_buffer_size; /* --collector.events.buffer-size */
	unsigned events_max_zones; /* --collector.events.max-zones */
};

#endif
