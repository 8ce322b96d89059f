// SPDX-License-Identifier: GPL-2.0-or-later
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "metric_names.h"
#include "util.h"

#ifndef NFCE_VERSION
#define NFCE_VERSION "unknown"
#endif

static void fair_lock_init(struct fair_lock *l)
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

int set_init(struct collector_set *s, const struct config *cfg, const bool *enabled,
	     const char *netns)
{
	s->cfg = *cfg;
	s->nl = (struct ctnl){ .refused = cfg->no_netlink };
	s->cfg.nl = &s->nl;
	for (size_t i = 0; i < collector_registry_size; i++) {
		const struct collector_ops *ops = collector_registry[i];
		struct collector *c = &s->c[s->n];
		int r;

		if (!enabled[i] || !(ops->scopes & cfg->scope) || (cfg->basic && !ops->basic))
			continue;
		*c = (struct collector){ .ops = ops, .cfg = &s->cfg, .enabled = true };
		if (ops->priv_size) {
			c->priv = calloc(1, ops->priv_size);
			if (!c->priv)
				return -ENOMEM;
		}
		s->fail_rl[s->n] = (struct log_ratelimit)LOG_RATELIMIT_INIT(60, 1);
		s->n++;
		r = ops->init ? ops->init(c, &s->cfg) : 0;
		if (r == -EOPNOTSUPP) {
			log_info("collector not supported here, disabled",
				 LF_STR("collector", ops->name), LF_STR("netns", netns));
			c->enabled = false;
			continue;
		}
		if (r < 0) {
			log_error("cannot initialise collector", LF_STR("collector", ops->name),
				  LF_STR("netns", netns), LF_ERR(r));
			return r;
		}
		if (!netns)
			log_info("collector enabled", LF_STR("collector", ops->name));
	}
	return 0;
}

void set_fini(struct collector_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct collector *c = &s->c[i];

		if (c->ops->fini)
			c->ops->fini(c);
		free(c->priv);
	}
	s->n = 0;
	ctnl_close(&s->nl);
}

int set_watch(struct collector_set *s, int epfd, size_t set, uint32_t gen, int op)
{
	for (size_t i = 0; i < s->n; i++) {
		struct collector *c = &s->c[i];
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = make_tag(set, gen, i) };
		int fd;

		if (!c->enabled || !c->ops->event_fd || !c->ops->on_event)
			continue;
		fd = c->ops->event_fd(c);
		if (fd >= 0 && epoll_ctl(epfd, op, fd, &ev) < 0 && op == EPOLL_CTL_ADD)
			return -errno;
	}
	return 0;
}

