// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * stat: the kernel's per-CPU conntrack statistics, summed over CPUs and kept monotonic
 * across the kernel's 32-bit wraps. Netlink (IPCTNL_MSG_CT_GET_STATS_CPU and the expectation
 * subsystem's GET_STATS_CPU) first; /proc/net/stat/nf_conntrack, parsed by its header, when
 * netlink is refused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"
#include "ctnl.h"
#include "metric_names.h"
#include "percpu.h"
#include "util.h"

#define STAT_FILE "/stat/nf_conntrack"

/* ctnetlink attribute numbers (enum ctattr_stats_cpu) to our statistic names. */
static const char *const ct_attr_names[] = {
	[1] = "searched",	 [2] = "found",		 [3] = "new",		[4] = "invalid",
	[5] = "ignore",		 [6] = "delete",	 [7] = "delete_list",	[8] = "insert",
	[9] = "insert_failed",	 [10] = "drop",		 [11] = "early_drop",	[12] = "error",
	[13] = "search_restart", [14] = "clash_resolve", [15] = "chaintoolong",
};

/* enum ctattr_expect_stats */
static const char *const exp_attr_names[] = {
	[1] = "expect_new",
	[2] = "expect_create",
	[3] = "expect_delete",
};

/* /proc/net/stat/nf_conntrack spells some statistics differently from netlink. */
static const struct {
	const char *proc;
	const char *name;
} proc_aliases[] = {
	{ "icmp_error", "error" },
	{ "clashres", "clash_resolve" },
	{ "chainlength", "chaintoolong" },
};

static const struct {
	const char *name;
	const char *help;
} stat_help[] = {
	{ "found", "Lookups that found an existing conntrack entry." },
	{ "invalid", "Packets that conntrack could not track (malformed, or out of window)." },
	{ "insert", "Entries inserted into the conntrack table." },
	{ "insert_failed",
	  "Entries that could not be inserted (clash with an existing entry or chain too long); the packet was dropped." },
	{ "drop",
	  "Packets dropped because the conntrack table was full and no entry could be evicted." },
	{ "early_drop", "Entries evicted to make room for a new one when the table was full." },
	{ "error", "Packets with ICMP errors or other errors that conntrack rejected." },
	{ "search_restart",
	  "Hash table lookups restarted because the table was being resized or changed." },
	{ "clash_resolve", "Insert clashes resolved by reusing the existing entry." },
	{ "chaintoolong", "Inserts refused because the hash chain was too long." },
	{ "expect_new", "Expectations matched by a new connection." },
	{ "expect_create", "Expectations created." },
	{ "expect_delete", "Expectations deleted." },
};

/* The /proc fallback's state: made at its first use, as most never need it (5 KiB). */
struct stat_proc {
	struct percpu_stats st;
	struct rbuf buf;
	struct lnstat_header hdr;
	int col_slot[STAT_MAX_FIELDS];
};

struct stat_priv {
	/*
	 * Netlink numbers CPUs by id, /proc by row (possible CPUs only): with holes in the
	 * possible mask they differ, so each source keeps its own wrap state.
	 */
	struct percpu_stats nl_st;
	struct stat_proc *proc;
};

/* With config.basic: what the alerts read, and what explains an insert failure. */
static const char *const basic_names[] = {
	"drop", "early_drop", "insert_failed", "chaintoolong", "clash_resolve",
};

static bool is_basic(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(basic_names); i++)
		if (strcmp(basic_names[i], name) == 0)
			return true;
	return false;
}

struct cpu_walk {
	struct percpu_stats *st;
	const char *const *names;
	unsigned n_names;
};

static int cpu_cb(const struct nlmsghdr *nlh, void *userdata)
{
	struct cpu_walk *cw = userdata;
	struct ctnl_cpu m;
	int r;

	r = ctnl_parse_cpu(nlh, cw->n_names - 1, &m);
	if (r < 0)
		return r;
	for (unsigned t = 1; t < cw->n_names; t++) {
		int slot;

		if (!(m.present & (UINT64_C(1) << t)) || !cw->names[t])
			continue;
		slot = percpu_slot(cw->st, cw->names[t], strlen(cw->names[t]));
		if (slot < 0)
			return slot;
		r = percpu_update(cw->st, m.cpu, (unsigned)slot, m.value[t]);
		if (r < 0)
			return r;
	}
	return 0;
}

