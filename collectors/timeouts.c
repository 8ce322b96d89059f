// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * timeouts: every nf_conntrack_<protocol>_timeout[_<state>] sysctl, found by listing the
 * directory at each scrape, so that protocols a kernel or a module adds show up by themselves.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"
#include "metric_names.h"
#include "timeouts.h"
#include "util.h"

#define TIMEOUTS_MAX 256

int timeout_sysctl_parse(const char *name, struct timeout_name *ret)
{
	static const char prefix[] = "nf_conntrack_";
	const char *rest, *t;
	size_t plen;

	if (strncmp(name, prefix, sizeof(prefix) - 1) != 0)
		return -EINVAL;
	rest = name + sizeof(prefix) - 1;
	/* "timeout" must be a whole word: nf_conntrack_<proto>_timeout[_<state>] */
	for (t = strstr(rest, "timeout"); t; t = strstr(t + 1, "timeout")) {
		bool start = t == rest || t[-1] == '_';
		bool end = t[7] == '\0' || t[7] == '_';

		if (start && end)
			break;
	}
	if (!t)
		return -EINVAL;
	plen = t == rest ? 0 : (size_t)(t - rest - 1);
	if (plen >= sizeof(ret->protocol) || strlen(t) >= sizeof(ret->state) + 8)
		return -ENAMETOOLONG;
	if (plen == 0)
		strcpy(ret->protocol, "generic");
	else
		snprintf(ret->protocol, sizeof(ret->protocol), "%.*s", (int)plen, rest);
	if (t[7] == '\0' || t[8] == '\0')
		strcpy(ret->state, "default");
	else
		snprintf(ret->state, sizeof(ret->state), "%s", t + 8);
	return 0;
}

struct timeout_entry {
	struct timeout_name n;
	uint64_t seconds;
};

struct timeouts_priv {
	struct rbuf buf;
	struct timeout_entry entries[TIMEOUTS_MAX];
	unsigned n;
};

static int timeout_cmp(const void *a, const void *b)
{
	const struct timeout_entry *x = a, *y = b;
	int r = strcmp(x->n.protocol, y->n.protocol);

	return r ? r : strcmp(x->n.state, y->n.state);
}

/* 26 sysctls, ~270 µs: read off the scrape path (collector.h), at most a minute old. */
#define TIMEOUTS_REFRESH_S 30

static int timeouts_refresh(struct collector *c)
{
	struct timeouts_priv *p = c->priv;
	unsigned n = 0;
	struct dirent *de;
	DIR *d;
	int dfd, r;

	r = opendir_at(c->cfg->procfs_fd, NF_SYSCTL_DIR, &d);
	if (r < 0)
		return r;
	dfd = dirfd(d);
	while ((de = readdir(d))) {
		struct timeout_entry *e = &p->entries[n];

		if (timeout_sysctl_parse(de->d_name, &e->n) < 0)
			continue;
		/* A sysctl that vanished or holds garbage is skipped, not fatal. */
		if (read_u64_at(dfd, de->d_name, &p->buf, &e->seconds) < 0)
			continue;
		if (++n == TIMEOUTS_MAX)
			break;
	}
	closedir(d);
	p->n = n;
	if (n == 0)
		return -ENOENT;
	qsort(p->entries, n, sizeof(p->entries[0]), timeout_cmp);
	return 0;
}

static int timeouts_collect(struct collector *c, struct metric_writer *w)
{
	struct timeouts_priv *p = c->priv;
	int r = collector_fresh_enough(c);

	if (r < 0)
		return r;
	mw_family(
		w, MN_TIMEOUT_SECONDS, METRIC_GAUGE,
		"Conntrack timeout sysctls: how long an entry lives in this protocol state without traffic.");
	for (unsigned i = 0; i < p->n; i++)
		mw_u64(w, MN_TIMEOUT_SECONDS,
		       MW_LABELS({ ML_PROTOCOL, p->entries[i].n.protocol },
				 { ML_STATE, p->entries[i].n.state }),
		       p->entries[i].seconds);
	return 0;
}

static void timeouts_fini(struct collector *c)
{
	struct timeouts_priv *p = c->priv;

	if (p)
		rbuf_free(&p->buf);
}

const struct collector_ops timeouts_collector = {
	.name = "timeouts",
	.help = "conntrack timeout sysctls per protocol and state",
	.default_enabled = true,
	.scopes = SCOPE_HOST,
	.priv_size = sizeof(struct timeouts_priv),
	.refresh = timeouts_refresh,
	.refresh_s = TIMEOUTS_REFRESH_S,
	.collect = timeouts_collect,
	.fini = timeouts_fini,
};
