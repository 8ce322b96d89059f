// SPDX-License-Identifier: GPL-2.0-or-later
#include "reloads.h"

#include <string.h>

void reload_stats_init(struct reload_stats *rs, double now)
{
	*rs = (struct reload_stats){ .last_ok = true, .last_success = now };
	pthread_mutex_init(&rs->lock, NULL);
}

void reload_stats_fini(struct reload_stats *rs)
{
	pthread_mutex_destroy(&rs->lock);
}

void reload_stats_success(struct reload_stats *rs, double now)
{
	pthread_mutex_lock(&rs->lock);
	rs->last_ok = true;
	rs->last_success = now;
	pthread_mutex_unlock(&rs->lock);
}

void reload_stats_failure(struct reload_stats *rs, enum reload_failure why)
{
	pthread_mutex_lock(&rs->lock);
	rs->failures[why]++;
	rs->last_ok = false;
	pthread_mutex_unlock(&rs->lock);
}

void reload_stats_write(struct reload_stats *rs, struct metric_writer *w)
{
	static const char *const reasons[RELOAD_FAIL_N] = {
		[RELOAD_FAIL_INVALID] = "invalid",
		[RELOAD_FAIL_DOWNGRADE] = "downgrade",
		[RELOAD_FAIL_SERVER] = "server",
	};
	uint64_t failures[RELOAD_FAIL_N];
	double last_success;
	bool last_ok;

	pthread_mutex_lock(&rs->lock);
	memcpy(failures, rs->failures, sizeof(failures));
	last_ok = rs->last_ok;
	last_success = rs->last_success;
	pthread_mutex_unlock(&rs->lock);
	mw_family(
		w, MN_WEB_CONFIG_RELOAD_FAILURES, METRIC_COUNTER,
		"Reloads of --web.config.file refused, the running config kept: invalid (the file "
		"or one it names does not load), downgrade (it would remove TLS, a required client "
		"certificate or basic auth), server (the HTTP server did not start with it).");
	for (size_t i = 0; i < RELOAD_FAIL_N; i++)
		mw_u64(w, MN_WEB_CONFIG_RELOAD_FAILURES, MW_LABELS({ "reason", reasons[i] }),
		       failures[i]);
	mw_family(w, MN_WEB_CONFIG_LAST_RELOAD_OK, METRIC_GAUGE,
		  "Whether the last reload of --web.config.file succeeded (1) or was refused (0).");
	mw_u64(w, MN_WEB_CONFIG_LAST_RELOAD_OK, MW_NO_LABELS, last_ok);
	mw_family(w, MN_WEB_CONFIG_LAST_RELOAD_TIME, METRIC_GAUGE,
		  "When the running web config was loaded, at startup or by a reload.");
	mw_double(w, MN_WEB_CONFIG_LAST_RELOAD_TIME, MW_NO_LABELS, last_success);
}