static int read_netlink(struct stat_priv *p, struct ctnl *nl, bool basic)
{
	struct cpu_walk ct = { &p->nl_st, ct_attr_names, ARRAY_SIZE(ct_attr_names) };
	struct cpu_walk exp = { &p->nl_st, exp_attr_names, ARRAY_SIZE(exp_attr_names) };
	int r;

	r = ctnl_request(nl, CTNL_SUBSYS_CT, CTNL_MSG_CT_GET_STATS_CPU, true, cpu_cb, &ct);
	if (r < 0)
		return r;
	if (basic)
		return 0; /* no expectation series: spare the round trip */
	/* Expectation statistics are a bonus: their absence is not the collector's failure. */
	(void)ctnl_request(nl, CTNL_SUBSYS_EXP, CTNL_MSG_EXP_GET_STATS_CPU, true, cpu_cb, &exp);
	return 0;
}

static const char *proc_name(const char *col, size_t len, char *tmp, size_t tmp_size)
{
	for (size_t i = 0; i < ARRAY_SIZE(proc_aliases); i++)
		if (strlen(proc_aliases[i].proc) == len &&
		    memcmp(proc_aliases[i].proc, col, len) == 0)
			return proc_aliases[i].name;
	snprintf(tmp, tmp_size, "%.*s", (int)len, col);
	return tmp;
}

static int proc_row(void *userdata, unsigned row, const uint64_t *values, unsigned n)
{
	struct stat_proc *p = userdata;
	int r;

	if (row == 0) {
		for (unsigned i = 0; i < n; i++) {
			char tmp[STAT_NAME_MAX];
			const char *name;

			p->col_slot[i] = -1;
			if ((int)i == p->hdr.entries_col)
				continue;
			name = proc_name(p->hdr.col[i].name, p->hdr.col[i].len, tmp, sizeof(tmp));
			p->col_slot[i] = percpu_slot(&p->st, name, strlen(name));
			if (p->col_slot[i] < 0)
				return p->col_slot[i];
		}
	}
	for (unsigned i = 0; i < n; i++) {
		if (p->col_slot[i] < 0)
			continue;
		r = percpu_update(&p->st, row, (unsigned)p->col_slot[i], values[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

static int read_proc(struct collector *c, struct stat_proc *p)
{
	char path[64];
	int r;

	snprintf(path, sizeof(path), "%s" STAT_FILE, c->cfg->net_dir);
	r = read_file_at(c->cfg->procfs_fd, path, &p->buf, 1 << 20);
	if (r < 0)
		return r;
	r = lnstat_parse(p->buf.data, p->buf.len, &p->hdr, proc_row, p);
	return r < 0 ? r : 0;
}

static const char *help_for(const char *name, char *tmp, size_t size)
{
	for (size_t i = 0; i < ARRAY_SIZE(stat_help); i++)
		if (strcmp(stat_help[i].name, name) == 0)
			return stat_help[i].help;
	snprintf(tmp, size,
		 "Conntrack statistic \"%s\" as the kernel reports it, summed over CPUs.", name);
	return tmp;
}

static int stat_collect(struct collector *c, struct metric_writer *w)
{
	struct stat_priv *p = c->priv;
	struct percpu_stats *st = &p->nl_st;
	int r;

	percpu_begin(&p->nl_st);
	r = read_netlink(p, c->cfg->nl, c->cfg->basic);
	if (r < 0) {
		collector_note(
			c,
			"netlink statistics unavailable, reading /proc/net/stat/nf_conntrack instead",
			r);
		if (!p->proc && !(p->proc = calloc(1, sizeof(*p->proc))))
			return -ENOMEM;
		st = &p->proc->st;
		percpu_begin(st);
		r = read_proc(c, p->proc);
		if (r < 0)
			return r;
	} else {
		collector_note(c, NULL, 0);
	}

	for (unsigned i = 0; i < st->n_slots; i++) {
		char name[STAT_NAME_MAX + 32], help[STAT_NAME_MAX + 80];

		if (!st->present[i] || (c->cfg->basic && !is_basic(st->names[i])))
			continue;
		snprintf(name, sizeof(name), MN_STAT("%s"), st->names[i]);
		mw_family(w, name, METRIC_COUNTER, help_for(st->names[i], help, sizeof(help)));
		mw_u64(w, name, MW_NO_LABELS, percpu_sum(st, i));
	}
	return 0;
}

static void stat_fini(struct collector *c)
{
	struct stat_priv *p = c->priv;

	if (!p)
		return;
	percpu_free(&p->nl_st);
	if (p->proc) {
		percpu_free(&p->proc->st);
		rbuf_free(&p->proc->buf);
		free(p->proc);
	}
}

const struct collector_ops stat_collector = {
	.name = "stat",
	.help = "per-CPU conntrack statistics: drops, early drops, insert failures, ...",
	.default_enabled = true,
	.scopes = SCOPE_NETNS,
	.basic = true,
	.priv_size = sizeof(struct stat_priv),
	.collect = stat_collect,
	.fini = stat_fini,
};
