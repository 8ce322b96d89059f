// SPDX-License-Identifier: GPL-2.0-or-later
#include "metric_writer.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
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
	*w = (struct metric_writer){ .max = w->max };
}

void mw_reset(struct metric_writer *w)
{
	w->len = 0;
	w->error = 0;
}

void mw_truncate(struct metric_writer *w, size_t len)
{
	if (len < w->len)
		w->len = len;
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

static void mw_puts(struct metric_writer *w, const char *s)
{
	mw_append(w, s, strlen(s));
}

/* HELP text escapes backslash and newline; label values also escape the double quote. */
static void mw_escaped(struct metric_writer *w, const char *s, int quote)
{
	const char *run = s;

	for (; *s; s++) {
		const char *esc = NULL;

		if (*s == '\\')
			esc = "\\\\";
		else if (*s == '\n')
			esc = "\\n";
		else if (*s == '"' && quote)
			esc = "\\\"";
		if (!esc)
			continue;
		mw_append(w, run, s - run);
		mw_append(w, esc, 2);
		run = s + 1;
	}
	mw_append(w, run, s - run);
}

void mw_family(struct metric_writer *w, const char *name, enum metric_type type, const char *help)
{
	static const char *const types[] = {
		[METRIC_GAUGE] = "gauge",
		[METRIC_COUNTER] = "counter",
		[METRIC_HISTOGRAM] = "histogram",
		[METRIC_UNTYPED] = "untyped",
	};

	mw_puts(w, "# HELP ");
	mw_puts(w, name);
	mw_append(w, " ", 1);
	mw_escaped(w, help, 0);
	mw_puts(w, "\n# TYPE ");
	mw_puts(w, name);
	mw_append(w, " ", 1);
	mw_puts(w, types[type]);
	mw_append(w, "\n", 1);
}

static void mw_head(struct metric_writer *w, const char *name, const struct mw_label *labels,
		    size_t n_labels)
{
	mw_puts(w, name);
	if (n_labels) {
		for (size_t i = 0; i < n_labels; i++) {
			mw_append(w, i ? "," : "{", 1);
			mw_puts(w, labels[i].name);
			mw_append(w, "=\"", 2);
			mw_escaped(w, labels[i].value ? labels[i].value : "", 1);
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
	static locale_t c_locale;
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
	if (!c_locale)
		c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	old = c_locale ? uselocale(c_locale) : (locale_t)0;
	/* Shortest of 15 or 17 digits that reads back as the same double. */
	r = snprintf(dst, n, "%.15g", v);
	if (r > 0 && (size_t)r < n && strtod(dst, NULL) != v)
		r = snprintf(dst, n, "%.17g", v);
	if (old)
		uselocale(old);
	return r < 0 ? 0 : (size_t)r < n ? (size_t)r : n - 1;
}

void mw_u64(struct metric_writer *w, const char *name, const struct mw_label *labels,
	    size_t n_labels, uint64_t value)
{
	char num[24];
	size_t n;

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

	mw_head(w, name, labels, n_labels);
	n = fmt_double(num, sizeof(num) - 1, value);
	num[n++] = '\n';
	mw_append(w, num, n);
}
