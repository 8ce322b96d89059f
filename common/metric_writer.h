/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_METRIC_WRITER_H
#define NFCE_METRIC_WRITER_H

#include <stddef.h>
#include <stdint.h>

/*
 * Prometheus text format 0.0.4 writer. One buffer, grown geometrically and reused across
 * scrapes; the first failure (no memory, size cap) is sticky and every later append is a
 * no-op, so callers render freely and check mw_error() once.
 */

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

struct metric_writer {
	char *buf;
	size_t len;
	size_t cap;
	size_t max;
	int error;
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

void mw_append(struct metric_writer *w, const char *s, size_t n);
void mw_family(struct metric_writer *w, const char *name, enum metric_type type, const char *help);
void mw_u64(struct metric_writer *w, const char *name, const struct mw_label *labels,
	    size_t n_labels, uint64_t value);
void mw_double(struct metric_writer *w, const char *name, const struct mw_label *labels,
	       size_t n_labels, double value);

/* Helpers shared with other text writers (logs, JSON); return the number of bytes written. */
size_t fmt_u64(char *dst, uint64_t v); /* dst >= 21 bytes, not terminated */
size_t fmt_double(char *dst, size_t n, double v); /* Prometheus spelling, C locale */

#endif
