/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_BENCH_OLD_H
#define NFCE_BENCH_OLD_H

#include <stddef.h>

#include "metric_writer.h"

struct ns_segment {
	size_t name, name_len;
	size_t head, body, end;
	unsigned family;
};

/* The old regrouping's state, kept across scrapes as it was in struct exporter. */
struct old_merge {
	struct ns_segment *seg;
	size_t n_seg, seg_cap;
	size_t *order;
	size_t order_cap;
};

double old_status_pass(const char *text, size_t len);
int old_merge(struct old_merge *e, struct metric_writer *dst, const struct metric_writer *src);

#endif
