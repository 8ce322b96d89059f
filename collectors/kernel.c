// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * kernel: what the table costs in kernel memory and the sysctls that change its behaviour.
 * Memory comes from /proc/slabinfo (root-only: without it those two metrics are absent):
 * the conntrack slab caches' objects plus the hash table's buckets, one pointer each.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "collector.h"
#include "metric_names.h"
#include "slabinfo.h"
#include "util.h"

#define NF_SYSCTL NF_SYSCTL_DIR "/"
#define HASHSIZE_PARAM "module/nf_conntrack/parameters/hashsize"
#define BUCKET_BYTES sizeof(void *) /* struct hlist_nulls_head: one pointer */

static const char *const settings[] = {
	"events", "acct", "timestamp", "tcp_loose", "tcp_be_liberal", "checksum",
};

/* slabinfo makes the kernel walk every slab cache (~250 µs): off the scrape path, <= 20 s old. */
#define KERNEL_REFRESH_S 10

/* What the last refresh read. */
struct kernel_priv {
	struct rbuf buf;
	uint64_t max, buckets, hashsize;
	bool have_slab, have_hashsize;
	uint64_t slab_bytes, slab_objsize;
	char values[ARRAY_SIZE(settings)][24];
};

struct slab_sum {
	uint64_t bytes;
	uint64_t objsize;
	bool found;
};

/*
 * The entries' cache is "nf_conntrack" (one per namespace, "nf_conntrack_<address>", on old
 * kernels). Expectations have their own small cache and limit; they are not counted here.
 */
static int slab_cb(void *userdata, const struct slab_cache *c)
{
	struct slab_sum *s = userdata;

	if (strncmp(c->name, "nf_conntrack", 12) != 0 ||
	    strncmp(c->name, "nf_conntrack_expect", 19) == 0)
		return 0;
	if (c->name[12] != '\0' && c->name[12] != '_')
		return 0;
	s->bytes += c->active_objs * c->objsize;
	if (c->objsize > s->objsize)
		s->objsize = c->objsize;
	s->found = true;
	return 0;
}

static int kernel_refresh(struct collector *c)
{
	struct kernel_priv *p = c->priv;
	int fd = c->cfg->procfs_fd;
	struct slab_sum slab = { 0 };
	int r;

	r = read_u64_at(fd, NF_SYSCTL "nf_conntrack_max", &p->buf, &p->max);
	if (r < 0)
		return r;
	r = read_u64_at(fd, NF_SYSCTL "nf_conntrack_buckets", &p->buf, &p->buckets);
	if (r < 0)
		return r;

	r = read_file_at(fd, "slabinfo", &p->buf, 1 << 22);
	if (r >= 0)
		r = slabinfo_parse(p->buf.data, p->buf.len, slab_cb, &slab);
	if (r >= 0 && !slab.found)
		r = -ENOENT; /* merged into another cache (slab_merge): can't be told apart */
	collector_note(c,
		       r < 0 ? "no conntrack slab cache in /proc/slabinfo (root only; or merged)"
			     : NULL,
		       r);
	p->have_slab = r >= 0;
	p->slab_bytes = slab.bytes;
	p->slab_objsize = slab.objsize;

	for (size_t i = 0; i < ARRAY_SIZE(settings); i++) {
		char path[96];
		uint64_t v;

		snprintf(path, sizeof(path), NF_SYSCTL "nf_conntrack_%s", settings[i]);
		if (read_u64_at(fd, path, &p->buf, &v) == 0)
			snprintf(p->values[i], sizeof(p->values[i]), "%llu", (unsigned long long)v);
		else
			p->values[i][0] =
				'\0'; /* not on this kernel, or the module is not loaded */
	}
	p->have_hashsize = c->cfg->sysfs_fd >= 0 && read_u64_at(c->cfg->sysfs_fd, HASHSIZE_PARAM,
								&p->buf, &p->hashsize) == 0;
	return 0;
}

static int kernel_collect(struct collector *c, struct metric_writer *w)
{
	struct kernel_priv *p = c->priv;
	struct mw_label labels[ARRAY_SIZE(settings)];
	int r = collector_fresh_enough(c);

	if (r < 0)
		return r;
	if (p->have_slab) {
		mw_family(
			w, MN_KERNEL_MEMORY_BYTES, METRIC_GAUGE,
			"Kernel memory of the conntrack table now: active slab objects times their size, plus the hash buckets.");
		mw_u64(w, MN_KERNEL_MEMORY_BYTES, MW_NO_LABELS,
		       p->slab_bytes + p->buckets * BUCKET_BYTES);
		mw_family(
			w, MN_KERNEL_MEMORY_LIMIT_BYTES, METRIC_GAUGE,
			"Kernel memory the conntrack table would use when full: nf_conntrack_max objects plus the hash buckets.");
		mw_u64(w, MN_KERNEL_MEMORY_LIMIT_BYTES, MW_NO_LABELS,
		       p->max * p->slab_objsize + p->buckets * BUCKET_BYTES);
	}
	for (size_t i = 0; i < ARRAY_SIZE(settings); i++)
		labels[i] = (struct mw_label){ settings[i], p->values[i] };
	mw_family(
		w, "nf_conntrack_settings_info", METRIC_GAUGE,
		"The conntrack sysctls that change behaviour and cost, as labels (empty: absent).");
	mw_u64(w, "nf_conntrack_settings_info", labels, ARRAY_SIZE(labels), 1);

	/* The module parameter is what the next boot gets; the sysctl is what runs now. */
	if (p->have_hashsize && p->hashsize != p->buckets) {
		mw_family(
			w, "nf_conntrack_hashsize_module_param", METRIC_GAUGE,
			"The nf_conntrack module's hashsize parameter, shown when it differs from nf_conntrack_buckets.");
		mw_u64(w, "nf_conntrack_hashsize_module_param", MW_NO_LABELS, p->hashsize);
	}
	return 0;
}

static void kernel_fini(struct collector *c)
{
	struct kernel_priv *p = c->priv;

	if (p)
		rbuf_free(&p->buf);
}

const struct collector_ops kernel_collector = {
	.name = "kernel",
	.help = "kernel memory of the conntrack table (from /proc/slabinfo) and behaviour sysctls",
	.default_enabled = true,
	.scopes = SCOPE_HOST,
	.priv_size = sizeof(struct kernel_priv),
	.refresh = kernel_refresh,
	.refresh_s = KERNEL_REFRESH_S,
	.collect = kernel_collect,
	.fini = kernel_fini,
};
