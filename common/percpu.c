// SPDX-License-Identifier: GPL-2.0-or-later
#include "percpu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void wrap_counter_update(struct wrap_counter *c, uint64_t cur)
{
	if (!c->seen)
		c->total = cur;
	else if (cur >= c->last)
		c->total += cur - c->last;
	else if (c->last <= UINT32_MAX)
		c->total += (uint32_t)(cur - c->last); /* a 32-bit counter wrapped */
	else
		c->total += cur; /* a 64-bit counter restarted */
	c->last = cur;
	c->seen = true;
}

void percpu_free(struct percpu_stats *s)
{
	if (!s)
		return;
	free(s->ctr);
	memset(s, 0, sizeof(*s));
}

void percpu_begin(struct percpu_stats *s)
{
	memset(s->present, 0, sizeof(s->present));
}

int percpu_slot(struct percpu_stats *s, const char *name, size_t len)
{
	if (len == 0 || len >= STAT_NAME_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < s->n_slots; i++)
		if (strncmp(s->names[i], name, len) == 0 && s->names[i][len] == '\0')
			return (int)i;
	if (s->n_slots >= STAT_MAX_FIELDS)
		return -E2BIG;
	memcpy(s->names[s->n_slots], name, len);
	s->names[s->n_slots][len] = '\0';
	return (int)s->n_slots++;
}

int percpu_find(const struct percpu_stats *s, const char *name)
{
	for (unsigned i = 0; i < s->n_slots; i++)
		if (strcmp(s->names[i], name) == 0)
			return (int)i;
	return -ENOENT;
}

int percpu_update(struct percpu_stats *s, unsigned cpu, unsigned slot, uint64_t value)
{
	if (slot >= s->n_slots || cpu >= STAT_MAX_CPUS)
		return -E2BIG;
	if (cpu >= s->n_cpus) {
		unsigned n = cpu + 1;
		struct wrap_counter *p;

		p = realloc(s->ctr, (size_t)n * STAT_MAX_FIELDS * sizeof(*p));
		if (!p)
			return -ENOMEM;
		memset(p + (size_t)s->n_cpus * STAT_MAX_FIELDS, 0,
		       (size_t)(n - s->n_cpus) * STAT_MAX_FIELDS * sizeof(*p));
		s->ctr = p;
		s->n_cpus = n;
	}
	wrap_counter_update(&s->ctr[(size_t)cpu * STAT_MAX_FIELDS + slot], value);
	s->present[slot] = true;
	return 0;
}

uint64_t percpu_sum(const struct percpu_stats *s, unsigned slot)
{
	uint64_t sum = 0;

	for (unsigned cpu = 0; cpu < s->n_cpus; cpu++) {
		uint64_t t = s->ctr[(size_t)cpu * STAT_MAX_FIELDS + slot].total;

		/* Only a crafted table gets here (64-bit values near 2^64 on two CPUs). */
		sum = t > UINT64_MAX - sum ? UINT64_MAX : sum + t;
	}
	return sum;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * struct neigh_statistics: unsigned long, printed with %08lx (neigh_stat_seq_show()). Every
 * other statistic in /proc/net/stat is unsigned int (ip_conntrack_stat, rt_cache_stat,
 * synproxy_stats), and so is each table's "entries".
 */
static const char *const ulong_columns[] = {
	"allocs",
	"destroys",
	"hash_grows",
	"lookups",
	"hits",
	"res_failed",
	"rcv_probes_mcast",
	"rcv_probes_ucast",
	"periodic_gc_runs",
	"forced_gc_runs",
	"unresolved_discards",
	"table_fulls",
};

static bool is_ulong_column(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(ulong_columns); i++)
		if (strlen(ulong_columns[i]) == len && memcmp(ulong_columns[i], name, len) == 0)
			return true;
	return false;
}

static int parse_header(const char *p, const char *end, struct lnstat_header *hdr)
{
	hdr->n = 0;
	hdr->entries_col = -1;
	while (p < end) {
		const char *tok;

		while (p < end && is_blank(*p))
			p++;
		if (p == end)
			break;
		tok = p;
		/* Names start with a letter: a headerless table is not taken for one. */
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_'))
			return -EBADMSG;
		while (p < end && is_name_char(*p))
			p++;
		if (p < end && !is_blank(*p))
			return -EBADMSG;
		if ((size_t)(p - tok) >= STAT_NAME_MAX)
			return -EBADMSG;
		for (unsigned i = 0; i < hdr->n; i++)
			if (hdr->col[i].len == (size_t)(p - tok) &&
			    memcmp(hdr->col[i].name, tok, hdr->col[i].len) == 0)
				return -EBADMSG; /* a duplicate name would make columns ambiguous */
		if (hdr->n >= STAT_MAX_FIELDS)
			return -E2BIG;
		if (p - tok == 7 && memcmp(tok, "entries", 7) == 0)
			hdr->entries_col = (int)hdr->n;
		hdr->col[hdr->n++] = (struct lnstat_column){
			.name = tok,
			.len = (size_t)(p - tok),
			.wide = is_ulong_column(tok, (size_t)(p - tok)),
		};
	}
	return hdr->n ? 0 : -ENODATA;
}

static int parse_row(const char *p, const char *end, const struct lnstat_header *hdr,
		     uint64_t *values)
{
	unsigned i = 0, n = hdr->n;

	while (p < end) {
		uint64_t v = 0;
		unsigned digits = 0;
		int d;

		while (p < end && is_blank(*p))
			p++;
		if (p == end)
			break;
		if (i == n)
			return -EBADMSG; /* more values than names */
		for (; p < end && (d = hex_digit(*p)) >= 0; p++, digits++) {
			if (digits == 16)
				return -EBADMSG;
			v = v << 4 | (unsigned)d;
		}
		if (!digits || (p < end && !is_blank(*p)))
			return -EBADMSG;
		/* Summed over CPUs, one such value would wrap the total: the kernel can't print it. */
		if (v > UINT32_MAX && !hdr->col[i].wide)
			return -EBADMSG;
		values[i++] = v;
	}
	return i == n ? 0 : -EBADMSG;
}

static const char *line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl ? nl : end;
}

static bool line_blank(const char *p, const char *e)
{
	for (; p < e; p++)
		if (!is_blank(*p))
			return false;
	return true;
}

int lnstat_parse(const char *buf, size_t len, struct lnstat_header *hdr, lnstat_row_fn row_fn,
		 void *userdata)
{
	const char *end = buf + len, *p, *e;
	uint64_t values[STAT_MAX_FIELDS];
	unsigned rows = 0;
	int r;

	if (!buf || len == 0)
		return -ENODATA;
	e = line_end(buf, end);
	r = parse_header(buf, e, hdr);
	if (r < 0)
		return r;

	/* Pass 1 validates everything, pass 2 hands the rows out. */
	for (int pass = 0; pass < 2; pass++) {
		rows = 0;
		for (p = e < end ? e + 1 : end; p < end; p = e + 1) {
			e = line_end(p, end);
			if (line_blank(p, e)) {
				if (e == end)
					break;
				continue;
			}
			if (rows >= STAT_MAX_CPUS)
				return -E2BIG;
			r = parse_row(p, e, hdr, values);
			if (r < 0)
				return r;
			if (pass == 1 && row_fn) {
				r = row_fn(userdata, rows, values, hdr->n);
				if (r < 0)
					return r;
			}
			rows++;
			if (e == end)
				break;
		}
		if (rows == 0)
			return -ENODATA;
		if (!row_fn)
			break;
		e = line_end(buf, end);
	}
	return (int)rows;
}
