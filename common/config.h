/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_CONFIG_H
#define NFCE_CONFIG_H

#include <stdbool.h>

/* What collectors may know of the command line. Filled by exporter/, read-only after. */
struct config {
	const char *procfs; /* --path.procfs */
	int procfs_fd; /* O_PATH directory fd of procfs; every /proc read is relative to it */
	bool no_netlink; /* read /proc only: what unit tests on captured files need */
};

#endif
