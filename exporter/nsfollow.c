// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * --netns: following network namespaces. Each followed namespace gets its own instance of the
 * per-namespace collectors, opened inside it with setns() so their sockets stay there; a
 * scrape enters each namespace once and collects with a constant netns label. Which ones there
 * are is looked for by the event loop (inotify on /run/netns, a scan every NETNS_SCAN_S), not
 * by scrapes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/rtnetlink.h>

#include "core.h"
#include "ifaddr.h"
#include "metric_names.h"
#include "util.h"

/*
 * Per followed namespace: its fd, the statistics socket its collectors share, the event
 * socket and the events collector's epoll, and a dump socket while it resyncs.
 */
#define NETNS_FDS_EACH 5
/* Kept for the HTTP server's connections, /proc reads and the rest. */
#define NETNS_FD_RESERVE 160

/* Into the namespace and back, on this thread only: setns() moves the calling thread. */
int ns_enter(const struct netns_inst *n)
{
	return setns(n->fd, CLONE_NEWNET) < 0 ? -errno : 0;
}

void ns_leave(struct exporter *e)
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
void drop_unenterable(struct exporter *e, size_t slot, int err)
{
	static struct log_ratelimit rl = LOG_RATELIMIT_INIT(60, 3);
	unsigned k = log_ratelimit_ok(&rl, now_monotonic_us());

	if (k)
		log_warn("cannot enter network namespace, dropped",
			 LF_STR("netns", e->ns[slot]->label), LF_ERR(err), LF_INT("times", k));
	ns_free(e, slot);
	e->ns_failed++;
}

size_t ns_count(const struct exporter *e)
{
	size_t k = 0;

	for (size_t i = 0; i < e->ns_slots; i++)
		k += e->ns[i] != NULL;
	return k;
}

/* The addr_owner hook of the exporter's own table: under the lock, like every scrape. */
static const char *ns_addr_owner(const void *ctx, int family, const void *addr)
{
	const struct exporter *e = ctx;
	const struct ns_addr *a = ns_addrmap_find(&e->addrs, family, addr);

	if (!a || a->slot >= e->ns_slots || !e->ns[a->slot] || e->ns[a->slot]->gen != a->gen)
		return NULL;
	return e->ns[a->slot]->label;
}

