// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lnstat: every table in /proc/net/stat, as iproute2's lnstat reads them. "entries" is
 * namespace-wide and printed on every CPU row, so it is taken once; every other column is a
 * per-CPU counter, summed and kept monotonic.
 *
 * One table that can't be read or parsed doesn't take the others down: they are exported, and
 * nf_conntrack_exporter_lnstat_table_success{table} says which one failed (the collector's
 * own success stays 1, as node_exporter's does for one bad file of many).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector.h"
#include "metric_names.h"
#include "percpu.h"
#include "util.h"

#define LNSTAT_DIR "/stat"
#define LNSTAT_MAX_TABLES 16
#define LNSTAT_TABLE_NAME_MAX 64
/*
 * The exporter's own tables stay open and are read again from the start: an open costs 10 µs
 * a file, the read 3. Listed again this often, for tables that come with a module.
 */
#define LNSTAT_LIST_S 10

struct lnstat_table {
	char name[LNSTAT_TABLE_NAME_MAX];
	bool present; /* in /proc/net/stat at this scrape: its success is reported */
	int fd; /* kept open between listings (not with SCOPE_NETNS alone); -1, or the open's -errno */
	bool ok; /* read and parsed at this scrape */
	bool has_entries;
	uint64_t entries;
	int col_slot[STAT_MAX_FIELDS];
	struct percpu_stats st;
};

struct lnstat_priv {
	uint64_t listed_us; /* when /proc/net/stat was last listed; 0: never */
	dev_t procfs_dev; /* what --path.procfs was then (unit tests switch it) */
	ino_t procfs_ino;
	struct rbuf buf;
	struct lnstat_header hdr;
	unsigned n_tables;
	struct lnstat_table *tables[LNSTAT_MAX_TABLES]; /* sorted by name */
};

struct row_ctx {
	struct lnstat_priv *p;
	struct lnstat_table *t;
};

static int table_row(void *userdata, unsigned row, const uint64_t *values, unsigned n)
{
	struct row_ctx *rc = userdata;
	struct lnstat_table *t = rc->t;
	const struct lnstat_header *hdr = &rc->p->hdr;
	int r;

	if (row == 0) {
		for (unsigned i = 0; i < n; i++) {
			t->col_slot[i] = -1;
			if ((int)i == hdr->entries_col) {
				t->entries = values[i];
				t->has_entries = true;
				continue;
			}
			t->col_slot[i] = percpu_slot(&t->st, hdr->col[i].name, hdr->col[i].len);
			if (t->col_slot[i] < 0)
				return t->col_slot[i];
		}
	}
	for (unsigned i = 0; i < n; i++) {
		if (t->col_slot[i] < 0)
			continue;
		r = percpu_update(&t->st, row, (unsigned)t->col_slot[i], values[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

static struct lnstat_table *table_get(struct lnstat_priv *p, const char *name)
{
	struct lnstat_table *t;
	unsigned i;

	for (i = 0; i < p->n_tables; i++) {
		int c = strcmp(p->tables[i]->name, name);

		if (c == 0)
			return p->tables[i];
		if (c > 0)
			break;
	}
	if (p->n_tables == LNSTAT_MAX_TABLES || strlen(name) >= LNSTAT_TABLE_NAME_MAX)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->fd = -1;
	strcpy(t->name, name);
	memmove(&p->tables[i + 1], &p->tables[i], (p->n_tables - i) * sizeof(p->tables[0]));
	p->tables[i] = t;
	p->n_tables++;
	return t;
}

/*
 * nf_conntrack and synproxy count per network namespace; rt_cache's statistics are the
 * host's whatever the namespace, and the neighbour tables show only in the initial one.
 */
static const char *const per_netns_tables[] = { "nf_conntrack", "synproxy" };

static bool in_scope(const struct collector *c, const char *table)
{
	bool per_netns = false;

	for (size_t i = 0; i < ARRAY_SIZE(per_netns_tables); i++)
		per_netns |= strcmp(table, per_netns_tables[i]) == 0;
	return c->cfg->scope & (per_netns ? SCOPE_NETNS : SCOPE_HOST);
}

/*
 * One table, from its open file if it has one, else from @file under @dfd (opened and kept
 * when @keep): 0, or -errno to note it as skipped (-ENOENT: absent, fine).
 */
static int read_table(struct collector *c, int dfd, const char *file, const char *name, bool keep)
{
	struct lnstat_priv *p = c->priv;
	struct row_ctx rc = { .p = p };
	int r;

	rc.t = table_get(p, name);
	if (!rc.t)
		return -E2BIG;
	if (rc.t->fd < 0 && keep) {
		rc.t->fd = open_file_at(dfd, file);
		if (rc.t->fd == -ENOENT)
			return -ENOENT;
	}
	if (rc.t->fd >= 0)
		r = read_file_fd(rc.t->fd, &p->buf, 1 << 20);
	else if (keep)
		r = rc.t->fd; /* the open's error */
	else
		r = read_file_at(dfd, file, &p->buf, 1 << 20);
	if (r == -ENOENT)
		return r;
	rc.t->present = true;
	if (r < 0)
		return r;
	percpu_begin(&rc.t->st);
	rc.t->has_entries = false;
	r = lnstat_parse(p->buf.data, p->buf.len, &p->hdr, table_row, &rc);
	if (r < 0)
		return r;
	rc.t->ok = true;
	return 0;
}

static void close_tables(struct lnstat_priv *p)
{
	for (unsigned i = 0; i < p->n_tables; i++) {
		if (p->tables[i]->fd >= 0)
			close(p->tables[i]->fd);
		p->tables[i]->fd = -1;
	}
}

static int read_tables(struct collector *c)
{
	struct lnstat_priv *p = c->priv;
	struct stat st;
	int r, skipped = 0;
	struct dirent *de;
	char path[64];
	DIR *d;

	for (unsigned i = 0; i < p->n_tables; i++)
		p->tables[i]->ok = p->tables[i]->present = false;
	/* One of many namespaces: its two tables by name, no directory listing per scrape. */
	if (c->cfg->scope == SCOPE_NETNS) {
		for (size_t i = 0; i < ARRAY_SIZE(per_netns_tables); i++) {
			snprintf(path, sizeof(path), "%s" LNSTAT_DIR "/%s", c->cfg->net_dir,
				 per_netns_tables[i]);
			r = read_table(c, c->cfg->procfs_fd, path, per_netns_tables[i], false);
			if (r < 0 && r != -ENOENT)
				skipped = r;
		}
		collector_note(c, skipped ? "some /proc/net/stat tables were skipped" : NULL,
			       skipped);
		return 0;
	}
	if (fstat(c->cfg->procfs_fd, &st) < 0)
		return -errno;
	if (p->listed_us && now_monotonic_us() - p->listed_us < LNSTAT_LIST_S * 1000000ULL &&
	    st.st_dev == p->procfs_dev && st.st_ino == p->procfs_ino) {
		for (unsigned i = 0; i < p->n_tables; i++) {
			struct lnstat_table *t = p->tables[i];

			/* Not listed, or gone at the listing: no series. */
			if (t->fd == -1 || t->fd == -ENOENT)
				continue;
			/* Listed but not openable (not a regular file): failed, as at the listing. */
			if (t->fd < 0) {
				t->present = true;
				skipped = t->fd;
				continue;
			}
			r = read_table(c, -1, NULL, t->name, true);
			if (r < 0)
				skipped = r;
		}
		collector_note(c, skipped ? "some /proc/net/stat tables were skipped" : NULL,
			       skipped);
		return 0;
	}
	/* Listed afresh: what is there now, opened now. */
	close_tables(p);
	snprintf(path, sizeof(path), "%s" LNSTAT_DIR, c->cfg->net_dir);
	r = opendir_at(c->cfg->procfs_fd, path, &d);
	if (r < 0)
		return r;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || de->d_type == DT_DIR || !in_scope(c, de->d_name))
			continue;
		r = read_table(c, dirfd(d), de->d_name, de->d_name, true);
		if (r < 0)
			skipped = r;
	}
	closedir(d);
	p->listed_us = now_monotonic_us();
	p->procfs_dev = st.st_dev;
	p->procfs_ino = st.st_ino;
	collector_note(c, skipped ? "some /proc/net/stat tables were skipped" : NULL, skipped);
	return 0;
}

/* Has a table other than @t[0..before) already exported the field @name? */
static bool seen_before(struct lnstat_priv *p, unsigned before, const char *name)
{
	for (unsigned i = 0; i < before; i++) {
		struct lnstat_table *t = p->tables[i];

		if (!t->ok)
			continue;
		for (unsigned s = 0; s < t->st.n_slots; s++)
			if (t->st.present[s] && strcmp(t->st.names[s], name) == 0)
				return true;
	}
	return false;
}

static int lnstat_collect(struct collector *c, struct metric_writer *w)
{
	struct lnstat_priv *p = c->priv;
	bool family = false;
	int r;

	r = read_tables(c);
	if (r < 0)
		return r;

	for (unsigned i = 0; i < p->n_tables; i++) {
		struct lnstat_table *t = p->tables[i];

		if (!t->ok || !t->has_entries)
			continue;
		if (!family)
			mw_family(
				w, "lnstat_entries", METRIC_GAUGE,
				"Entries in the /proc/net/stat table (namespace-wide, not per CPU).");
		family = true;
		mw_u64(w, "lnstat_entries", MW_LABELS({ ML_TABLE, t->name }), t->entries);
	}

	/* Samples of one family must be contiguous: group each field across tables. */
	for (unsigned i = 0; i < p->n_tables; i++) {
		struct lnstat_table *t = p->tables[i];

		if (!t->ok)
			continue;
		for (unsigned s = 0; s < t->st.n_slots; s++) {
			const char *field = t->st.names[s];
			char name[STAT_NAME_MAX + 16], help[STAT_NAME_MAX + 96];

			if (!t->st.present[s] || seen_before(p, i, field))
				continue;
			snprintf(name, sizeof(name), MN_LNSTAT("%s"), field);
			snprintf(help, sizeof(help),
				 "Column \"%s\" of /proc/net/stat tables, summed over CPUs.",
				 field);
			mw_family(w, name, METRIC_COUNTER, help);
			for (unsigned j = i; j < p->n_tables; j++) {
				struct lnstat_table *u = p->tables[j];
				int slot;

				if (!u->ok)
					continue;
				slot = percpu_find(&u->st, field);
				if (slot < 0 || !u->st.present[slot])
					continue;
				mw_u64(w, name, MW_LABELS({ ML_TABLE, u->name }),
				       percpu_sum(&u->st, (unsigned)slot));
			}
		}
	}

	family = false;
	for (unsigned i = 0; i < p->n_tables; i++) {
		struct lnstat_table *t = p->tables[i];

		if (!t->present)
			continue;
		if (!family)
			mw_family(
				w, "nf_conntrack_exporter_lnstat_table_success", METRIC_GAUGE,
				"1 if the /proc/net/stat table was read and parsed at this scrape, 0 if not (its series are missing then).");
		family = true;
		mw_u64(w, "nf_conntrack_exporter_lnstat_table_success",
		       MW_LABELS({ ML_TABLE, t->name }), t->ok);
	}
	return 0;
}

static void lnstat_fini(struct collector *c)
{
	struct lnstat_priv *p = c->priv;

	if (!p)
		return;
	close_tables(p);
	for (unsigned i = 0; i < p->n_tables; i++) {
		percpu_free(&p->tables[i]->st);
		free(p->tables[i]);
	}
	rbuf_free(&p->buf);
}

const struct collector_ops lnstat_collector = {
	.name = "lnstat",
	.help = "every table of /proc/net/stat (nf_conntrack, rt_cache, arp_cache, ndisc_cache, ...)",
	.default_enabled = true,
	.scopes = SCOPE_HOST | SCOPE_NETNS,
	.priv_size = sizeof(struct lnstat_priv),
	.collect = lnstat_collect,
	.fini = lnstat_fini,
};