int exporter_new(const struct flags *f, struct exporter **ret)
{
	struct exporter *e = calloc(1, sizeof(*e));
	int r;

	if (!e)
		return -ENOMEM;
	*e = (struct exporter){
		.cfg = {
			.scope = SCOPE_HOST | SCOPE_NETNS,
			.net_dir = "net",
			.procfs = f->procfs,
			.procfs_fd = -1,
			.sysfs_fd = -1,
			.events_buffer_size = f->events_buffer_size,
			.events_max_zones = f->events_max_zones,
			.attrib = {
				.enabled = !f->attrib.off,
				.top_k = f->attrib.top_k,
				.sketch_size = f->attrib.sketch_size,
				.prefix4 = f->attrib.prefix4,
				.prefix6 = f->attrib.prefix6,
				.snat_ports = f->attrib.snat_hi - f->attrib.snat_lo + 1,
				.refresh_s = f->attrib.refresh_s,
			},
		},
		.pm = { .stat_fd = -1 },
		.epfd = -1,
		.tick_fd = -1,
		.self_ns_fd = -1,
		.inotify_fd = -1,
		.inotify_wd = -1,
		.netns_full = f->netns_metrics_full,
		.netns_mode = f->netns_all || f->n_netns,
		.netns_all = f->netns_all,
		.netns_names = f->netns,
		.n_netns_names = f->n_netns,
		.netns_max = f->netns_max,
		.enabled = f->collector_enabled,
	};
	fair_lock_init(&e->lock);
	mw_init(&e->w, SCRAPE_MAX_BYTES);
	mw_init(&e->nsw, SCRAPE_MAX_BYTES);
	e->cfg.procfs_fd = open(f->procfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (e->cfg.procfs_fd < 0) {
		r = -errno;
		goto fail;
	}
	/* Only the hashsize module parameter lives there: without it, that metric is left out. */
	e->cfg.sysfs_fd = open(f->sysfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	r = process_metrics_init(&e->pm);
	if (r < 0)
		log_warn("cannot read the process start time", LF_ERR(r));
	if (e->netns_mode) {
		e->cfg.scope = SCOPE_HOST;
		r = netns_follow_init(e);
		if (r < 0)
			goto fail;
	}
	r = set_init(&e->host, &e->cfg, f->collector_enabled, NULL);
	if (r < 0)
		goto fail;
	exporter_netns_refresh(e);
	*ret = e;
	return 0;
fail:
	exporter_free(e);
	return r;
}

int exporter_watch(struct exporter *e, int epfd)
{
	int r;

	e->epfd = epfd;
	r = core_watch(e);
	if (r == 0)
		r = set_watch(&e->host, epfd, TAG_HOST_SET, 0, EPOLL_CTL_ADD);
	for (size_t i = 0; r == 0 && i < e->ns_slots; i++)
		if (e->ns[i])
			r = set_watch(&e->ns[i]->set, epfd, i, e->ns[i]->gen, EPOLL_CTL_ADD);
	return r;
}

int exporter_on_event(struct exporter *e, uint64_t tag, const char **ret_name)
{
	size_t set = (size_t)(tag >> TAG_SET_SHIFT) & 0xffff, i = (size_t)(tag & 0xff);
	uint32_t gen = (uint32_t)(tag >> TAG_GEN_SHIFT);
	struct netns_inst *n = NULL;
	struct collector_set *s;
	int r;

	fair_lock(&e->lock);
	if (set == TAG_CORE_SET) {
		*ret_name = "core";
		core_event(e, i);
		fair_unlock(&e->lock);
		return 0;
	}
	if (set == TAG_HOST_SET) {
		s = &e->host;
	} else if (set < e->ns_slots && e->ns[set] && e->ns[set]->gen == gen) {
		n = e->ns[set];
		s = &n->set;
	} else {
		/* The namespace went away after epoll_wait() reported it. */
		fair_unlock(&e->lock);
		return 0;
	}
	if (i >= s->n || !s->c[i].enabled) {
		fair_unlock(&e->lock);
		return 0;
	}
	*ret_name = s->c[i].ops->name;
	r = n ? ns_enter(n) : 0;
	if (r < 0) {
		/* Its fds would stay readable, and epoll would wake us for them forever. */
		drop_unenterable(e, set, r);
	} else {
		r = s->c[i].ops->on_event(&s->c[i]);
		if (n)
			ns_leave(e);
	}
	fair_unlock(&e->lock);
	return r;
}

void exporter_free(struct exporter *e)
{
	if (!e)
		return;
	if (e->netns_mode)
		netns_follow_fini(e);
	set_fini(&e->host);
	if (e->tick_fd >= 0)
		close(e->tick_fd);
	if (e->cfg.procfs_fd >= 0)
		close(e->cfg.procfs_fd);
	if (e->cfg.sysfs_fd >= 0)
		close(e->cfg.sysfs_fd);
	process_metrics_fini(&e->pm);
	mw_free(&e->w);
	mw_free(&e->nsw);
	free(e);
}

void exporter_lock(struct exporter *e)
{
	fair_lock(&e->lock);
}

void exporter_unlock(struct exporter *e)
{
	fair_unlock(&e->lock);
}

void exporter_add_writer(struct exporter *e, void (*write)(void *ctx, struct metric_writer *w),
			 void *ctx)
{
	e->extra_write = write;
	e->extra_ctx = ctx;
}

void exporter_observe(struct exporter *e, const struct scrape_observer *o)
{
	e->obs = o ? *o : (struct scrape_observer){ 0 };
}

void exporter_poll_events(struct exporter *e)
{
	for (size_t i = 0; i < e->host.n; i++)
		if (e->host.c[i].enabled && e->host.c[i].ops->on_event)
			(void)e->host.c[i].ops->on_event(&e->host.c[i]);
	tick_host(e);
}

bool exporter_failed_collector(const struct exporter *e, size_t i, const char **ret_name,
			       int *ret_error)
{
	for (size_t k = 0; k < e->host.n; k++) {
		const struct collector *c = &e->host.c[k];

		if (!c->enabled || c->last_success || i--)
			continue;
		*ret_name = c->ops->name;
		*ret_error = c->last_error;
		return true;
	}
	return false;
}

static void log_note_change(struct collector_set *s, size_t i, const char *netns)
{
	struct collector *c = &s->c[i];

	if (c->note == s->logged_note[i] && c->note_error == s->logged_note_error[i])
		return;
	if (c->note)
		log_warn(c->note, LF_STR("collector", c->ops->name), LF_STR("netns", netns),
			 LF_ERR(c->note_error));
	else
		log_info("collector back to its primary source", LF_STR("collector", c->ops->name),
			 LF_STR("netns", netns));
	s->logged_note[i] = c->note;
	s->logged_note_error[i] = c->note_error;
}

static void collect_one(struct collector_set *s, size_t i, struct metric_writer *w,
			const struct scrape_observer *obs, const char *netns)
{
	struct collector *c = &s->c[i];
	size_t mark = w->len;
	uint64_t t0 = now_monotonic_us();
	int r;

	if (obs->part_begin)
		obs->part_begin(obs->ctx);
	r = c->ops->collect(c, w);
	if (r >= 0 && mw_error(w))
		r = mw_error(w);
	c->last_duration = (double)(now_monotonic_us() - t0) / 1e6;
	c->last_success = r >= 0;
	c->last_error = r;
	if (r < 0) {
		unsigned n = log_ratelimit_ok(&s->fail_rl[i], now_monotonic_us());

		/* Half-written families would break the exposition: keep nothing of it. */
		mw_truncate(w, mark);
		if (n)
			log_warn("collector failed", LF_STR("collector", c->ops->name),
				 LF_STR("netns", netns), LF_ERR(r), LF_INT("times", n));
	}
	/* What the observer took from a failed collector is not in the exposition either. */
	if (obs->part_end)
		obs->part_end(obs->ctx, r >= 0);
	log_note_change(s, i, netns);
}

void collect_set(struct collector_set *s, struct metric_writer *w,
		 const struct scrape_observer *obs, const char *netns)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->c[i].enabled)
			collect_one(s, i, w, obs, netns);
}

