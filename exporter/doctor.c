// SPDX-License-Identifier: GPL-2.0-or-later
#include "doctor.h"
#include "doctor_report.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collector.h"
#include "exporter.h"
#include "metric_names.h"
#include "netns.h"
#include "text.h"
#include "util.h"

#define SAMPLE_GAP_S 3
#define DOCTOR_DUMP_MAX 100000 /* entries: a dump of this many takes about 0.2 s */

static void unseen(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Something doctor could not look at; past the room for them, dropped. */
static void unseen(struct report *r, const char *fmt, ...)
{
	va_list ap;

	if (r->n_unseen == ARRAY_SIZE(r->unseen))
		return;
	va_start(ap, fmt);
	vsnprintf(r->unseen[r->n_unseen++], sizeof(r->unseen[0]), fmt, ap);
	va_end(ap);
}

/* Long timeouts worth a word, and the events collector's state their entries are in. */
static const struct {
	const char *protocol, *state, *sysctl;
	const char *ev_protocol, *ev_state; /* NULL: no state to count */
	double above, suggest;
} long_ones[] = {
	{ "tcp", "established", "nf_conntrack_tcp_timeout_established", "tcp", "established", 86400,
	  86400 },
	{ "udp", "stream", "nf_conntrack_udp_timeout_stream", "udp", "assured", 300, 120 },
	{ "generic", "default", "nf_conntrack_generic_timeout", NULL, NULL, 600, 600 },
};

static const char *const neigh_tables[] = { "arp_cache", "ndisc_cache" };

/* What one scrape showed, taken typed from the metric writer's tap. NAN: not seen. */
struct snapshot {
	double entries; /* the first nf_conntrack_entries sample */
	double limit, buckets, drop, early_drop, insert_failed, chaintoolong;
	double mem_now, mem_full;
	double timeout[ARRAY_SIZE(long_ones)], in_state[ARRAY_SIZE(long_ones)];
	double table_fulls[ARRAY_SIZE(neigh_tables)], forced_gc[ARRAY_SIZE(neigh_tables)];
	/* With --netns: every namespace, in the order they were written. */
	struct ns_fill *ns;
	size_t n_ns, ns_cap;
	struct attrib_facts at; /* what fills the table, from the events collector */
	int error;
};

static void snapshot_begin(struct snapshot *x)
{
	struct ns_fill *ns = x->ns;
	size_t cap = x->ns_cap;

	*x = (struct snapshot){ .ns = ns, .ns_cap = cap };
	x->entries = x->limit = x->buckets = x->drop = x->early_drop = NAN;
	x->insert_failed = x->chaintoolong = x->mem_now = x->mem_full = NAN;
	for (size_t i = 0; i < ARRAY_SIZE(long_ones); i++)
		x->timeout[i] = x->in_state[i] = NAN;
	for (size_t i = 0; i < ARRAY_SIZE(neigh_tables); i++)
		x->table_fulls[i] = x->forced_gc[i] = NAN;
	attrib_begin(&x->at);
}

static void add_to(double *sum, double v)
{
	*sum = (isnan(*sum) ? 0 : *sum) + v;
}

static void set_first(double *slot, double v)
{
	if (isnan(*slot))
		*slot = v;
}

/* The namespace @netns, added when it is new: namespaces write their families in turn. */
static struct ns_fill *ns_of(struct snapshot *x, const char *netns)
{
	struct ns_fill *n;

	for (size_t i = x->n_ns; i > 0; i--)
		if (strcmp(x->ns[i - 1].netns, netns) == 0)
			return &x->ns[i - 1];
	if (GROW_ARRAY(x->ns, x->ns_cap, x->n_ns + 1, 64) < 0) {
		x->error = -ENOMEM;
		return NULL;
	}
	n = &x->ns[x->n_ns++];
	snprintf(n->netns, sizeof(n->netns), "%s", netns);
	n->entries = n->drop = NAN;
	return n;
}

static void snapshot_sample(struct snapshot *x, const struct mw_sample *s)
{
	const char *f = s->family;
	struct ns_fill *n;

	if (strcmp(f, MN_ENTRIES) == 0) {
		set_first(&x->entries, s->value);
		if (s->const_label && (n = ns_of(x, s->const_label)))
			n->entries = s->value;
	} else if (strcmp(f, MN_ENTRIES_LIMIT) == 0) {
		set_first(&x->limit, s->value);
	} else if (strcmp(f, MN_BUCKETS) == 0) {
		set_first(&x->buckets, s->value);
	} else if (strcmp(f, MN_STAT_DROP) == 0) {
		add_to(&x->drop, s->value);
		if (s->const_label && (n = ns_of(x, s->const_label)))
			n->drop = s->value;
	} else if (strcmp(f, MN_STAT_EARLY_DROP) == 0) {
		add_to(&x->early_drop, s->value);
	} else if (strcmp(f, MN_STAT_INSERT_FAILED) == 0) {
		add_to(&x->insert_failed, s->value);
	} else if (strcmp(f, MN_STAT_CHAINTOOLONG) == 0) {
		add_to(&x->chaintoolong, s->value);
	} else if (strcmp(f, MN_KERNEL_MEMORY_BYTES) == 0) {
		set_first(&x->mem_now, s->value);
	} else if (strcmp(f, MN_KERNEL_MEMORY_LIMIT_BYTES) == 0) {
		set_first(&x->mem_full, s->value);
	} else if (strcmp(f, MN_TIMEOUT_SECONDS) == 0) {
		for (size_t i = 0; i < ARRAY_SIZE(long_ones); i++)
			if (strcmp(mw_sample_label(s, ML_PROTOCOL), long_ones[i].protocol) == 0 &&
			    strcmp(mw_sample_label(s, ML_STATE), long_ones[i].state) == 0)
				set_first(&x->timeout[i], s->value);
	} else if (strcmp(f, MN_STATE_ENTRIES) == 0) {
		for (size_t i = 0; i < ARRAY_SIZE(long_ones); i++)
			if (long_ones[i].ev_state &&
			    strcmp(mw_sample_label(s, ML_PROTOCOL), long_ones[i].ev_protocol) ==
				    0 &&
			    strcmp(mw_sample_label(s, ML_STATE), long_ones[i].ev_state) == 0)
				set_first(&x->in_state[i], s->value);
	} else if (strcmp(f, MN_LNSTAT_TABLE_FULLS) == 0 ||
		   strcmp(f, MN_LNSTAT_FORCED_GC_RUNS) == 0) {
		bool fulls = strcmp(f, MN_LNSTAT_TABLE_FULLS) == 0;

		for (size_t i = 0; i < ARRAY_SIZE(neigh_tables); i++)
			if (strcmp(mw_sample_label(s, ML_TABLE), neigh_tables[i]) == 0)
				set_first(fulls ? &x->table_fulls[i] : &x->forced_gc[i], s->value);
	} else {
		attrib_sample(&x->at, s);
	}
}

/* The snapshot, and what it was before the collector under way, to forget a failed one. */
struct taking {
	struct snapshot *x;
	struct snapshot saved; /* its figures and count of namespaces */
	struct ns_fill saved_last; /* the namespace being written may have been updated */
};

static void taking_begin(void *ctx)
{
	snapshot_begin(((struct taking *)ctx)->x);
}

static void taking_sample(void *ctx, const struct mw_sample *s)
{
	snapshot_sample(((struct taking *)ctx)->x, s);
}

static void taking_part_begin(void *ctx)
{
	struct taking *t = ctx;

	t->saved = *t->x;
	if (t->x->n_ns)
		t->saved_last = t->x->ns[t->x->n_ns - 1];
}

static void taking_part_end(void *ctx, bool kept)
{
	struct taking *t = ctx;
	struct ns_fill *ns = t->x->ns;
	size_t cap = t->x->ns_cap;
	int error = t->x->error;

	if (kept)
		return;
	*t->x = t->saved;
	t->x->ns = ns; /* may have moved */
	t->x->ns_cap = cap;
	t->x->error = error;
	if (t->x->n_ns)
		t->x->ns[t->x->n_ns - 1] = t->saved_last;
}

static int scrape(struct exporter *e, struct snapshot *x)
{
	struct taking t = { .x = x };
	const struct scrape_observer obs = {
		.begin = taking_begin,
		.sample = taking_sample,
		.part_begin = taking_part_begin,
		.part_end = taking_part_end,
		.ctx = &t,
	};
	struct metric_writer *w;
	int r;

	exporter_observe(e, &obs);
	r = exporter_scrape(e, MW_FORMAT_TEXT, &w);
	exporter_observe(e, NULL);
	return r < 0 ? r : x->error;
}

static double mem_total_bytes(int procfs_fd)
{
	struct rbuf b = { 0 };
	double v = NAN;
	const char *p;

	if (read_file_at(procfs_fd, "meminfo", &b, 1 << 16) == 0 &&
	    (p = strstr(b.data, "MemTotal:")))
		v = strtod(p + 9, NULL) * 1024;
	rbuf_free(&b);
	return v;
}

static int by_entries_desc(const void *a, const void *b)
{
	const struct ns_fill *x = a, *y = b;

	return (x->entries < y->entries) - (x->entries > y->entries);
}

static const struct ns_fill *ns_find(const struct snapshot *x, const char *netns)
{
	for (size_t i = 0; i < x->n_ns; i++)
		if (strcmp(x->ns[i].netns, netns) == 0)
			return &x->ns[i];
	return NULL;
}

/*
 * Drops between the samples, namespace by namespace: one that came or went in between must
 * not count its whole history as drops of the last seconds.
 */
static double drop_growth(const struct snapshot *t, const struct snapshot *t0)
{
	double sum = 0;

	for (size_t i = 0; i < t->n_ns; i++) {
		const struct ns_fill *before = ns_find(t0, t->ns[i].netns);

		if (before && !isnan(before->drop) && t->ns[i].drop > before->drop)
			sum += t->ns[i].drop - before->drop;
	}
	return sum;
}

static void examine(struct snapshot *t, const struct snapshot *t0, struct facts *x,
		    struct report *r)
{
	char fix[200], a[32], b[32];
	double per_entry, v;

	char where[NETNS_NAME_MAX + 40] = "";

	x->entries = t->entries;
	x->entries0 = t0->entries;
	x->drop = t->drop;
	x->drop0 = t->n_ns ? t->drop - drop_growth(t, t0) : t0->drop;
	x->ns = t->ns;
	x->n_ns = t->n_ns;
	if (x->n_ns) {
		const struct ns_fill *before;

		/* qsort(NULL, 0, ...) is undefined: hence inside the if. */
		qsort(x->ns, x->n_ns, sizeof(*x->ns), by_entries_desc);
		/* Each namespace counts against the one limit: the fullest is the one at risk. */
		before = ns_find(t0, x->ns[0].netns);
		x->entries = x->ns[0].entries;
		x->entries0 = before ? before->entries : NAN;
		snprintf(where, sizeof(where), " in network namespace %s", x->ns[0].netns);
	}
	x->limit = t->limit;
	x->buckets = t->buckets;
	x->early_drop = t->early_drop;
	x->insert_failed = t->insert_failed;
	x->chaintoolong = t->chaintoolong;
	x->mem_now = t->mem_now;
	x->mem_full = t->mem_full;
	x->growth = (x->entries - x->entries0) / x->dt;
	x->to_full =
		x->growth > 0 && x->limit > x->entries ? (x->limit - x->entries) / x->growth : NAN;

	if (isnan(x->entries) || !(x->limit > 0)) {
		unseen(r, "the table's fill (is nf_conntrack loaded?)");
		return;
	}
	/* What one more entry costs, from the slab object size the kernel reports. */
	per_entry = !isnan(x->mem_full) && !isnan(x->buckets)
			    ? (x->mem_full - x->buckets * sizeof(void *)) / x->limit
			    : NAN;
	snprintf(fix, sizeof(fix), "sysctl -w net.netfilter.nf_conntrack_max=%.0f", x->limit * 2);
	if (!isnan(per_entry)) {
		human_bytes(a, sizeof(a), per_entry * x->limit);
		snprintf(fix + strlen(fix), sizeof(fix) - strlen(fix),
			 "  (up to %s more kernel memory)", a);
	}
	v = x->entries / x->limit;
	if (v >= 0.9)
		report_add(
			r, SEV_RISK, fix,
			"When the table is full, new connections are dropped (\"table full, dropping packet\").",
			"table %.1f %% full%s: %.0f of %.0f entries", 100 * v, where, x->entries,
			x->limit);
	else if (v >= 0.75)
		report_add(r, SEV_WARN, fix,
			   "Little headroom is left before new connections are dropped.",
			   "table %.1f %% full%s: %.0f of %.0f entries", 100 * v, where, x->entries,
			   x->limit);
	if (x->n_ns > 1 && x->ns[1].entries / x->limit >= 0.75) {
		size_t more = 1;

		while (more + 1 < x->n_ns && x->ns[more + 1].entries / x->limit >= 0.75)
			more++;
		report_add(r, SEV_WARN, fix,
			   "Every namespace counts its entries against the same nf_conntrack_max.",
			   "%zu more network namespace%s above 75 %% full, next %s at %.1f %%",
			   more, more > 1 ? "s" : "", x->ns[1].netns,
			   100 * x->ns[1].entries / x->limit);
	}
	if (!isnan(x->to_full) && x->to_full < 3600) {
		human_seconds(a, sizeof(a), x->to_full);
		report_add(r, SEV_RISK, fix,
			   "At the growth of the last seconds the table will be full soon.",
			   "filling up%s: +%.1f entries/s, full in %s", where, x->growth, a);
	}
	if (x->drop > x->drop0)
		report_add(r, SEV_RISK, fix,
			   "Packets are being dropped for a full table right now.",
			   "%.0f packets dropped in the last %.0f s", x->drop - x->drop0, x->dt);
	else if (x->drop > 0)
		report_add(r, SEV_WARN, fix,
			   "The table has been full before: new connections failed then.",
			   "%.0f packets dropped for a full table since boot", x->drop);
	if (x->early_drop > 0)
		report_add(r, SEV_WARN, fix,
			   "Unassured entries were evicted to make room: the table was full.",
			   "%.0f early drops since boot", x->early_drop);
	if (x->insert_failed > 0)
		report_add(
			r, SEV_INFO, NULL,
			"Usually two packets of one new flow racing on two CPUs (often UDP DNS); each cost a packet.",
			"%.0f insert failures since boot", x->insert_failed);
	if (!isnan(x->buckets) && x->buckets > 0) {
		double chain = 2 * x->limit / x->buckets;

		snprintf(fix, sizeof(fix),
			 "echo %.0f > /sys/module/nf_conntrack/parameters/hashsize", x->limit / 2);
		if (chain > 8 || x->chaintoolong > 0)
			report_add(
				r, SEV_WARN, fix,
				"Each entry is hashed twice; long chains make every lookup slower, and the kernel refuses inserts into chains that are too long.",
				"hash table: %.0f buckets for %.0f entries, chains of %.1f on average when full%s",
				x->buckets, x->limit, chain,
				x->chaintoolong > 0 ? ", inserts refused for chain length" : "");
	}
	if (!isnan(x->mem_full) && !isnan(x->ram) && x->ram > 0 && x->mem_full / x->ram > 0.1) {
		human_bytes(a, sizeof(a), x->mem_full);
		human_bytes(b, sizeof(b), x->ram);
		report_add(r, SEV_WARN, NULL,
			   "A full table would hold that much unswappable kernel memory.",
			   "a full table would take %s, %.0f %% of the %s of RAM", a,
			   100 * x->mem_full / x->ram, b);
	}
	if (isnan(x->mem_now))
		unseen(r, "kernel memory (/proc/slabinfo needs root)");
}

static void examine_timeouts(const struct snapshot *t, struct report *r)
{
	for (size_t i = 0; i < ARRAY_SIZE(long_ones); i++) {
		double v = t->timeout[i], n = t->in_state[i];
		char fix[160], h[32], now[64] = "";

		if (isnan(v) || v <= long_ones[i].above)
			continue;
		human_seconds(h, sizeof(h), v);
		snprintf(fix, sizeof(fix), "sysctl -w net.netfilter.%s=%.0f", long_ones[i].sysctl,
			 long_ones[i].suggest);
		if (!isnan(n))
			snprintf(now, sizeof(now), " (%.0f entries in that state now)", n);
		report_add(
			r, SEV_WARN, fix,
			"An entry whose peers vanished without closing stays this long, counted against nf_conntrack_max.",
			"%s is %s%s", long_ones[i].sysctl, h, now);
	}
}

static void examine_caches(const struct snapshot *t, struct report *r)
{
	for (size_t i = 0; i < ARRAY_SIZE(neigh_tables); i++) {
		double v = t->table_fulls[i];

		if (!isnan(v) && v > 0)
			report_add(
				r, SEV_WARN,
				i ? "sysctl -w net.ipv6.neigh.default.gc_thresh3=8192"
				  : "sysctl -w net.ipv4.neigh.default.gc_thresh3=8192",
				"The neighbour table overflowed: new neighbours could not be resolved.",
				"%s full %.0f times since boot", neigh_tables[i], v);
		v = t->forced_gc[i];
		if (!isnan(v) && v > 0)
			report_add(
				r, SEV_INFO,
				i ? "sysctl -w net.ipv6.neigh.default.gc_thresh2=4096"
				  : "sysctl -w net.ipv4.neigh.default.gc_thresh2=4096",
				"The neighbour table grew past gc_thresh2 and was pruned at once; past gc_thresh3 it overflows.",
				"%s forced garbage collection %.0f times since boot",
				neigh_tables[i], v);
	}
}

static uint64_t own_entries(int procfs_fd)
{
	uint64_t v = UINT64_MAX;
	struct rbuf b = { 0 };

	if (procfs_fd >= 0)
		(void)read_u64_at(procfs_fd, NF_SYSCTL_DIR "/nf_conntrack_count", &b, &v);
	rbuf_free(&b);
	return v;
}

/* The gap between the two samples: what the main loop does for a daemon, done here. */
static void pump_events(struct exporter *e, uint64_t us)
{
	uint64_t end = now_monotonic_us() + us;
	struct timespec ms = { .tv_nsec = 1000000 };

	while (now_monotonic_us() < end) {
		exporter_poll_events(e);
		nanosleep(&ms, NULL);
	}
}

int doctor_run(const struct flags *f)
{
	struct exporter *e = NULL;
	struct flags df = *f;
	struct facts x = { .dt = SAMPLE_GAP_S };
	struct snapshot t0 = { 0 }, t = { 0 };
	struct report r = { 0 };
	const char *name;
	int status = 2, err, ret;
	bool risk = false, events;
	/* For doctor's own reads (the count, MemTotal): the exporter's fd is its own business. */
	_cleanup_close_ int procfs_fd = open(f->procfs, O_PATH | O_DIRECTORY | O_CLOEXEC);

	/*
	 * The events collector's per-state counts need a dump of the table: fine for a small one
	 * of this namespace, no one-shot's business for a big one or for every namespace.
	 */
	events = !f->netns_all && !f->n_netns && own_entries(procfs_fd) <= DOCTOR_DUMP_MAX;
	for (size_t i = 0; i < collector_registry_size; i++)
		df.collector_enabled[i] = collector_registry[i] != &events_collector || events;
	log_set_level(LOG_LEVEL_ERROR);
	if (exporter_new(&df, &e) < 0) {
		fprintf(stderr, "nf_conntrack_exporter doctor: cannot read %s\n", f->procfs);
		goto out;
	}
	ret = scrape(e, &t0);
	if (ret == 0) {
		pump_events(e, SAMPLE_GAP_S * 1000000ULL);
		ret = scrape(e, &t);
	}
	if (ret < 0) {
		fprintf(stderr, "nf_conntrack_exporter doctor: cannot collect: %s\n",
			strerror(-ret));
		goto out;
	}
	for (size_t i = 0; exporter_failed_collector(e, i, &name, &err); i++)
		unseen(&r, "collector %s failed: %s", name, strerror(-err));
	x.ram = procfs_fd >= 0 ? mem_total_bytes(procfs_fd) : NAN;
	examine(&t, &t0, &x, &r);
	x.attrib = &t.at;
	examine_attrib(&t.at, &t0.at, x.entries, x.limit, x.dt, &r);
	if (!events)
		unseen(&r, "what fills the table (dumped in the own namespace up to %d entries)",
		       DOCTOR_DUMP_MAX);
	else if (!t.at.seen)
		unseen(&r, "what fills the table (the dump did not finish, or attribution is off)");
	examine_timeouts(&t, &r);
	examine_caches(&t, &r);
	for (unsigned i = 0; i < r.n; i++)
		risk |= r.f[i].sev == SEV_RISK;
	if (f->format_json)
		print_json(&x, &r, risk);
	else
		print_text(&x, &r, risk);
	status = risk ? 1 : 0;
out:
	free(t0.ns);
	free(t.ns);
	exporter_free(e);
	return status;
}
