// SPDX-License-Identifier: GPL-2.0-or-later
#include "metric_writer.h"

#include "text.h"
#include "util.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MW_INITIAL_CAP 16384

void mw_init(struct metric_writer *w, size_t max)
{
	*w = (struct metric_writer){ .max = max };
}

void mw_free(struct metric_writer *w)
{
	if (!w)
		return;
	free(w->buf);
	free(w->marks);
	free(w->scratch);
	*w = (struct metric_writer){ .max = w->max };
}

void mw_reset(struct metric_writer *w)
{
	w->len = 0;
	w->error = 0;
	w->n_marks = 0;
}

void mw_truncate(struct metric_writer *w, size_t len)
{
	if (len < w->len)
		w->len = len;
	while (w->n_marks && w->marks[w->n_marks - 1].head >= w->len)
		w->n_marks--;
	w->error = 0;
}

static int mw_reserve(struct metric_writer *w, size_t n)
{
	size_t want, cap;
	char *p;

	if (w->error)
		return w->error;
	if (n > w->max || w->len > w->max - n)
		return w->error = -ENOBUFS;
	want = w->len + n;
	if (want <= w->cap)
		return 0;
	cap = w->cap ? w->cap : MW_INITIAL_CAP;
	while (cap < want)
		cap = cap > w->max / 2 ? w->max : cap * 2;
	p = realloc(w->buf, cap);
	if (!p)
		return w->error = -ENOMEM;
	w->buf = p;
	w->cap = cap;
	return 0;
}

