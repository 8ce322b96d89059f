// SPDX-License-Identifier: GPL-2.0-or-later
#include "doctor.h"

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
#include "util.h"

#define SAMPLE_GAP_S 3
#define MAX_FINDINGS 16
#define DOCTOR_DUMP_MAX 100000 /* entries: a dump of this many takes about 0.2 s */
#define NS_SHOWN 5 /* fullest namespaces in the text report; JSON has them all */

enum severity {
	SEV_INFO,
	SEV_WARN,
	SEV_RISK,
};

static const char *const sev_names[] = { "info", "warning", "risk" };

struct finding {
	enum severity sev;
	char title[160];
	char why[320];
	char fix[200];
};

struct report {
	struct finding f[MAX_FINDINGS];
	unsigned n;
	char unseen[8][96];
	unsigned n_unseen;
};

static void add(struct report *r, enum severity sev, const char *fix, const char *why,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void add(struct report *r, enum severity sev, const char *fix, const char *why,
		const char *fmt, ...)
{
	struct finding *f;
	va_list ap;

	if (r->n == MAX_FINDINGS)
		return;
	f = &r->f[r->n++];
	f->sev = sev;
	va_start(ap, fmt);
	vsnprintf(f->title, sizeof(f->title), fmt, ap);
	va_end(ap);
	snprintf(f->why, sizeof(f->why), "%s", why);
	snprintf(f->fix, sizeof(f->fix), "%s", fix ? fix : "");
}

/* A walk over the samples of one metric in our own exposition. */
struct samples {
	const char *p, *end, *name;
	size_t name_len;
	const char *line, *value; /* the current sample: its start, and its value after ' ' */
};

static struct samples samples_of(const char *text, size_t len, const char *name)
{
	return (struct samples){
		.p = text, .end = text + len, .name = name, .name_len = strlen(name)
	};
}

/* The next sample of the metric, labelled or not; false at the end. */
static bool next_sample(struct samples *it)
{
	while (it->p < it->end) {
		const char *l = it->p, *e = memchr(l, '\n', (size_t)(it->end - l));
		const char *sp;

		e = e ? e : it->end;
		it->p = e + 1;
		if ((size_t)(e - l) > it->name_len && memcmp(l, it->name, it->name_len) == 0 &&
		    (l[it->name_len] == ' ' || l[it->name_len] == '{') &&
		    (sp = memrchr(l, ' ', (size_t)(e - l)))) {
			it->line = l;
			it->value = sp + 1;
			return true;
		}
	}
	return false;
}

/* The value of the sample @name{...@label...} in our own exposition, NAN if absent. */
static double value(const char *text, size_t len, const char *name, const char *label)
{
	struct samples it = samples_of(text, len, name);

	while (next_sample(&it))
		if (!label || memmem(it.line, (size_t)(it.value - it.line), label, strlen(label)))
			return strtod(it.value, NULL);
	return NAN;
}

static char *scrape(struct exporter *e, size_t *len)
{
	char *copy;

	if (exporter_scrape(e) < 0)
		return NULL;
	copy = malloc(e->w.len + 1);
	if (!copy)
		return NULL;
	memcpy(copy, e->w.buf, e->w.len);
	copy[e->w.len] = '\0';
	*len = e->w.len;
	return copy;
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

/*
 * nf_conntrack_buckets and nf_conntrack_max at boot on kernels since 5.15: a bucket per 16 KiB
 * of RAM, 65536 above 1 GiB, 262144 above 4 GiB on 64-bit, never under 1024; max = buckets.
 */
static double kernel_default_max(double ram)
{
	double b = ram / 16384 / sizeof(void *);

	if (sizeof(void *) >= 8 && ram > 4.0 * (1 << 30))
		b = 262144;
	else if (ram > 1.0 * (1 << 30))
		b = 65536;
	return b < 1024 ? 1024 : floor(b);
}

static void human_bytes(char *buf, size_t size, double v)
{
	if (v >= 1 << 30)
		snprintf(buf, size, "%.1f GiB", v / (1 << 30));
	else if (v >= 1 << 20)
		snprintf(buf, size, "%.1f MiB", v / (1 << 20));
	else
		snprintf(buf, size, "%.0f KiB", v / 1024);
}

static void human_seconds(char *buf, size_t size, double s)
{
	if (s < 120)
		snprintf(buf, size, "%.0f s", s);
	else if (s < 7200)
		snprintf(buf, size, "%.0f min", s / 60);
	else if (s < 172800)
		snprintf(buf, size, "%.1f h", s / 3600);
	else
		snprintf(buf, size, "%.1f days", s / 86400);
}

/* One namespace's entries, with --netns. */
struct ns_fill {
	char netns[NETNS_NAME_MAX + 1];
	double entries;
};

struct facts {
	double entries, entries0, limit, buckets, dt, growth, to_full;
	double drop, drop0, early_drop, insert_failed, chaintoolong;
	double mem_now, mem_full, ram;
	/* With --netns: every namespace, fullest first; entries above are the fullest one's. */
	struct ns_fill *ns;
	size_t n_ns;
};

/* The sum of every sample of @name: one namespace's value, or all of them with --netns. */
static double sum_values(const char *text, size_t len, const char *name)
{
	struct samples it = samples_of(text, len, name);
	double sum = NAN;

	while (next_sample(&it))
		sum = (isnan(sum) ? 0 : sum) + strtod(it.value, NULL);
	return sum;
}

/* The netns="..." value of a sample line [p, e), unescaped; false if it has none. */
static bool netns_label(const char *p, const char *e, char *out, size_t size)
{
	const char *q = memmem(p, (size_t)(e - p), "netns=\"", 7);
	size_t n = 0;

	if (!q)
		return false;
	for (q += 7; q < e && *q != '"' && n + 1 < size; q++) {
		bool esc = *q == '\\' && q + 1 < e;

		q += esc;
		out[n++] = esc && *q == 'n' ? '\n' : *q;
	}
	out[n] = '\0';
	return true;
}

/* The sample @name{netns="@netns"} (compared unescaped), NAN if absent. */
static double netns_value(const char *text, size_t len, const char *name, const char *netns)
{
	struct samples it = samples_of(text, len, name);
	char got[NETNS_NAME_MAX + 1];

	while (next_sample(&it))
		if (netns_label(it.line, it.value, got, sizeof(got)) && strcmp(got, netns) == 0)
			return strtod(it.value, NULL);
	return NAN;
}

/*
 * Drops between the samples, namespace by namespace: one that came or went in between must
 * not count its whole history as drops of the last seconds.
 */
static double drop_growth(const char *t, size_t len, const char *t0, size_t len0)
{
	static const char name[] = "nf_conntrack_stat_drop_total";
	struct samples it = samples_of(t, len, name);
	char ns[NETNS_NAME_MAX + 1];
	double sum = 0;

	while (next_sample(&it)) {
		double now = strtod(it.value, NULL), before;

		if (!netns_label(it.line, it.value, ns, sizeof(ns)))
			continue;
		before = netns_value(t0, len0, name, ns);
		if (!isnan(before) && now > before)
			sum += now - before;
	}
	return sum;
}

static int by_entries_desc(const void *a, const void *b)
{
	const struct ns_fill *x = a, *y = b;

	return (x->entries < y->entries) - (x->entries > y->entries);
}

/* nf_conntrack_entries{netns=...} of every namespace, fullest first; 0 without --netns. */
static int read_namespaces(const char *t, size_t len, struct facts *x)
{
	struct samples it = samples_of(t, len, "nf_conntrack_entries");
	size_t cap = 0;

	while (next_sample(&it)) {
		struct ns_fill *n;

		if (x->n_ns == cap) {
			size_t c = cap ? cap * 2 : 64;
			struct ns_fill *v = realloc(x->ns, c * sizeof(*v));

			if (!v)
				return -ENOMEM;
			x->ns = v;
			cap = c;
		}
		n = &x->ns[x->n_ns];
		if (netns_label(it.line, it.value, n->netns, sizeof(n->netns))) {
			n->entries = strtod(it.value, NULL);
			x->n_ns++;
		}
	}
	if (x->n_ns) /* qsort(NULL, 0, ...) is undefined */
		qsort(x->ns, x->n_ns, sizeof(*x->ns), by_entries_desc);
	return 0;
}

static void examine(const char *t, size_t len, const char *t0, size_t len0, struct facts *x,
		    struct report *r)
{
	char fix[200], a[32], b[32];
	double per_entry, v;

	char where[NETNS_NAME_MAX + 40] = "";

	x->entries = value(t, len, "nf_conntrack_entries", NULL);
	x->entries0 = value(t0, len0, "nf_conntrack_entries", NULL);
	if (read_namespaces(t, len, x) == 0 && x->n_ns) {
		/* Each namespace counts against the one limit: the fullest is the one at risk. */
		x->entries = x->ns[0].entries;
		x->entries0 = netns_value(t0, len0, "nf_conntrack_entries", x->ns[0].netns);
		snprintf(where, sizeof(where), " in network namespace %s", x->ns[0].netns);
	}
	x->limit = value(t, len, "nf_conntrack_entries_limit", NULL);
	x->buckets = value(t, len, "nf_conntrack_buckets", NULL);
	x->drop = sum_values(t, len, "nf_conntrack_stat_drop_total");
	x->drop0 = x->n_ns ? x->drop - drop_growth(t, len, t0, len0)
			   : sum_values(t0, len0, "nf_conntrack_stat_drop_total");
	x->early_drop = sum_values(t, len, "nf_conntrack_stat_early_drop_total");
	x->insert_failed = sum_values(t, len, "nf_conntrack_stat_insert_failed_total");
	x->chaintoolong = sum_values(t, len, "nf_conntrack_stat_chaintoolong_total");
	x->mem_now = value(t, len, "nf_conntrack_kernel_memory_bytes", NULL);
	x->mem_full = value(t, len, "nf_conntrack_kernel_memory_limit_bytes", NULL);
	x->growth = (x->entries - x->entries0) / x->dt;
	x->to_full =
		x->growth > 0 && x->limit > x->entries ? (x->limit - x->entries) / x->growth : NAN;

	if (isnan(x->entries) || !(x->limit > 0)) {
		snprintf(r->unseen[r->n_unseen++], sizeof(r->unseen[0]),
			 "the table's fill (is nf_conntrack loaded?)");
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
		add(r, SEV_RISK, fix,
		    "When the table is full, new connections are dropped (\"table full, dropping packet\").",
		    "table %.1f %% full%s: %.0f of %.0f entries", 100 * v, where, x->entries,
		    x->limit);
	else if (v >= 0.75)
		add(r, SEV_WARN, fix, "Little headroom is left before new connections are dropped.",
		    "table %.1f %% full%s: %.0f of %.0f entries", 100 * v, where, x->entries,
		    x->limit);
	if (x->n_ns > 1 && x->ns[1].entries / x->limit >= 0.75) {
		size_t more = 1;

		while (more + 1 < x->n_ns && x->ns[more + 1].entries / x->limit >= 0.75)
			more++;
		add(r, SEV_WARN, fix,
		    "Every namespace counts its entries against the same nf_conntrack_max.",
		    "%zu more network namespace%s above 75 %% full, next %s at %.1f %%", more,
		    more > 1 ? "s" : "", x->ns[1].netns, 100 * x->ns[1].entries / x->limit);
	}
	if (!isnan(x->to_full) && x->to_full < 3600) {
		human_seconds(a, sizeof(a), x->to_full);
		add(r, SEV_RISK, fix,
		    "At the growth of the last seconds the table will be full soon.",
		    "filling up%s: +%.1f entries/s, full in %s", where, x->growth, a);
	}
	if (x->drop > x->drop0)
		add(r, SEV_RISK, fix, "Packets are being dropped for a full table right now.",
		    "%.0f packets dropped in the last %.0f s", x->drop - x->drop0, x->dt);
	else if (x->drop > 0)
		add(r, SEV_WARN, fix,
		    "The table has been full before: new connections failed then.",
		    "%.0f packets dropped for a full table since boot", x->drop);
	if (x->early_drop > 0)
		add(r, SEV_WARN, fix,
		    "Unassured entries were evicted to make room: the table was full.",
		    "%.0f early drops since boot", x->early_drop);
	if (x->insert_failed > 0)
		add(r, SEV_INFO, NULL,
		    "Usually two packets of one new flow racing on two CPUs (often UDP DNS); each cost a packet.",
		    "%.0f insert failures since boot", x->insert_failed);
	if (!isnan(x->buckets) && x->buckets > 0) {
		double chain = 2 * x->limit / x->buckets;

		snprintf(fix, sizeof(fix),
			 "echo %.0f > /sys/module/nf_conntrack/parameters/hashsize", x->limit / 2);
		if (chain > 8 || x->chaintoolong > 0)
			add(r, SEV_WARN, fix,
			    "Each entry is hashed twice; long chains make every lookup slower, and the kernel refuses inserts into chains that are too long.",
			    "hash table: %.0f buckets for %.0f entries, chains of %.1f on average when full%s",
			    x->buckets, x->limit, chain,
			    x->chaintoolong > 0 ? ", inserts refused for chain length" : "");
	}
	if (!isnan(x->mem_full) && !isnan(x->ram) && x->ram > 0 && x->mem_full / x->ram > 0.1) {
		human_bytes(a, sizeof(a), x->mem_full);
		human_bytes(b, sizeof(b), x->ram);
		add(r, SEV_WARN, NULL,
		    "A full table would hold that much unswappable kernel memory.",
		    "a full table would take %s, %.0f %% of the %s of RAM", a,
		    100 * x->mem_full / x->ram, b);
	}
	if (isnan(x->mem_now))
		snprintf(r->unseen[r->n_unseen++], sizeof(r->unseen[0]),
			 "kernel memory (/proc/slabinfo needs root)");
}

static void examine_timeouts(const char *t, size_t len, struct report *r)
{
	/* state: the events collector's label for the entries that timeout applies to. */
	static const struct {
		const char *label, *sysctl, *state;
		double above, suggest;
	} long_ones[] = {
		{ "protocol=\"tcp\",state=\"established\"", "nf_conntrack_tcp_timeout_established",
		  "protocol=\"tcp\",state=\"established\"", 86400, 86400 },
		{ "protocol=\"udp\",state=\"stream\"", "nf_conntrack_udp_timeout_stream",
		  "protocol=\"udp\",state=\"assured\"", 300, 120 },
		{ "protocol=\"generic\",state=\"default\"", "nf_conntrack_generic_timeout", NULL,
		  600, 600 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(long_ones); i++) {
		double v = value(t, len, "nf_conntrack_timeout_seconds", long_ones[i].label);
		double n = long_ones[i].state
				   ? value(t, len, "nf_conntrack_state_entries", long_ones[i].state)
				   : NAN;
		char fix[160], h[32], now[64] = "";

		if (isnan(v) || v <= long_ones[i].above)
			continue;
		human_seconds(h, sizeof(h), v);
		snprintf(fix, sizeof(fix), "sysctl -w net.netfilter.%s=%.0f", long_ones[i].sysctl,
			 long_ones[i].suggest);
		if (!isnan(n))
			snprintf(now, sizeof(now), " (%.0f entries in that state now)", n);
		add(r, SEV_WARN, fix,
		    "An entry whose peers vanished without closing stays this long, counted against nf_conntrack_max.",
		    "%s is %s%s", long_ones[i].sysctl, h, now);
	}
}

static void examine_caches(const char *t, size_t len, struct report *r)
{
	static const char *const tables[] = { "arp_cache", "ndisc_cache" };

	for (size_t i = 0; i < ARRAY_SIZE(tables); i++) {
		char label[48];
		double v;

		snprintf(label, sizeof(label), "table=\"%s\"", tables[i]);
		v = value(t, len, "lnstat_table_fulls_total", label);
		if (!isnan(v) && v > 0)
			add(r, SEV_WARN,
			    i ? "sysctl -w net.ipv6.neigh.default.gc_thresh3=8192"
			      : "sysctl -w net.ipv4.neigh.default.gc_thresh3=8192",
			    "The neighbour table overflowed: new neighbours could not be resolved.",
			    "%s full %.0f times since boot", tables[i], v);
		v = value(t, len, "lnstat_forced_gc_runs_total", label);
		if (!isnan(v) && v > 0)
			add(r, SEV_INFO,
			    i ? "sysctl -w net.ipv6.neigh.default.gc_thresh2=4096"
			      : "sysctl -w net.ipv4.neigh.default.gc_thresh2=4096",
			    "The neighbour table grew past gc_thresh2 and was pruned at once; past gc_thresh3 it overflows.",
			    "%s forced garbage collection %.0f times since boot", tables[i], v);
	}
}

static void put_json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(out, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(out, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, out);
	}
	fputc('"', out);
}

static void put_json_number(FILE *out, double v)
{
	char buf[40];

	if (isnan(v) || isinf(v))
		fputs("null", out);
	else
		fwrite(buf, 1, fmt_double(buf, sizeof(buf), v), out);
}

static void print_json(const struct facts *x, const struct report *r, bool risk)
{
	fputs("{\"entries\":", stdout);
	put_json_number(stdout, x->entries);
	fputs(",\"limit\":", stdout);
	put_json_number(stdout, x->limit);
	fputs(",\"buckets\":", stdout);
	put_json_number(stdout, x->buckets);
	fputs(",\"growth_per_second\":", stdout);
	put_json_number(stdout, x->growth);
	fputs(",\"seconds_to_full\":", stdout);
	put_json_number(stdout, x->to_full);
	fputs(",\"kernel_default_limit\":", stdout);
	put_json_number(stdout, x->ram > 0 ? kernel_default_max(x->ram) : NAN);
	fputs(",\"kernel_memory_bytes\":", stdout);
	put_json_number(stdout, x->mem_now);
	fputs(",\"kernel_memory_limit_bytes\":", stdout);
	put_json_number(stdout, x->mem_full);
	fputs(",\"namespaces\":[", stdout);
	for (size_t i = 0; i < x->n_ns; i++) {
		fputs(i ? ",{\"netns\":" : "{\"netns\":", stdout);
		put_json_string(stdout, x->ns[i].netns);
		fputs(",\"entries\":", stdout);
		put_json_number(stdout, x->ns[i].entries);
		fputs(",\"fill\":", stdout);
		put_json_number(stdout, x->limit > 0 ? x->ns[i].entries / x->limit : NAN);
		fputc('}', stdout);
	}
	fputc(']', stdout);
	printf(",\"at_risk\":%s,\"findings\":[", risk ? "true" : "false");
	for (unsigned i = 0; i < r->n; i++) {
		printf("%s{\"severity\":\"%s\",\"title\":", i ? "," : "", sev_names[r->f[i].sev]);
		put_json_string(stdout, r->f[i].title);
		fputs(",\"why\":", stdout);
		put_json_string(stdout, r->f[i].why);
		fputs(",\"fix\":", stdout);
		put_json_string(stdout, r->f[i].fix);
		fputc('}', stdout);
	}
	fputs("],\"not_seen\":[", stdout);
	for (unsigned i = 0; i < r->n_unseen; i++) {
		fputs(i ? "," : "", stdout);
		put_json_string(stdout, r->unseen[i]);
	}
	fputs("]}\n", stdout);
}

static void print_text(const struct facts *x, const struct report *r, bool risk)
{
	char a[32], b[32];

	printf("nf_conntrack doctor: %s\n\n", risk ? "AT RISK" : "nothing at risk");
	if (!isnan(x->entries) && x->limit > 0) {
		printf("table:    %.0f of %.0f entries (%.1f %%), headroom %.0f\n", x->entries,
		       x->limit, 100 * x->entries / x->limit, x->limit - x->entries);
		if (!isnan(x->to_full)) {
			human_seconds(a, sizeof(a), x->to_full);
			printf("growth:   %+.1f entries/s over %.0f s: full in %s\n", x->growth,
			       x->dt, a);
		} else {
			printf("growth:   %+.1f entries/s over %.0f s: %s\n", x->growth, x->dt,
			       x->entries >= x->limit ? "already full" : "not filling");
		}
	}
	for (size_t i = 0; i < x->n_ns && i < NS_SHOWN; i++)
		printf("%s %5.1f %%  %.0f entries  %s\n", i ? "         " : "netns:   ",
		       x->limit > 0 ? 100 * x->ns[i].entries / x->limit : NAN, x->ns[i].entries,
		       x->ns[i].netns);
	if (x->n_ns > NS_SHOWN)
		printf("          ... and %zu more namespaces\n", x->n_ns - NS_SHOWN);
	if (!isnan(x->ram) && x->ram > 0)
		printf("limit:    %.0f; the default of current kernels for this RAM: %.0f\n",
		       x->limit, kernel_default_max(x->ram));
	if (!isnan(x->buckets) && x->limit > 0)
		printf("buckets:  %.0f (chains of %.1f on average when full)\n", x->buckets,
		       2 * x->limit / x->buckets);
	if (!isnan(x->mem_now) && !isnan(x->mem_full)) {
		human_bytes(a, sizeof(a), x->mem_now);
		human_bytes(b, sizeof(b), x->mem_full);
		printf("memory:   %s now, %s when full", a, b);
		if (x->ram > 0)
			printf(" (%.1f %% of RAM)", 100 * x->mem_full / x->ram);
		putchar('\n');
	}
	printf("\n");
	for (unsigned i = 0; i < r->n; i++) {
		printf("[%s] %s\n    why: %s\n", sev_names[r->f[i].sev], r->f[i].title,
		       r->f[i].why);
		if (r->f[i].fix[0])
			printf("    fix: %s\n", r->f[i].fix);
	}
	if (!r->n)
		printf("no findings\n");
	for (unsigned i = 0; i < r->n_unseen; i++)
		printf("not seen: %s\n", r->unseen[i]);
}

static uint64_t own_entries(const char *procfs)
{
	uint64_t v = UINT64_MAX;
	struct rbuf b = { 0 };
	int fd = open(procfs, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		(void)read_u64_at(fd, "sys/net/netfilter/nf_conntrack_count", &b, &v);
		close(fd);
	}
	rbuf_free(&b);
	return v;
}

/* The gap between the two samples: what the main loop does for a daemon, done here. */
static void pump_events(struct exporter *e, uint64_t us)
{
	uint64_t end = now_monotonic_us() + us;
	struct timespec ms = { .tv_nsec = 1000000 };

	while (now_monotonic_us() < end) {
		for (size_t i = 0; i < e->host.n; i++)
			if (e->host.c[i].enabled && e->host.c[i].ops->on_event)
				(void)e->host.c[i].ops->on_event(&e->host.c[i]);
		nanosleep(&ms, NULL);
	}
}

int doctor_run(const struct flags *f)
{
	struct exporter e;
	struct flags df = *f;
	struct facts x = { .dt = SAMPLE_GAP_S };
	struct report r = { 0 };
	char *t0 = NULL, *t = NULL;
	size_t len0 = 0, len = 0;
	bool risk = false, events;
	int status = 2;

	/*
	 * The events collector's per-state counts need a dump of the table: fine for a small one
	 * of this namespace, no one-shot's business for a big one or for every namespace.
	 */
	events = !f->netns_all && !f->n_netns && own_entries(f->procfs) <= DOCTOR_DUMP_MAX;
	for (size_t i = 0; i < collector_registry_size; i++)
		df.collector_enabled[i] = collector_registry[i] != &events_collector || events;
	log_set_level(LOG_LEVEL_ERROR);
	if (exporter_init(&e, &df) < 0) {
		fprintf(stderr, "nf_conntrack_exporter doctor: cannot read %s\n", f->procfs);
		goto out;
	}
	t0 = scrape(&e, &len0);
	if (t0)
		pump_events(&e, SAMPLE_GAP_S * 1000000ULL);
	t = t0 ? scrape(&e, &len) : NULL;
	if (!t) {
		fprintf(stderr, "nf_conntrack_exporter doctor: cannot collect\n");
		goto out;
	}
	for (size_t i = 0; i < e.host.n; i++)
		if (!e.host.c[i].last_success && r.n_unseen < ARRAY_SIZE(r.unseen))
			snprintf(r.unseen[r.n_unseen++], sizeof(r.unseen[0]),
				 "collector %s failed: %s", e.host.c[i].ops->name,
				 strerror(-e.host.c[i].last_error));
	x.ram = mem_total_bytes(e.cfg.procfs_fd);
	examine(t, len, t0, len0, &x, &r);
	examine_timeouts(t, len, &r);
	examine_caches(t, len, &r);
	for (unsigned i = 0; i < r.n; i++)
		risk |= r.f[i].sev == SEV_RISK;
	if (f->format_json)
		print_json(&x, &r, risk);
	else
		print_text(&x, &r, risk);
	status = risk ? 1 : 0;
out:
	free(t0);
	free(t);
	free(x.ns);
	exporter_fini(&e);
	return status;
}