/* One sample per enabled collector: unlabelled for the host set, netns-labelled after. */
static void write_per_collector(struct exporter *e, const char *name, bool duration)
{
	struct metric_writer *w = &e->w;

	for (size_t i = 0; i < e->host.n; i++) {
		const struct collector *c = &e->host.c[i];

		if (!c->enabled)
			continue;
		if (duration)
			mw_double(w, name, MW_LABELS({ ML_COLLECTOR, c->ops->name }),
				  c->last_duration);
		else
			mw_u64(w, name, MW_LABELS({ ML_COLLECTOR, c->ops->name }), c->last_success);
	}
	for (size_t k = 0; k < e->ns_slots; k++) {
		const struct netns_inst *n = e->ns[k];

		/* --netns.metrics=basic keeps whether it worked, not how long it took. */
		if (n && duration && n->set.cfg.basic)
			continue;
		for (size_t i = 0; n && i < n->set.n; i++) {
			const struct collector *c = &n->set.c[i];

			if (!c->enabled)
				continue;
			if (duration)
				mw_double(w, name,
					  MW_LABELS({ ML_COLLECTOR, c->ops->name },
						    { ML_NETNS, n->label }),
					  c->last_duration);
			else
				mw_u64(w, name,
				       MW_LABELS({ ML_COLLECTOR, c->ops->name },
						 { ML_NETNS, n->label }),
				       c->last_success);
		}
	}
}

/* How old the values were that collectors reading slow sources in the background served. */
static void write_data_age(struct exporter *e)
{
	uint64_t now = now_monotonic_us();
	bool family = false;

	for (size_t i = 0; i < e->host.n; i++) {
		const struct collector *c = &e->host.c[i];

		if (!c->enabled || !c->ops->refresh || !c->last_success || !c->refreshed_us)
			continue;
		if (!family)
			mw_family(
				&e->w, "nf_conntrack_exporter_collector_data_age_seconds",
				METRIC_GAUGE,
				"Age of the values served by a collector whose slow sources are read in the background (at most twice its refresh period).");
		family = true;
		mw_double(&e->w, "nf_conntrack_exporter_collector_data_age_seconds",
			  MW_LABELS({ ML_COLLECTOR, c->ops->name }),
			  (double)(now - c->refreshed_us) / 1e6);
	}
}

