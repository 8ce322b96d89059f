/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_RELOADS_H
#define NFCE_RELOADS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "metric_writer.h"

/*
 * What the reloads of --web.config.file came to, for the self metrics: counted by the main
 * thread, written by a scrape on the HTTP thread. Names as Prometheus's own
 * prometheus_config_last_reload_successful and _success_timestamp_seconds.
 */
#define MN_WEB_CONFIG_RELOAD_FAILURES "nf_conntrack_exporter_web_config_reload_failures_total"
#define MN_WEB_CONFIG_LAST_RELOAD_OK "nf_conntrack_exporter_web_config_last_reload_successful"
#define MN_WEB_CONFIG_LAST_RELOAD_TIME \
	"nf_conntrack_exporter_web_config_last_reload_success_timestamp_seconds"

enum reload_failure {
	RELOAD_FAIL_INVALID, /* the file, or a file it names, does not load */
	RELOAD_FAIL_DOWNGRADE, /* it would remove protection the running config has */
	RELOAD_FAIL_SERVER, /* the HTTP server did not start with it */
	RELOAD_FAIL_N,
};

struct reload_stats {
	pthread_mutex_t lock;
	uint64_t failures[RELOAD_FAIL_N];
	bool last_ok;
	double last_success; /* Unix time */
};

/* The config loaded at startup at @now counts as the first successful load. */
void reload_stats_init(struct reload_stats *rs, double now);
void reload_stats_fini(struct reload_stats *rs);
void reload_stats_success(struct reload_stats *rs, double now);
void reload_stats_failure(struct reload_stats *rs, enum reload_failure why);
/* Every reason is written, zero or not: the series exist before the first failure. */
void reload_stats_write(struct reload_stats *rs, struct metric_writer *w);

#endif
