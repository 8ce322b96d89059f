// SPDX-License-Identifier: GPL-2.0-or-later
#include "exporter.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>

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

/* Per followed namespace: its fd, table's and stat's sockets, events' three and two more. */
#define NETNS_FDS_EACH 8
/* Kept for the HTTP server's connections, /proc reads and the rest. */
#define NETNS_FD_RESERVE 160

#define TAG_SET_SHIFT 8
#define TAG_GEN_SHIFT 24
#define TAG_HOST_SET 0xffff

static uint64_t make_tag(size_t set, uint32_t gen, size_t i)
{
	return (uint64_t)gen << TAG_GEN_SHIFT | (uint64_t)set << TAG_SET_SHIFT | i;
}

static int set_init(struct collector_set *s, const struct config *cfg, const bool *enabled,
		    const char *netns)
{
	s->cfg = *cfg;
	for (size_t i = 0; i < collector_registry_size; i++) {
		const struct collector_ops *ops = collector_registry[i];
		struct collector *c = &s->c[s->n];
		int r;

		if (!enabled[i] || !(ops->scopes & cfg->scope))
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

static void set_fini(struct collector_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct collector *c = &s->c[i];

		if (c->ops->fini)
			c->ops->fini(c);
		free(c->priv);
	}
	s->n = 0;
}

static int set_watch(struct collector_set *s, int epfd, size_t set, uint32_t gen, int op)
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

/* Into the namespace and back, on this thread only: setns() moves the calling thread. */
static int ns_enter(const struct netns_inst *n)
{
	return setns(n->fd, CLONE_NEWNET) < 0 ? -errno : 0;
}

static void ns_leave(struct exporter *e)
{
	if (setns(e->self_ns_fd, CLONE_NEWNET) < 0 && !e->fatal) {
		e->fatal = -errno;
		log_error("cannot return to the exporter's own network namespace, serving errors",
			  LF_ERR(e->fatal));
	}
}

static void ns_free(struct exporter *e, size_t slot)
{
	struct netns_inst *n = e->ns[slot];

	if (e->epfd >= 0)
		set_watch(&n->set, e->epfd, slot, n->gen, EPOLL_CTL_DEL);
	set_fini(&n->set);
	close(n->fd);
	free(n);
	e->ns[slot] = NULL;
	if (slot < e->ns_first_free)
		e->ns_first_free = slot;
}

/* setns() refused a namespace we hold an fd of: forget it; the next look tries afresh. */
static void drop_unenterable(struct exporter *e, size_t slot, int err)
{
	static struct log_ratelimit rl = LOG_RATELIMIT_INIT(60, 3);
	unsigned k = log_ratelimit_ok(&rl, now_monotonic_us());

	if (k)
		log_warn("cannot enter network namespace, dropped",
			 LF_STR("netns", e->ns[slot]->label), LF_ERR(err), LF_INT("times", k));
	ns_free(e, slot);
	e->ns_failed++;
}

static size_t ns_count(const struct exporter *e)
{
	size_t k = 0;

	for (size_t i = 0; i < e->ns_slots; i++)
		k += e->ns[i] != NULL;
	return k;
}

static int ns_follow(struct exporter *e, const struct netns_seen *seen)
{
	struct config cfg = e->cfg;
	struct netns_inst *n;
	size_t slot;
	int r;

	for (slot = e->ns_first_free; slot < e->ns_slots && e->ns[slot]; slot++)
		;
	e->ns_first_free = slot + 1;
	if (slot == e->ns_slots) {
		size_t k = e->ns_slots ? e->ns_slots * 2 : 16;
		struct netns_inst **v;

		if (k >= TAG_HOST_SET)
			return -E2BIG;
		v = realloc(e->ns, k * sizeof(*v));
		if (!v)
			return -ENOMEM;
		memset(v + e->ns_slots, 0, (k - e->ns_slots) * sizeof(*v));
		e->ns = v;
		e->ns_slots = k;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->dev = seen->dev;
	n->ino = seen->ino;
	n->pid = seen->pid;
	n->gen = ++e->next_gen & 0xffffffffu;
	n->seen = true;
	if (seen->name[0])
		snprintf(n->label, sizeof(n->label), "%s", seen->name);
	else
		snprintf(n->label, sizeof(n->label), "inode:%llu", (unsigned long long)seen->ino);
	n->fd = netns_open(seen, e->cfg.procfs_fd, NETNS_RUN_DIR);
	if (n->fd < 0) {
		r = n->fd;
		free(n);
		return r;
	}
	cfg.scope = SCOPE_NETNS;
	cfg.net_dir = "thread-self/net";
	/* Sockets the collectors open in there stay in there, whichever thread uses them. */
	r = ns_enter(n);
	if (r == 0) {
		r = set_init(&n->set, &cfg, e->enabled, n->label);
		ns_leave(e);
	}
	e->ns[slot] = n;
	if (r == 0 && e->epfd >= 0)
		r = set_watch(&n->set, e->epfd, slot, n->gen, EPOLL_CTL_ADD);
	if (r < 0) {
		ns_free(e, slot);
		return r;
	}
	log_info("following network namespace", LF_STR("netns", n->label), LF_INT("pid", n->pid));
	return 0;
}

static int inst_cmp(const void *a, const void *b)
{
	const struct netns_inst *x = *(struct netns_inst *const *)a;
	const struct netns_inst *y = *(struct netns_inst *const *)b;

	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return (x->dev > y->dev) - (x->dev < y->dev);
}

/* The followed namespaces sorted by inode, so that matching a scan costs N log N, not N². */
static int ns_index(struct exporter *e)
{
	size_t k = 0;

	if (e->idx_cap < e->ns_slots) {
		struct netns_inst **v = realloc(e->idx, e->ns_slots * sizeof(*v));

		if (!v)
			return -ENOMEM;
		e->idx = v;
		e->idx_cap = e->ns_slots;
	}
	for (size_t i = 0; i < e->ns_slots; i++)
		if (e->ns[i])
			e->idx[k++] = e->ns[i];
	e->n_idx = k;
	if (k) /* qsort(NULL, 0, ...) is undefined */
		qsort(e->idx, k, sizeof(*e->idx), inst_cmp);
	return 0;
}

static struct netns_inst *ns_find(struct exporter *e, const struct netns_seen *seen)
{
	struct netns_inst key = { .dev = seen->dev, .ino = seen->ino }, *kp = &key, **hit;

	hit = e->n_idx ? bsearch(&kp, e->idx, e->n_idx, sizeof(*e->idx), inst_cmp) : NULL;
	return hit ? *hit : NULL;
}

void exporter_netns_refresh(struct exporter *e)
{
	static struct log_ratelimit rl = LOG_RATELIMIT_INIT(60, 3);
	size_t followed;
	unsigned k;
	int r;

	if (!e->netns_mode)
		return;
	r = netns_scan(&e->scan, e->cfg.procfs_fd, NETNS_RUN_DIR,
		       e->netns_all ? NULL : e->netns_names, e->n_netns_names);
	if (r < 0) {
		/* Keep following what was followed: a failed look is no proof they are gone. */
		if ((k = log_ratelimit_ok(&rl, now_monotonic_us())))
			log_warn("cannot list network namespaces", LF_ERR(r), LF_INT("times", k));
		return;
	}
	r = ns_index(e);
	if (r < 0)
		return;
	for (size_t i = 0; i < e->ns_slots; i++)
		if (e->ns[i])
			e->ns[i]->seen = false;
	for (size_t i = 0; i < e->scan.n; i++) {
		struct netns_inst *n = ns_find(e, &e->scan.v[i]);

		e->scan.v[i].followed = n != NULL;
		if (!n)
			continue;
		n->seen = true;
		n->pid = e->scan.v[i].pid;
		/* A name given later (ip netns attach) becomes the label. */
		if (e->scan.v[i].name[0] && strcmp(n->label, e->scan.v[i].name) != 0)
			snprintf(n->label, sizeof(n->label), "%s", e->scan.v[i].name);
	}
	for (size_t i = 0; i < e->ns_slots; i++)
		if (e->ns[i] && !e->ns[i]->seen) {
			log_info("network namespace gone", LF_STR("netns", e->ns[i]->label));
			ns_free(e, i);
		}
	followed = ns_count(e);
	e->ns_over_limit = e->ns_failed = 0;
	for (size_t i = 0; i < e->scan.n; i++) {
		if (e->scan.v[i].followed)
			continue;
		if (followed >= e->netns_max || followed >= e->netns_fd_max) {
			e->ns_over_limit++;
			continue;
		}
		r = ns_follow(e, &e->scan.v[i]);
		if (r < 0) {
			/* Gone since the scan (-ENOENT, -ESTALE) is not worth a word. */
			if (r != -ENOENT && r != -ESTALE && r != -ESRCH) {
				e->ns_failed++;
				if ((k = log_ratelimit_ok(&rl, now_monotonic_us())))
					log_warn("cannot follow network namespace", LF_ERR(r),
						 LF_INT("pid", e->scan.v[i].pid),
						 LF_STR("name", e->scan.v[i].name),
						 LF_INT("times", k));
			}
			continue;
		}
		followed++;
	}
}

int exporter_init(struct exporter *e, const struct flags *f)
{
	int r;

	*e = (struct exporter){
		.cfg = {
			.scope = SCOPE_HOST | SCOPE_NETNS,
			.net_dir = "net",
			.procfs = f->procfs,
			.procfs_fd = -1,
			.sysfs_fd = -1,
			.events_buffer_size = f->events_buffer_size,
			.events_max_zones = f->events_max_zones,
		},
		.epfd = -1,
		.self_ns_fd = -1,
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
	if (e->cfg.procfs_fd < 0)
		return -errno;
	/* Only the hashsize module parameter lives there: without it, that metric is left out. */
	e->cfg.sysfs_fd = open(f->sysfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	r = process_metrics_init(&e->pm);
	if (r < 0)
		log_warn("cannot read the process start time", LF_ERR(r));

	if (e->netns_mode) {
		struct rlimit rl;

		e->cfg.scope = SCOPE_HOST;
		/* Running out of fds would fail scrapes and sockets alike: stop following first. */
		e->netns_fd_max = UINT_MAX;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
			e->netns_fd_max = rl.rlim_cur > NETNS_FD_RESERVE
						  ? (unsigned)((rl.rlim_cur - NETNS_FD_RESERVE) /
							       NETNS_FDS_EACH)
						  : 0;
			if (e->netns_fd_max < e->netns_max)
				log_warn("the open file limit caps the namespaces followed",
					 LF_INT("namespaces", e->netns_fd_max),
					 LF_INT("open_files", rl.rlim_cur));
		}
		e->self_ns_fd =
			openat(e->cfg.procfs_fd, "thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		if (e->self_ns_fd < 0) {
			r = -errno;
			log_error("cannot open the exporter's own network namespace", LF_ERR(r));
			return r;
		}
	}
	r = set_init(&e->host, &e->cfg, f->collector_enabled, NULL);
	if (r < 0)
		return r;
	exporter_netns_refresh(e);
	return 0;
}

int exporter_watch(struct exporter *e, int epfd)
{
	int r;

	e->epfd = epfd;
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

void exporter_fini(struct exporter *e)
{
	for (size_t i = 0; i < e->ns_slots; i++)
		if (e->ns[i])
			ns_free(e, i);
	free(e->ns);
	e->ns = NULL;
	e->ns_slots = 0;
	set_fini(&e->host);
	netns_scan_free(&e->scan);
	if (e->cfg.procfs_fd >= 0)
		close(e->cfg.procfs_fd);
	if (e->cfg.sysfs_fd >= 0)
		close(e->cfg.sysfs_fd);
	if (e->self_ns_fd >= 0)
		close(e->self_ns_fd);
	e->cfg.procfs_fd = e->cfg.sysfs_fd = e->self_ns_fd = -1;
	mw_free(&e->w);
	mw_free(&e->nsw);
	free(e->seg);
	free(e->order);
	free(e->idx);
	e->seg = NULL;
	e->order = NULL;
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
			const char *netns)
{
	struct collector *c = &s->c[i];
	size_t mark = w->len;
	uint64_t t0 = now_monotonic_us();
	int r;

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
	log_note_change(s, i, netns);
}

static void collect_set(struct collector_set *s, struct metric_writer *w, const char *netns)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->c[i].enabled)
			collect_one(s, i, w, netns);
}

/* The host set, then each namespace's collectors with the netns label, into e->nsw. */
static void collect_namespaces(struct exporter *e)
{
	struct metric_writer *w = &e->nsw;

	mw_reset(w);
	/* Counter family names and bucket bounds differ in OpenMetrics: write them alike. */
	mw_set_format(w, e->w.format);
	collect_set(&e->host, w, NULL);
	w->const_label_name = "netns";
	for (size_t i = 0; i < e->ns_slots; i++) {
		struct netns_inst *n = e->ns[i];
		int r;

		if (!n)
			continue;
		r = ns_enter(n);
		if (r < 0) {
			drop_unenterable(e, i, r);
			continue;
		}
		w->const_label_value = n->label;
		collect_set(&n->set, w, n->label);
		ns_leave(e);
	}
	w->const_label_name = w->const_label_value = NULL;
}

static bool family_eq(const char *buf, const struct ns_segment *a, const struct ns_segment *b)
{
	return a->name_len == b->name_len && memcmp(buf + a->name, buf + b->name, a->name_len) == 0;
}

/*
 * The text format wants each family's samples together under one HELP and TYPE, but each
 * namespace wrote its own, and the host set may have written some (lnstat's) too: cut e->nsw
 * into families and append them to e->w regrouped, in order of first appearance.
 */
static int merge_namespaces(struct exporter *e)
{
	const char *buf = e->nsw.buf, *end = buf + e->nsw.len, *p = buf;
	unsigned n_fam = 0;
	size_t *first, *count;

	e->n_seg = 0;
	while (p < end) {
		struct ns_segment *s;
		const char *nl;

		if (e->n_seg == e->seg_cap) {
			size_t cap = e->seg_cap ? e->seg_cap * 2 : 256;
			struct ns_segment *v = realloc(e->seg, cap * sizeof(*v));

			if (!v)
				return -ENOMEM;
			e->seg = v;
			e->seg_cap = cap;
		}
		/* Every family starts with "# HELP name": mw_family() writes it. */
		if ((size_t)(end - p) < 8 || memcmp(p, "# HELP ", 7) != 0)
			return -EBADMSG;
		s = &e->seg[e->n_seg++];
		s->head = (size_t)(p - buf);
		s->name = s->head + 7;
		s->name_len = strcspn(buf + s->name, " \n");
		/* Skip the HELP and TYPE lines, then samples up to the next family. */
		for (int k = 0; k < 2 && p < end; k++) {
			nl = memchr(p, '\n', (size_t)(end - p));
			p = nl ? nl + 1 : end;
		}
		s->body = (size_t)(p - buf);
		while (p < end && *p != '#') {
			nl = memchr(p, '\n', (size_t)(end - p));
			p = nl ? nl + 1 : end;
		}
		s->end = (size_t)(p - buf);
	}
	if (e->order_cap < 2 * e->n_seg + 1) {
		size_t *v = realloc(e->order, (2 * e->n_seg + 1) * sizeof(*v));

		if (!v)
			return -ENOMEM;
		e->order = v;
		e->order_cap = 2 * e->n_seg + 1;
	}
	/* first[f]: the first segment of family f; the same room then counts for the sort. */
	first = count = e->order + e->n_seg;
	for (size_t i = 0; i < e->n_seg; i++) {
		struct ns_segment *s = &e->seg[i];
		unsigned f = i ? e->seg[i - 1].family + 1 : 0;

		/* Namespaces write their families in the same order: try the previous one's next. */
		if (f >= n_fam || !family_eq(buf, s, &e->seg[first[f]]))
			for (f = 0; f < n_fam; f++)
				if (family_eq(buf, s, &e->seg[first[f]]))
					break;
		if (f == n_fam)
			first[n_fam++] = i;
		s->family = f;
	}
	/* Counting sort by family, keeping namespace order within each. */
	memset(count, 0, (n_fam + 1) * sizeof(*count));
	for (size_t i = 0; i < e->n_seg; i++)
		count[e->seg[i].family + 1]++;
	for (unsigned f = 0; f < n_fam; f++)
		count[f + 1] += count[f];
	for (size_t i = 0; i < e->n_seg; i++)
		e->order[count[e->seg[i].family]++] = i;
	for (size_t i = 0; i < e->n_seg; i++) {
		const struct ns_segment *s = &e->seg[e->order[i]];

		if (i == 0 || e->seg[e->order[i - 1]].family != s->family)
			mw_append(&e->w, buf + s->head, s->body - s->head);
		mw_append(&e->w, buf + s->body, s->end - s->body);
	}
	return mw_error(&e->w);
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
			mw_double(w, name, MW_LABELS({ "collector", c->ops->name }),
				  c->last_duration);
		else
			mw_u64(w, name, MW_LABELS({ "collector", c->ops->name }), c->last_success);
	}
	for (size_t k = 0; k < e->ns_slots; k++) {
		const struct netns_inst *n = e->ns[k];

		for (size_t i = 0; n && i < n->set.n; i++) {
			const struct collector *c = &n->set.c[i];

			if (!c->enabled)
				continue;
			if (duration)
				mw_double(w, name,
					  MW_LABELS({ "collector", c->ops->name },
						    { "netns", n->label }),
					  c->last_duration);
			else
				mw_u64(w, name,
				       MW_LABELS({ "collector", c->ops->name },
						 { "netns", n->label }),
				       c->last_success);
		}
	}
}

static void write_self_metrics(struct exporter *e)
{
	struct metric_writer *w = &e->w;

	mw_family(w, "nf_conntrack_exporter_build_info", METRIC_GAUGE,
		  "A metric with a constant '1' value labeled by the exporter's version.");
	mw_u64(w, "nf_conntrack_exporter_build_info", MW_LABELS({ "version", NFCE_VERSION }), 1);

	mw_family(w, "nf_conntrack_exporter_collector_success", METRIC_GAUGE,
		  "Whether the collector succeeded at this scrape (1) or not (0).");
	write_per_collector(e, "nf_conntrack_exporter_collector_success", false);
	mw_family(w, "nf_conntrack_exporter_collector_duration_seconds", METRIC_GAUGE,
		  "Time the collector took at this scrape.");
	write_per_collector(e, "nf_conntrack_exporter_collector_duration_seconds", true);
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
}

/* What ties a netns label to a process, and the entries of all namespaces together. */
static void write_netns_facts(struct exporter *e)
{
	struct metric_writer *w = &e->w;
	uint64_t host = 0;
	bool have = false;

	if (!ns_count(e))
		return;
	mw_family(w, "nf_conntrack_netns_info", METRIC_GAUGE,
		  "A followed network namespace: its netns label, nsfs inode and lowest pid.");
	for (size_t k = 0; k < e->ns_slots; k++) {
		const struct netns_inst *n = e->ns[k];
		char ino[24], pid[16];

		if (!n)
			continue;
		snprintf(ino, sizeof(ino), "%llu", (unsigned long long)n->ino);
		snprintf(pid, sizeof(pid), "%d", (int)n->pid);
		mw_u64(w, "nf_conntrack_netns_info",
		       MW_LABELS({ "netns", n->label }, { "inode", ino },
				 { "pid", n->pid ? pid : "" }),
		       1);
		for (size_t i = 0; i < n->set.n; i++)
			if (n->set.c[i].enabled && n->set.c[i].last_success &&
			    n->set.c[i].has_entries) {
				host += n->set.c[i].entries;
				have = true;
			}
	}
	/* Only --netns=all, with none left out, sees every namespace sharing the hash table. */
	if (e->netns_all && have && !e->ns_over_limit && !e->ns_failed) {
		mw_family(
			w, "nf_conntrack_host_entries", METRIC_GAUGE,
			"Conntrack entries of all network namespaces: what fills the shared hash table.");
		mw_u64(w, "nf_conntrack_host_entries", MW_NO_LABELS, host);
	}
}

int exporter_scrape(struct exporter *e)
{
	int r;

	mw_reset(&e->w);
	if (e->fatal)
		return e->fatal;
	if (!e->netns_mode) {
		collect_set(&e->host, &e->w, NULL);
	} else {
		exporter_netns_refresh(e);
		collect_namespaces(e);
		r = mw_error(&e->nsw);
		if (r == 0)
			r = merge_namespaces(e);
		if (r < 0)
			return r;
		write_netns_facts(e);
	}
	write_self_metrics(e);
	if (mw_error(&e->w))
		return mw_error(&e->w);
	status_update(&e->status, e->w.buf, e->w.len, now_realtime());
	return 0;
}