void exporter_refresh(struct exporter *e)
{
	uint64_t now = now_monotonic_us();

	fair_lock(&e->lock);
	for (size_t i = 0; i < e->host.n; i++) {
		struct collector *c = &e->host.c[i];

		if (c->enabled && c->ops->refresh && c->refreshed_us &&
		    now - c->refreshed_us >= (uint64_t)c->ops->refresh_s * 1000000)
			(void)collector_refresh(c); /* an error shows at the next scrape */
	}
	fair_unlock(&e->lock);
}

static void write_self_metrics(struct exporter *e)
{
	struct metric_writer *w = &e->w;

	mw_family(w, "nf_conntrack_exporter_build_info", METRIC_GAUGE,
		  "A metric with a constant '1' value labeled by the exporter's version.");
	mw_u64(w, "nf_conntrack_exporter_build_info", MW_LABELS({ "version", NFCE_VERSION }), 1);

	mw_family(w, MN_COLLECTOR_SUCCESS, METRIC_GAUGE,
		  "Whether the collector succeeded at this scrape (1) or not (0).");
	write_per_collector(e, MN_COLLECTOR_SUCCESS, false);
	mw_family(w, MN_COLLECTOR_DURATION, METRIC_GAUGE,
		  "Time the collector took at this scrape.");
	write_per_collector(e, MN_COLLECTOR_DURATION, true);
	write_data_age(e);
	if (e->netns_mode) {
		mw_family(w, "nf_conntrack_exporter_netns_followed", METRIC_GAUGE,
			  "Network namespaces the exporter collects in.");
		mw_u64(w, "nf_conntrack_exporter_netns_followed", MW_NO_LABELS, ns_count(e));
		mw_family(
			w, "nf_conntrack_exporter_netns_unfollowed", METRIC_GAUGE,
			"Network namespaces seen but not collected: over --netns.max (limit) or not enterable (error).");
		mw_u64(w, "nf_conntrack_exporter_netns_unfollowed",
		       MW_LABELS({ "reason", "limit" }), e->ns_over_limit);
		mw_u64(w, "nf_conntrack_exporter_netns_unfollowed",
		       MW_LABELS({ "reason", "error" }), e->ns_failed);
		mw_family(w, "nf_conntrack_exporter_netns_max", METRIC_GAUGE,
			  "Most network namespaces the exporter follows (--netns.max).");
		mw_u64(w, "nf_conntrack_exporter_netns_max", MW_NO_LABELS, e->netns_max);
	}
	process_metrics_write(&e->pm, w);
	if (e->extra_write)
		e->extra_write(e->extra_ctx, w);
}

static int scrape(struct exporter *e)
{
	int r;

	if (e->fatal)
		return e->fatal;
	if (!e->netns_mode) {
		collect_set(&e->host, &e->w, &e->obs, NULL);
	} else {
		/* The loop scans every NETNS_SCAN_S; only a stalled loop leaves it to a scrape. */
		if (now_monotonic_us() - e->scanned_us >= 2 * NETNS_SCAN_S * 1000000ULL)
			exporter_netns_refresh(e);
		r = collect_namespaces(e);
		if (r < 0)
			return r;
		write_netns_facts(e);
	}
	write_self_metrics(e);
	return mw_error(&e->w);
}

int exporter_scrape(struct exporter *e, enum mw_format format, struct metric_writer **ret_w)
{
	int r;

	mw_reset(&e->w);
	mw_set_format(&e->w, format);
	mw_set_tap(&e->w, e->obs.sample, e->obs.ctx);
	if (e->obs.begin)
		e->obs.begin(e->obs.ctx);
	r = scrape(e);
	mw_finish(&e->w);
	if (r == 0)
		r = mw_error(&e->w);
	if (e->obs.end)
		e->obs.end(e->obs.ctx, r);
	mw_set_tap(&e->w, NULL, NULL);
	if (r == 0)
		*ret_w = &e->w;
	return r;
}
