// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * table: how full the conntrack table of this network namespace is. Count and limit come
 * from IPCTNL_MSG_CT_GET_STATS (one netlink round trip, no dump), or from the sysctls when
 * netlink is refused; buckets and the expectation limit exist only as sysctls, which change
 * rarely: those are read in the background every TABLE_REFRESH_S.
 */
#include <errno.h>

#include "collector.h"
#include "ctnl.h"
#include "metric_names.h"
#include "util.h"

#define NF_SYSCTL NF_SYSCTL_DIR "/"
#define TABLE_REFRESH_S 10

struct table_priv {
	struct rbuf buf;
	/* What the last refresh read; a sysctl this kernel lacks leaves its metric out. */
	uint64_t buckets, expect_max;
	bool have_buckets, have_expect_max;
};

static int table_refresh(struct collector *c)
{
	struct table_priv *p = c->priv;
	int fd = c->cfg->procfs_fd;

	p->have_buckets = read_u64_at(fd, NF_SYSCTL MN_BUCKETS, &p->buf, &p->buckets) == 0;
	p->have_expect_max =
		read_u64_at(fd, NF_SYSCTL "nf_conntrack_expect_max", &p->buf, &p->expect_max) == 0;
	return 0;
}

static int table_collect(struct collector *c, struct metric_writer *w)
{
	struct table_priv *p = c->priv;
	int fd = c->cfg->procfs_fd;
	unsigned scope = c->cfg->scope;
	struct ctnl_global g = { 0 };
	int r;

	r = ctnl_get_global(c->cfg->nl, &g);
	if (r < 0)
		collector_note(c, "netlink statistics unavailable, reading sysctls instead", r);
	else
		collector_note(c, NULL, 0);
	if (!g.has_entries && (scope & SCOPE_NETNS)) {
		r = read_u64_at(fd, NF_SYSCTL "nf_conntrack_count", &p->buf, &g.entries);
		if (r < 0)
			return r;
	}
	if (scope & SCOPE_NETNS) {
		c->has_entries = true;
		c->entries = g.entries;
		mw_family(w, MN_ENTRIES, METRIC_GAUGE,
			  "Connection tracking entries in this network namespace.");
		mw_u64(w, MN_ENTRIES, MW_NO_LABELS, g.entries);
	}
	if (!(scope & SCOPE_HOST))
		return 0;
	if (!g.has_max_entries) {
		/* Older kernels leave the limit out of the netlink answer. */
		r = read_u64_at(fd, NF_SYSCTL "nf_conntrack_max", &p->buf, &g.max_entries);
		if (r < 0)
			return r;
	}

	mw_family(
		w, MN_ENTRIES_LIMIT, METRIC_GAUGE,
		"Maximum number of conntrack entries (nf_conntrack_max); new flows are dropped beyond it.");
	mw_u64(w, MN_ENTRIES_LIMIT, MW_NO_LABELS, g.max_entries);

	r = collector_fresh_enough(c);
	if (r < 0)
		return r;
	if (p->have_buckets) {
		mw_family(w, MN_BUCKETS, METRIC_GAUGE,
			  "Size of the conntrack hash table (nf_conntrack_buckets).");
		mw_u64(w, MN_BUCKETS, MW_NO_LABELS, p->buckets);
	}
	if (p->have_expect_max) {
		mw_family(w, "nf_conntrack_expect_entries_limit", METRIC_GAUGE,
			  "Maximum number of conntrack expectations (nf_conntrack_expect_max).");
		mw_u64(w, "nf_conntrack_expect_entries_limit", MW_NO_LABELS, p->expect_max);
	}
	return 0;
}

static void table_fini(struct collector *c)
{
	struct table_priv *p = c->priv;

	if (!p)
		return;
	rbuf_free(&p->buf);
}

const struct collector_ops table_collector = {
	.name = "table",
	.help = "conntrack table fill: entries, limit, hash buckets",
	.default_enabled = true,
	.scopes = SCOPE_HOST | SCOPE_NETNS,
	.basic = true,
	.priv_size = sizeof(struct table_priv),
	.refresh = table_refresh,
	.refresh_s = TABLE_REFRESH_S,
	.collect = table_collect,
	.fini = table_fini,
};
