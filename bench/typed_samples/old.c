// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The pre-issue-11 consumers of the exposition, kept only to be measured against the typed
 * path: the status page's line parser and the --netns regrouping that cut the text at
 * "# HELP". Not linked into the exporter.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metric_writer.h"
#include "old.h"

#define LABELS_MAX 4

struct sample_line {
	char name[96];
	unsigned n_labels;
	char key[LABELS_MAX][32];
	char val[LABELS_MAX][64];
	double value;
};

/* One sample line of our own exposition; 0 on success. Not a general parser: no timestamps. */
static int parse_line(const char *p, const char *end, struct sample_line *out)
{
	size_t n = 0;
	char num[64];

	out->n_labels = 0;
	while (p < end && *p != '{' && *p != ' ' && n < sizeof(out->name) - 1)
		out->name[n++] = *p++;
	out->name[n] = '\0';
	if (p < end && *p == '{') {
		p++;
		while (p < end && *p != '}') {
			unsigned i = out->n_labels;
			size_t k = 0, v = 0;

			if (i == LABELS_MAX)
				return -1;
			while (p < end && *p != '=' && k < sizeof(out->key[i]) - 1)
				out->key[i][k++] = *p++;
			out->key[i][k] = '\0';
			if (end - p < 2 || p[0] != '=' || p[1] != '"')
				return -1;
			for (p += 2; p < end && *p != '"'; p++) {
				if (*p == '\\' && p + 1 < end)
					p++;
				if (v < sizeof(out->val[i]) - 1)
					out->val[i][v++] = *p;
			}
			out->val[i][v] = '\0';
			if (p == end)
				return -1;
			p++;
			if (p < end && *p == ',')
				p++;
			out->n_labels++;
		}
		if (p == end)
			return -1; /* no closing brace */
		p++;
	}
	while (p < end && *p == ' ')
		p++;
	n = (size_t)(end - p) < sizeof(num) - 1 ? (size_t)(end - p) : sizeof(num) - 1;
	memcpy(num, p, n);
	num[n] = '\0';
	out->value = strtod(num, NULL);
	return 0;
}

/* What the old status_update() did per line, minus the bookkeeping both versions share. */
double old_status_pass(const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	double sum = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		struct sample_line l;

		if (*p != '#' && e > p && parse_line(p, e, &l) == 0) {
			if (strcmp(l.name, "nf_conntrack_entries") == 0 ||
			    strcmp(l.name, "nf_conntrack_entries_limit") == 0 ||
			    strcmp(l.name, "nf_conntrack_buckets") == 0 ||
			    strcmp(l.name, "nf_conntrack_stat_drop_total") == 0 ||
			    strcmp(l.name, "nf_conntrack_stat_early_drop_total") == 0 ||
			    strcmp(l.name, "nf_conntrack_stat_insert_failed_total") == 0 ||
			    strcmp(l.name, "nf_conntrack_state_entries") == 0 ||
			    strcmp(l.name, "nf_conntrack_zone_entries") == 0 ||
			    strcmp(l.name, "nf_conntrack_exporter_collector_success") == 0)
				sum += l.value;
		}
		p = e + 1;
	}
	return sum;
}

static bool family_eq(const char *buf, const struct ns_segment *a, const struct ns_segment *b)
{
	return a->name_len == b->name_len && memcmp(buf + a->name, buf + b->name, a->name_len) == 0;
}

/*
 * The text format wants each family's samples together under one HELP and TYPE, but each
 * namespace wrote its own, and the host set may have written some (lnstat's) too: cut e->nsw
 * into families and append them to e->w regrouped, in order of first appearance.
 */
int old_merge(struct old_merge *e, struct metric_writer *dst, const struct metric_writer *src)
{
	const char *buf = src->buf, *end = buf + src->len, *p = buf;
	unsigned n_fam = 0;
	size_t *first, *count;

	e->n_seg = 0;
	while (p < end) {
		struct ns_segment *s;
		const char *nl;

		if (e->n_seg == e->seg_cap) {
			size_t cap = e->seg_cap ? e->seg_cap * 2 : 256;
			struct ns_segment *v = realloc(e->seg, cap * sizeof(*v));

			if (!v)
				return -ENOMEM;
			e->seg = v;
			e->seg_cap = cap;
		}
		/* Every family starts with "# HELP name": mw_family() writes it. */
		if ((size_t)(end - p) < 8 || memcmp(p, "# HELP ", 7) != 0)
			return -EBADMSG;
		s = &e->seg[e->n_seg++];
		s->head = (size_t)(p - buf);
		s->name = s->head + 7;
		s->name_len = strcspn(buf + s->name, " \n");
		/* Skip the HELP and TYPE lines, then samples up to the next family. */
		for (int k = 0; k < 2 && p < end; k++) {
			nl = memchr(p, '\n', (size_t)(end - p));
			p = nl ? nl + 1 : end;
		}
		s->body = (size_t)(p - buf);
		while (p < end && *p != '#') {
			nl = memchr(p, '\n', (size_t)(end - p));
			p = nl ? nl + 1 : end;
		}
		s->end = (size_t)(p - buf);
	}
	if (e->order_cap < 2 * e->n_seg + 1) {
		size_t *v = realloc(e->order, (2 * e->n_seg + 1) * sizeof(*v));

		if (!v)
			return -ENOMEM;
		e->order = v;
		e->order_cap = 2 * e->n_seg + 1;
	}
	/* first[f]: the first segment of family f; the same room then counts for the sort. */
	first = count = e->order + e->n_seg;
	for (size_t i = 0; i < e->n_seg; i++) {
		struct ns_segment *s = &e->seg[i];
		unsigned f = i ? e->seg[i - 1].family + 1 : 0;

		/* Namespaces write their families in the same order: try the previous one's next. */
		if (f >= n_fam || !family_eq(buf, s, &e->seg[first[f]]))
			for (f = 0; f < n_fam; f++)
				if (family_eq(buf, s, &e->seg[first[f]]))
					break;
		if (f == n_fam)
			first[n_fam++] = i;
		s->family = f;
	}
	/* Counting sort by family, keeping namespace order within each. */
	memset(count, 0, (n_fam + 1) * sizeof(*count));
	for (size_t i = 0; i < e->n_seg; i++)
		count[e->seg[i].family + 1]++;
	for (unsigned f = 0; f < n_fam; f++)
		count[f + 1] += count[f];
	for (size_t i = 0; i < e->n_seg; i++)
		e->order[count[e->seg[i].family]++] = i;
	for (size_t i = 0; i < e->n_seg; i++) {
		const struct ns_segment *s = &e->seg[e->order[i]];

		if (i == 0 || e->seg[e->order[i - 1]].family != s->family)
			mw_append(dst, buf + s->head, s->body - s->head);
		mw_append(dst, buf + s->body, s->end - s->body);
	}
	return mw_error(dst);
}
