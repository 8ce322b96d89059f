/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_PROCESS_METRICS_H
#define NFCE_PROCESS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "metric_writer.h"

struct proc_self_stat {
	uint64_t utime_ticks;
	uint64_t stime_ticks;
	uint64_t starttime_ticks;
	uint64_t vsize_bytes;
	uint64_t rss_pages;
};

/* /proc/<pid>/stat: fields after the last ')' so that a comm with spaces can't shift them. */
int proc_self_stat_parse(const char *buf, size_t len, struct proc_self_stat *ret);
/* "btime N" from /proc/stat. */
int proc_stat_btime_parse(const char *buf, size_t len, uint64_t *ret);

/* The standard process_* metrics of Prometheus clients, for this process. */
struct process_metrics {
	double start_time;
	long ticks;
	long page_size;
	int stat_fd; /* /proc/self/stat, kept open: read again, not opened again, at each scrape */
};

int process_metrics_init(struct process_metrics *pm);
void process_metrics_fini(struct process_metrics *pm);
void process_metrics_write(const struct process_metrics *pm, struct metric_writer *w);

#endif