void mw_append(struct metric_writer *w, const char *s, size_t n)
{
	if (mw_reserve(w, n) < 0)
		return;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

void mw_puts(struct metric_writer *w, const char *s)
{
	mw_append(w, s, strlen(s));
}

void mw_printf(struct metric_writer *w, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		mw_append(w, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static void mw_sink(void *w, const char *s, size_t n)
{
	mw_append(w, s, n);
}

void mw_escape(struct metric_writer *w, enum text_kind kind, const char *s)
{
	size_t n = strlen(s);

	/* Most values need no escape: appended without a callback per run. */
	if (text_plain_prefix(s, n) == n)
		mw_append(w, s, n);
	else
		text_escape(kind, s, n, mw_sink, w);
}

/* FNV-1a: tells families apart before their names are compared. */
static uint32_t name_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

void mw_family(struct metric_writer *w, const char *name, enum metric_type type, const char *help)
{
	static const char *const types[] = {
		[METRIC_GAUGE] = "gauge",
		[METRIC_COUNTER] = "counter",
		[METRIC_HISTOGRAM] = "histogram",
		[METRIC_UNTYPED] = "untyped",
	};
	static uint64_t family_serial;
	bool om = w->format == MW_FORMAT_OPENMETRICS;
	size_t n = strlen(name), head = w->len;
	size_t k = n < sizeof(w->family) - 1 ? n : sizeof(w->family) - 1;
	const char *t = types[type];

	/* For the tap: the family's name and a key that changes with every family. */
	memcpy(w->family, name, k);
	w->family[k] = '\0';
	w->family_type = type;
	w->family_id = __atomic_add_fetch(&family_serial, 1, __ATOMIC_RELAXED);
	if (om && type == METRIC_UNTYPED)
		t = "unknown";
	/* OpenMetrics names a counter's family without the _total of its samples. */
	if (om && type == METRIC_COUNTER) {
		if (n > 6 && strcmp(name + n - 6, "_total") == 0)
			n -= 6;
		else
			t = "unknown"; /* a sample not named <family>_total would be invalid */
	}
	mw_puts(w, "# HELP ");
	mw_append(w, name, n);
	mw_append(w, " ", 1);
	mw_escape(w, om ? TEXT_HELP_OM : TEXT_HELP, help);
	mw_puts(w, "\n# TYPE ");
	mw_append(w, name, n);
	mw_append(w, " ", 1);
	mw_puts(w, t);
	mw_append(w, "\n", 1);
	if (w->track_families && !w->error) {
		if (GROW_ARRAY(w->marks, w->marks_cap, w->n_marks + 1, 64) < 0) {
			w->error = -ENOMEM;
			return;
		}
		w->marks[w->n_marks++] = (struct mw_mark){
			.head = head, .body = w->len, .name_len = n, .hash = name_hash(name, n)
		};
	}
}

void mw_finish(struct metric_writer *w)
{
	if (w->format == MW_FORMAT_OPENMETRICS)
		mw_puts(w, "# EOF\n");
}

static locale_t c_numeric(void)
{
	static locale_t c_locale;

	if (!c_locale)
		c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	return c_locale;
}

/*
 * OpenMetrics's canonical spelling of a number, which is Go's strconv 'g' with the shortest
 * precision, plus ".0" on integers: 1.0, 0.005, 300.0, 1e+06. Prometheus 2 stores "le" as
 * given, so this is what makes our buckets the same series as a Go exporter's.
 */
static size_t fmt_canonical(char *dst, size_t n, double v)
{
	locale_t old;
	int p, exp, r;

	if (isnan(v))
		return (size_t)snprintf(dst, n, "NaN");
	if (isinf(v))
		return (size_t)snprintf(dst, n, v > 0 ? "+Inf" : "-Inf");
	if (v == 0)
		return (size_t)snprintf(dst, n, "0.0");
	old = c_numeric() ? uselocale(c_numeric()) : (locale_t)0;
	/* The fewest significant digits that read back as @v; 17 always do. */
	for (p = 1; p < 17; p++) {
		snprintf(dst, n, "%.*e", p - 1, v);
		if (strtod(dst, NULL) == v)
			break;
	}
	r = snprintf(dst, n, "%.*e", p - 1, v);
	exp = atoi(strchr(dst, 'e') + 1);
	if (exp >= -4 && exp < 6) {
		r = snprintf(dst, n, "%.*f", p - 1 - exp > 0 ? p - 1 - exp : 0, v);
		if (r > 0 && (size_t)r + 2 < n && !strchr(dst, '.'))
			r += snprintf(dst + r, n - (size_t)r, ".0");
	}
	if (old)
		uselocale(old);
	return r < 0 ? 0 : (size_t)r < n ? (size_t)r : n - 1;
}

/* A label value, and in OpenMetrics a bucket bound in canonical form (collectors give "1"). */
static void mw_label_value(struct metric_writer *w, const struct mw_label *l)
{
	const char *v = l->value ? l->value : "";
	char num[40], *end;
	double d;

	if (w->format == MW_FORMAT_OPENMETRICS && strcmp(l->name, "le") == 0 && *v) {
		locale_t old = c_numeric() ? uselocale(c_numeric()) : (locale_t)0;

		d = strtod(v, &end);
		if (old)
			uselocale(old);
		if (*end == '\0') {
			mw_append(w, num, fmt_canonical(num, sizeof(num), d));
			return;
		}
	}
	mw_escape(w, TEXT_LABEL, v);
}

static void mw_head(struct metric_writer *w, const char *name, const struct mw_label *labels,
		    size_t n_labels)
{
	bool cl = w->const_label_name != NULL;

	mw_puts(w, name);
	if (cl) {
		mw_append(w, "{", 1);
		mw_puts(w, w->const_label_name);
		mw_append(w, "=\"", 2);
		mw_escape(w, TEXT_LABEL, w->const_label_value ? w->const_label_value : "");
		mw_append(w, "\"", 1);
	}
	if (n_labels || cl) {
		for (size_t i = 0; i < n_labels; i++) {
			mw_append(w, i || cl ? "," : "{", 1);
			mw_puts(w, labels[i].name);
			mw_append(w, "=\"", 2);
			mw_label_value(w, &labels[i]);
			mw_append(w, "\"", 1);
		}
		mw_append(w, "}", 1);
	}
	mw_append(w, " ", 1);
}

size_t fmt_u64(char *dst, uint64_t v)
{
	char tmp[20];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		dst[i] = tmp[n - 1 - i];
	return n;
}

size_t fmt_double(char *dst, size_t n, double v)
{
	locale_t old;
	int r;

	if (isnan(v))
		return (size_t)snprintf(dst, n, "NaN");
	if (isinf(v))
		return (size_t)snprintf(dst, n, v > 0 ? "+Inf" : "-Inf");
	/* Exact integers print as integers: durations of 0, limits, bucket bounds. */
	if (fabs(v) < 9007199254740992.0 && v == (double)(int64_t)v)
		return (size_t)snprintf(dst, n, "%lld", (long long)v);
	/* The decimal point must not follow LC_NUMERIC, whatever a library did to the locale. */
	old = c_numeric() ? uselocale(c_numeric()) : (locale_t)0;
	/* Shortest of 15 or 17 digits that reads back as the same double. */
	r = snprintf(dst, n, "%.15g", v);
	if (r > 0 && (size_t)r < n && strtod(dst, NULL) != v)
		r = snprintf(dst, n, "%.17g", v);
	if (old)
		uselocale(old);
	return r < 0 ? 0 : (size_t)r < n ? (size_t)r : n - 1;
}

const char *mw_sample_label(const struct mw_sample *s, const char *name)
{
	for (size_t i = 0; i < s->n_labels; i++)
		if (strcmp(s->labels[i].name, name) == 0)
			return s->labels[i].value ? s->labels[i].value : "";
	return "";
}

static void mw_tap(struct metric_writer *w, const char *name, const struct mw_label *labels,
		   size_t n_labels, bool is_u64, uint64_t u, double d)
{
	struct mw_sample s = {
		.family = w->family,
		.family_id = w->family_id,
		.type = w->family_type,
		.name = name,
		.const_label = w->const_label_name ? w->const_label_value : NULL,
		.labels = labels,
		.n_labels = n_labels,
		.is_u64 = is_u64,
		.u64 = u,
		.value = d,
	};

	w->tap(w->tap_ctx, &s);
}

void mw_u64(struct metric_writer *w, const char *name, const struct mw_label *labels,
	    size_t n_labels, uint64_t value)
{
	char num[24];
	size_t n;

	if (w->tap)
		mw_tap(w, name, labels, n_labels, true, value, (double)value);

	mw_head(w, name, labels, n_labels);
	n = fmt_u64(num, value);
	num[n++] = '\n';
	mw_append(w, num, n);
}

void mw_double(struct metric_writer *w, const char *name, const struct mw_label *labels,
	       size_t n_labels, double value)
{
	char num[40];
	size_t n;

	if (w->tap)
		mw_tap(w, name, labels, n_labels, false, 0, value);
	mw_head(w, name, labels, n_labels);
	n = fmt_double(num, sizeof(num) - 1, value);
	num[n++] = '\n';
	mw_append(w, num, n);
}

/* --- Regrouping families ------------------------------------------------------------------ */

static bool same_family(const struct metric_writer *src, const struct mw_mark *a,
			const struct mw_mark *b)
{
	return a->hash == b->hash && a->name_len == b->name_len &&
	       memcmp(src->buf + a->head + 7, src->buf + b->head + 7, a->name_len) == 0;
}

int mw_regroup(struct metric_writer *dst, struct metric_writer *src)
{
	const struct mw_mark *m = src->marks;
	size_t n = src->n_marks, n_fam = 0, *first, *count, *order, *fam;

	if (dst->error)
		return dst->error;
	if (src->error)
		return dst->error = src->error;
	if (!n)
		return src->len ? (dst->error = -EINVAL) : 0;
	if (m[0].head != 0)
		return dst->error = -EINVAL; /* samples before the first family: not tracked */
	/* Scratch kept with @src across scrapes: first, family of each, order, counts. */
	if (GROW_ARRAY(src->scratch, src->scratch_cap, 4 * n + 1, 256) < 0)
		return dst->error = -ENOMEM;
	first = src->scratch;
	fam = first + n;
	order = fam + n;
	count = order + n;
	memset(count, 0, (n + 1) * sizeof(*count));
	for (size_t i = 0; i < n; i++) {
		/* Namespaces write their families in the same order: try the one after the last. */
		size_t f = i ? fam[i - 1] + 1 : 0;

		if (f >= n_fam || !same_family(src, &m[i], &m[first[f]]))
			for (f = 0; f < n_fam; f++)
				if (same_family(src, &m[i], &m[first[f]]))
					break;
		if (f == n_fam)
			first[n_fam++] = i;
		fam[i] = f;
	}
	/* Counting sort by family, keeping the parts' order within each. */
	for (size_t i = 0; i < n; i++)
		count[fam[i] + 1]++;
	for (size_t f = 0; f < n_fam; f++)
		count[f + 1] += count[f];
	for (size_t i = 0; i < n; i++)
		order[count[fam[i]]++] = i;
	for (size_t k = 0; k < n; k++) {
		size_t i = order[k], end = i + 1 < n ? m[i + 1].head : src->len;

		if (k == 0 || fam[order[k - 1]] != fam[i])
			mw_append(dst, src->buf + m[i].head, m[i].body - m[i].head);
		mw_append(dst, src->buf + m[i].body, end - m[i].body);
	}
	return mw_error(dst);
}