static int ns_follow(struct exporter *e, const struct netns_seen *seen)
{
	struct config cfg = e->cfg;
	struct netns_inst *n;
	size_t slot;
	bool self;
	int r;

	for (slot = e->ns_first_free; slot < e->ns_slots && e->ns[slot]; slot++)
		;
	/* Slot numbers go into epoll tags, where the top two stand for the host set and the core. */
	if (slot >= TAG_CORE_SET)
		return -E2BIG;
	if (slot == e->ns_slots) {
		size_t old = e->ns_slots;

		r = GROW_ARRAY(e->ns, e->ns_slots, slot + 1, 16);
		if (r < 0)
			return r;
		memset(e->ns + old, 0, (e->ns_slots - old) * sizeof(*e->ns));
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
	self = seen->dev == e->self_dev && seen->ino == e->self_ino;
	cfg.basic = !e->netns_full && !self;
	/* Only the exporter's own table (the host's) has its addresses attributed to the others. */
	cfg.addr_owner = self ? ns_addr_owner : NULL;
	cfg.addr_owner_ctx = self ? e : NULL;
	/* Sockets the collectors open in there stay in there, whichever thread uses them. */
	r = ns_enter(n);
	if (r == 0) {
		r = set_init(&n->set, &cfg, e->enabled, n->label);
		ns_leave(e);
	}
	e->ns[slot] = n;
	/* Only now: a namespace gone before it could be opened must not leave its slot unused. */
	e->ns_first_free = slot + 1;
	if (r == 0 && e->epfd >= 0)
		r = set_watch(&n->set, e->epfd, slot, n->gen, EPOLL_CTL_ADD);
	if (r < 0) {
		ns_free(e, slot);
		return r;
	}
	log_info("following network namespace", LF_STR("netns", n->label), LF_INT("pid", n->pid));
	e->ident_soon = true;
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
	int r = GROW_ARRAY(e->idx, e->idx_cap, e->ns_slots, 16);

	if (r < 0)
		return r;
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
	e->scanned_us = now_monotonic_us();
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

void netns_watch_run_dir(struct exporter *e)
{
	if (e->inotify_fd < 0 || e->inotify_wd >= 0)
		return;
	/* Names come and go by creation, removal and rename; a missing directory is no error. */
	e->inotify_wd = inotify_add_watch(e->inotify_fd, NETNS_RUN_DIR,
					  IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
						  IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR);
}

void netns_inotify(struct exporter *e)
{
	union {
		struct inotify_event ev;
		char buf[4096];
	} u;
	ssize_t n;

	while ((n = read(e->inotify_fd, u.buf, sizeof(u.buf))) > 0) {
		for (ssize_t off = 0; off + (ssize_t)sizeof(struct inotify_event) <= n;) {
			const struct inotify_event *ev = (const void *)(u.buf + off);

			/* The directory went, or was moved: watch the one at the path when there is one. */
			if (ev->wd == e->inotify_wd && ev->mask & IN_MOVE_SELF)
				inotify_rm_watch(e->inotify_fd, e->inotify_wd);
			if (ev->wd == e->inotify_wd && ev->mask & (IN_IGNORED | IN_MOVE_SELF))
				e->inotify_wd = -1;
			off += (ssize_t)sizeof(*ev) + ev->len;
		}
	}
	e->scan_soon = true;
	e->scan_retries = 0;
}

uint64_t netns_tick(struct exporter *e)
{
	/* ip netns add makes the name, then mounts on it: look again for up to two seconds. */
	static const uint64_t soon_us = 100000, retries = 20;
	uint64_t now = now_monotonic_us();

	if (!e->netns_mode)
		return 0;
	if (e->scan_soon || now - e->scanned_us >= NETNS_SCAN_S * 1000000ULL) {
		netns_watch_run_dir(e);
		exporter_netns_refresh(e);
		e->scan_soon = e->scan.pending && e->scan_retries++ < retries;
	}
	/* After the scan: what it found gets its identity at the same tick. */
	nsident_tick(e);
	return e->scan_soon ? soon_us : 0;
}

/* Who a namespace is: a process in it, its cgroup, unless it left the namespace meanwhile. */
static void ident_read(struct exporter *e, const struct netns_key *k, struct pod_id *ret)
{
	char path[64];
	struct stat st;

	*ret = (struct pod_id){ 0 };
	if (!k->pid)
		return;
	snprintf(path, sizeof(path), "%d/cgroup", (int)k->pid);
	if (read_file_at(e->cfg.procfs_fd, path, &e->ident_buf, 64 * 1024) < 0 ||
	    cgroup_pod_parse(e->ident_buf.data, e->ident_buf.len, ret) < 0) {
		*ret = (struct pod_id){ 0 };
		return;
	}
	/* The pid may have ended and been reused since the walk. */
	snprintf(path, sizeof(path), "%d/ns/net", (int)k->pid);
	if (fstatat(e->cfg.procfs_fd, path, &st, 0) < 0 || st.st_dev != k->dev ||
	    st.st_ino != k->ino)
		*ret = (struct pod_id){ 0 };
}

struct addr_collect {
	struct ns_addrmap *map;
	uint32_t slot, gen;
	unsigned n;
	bool capped;
};

static int addr_cb(void *userdata, const struct ifaddr *a)
{
	struct addr_collect *c = userdata;

	/* Loopback and link-local addresses are in every namespace: nobody's to claim. */
	if (a->scope >= RT_SCOPE_LINK)
		return 0;
	if (c->n >= NSIDENT_ADDRS_MAX) {
		c->capped = true;
		return 0;
	}
	c->n++;
	return ns_addrmap_add(c->map, a->family, a->addr, c->slot, c->gen);
}

static struct netns_inst *job_inst(struct exporter *e, const struct nsident_job *j)
{
	struct netns_inst *n = j->slot < e->ns_slots ? e->ns[j->slot] : NULL;

	return n && n->gen == j->gen ? n : NULL;
}

/*
 * Each followed namespace's pod identity and addresses, off the scrape path. The /proc walk
 * and the cgroup reads need no state of ours and run with the lock let go; the address dumps
 * enter each namespace, and let a waiting scrape in every 32 namespaces as the tick does.
 */
static void nsident_refresh(struct exporter *e)
{
	static struct log_ratelimit rl = LOG_RATELIMIT_INIT(60, 3);
	struct ns_addrmap map = { 0 };
	size_t n = 0, capped = 0, pods = 0;
	uint64_t walked_us;
	unsigned k;
	int r;

	e->ident_us = now_monotonic_us();
	e->ident_soon = false;
	r = GROW_ARRAY(e->ident_jobs, e->ident_cap, e->ns_slots, 16);
	if (r == 0)
		r = GROW_ARRAY(e->ident_keys, e->ident_keys_cap, e->ns_slots, 16);
	if (r < 0)
		return;
	for (size_t i = 0; i < e->ns_slots; i++) {
		if (!e->ns[i])
			continue;
		e->ident_jobs[n] =
			(struct nsident_job){ .slot = (uint32_t)i, .gen = e->ns[i]->gen };
		e->ident_keys[n] =
			(struct netns_key){ .dev = e->ns[i]->dev, .ino = e->ns[i]->ino, .user = n };
		n++;
	}
	fair_unlock(&e->lock);
	r = netns_find_pids(e->cfg.procfs_fd, e->ident_keys, n);
	for (size_t i = 0; r == 0 && i < n; i++)
		ident_read(e, &e->ident_keys[i], &e->ident_jobs[e->ident_keys[i].user].pod);
	fair_lock(&e->lock);
	walked_us = now_monotonic_us();
	if (r < 0 && (k = log_ratelimit_ok(&rl, now_monotonic_us())))
		log_warn("cannot list processes for pod identity", LF_ERR(r), LF_INT("times", k));
	for (size_t i = 0; i < n; i++) {
		struct nsident_job *j = &e->ident_jobs[i];
		struct addr_collect c = { &map, j->slot, j->gen, 0, false };
		struct netns_inst *ns;

		if (i && i % 32 == 0) {
			fair_unlock(&e->lock);
			fair_lock(&e->lock);
		}
		ns = job_inst(e, j);
		if (!ns)
			continue;
		if (r == 0)
			ns->pod = j->pod;
		pods += ns->pod.uid[0] != '\0';
		if (ns->dev == e->self_dev && ns->ino == e->self_ino)
			continue;
		if (ns_enter(ns) < 0)
			continue; /* the tick or the next scrape drops it */
		if (ifaddr_dump(addr_cb, &c) < 0 && (k = log_ratelimit_ok(&rl, now_monotonic_us())))
			log_warn("cannot list the addresses of network namespace",
				 LF_STR("netns", ns->label), LF_INT("times", k));
		ns_leave(e);
		capped += c.capped;
	}
	ns_addrmap_seal(&map);
	ns_addrmap_free(&e->addrs);
	e->addrs = map;
	log_debug("namespace identities refreshed", LF_INT("namespaces", n), LF_INT("pods", pods),
		  LF_INT("addresses", map.n), LF_INT("walk_us", walked_us - e->ident_us),
		  LF_INT("addresses_us", now_monotonic_us() - walked_us));
	if (capped && (k = log_ratelimit_ok(&rl, now_monotonic_us())))
		log_warn("network namespaces with more addresses than are attributed",
			 LF_INT("namespaces", capped), LF_INT("addresses_max", NSIDENT_ADDRS_MAX),
			 LF_INT("times", k));
}

void nsident_tick(struct exporter *e)
{
	uint64_t age = now_monotonic_us() - e->ident_us;

	if (!e->netns_mode || !ns_count(e))
		return;
	if (!e->ident_us || age >= NSIDENT_REFRESH_S * 1000000ULL ||
	    (e->ident_soon && age >= NETNS_SCAN_S * 1000000ULL))
		nsident_refresh(e);
}

int netns_follow_init(struct exporter *e)
{
	struct rlimit rl;
	struct stat st;
	int r;

	/* Running out of fds would fail scrapes and sockets alike: stop following first. */
	e->netns_fd_max = UINT_MAX;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		e->netns_fd_max =
			rl.rlim_cur > NETNS_FD_RESERVE
				? (unsigned)((rl.rlim_cur - NETNS_FD_RESERVE) / NETNS_FDS_EACH)
				: 0;
		if (e->netns_fd_max < e->netns_max)
			log_warn("the open file limit caps the namespaces followed",
				 LF_INT("namespaces", e->netns_fd_max),
				 LF_INT("open_files", rl.rlim_cur));
	}
	e->self_ns_fd = openat(e->cfg.procfs_fd, "thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (e->self_ns_fd < 0 || fstat(e->self_ns_fd, &st) < 0) {
		r = -errno;
		log_error("cannot open the exporter's own network namespace", LF_ERR(r));
		return r;
	}
	e->self_dev = st.st_dev;
	e->self_ino = st.st_ino;
	e->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (e->inotify_fd < 0)
		log_warn("cannot watch " NETNS_RUN_DIR
			 ": new names are seen at the periodic scan only",
			 LF_ERR(-errno), LF_INT("seconds", NETNS_SCAN_S));
	e->inotify_wd = -1;
	netns_watch_run_dir(e);
	mw_track_families(&e->nsw, true);
	return 0;
}

void netns_follow_fini(struct exporter *e)
{
	for (size_t i = 0; i < e->ns_slots; i++)
		if (e->ns[i])
			ns_free(e, i);
	free(e->ns);
	free(e->idx);
	e->ns = e->idx = NULL;
	e->ns_slots = e->idx_cap = 0;
	netns_scan_free(&e->scan);
	ns_addrmap_free(&e->addrs);
	free(e->ident_jobs);
	free(e->ident_keys);
	e->ident_jobs = NULL;
	e->ident_keys = NULL;
	e->ident_cap = e->ident_keys_cap = 0;
	rbuf_free(&e->ident_buf);
	if (e->self_ns_fd >= 0)
		close(e->self_ns_fd);
	e->self_ns_fd = -1;
	if (e->inotify_fd >= 0)
		close(e->inotify_fd);
	e->inotify_fd = -1;
	mw_free(&e->nsw);
}

int collect_namespaces(struct exporter *e)
{
	struct metric_writer *w = &e->nsw;

	mw_reset(w);
	/* Counter family names and bucket bounds differ in OpenMetrics: write them alike. */
	mw_set_format(w, e->w.format);
	mw_set_tap(w, e->obs.sample, e->obs.ctx);
	collect_set(&e->host, w, &e->obs, NULL);
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
		mw_set_const_label(w, ML_NETNS, n->label);
		collect_set(&n->set, w, &e->obs, n->label);
		mw_set_const_label(w, NULL, NULL);
		ns_leave(e);
	}
	/*
	 * Each namespace wrote its own HELP and TYPE, and the host set may have written some
	 * (lnstat's) too: the text format wants each family's samples together.
	 */
	return mw_regroup(&e->w, w);
}

/* What ties a netns label to a process, and the entries of all namespaces together. */
void write_netns_facts(struct exporter *e)
{
	struct metric_writer *w = &e->w;
	uint64_t host = 0;
	bool have = false;

	if (!ns_count(e))
		return;
	mw_family(
		w, "nf_conntrack_netns_info", METRIC_GAUGE,
		"A followed network namespace: its netns label, nsfs inode and lowest pid, and the Kubernetes pod UID and container ID of a process in it (from its cgroup, up to 30 s old).");
	for (size_t k = 0; k < e->ns_slots; k++) {
		const struct netns_inst *n = e->ns[k];
		char ino[24], pid[16];

		if (!n)
			continue;
		snprintf(ino, sizeof(ino), "%llu", (unsigned long long)n->ino);
		snprintf(pid, sizeof(pid), "%d", (int)n->pid);
		mw_u64(w, "nf_conntrack_netns_info",
		       MW_LABELS({ ML_NETNS, n->label }, { "inode", ino },
				 { "pid", n->pid ? pid : "" }, { "pod_uid", n->pod.uid },
				 { "container_id", n->pod.container_id }),
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
