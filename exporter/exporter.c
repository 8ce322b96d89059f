// SPDX-License-Identifier: GPL-2.0-or-later
#include "exporter.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#ifndef NFCE_VERSION
#define NFCE_VERSION "unknown"
#endif

void fair_lock_init(struct fair_lock *l)
{
	pthread_mutex_init(&l->mutex, NULL);
	pthread_cond_init(&l->cond, NULL);
	l->next = l->serving = 0;
}

void fair_lock(struct fair_lock *l)
{
	unsigned long ticket;

	pthread_mutex_lock(&l->mutex);
	ticket = l->next++;
	while (ticket != l->serving)
		pthread_cond_wait(&l->cond, &l->mutex);
	pthread_mutex_unlock(&l->mutex);
}

void fair_unlock(struct fair_lock *l)
{
	pthread_mutex_lock(&l->mutex);
	l->serving++;
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->mutex);
}

int exporter_init(struct exporter *e, const struct flags *f)
{
	int r;

	*e = (struct exporter){ .cfg = {
					.procfs = f->procfs,
					.procfs_fd = -1,
					.sysfs_fd = -1,
					.events_buffer_size = f->events_buffer_size,
					.events_max_zones = f->events_max_zones,
				} };
	fair_lock_init(&e->lock);
	mw_init(&e->w, SCRAPE_MAX_BYTES);
	e->cfg.procfs_fd = open(f->procfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (e->cfg.procfs_fd < 0)
		return -errno;
	/* Only the hashsize module parameter lives there: without it, that metric is left out. */
	e->cfg.sysfs_fd = open(f->sysfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	r = process_metrics_init(&e->pm);
	if (r < 0)
		log_warn("cannot read the process start time", LF_ERR(r));

	for (size_t i = 0; i < collector_registry_size; i++) {
		const struct collector_ops *ops = collector_registry[i];
		struct collector *c = &e->collectors[e->n_collectors];

		if (!f->collector_enabled[i])
			continue;
		*c = (struct collector){ .ops = ops, .cfg = &e->cfg, .enabled = true };
		if (ops->priv_size) {
			c->priv = calloc(1, ops->priv_size);
			if (!c->priv)
				return -ENOMEM;
		}
		e->fail_rl[e->n_collectors] = (struct log_ratelimit)LOG_RATELIMIT_INIT(60, 1);
		e->n_collectors++;
		r = ops->init ? ops->init(c, &e->cfg) : 0;
		if (r == -EOPNOTSUPP) {
			log_info("collector not supported here, disabled",
				 LF_STR("collector", ops->name));
			c->enabled = false;
			continue;
		}
		if (r < 0) {
			log_error("cannot initialise collector", LF_STR("collector", ops->name),
				  LF_ERR(r));
			return r;
		}
		log_info("collector enabled", LF_STR("collector", ops->name));
	}
	return 0;
}

void exporter_fini(struct exporter *e)
{
	for (size_t i = 0; i < e->n_collectors; i++) {
		struct collector *c = &e->collectors[i];

		if (c->ops->fini)
			c->ops->fini(c);
		free(c->priv);
	}
	e->n_collectors = 0;
	if (e->cfg.procfs_fd >= 0)
		close(e->cfg.procfs_fd);
	if (e->cfg.sysfs_fd >= 0)
		close(e->cfg.sysfs_fd);
	e->cfg.procfs_fd = e->cfg.sysfs_fd = -1;
	mw_free(&e->w);
}

static void log_note_change(struct exporter *e, size_t i)
{
	struct collector *c = &e->collectors[i];

	if (c->note == e->logged_note[i] && c->note_error == e->logged_note_error[i])
		return;
	if (c->note)
		log_warn(c->note, LF_STR("collector", c->ops->name), LF_ERR(c->note_error));
	else
		log_info("collector back to its primary source", LF_STR("collector", c->ops->name));
	e->logged_note[i] = c->note;
	e->logged_note_error[i] = c->note_error;
}

static void collect_one(struct exporter *e, size_t i)
{
	struct collector *c = &e->collectors[i];
	size_t mark = e->w.len;
	uint64_t t0 = now_monotonic_us();
	int r;

	r = c->ops->collect(c, &e->w);
	if (r >= 0 && mw_error(&e->w))
		r = mw_error(&e->w);
	c->last_duration = (double)(now_monotonic_us() - t0) / 1e6;
	c->last_success = r >= 0;
	c->last_error = r;
	if (r < 0) {
		unsigned n = log_ratelimit_ok(&e->fail_rl[i], now_monotonic_us());

		/* Half-written families would break the exposition: keep nothing of it. */
		mw_truncate(&e->w, mark);
		if (n)
			log_warn("collector failed", LF_STR("collector", c->ops->name), LF_ERR(r),
				 LF_INT("times", n));
	}
	log_note_change(e, i);
}

static void write_self_metrics(struct exporter *e)
{
	struct metric_writer *w = &e->w;

	mw_family(w, "nf_conntrack_exporter_build_info", METRIC_GAUGE,
		  "A metric with a constant '1' value labeled by the exporter's version.");
	mw_u64(w, "nf_conntrack_exporter_build_info", MW_LABELS({ "version", NFCE_VERSION }), 1);

	mw_family(w, "nf_conntrack_exporter_collector_success", METRIC_GAUGE,
		  "Whether the collector succeeded at this scrape (1) or not (0).");
	for (size_t i = 0; i < e->n_collectors; i++)
		if (e->collectors[i].enabled)
			mw_u64(w, "nf_conntrack_exporter_collector_success",
			       MW_LABELS({ "collector", e->collectors[i].ops->name }),
			       e->collectors[i].last_success);
	mw_family(w, "nf_conntrack_exporter_collector_duration_seconds", METRIC_GAUGE,
		  "Time the collector took at this scrape.");
	for (size_t i = 0; i < e->n_collectors; i++)
		if (e->collectors[i].enabled)
			mw_double(w, "nf_conntrack_exporter_collector_duration_seconds",
				  MW_LABELS({ "collector", e->collectors[i].ops->name }),
				  e->collectors[i].last_duration);
	process_metrics_write(&e->pm, w);
}

int exporter_scrape(struct exporter *e)
{
	mw_reset(&e->w);
	for (size_t i = 0; i < e->n_collectors; i++)
		if (e->collectors[i].enabled)
			collect_one(e, i);
	write_self_metrics(e);
	if (mw_error(&e->w))
		return mw_error(&e->w);
	status_update(&e->status, e->w.buf, e->w.len, now_realtime());
	return 0;
}
