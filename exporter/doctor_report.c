// SPDX-License-Identifier: GPL-2.0-or-later
/* doctor's report, as text for a person or JSON for a script. */
#include "doctor_report.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "metric_writer.h"
#include "text.h"

#define NS_SHOWN 5 /* fullest namespaces in the text report; JSON has them all */

static const char *const sev_names[] = { "info", "warning", "risk" };

void report_add(struct report *r, enum severity sev, const char *fix, const char *why,
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

/*
 * nf_conntrack_buckets and nf_conntrack_max at boot on kernels since 5.15: a bucket per 16 KiB
 * of RAM, 65536 above 1 GiB, 262144 above 4 GiB on 64-bit, never under 1024; max = buckets.
 */
double kernel_default_max(double ram)
{
	double b = ram / 16384 / sizeof(void *);

	if (sizeof(void *) >= 8 && ram > 4.0 * (1 << 30))
		b = 262144;
	else if (ram > 1.0 * (1 << 30))
		b = 65536;
	return b < 1024 ? 1024 : floor(b);
}

void human_bytes(char *buf, size_t size, double v)
{
	if (v >= 1 << 30)
		snprintf(buf, size, "%.1f GiB", v / (1 << 30));
	else if (v >= 1 << 20)
		snprintf(buf, size, "%.1f MiB", v / (1 << 20));
	else
		snprintf(buf, size, "%.0f KiB", v / 1024);
}

void human_seconds(char *buf, size_t size, double s)
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

/* Strings from outside (a namespace's name) through the one UTF-8-safe formatter. */
static void put_json_string(FILE *out, const char *s)
{
	fputc('"', out);
	text_fputs(TEXT_JSON, s, out);
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

/* "attribution": the biggest sources, the SNAT addresses, the unreplied; null when unseen. */
/* {"<key>":name,"entries":N,"fill":N/limit}, a comma first unless @first. */
static void fill_json(bool first, const char *key, const char *name, double entries, double limit)
{
	printf("%s{\"%s\":", first ? "" : ",", key);
	put_json_string(stdout, name);
	fputs(",\"entries\":", stdout);
	put_json_number(stdout, entries);
	fputs(",\"fill\":", stdout);
	put_json_number(stdout, limit > 0 ? entries / limit : NAN);
	fputc('}', stdout);
}

static void attrib_json(const struct facts *x)
{
	const struct attrib_facts *a = x->attrib;

	if (!a || !a->seen) {
		fputs(",\"attribution\":null", stdout);
		return;
	}
	fputs(",\"attribution\":{\"top_sources\":[", stdout);
	for (unsigned i = 0; i < a->n_sources; i++)
		fill_json(i == 0, "source", a->sources[i].source, a->sources[i].entries, x->limit);
	fputs("],\"source_error\":", stdout);
	put_json_number(stdout, a->err_source);
	fputs(",\"snat\":[", stdout);
	for (unsigned i = 0; i < a->n_snat; i++) {
		const struct attr_snat *n = &a->snat[i];

		fputs(i ? ",{\"address\":" : "{\"address\":", stdout);
		put_json_string(stdout, n->address);
		fputs(",\"entries\":", stdout);
		put_json_number(stdout, n->entries);
		fputs(",\"protocol\":", stdout);
		put_json_string(stdout, n->protocol);
		fputs(",\"destination\":", stdout);
		put_json_string(stdout, n->destination);
		fputs(",\"port\":", stdout);
		put_json_string(stdout, n->port);
		fputs(",\"destination_entries\":", stdout);
		put_json_number(stdout, n->busiest);
		fputs(",\"port_usage_ratio\":", stdout);
		put_json_number(stdout, n->ratio);
		fputc('}', stdout);
	}
	fputs("],\"snat_port_range_ports\":", stdout);
	put_json_number(stdout, a->snat_ports);
	fputs(",\"unreplied\":", stdout);
	put_json_number(stdout, a->unreplied);
	fputs(",\"unreplied_over_1m\":", stdout);
	put_json_number(stdout, a->stale);
	fputs(",\"unreplied_ended_dns\":", stdout);
	put_json_number(stdout, a->ended_dns);
	fputc('}', stdout);
}

static void attrib_text(const struct facts *x)
{
	const struct attrib_facts *a = x->attrib;
	const struct attr_snat *top = NULL;
	char dest[80];

	if (!a || !a->seen)
		return;
	for (unsigned i = 0; i < a->n_sources && i < NS_SHOWN - 2; i++)
		printf("%s %5.1f %%  %.0f entries  %s\n", i ? "         " : "sources: ",
		       x->limit > 0 ? 100 * a->sources[i].entries / x->limit : NAN,
		       a->sources[i].entries, a->sources[i].source);
	for (unsigned i = 0; i < a->n_snat; i++)
		if (!isnan(a->snat[i].ratio) && (!top || a->snat[i].ratio > top->ratio))
			top = &a->snat[i];
	if (top) {
		attr_endpoint(dest, sizeof(dest), top->destination, top->port);
		printf("snat:     %.1f %% of the source ports to %s (%s) from %s\n",
		       100 * top->ratio, dest, top->protocol, top->address);
	}
	if (a->unreplied > 0)
		printf("unreplied: %.0f entries never saw a reply, %.0f of them in over a minute\n",
		       a->unreplied, a->stale);
}

void print_json(const struct facts *x, const struct report *r, bool risk)
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
	for (size_t i = 0; i < x->n_ns; i++)
		fill_json(i == 0, "netns", x->ns[i].netns, x->ns[i].entries, x->limit);
	fputc(']', stdout);
	attrib_json(x);
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

void print_text(const struct facts *x, const struct report *r, bool risk)
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
	for (size_t i = 0; i < x->n_ns && i < NS_SHOWN; i++) {
		printf("%s %5.1f %%  %.0f entries  ", i ? "         " : "netns:   ",
		       x->limit > 0 ? 100 * x->ns[i].entries / x->limit : NAN, x->ns[i].entries);
		text_fputs(TEXT_PLAIN, x->ns[i].netns, stdout);
		putchar('\n');
	}
	if (x->n_ns > NS_SHOWN)
		printf("          ... and %zu more namespaces\n", x->n_ns - NS_SHOWN);
	attrib_text(x);
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
		printf("[%s] ", sev_names[r->f[i].sev]);
		text_fputs(TEXT_PLAIN, r->f[i].title, stdout);
		printf("\n    why: %s\n", r->f[i].why);
		if (r->f[i].fix[0])
			printf("    fix: %s\n", r->f[i].fix);
	}
	if (!r->n)
		printf("no findings\n");
	for (unsigned i = 0; i < r->n_unseen; i++)
		printf("not seen: %s\n", r->unseen[i]);
}
