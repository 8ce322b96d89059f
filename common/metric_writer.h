/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_METRIC_WRITER_H
#define NFCE_METRIC_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "text.h"

/*
 * Prometheus text format 0.0.4 writer, or OpenMetrics 1.0.0 when the scraper asked for it. One
 * buffer, grown geometrically and reused across scrapes; the first failure (no memory, size cap)
 * is sticky and every later append is a no-op, so callers render freely and check mw_error()
 * once.
 */

#define MW_CONTENT_TYPE_TEXT "text/plain; version=0.0.4; charset=utf-8"
#define MW_CONTENT_TYPE_OPENMETRICS "application/openmetrics-text; version=1.0.0; charset=utf-8"

/*
 * What changes in OpenMetrics: a counter's family (HELP, TYPE) is named without the _total its
 * samples keep; untyped is "unknown"; HELP also escapes '"'; "le" values are canonical numbers
 * ("1.0", not "1"); mw_finish() ends the exposition with "# EOF". Samples are otherwise the same.
 */
enum mw_format {
	MW_FORMAT_TEXT,
	MW_FORMAT_OPENMETRICS,
};

enum metric_type {
	METRIC_GAUGE,
	METRIC_COUNTER,
	METRIC_HISTOGRAM,
	METRIC_UNTYPED,
};

struct mw_label {
	const char *name;
	const char *value;
};

/*
 * One sample as the writer renders it, for whoever needs the value typed (the status page,
 * doctor): nobody parses the exposition text back. Valid during the tap call only.
 */
struct mw_sample {
	const char *family; /* as given to mw_family() */
	uint64_t family_id; /* new at every mw_family() of any writer: a consumer's cache key */
	enum metric_type type;
	const char *name; /* the sample's own: the family's, or <family>_bucket, ... */
	const char *const_label; /* the constant label's value (netns), NULL when unset */
	const struct mw_label *labels;
	size_t n_labels;
	bool is_u64;
	uint64_t u64; /* exact when is_u64 */
	double value; /* always set */
};

typedef void (*mw_tap_fn)(void *ctx, const struct mw_sample *s);

/* The value of label @name of sample @s; "" when it has none (the constant label excluded). */
const char *mw_sample_label(const struct mw_sample *s, const char *name);

/* Where a family starts in the buffer: its HELP line at @head, its samples from @body. */
struct mw_mark {
	size_t head, body;
	size_t name_len; /* the name follows "# HELP " */
	uint32_t hash;
};

#define MW_FAMILY_NAME_MAX 128

struct metric_writer {
	char *buf;
	size_t len;
	size_t cap;
	size_t max;
	int error;
	/* A label put first on every sample while set: netns="..." for one namespace's part. */
	const char *const_label_name;
	const char *const_label_value;
	enum mw_format format; /* kept by mw_reset(): the renderer picks it per scrape */
	mw_tap_fn tap; /* kept by mw_reset() */
	void *tap_ctx;
	char family[MW_FAMILY_NAME_MAX]; /* the current family, for the tap */
	enum metric_type family_type;
	uint64_t family_id;
	bool track_families; /* record a mark per family, for mw_regroup() */
	struct mw_mark *marks;
	size_t n_marks, marks_cap;
	size_t *scratch; /* mw_regroup()'s, kept across scrapes */
	size_t scratch_cap;
};

/* Labels for one sample: MW_LABELS({ "table", t }, { "cpu", c }) */
#define MW_LABELS(...)                            \
	(const struct mw_label[]){ __VA_ARGS__ }, \
		sizeof((const struct mw_label[]){ __VA_ARGS__ }) / sizeof(struct mw_label)
#define MW_NO_LABELS NULL, 0

void mw_init(struct metric_writer *w, size_t max);
void mw_free(struct metric_writer *w);
void mw_reset(struct metric_writer *w);
/* Drop everything written after @len, and a sticky error raised since (a failed collector). */
void mw_truncate(struct metric_writer *w, size_t len);
static inline int mw_error(const struct metric_writer *w)
{
	return w->error;
}

static inline void mw_set_format(struct metric_writer *w, enum mw_format format)
{
	w->format = format;
}
/* Put @name="@value" first on every sample from now on; NULL @name: no more. */
static inline void mw_set_const_label(struct metric_writer *w, const char *name, const char *value)
{
	w->const_label_name = name;
	w->const_label_value = name ? value : NULL;
}

/* Call @fn with every sample written from now on; NULL: stop. */
static inline void mw_set_tap(struct metric_writer *w, mw_tap_fn fn, void *ctx)
{
	w->tap = fn;
	w->tap_ctx = ctx;
}

/* Record where each family starts (kept until mw_reset()), so mw_regroup() can cut them. */
static inline void mw_track_families(struct metric_writer *w, bool on)
{
	w->track_families = on;
}

/*
 * Append @src's families to @dst, each family's parts brought together under its first
 * HELP and TYPE, families in order of first appearance, parts in their order: the text format
 * wants a family's samples in one group, and --netns writes each namespace's families in turn.
 * @src must have tracked its families. Returns @dst's sticky error.
 */
int mw_regroup(struct metric_writer *dst, struct metric_writer *src);

/* @s escaped for @kind (text.h) and appended; invalid UTF-8 becomes U+FFFD. */
void mw_escape(struct metric_writer *w, enum text_kind kind, const char *s);
/* After the last family: OpenMetrics's "# EOF" line; nothing for the text format. */
void mw_finish(struct metric_writer *w);
/*
 * The format an HTTP Accept header (@len bytes, not necessarily terminated) asks for:
 * OpenMetrics when it lists application/openmetrics-text (version 1.0.0, 0.0.1 or none) with a
 * q-value above 0 that no text/plain (or wildcard) entry beats; the text format otherwise.
 */
enum mw_format mw_negotiate(const char *accept, size_t len);

void mw_append(struct metric_writer *w, const char *s, size_t n);
/* Raw text (the status page's HTML and SVG): a string, or a formatted line of under 512 bytes. */
void mw_puts(struct metric_writer *w, const char *s);
void mw_printf(struct metric_writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mw_family(struct metric_writer *w, const char *name, enum metric_type type, const char *help);
void mw_u64(struct metric_writer *w, const char *name, const struct mw_label *labels,
	    size_t n_labels, uint64_t value);
void mw_double(struct metric_writer *w, const char *name, const struct mw_label *labels,
	       size_t n_labels, double value);

/* Number formatting, exactly as samples get it (also for JSON numbers); return the length. */
size_t fmt_u64(char *dst, uint64_t v); /* dst >= 21 bytes, not terminated */
size_t fmt_double(char *dst, size_t n, double v); /* Prometheus spelling, C locale */

#endif
