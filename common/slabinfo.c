// SPDX-License-Identifier: GPL-2.0-or-later
#include "slabinfo.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define MAX_TOKENS 32

struct token {
	const char *p;
	size_t len;
};

static unsigned split(const char *p, const char *end, struct token *t, unsigned max)
{
	unsigned n = 0;

	while (p < end && n < max) {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end)
			break;
		t[n].p = p;
		while (p < end && *p != ' ' && *p != '\t')
			p++;
		t[n].len = (size_t)(p - t[n].p);
		n++;
	}
	return n;
}

static bool tok_is(const struct token *t, const char *s)
{
	return t->len == strlen(s) && memcmp(t->p, s, t->len) == 0;
}

static int tok_u64(const struct token *t, uint64_t *ret)
{
	uint64_t v = 0;

	if (!t->len || t->len > 19)
		return -EBADMSG;
	for (size_t i = 0; i < t->len; i++) {
		if (t->p[i] < '0' || t->p[i] > '9')
			return -EBADMSG;
		v = v * 10 + (uint64_t)(t->p[i] - '0');
	}
	*ret = v;
	return 0;
}

static const char *line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl ? nl : end;
}

int slabinfo_parse(const char *buf, size_t len, slab_fn fn, void *userdata)
{
	const char *p = buf, *end = buf + len, *e;
	struct token hdr[MAX_TOKENS], t[MAX_TOKENS];
	int active = -1, num = -1, size = -1;
	unsigned nh;

	if (!buf || !len)
		return -ENODATA;
	e = line_end(p, end);
	if ((size_t)(e - p) < 22 || memcmp(p, "slabinfo - version: 2.", 22) != 0)
		return -EBADMSG;
	if (e == end)
		return -ENODATA;
	p = e + 1;
	e = line_end(p, end);
	nh = split(p, e, hdr, MAX_TOKENS);
	if (nh < 2 || !tok_is(&hdr[0], "#") || !tok_is(&hdr[1], "name"))
		return -EBADMSG;
	for (unsigned i = 2; i < nh; i++) {
		if (tok_is(&hdr[i], "<active_objs>"))
			active = (int)i - 1;
		else if (tok_is(&hdr[i], "<num_objs>"))
			num = (int)i - 1;
		else if (tok_is(&hdr[i], "<objsize>"))
			size = (int)i - 1;
	}
	if (active < 0 || num < 0 || size < 0)
		return -EBADMSG;

	while (e < end) {
		struct slab_cache c = { 0 };
		unsigned n;
		int r;

		p = e + 1;
		e = line_end(p, end);
		n = split(p, e, t, MAX_TOKENS);
		if (n == 0)
			continue;
		/* Data lines carry the header's tokens but for the leading "#". */
		if (n != nh - 1 || t[0].len >= sizeof(c.name))
			return -EBADMSG;
		memcpy(c.name, t[0].p, t[0].len);
		if (tok_u64(&t[active], &c.active_objs) < 0 || tok_u64(&t[num], &c.num_objs) < 0 ||
		    tok_u64(&t[size], &c.objsize) < 0)
			return -EBADMSG;
		r = fn(userdata, &c);
		if (r < 0)
			return r;
	}
	return 0;
}
