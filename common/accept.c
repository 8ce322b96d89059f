// SPDX-License-Identifier: GPL-2.0-or-later
/* mw_negotiate(): which exposition format an HTTP Accept header asks for. */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "metric_writer.h"

/* --- Accept header (RFC 9110 12.5.1) ------------------------------------------------------ */

struct accept_cursor {
	const char *p, *end;
};

static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void skip_ows(struct accept_cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

/* A token's length at the cursor, which moves past it; 0 if there is none. */
static size_t take_token(struct accept_cursor *c, const char **ret)
{
	const char *s = c->p;

	while (c->p < c->end && is_tchar(*c->p))
		c->p++;
	*ret = s;
	return (size_t)(c->p - s);
}

static bool token_is(const char *s, size_t n, const char *want)
{
	return n == strlen(want) && strncasecmp(s, want, n) == 0;
}

/* A parameter value, token or quoted-string, unescaped into @dst (too long: truncated, -1). */
static int take_value(struct accept_cursor *c, char *dst, size_t size)
{
	size_t n = 0;
	int r = 0;

	if (c->p < c->end && *c->p == '"') {
		for (c->p++;; c->p++) {
			if (c->p >= c->end)
				return -1; /* unterminated */
			if (*c->p == '"') {
				c->p++;
				break;
			}
			if (*c->p == '\\' && ++c->p >= c->end)
				return -1;
			if (n + 1 < size)
				dst[n++] = *c->p;
			else
				r = -1;
		}
	} else {
		const char *s;
		size_t len = take_token(c, &s);

		if (!len)
			return -1;
		if (len >= size)
			r = -1;
		n = len < size ? len : size - 1;
		memcpy(dst, s, n);
	}
	dst[n] = '\0';
	return r;
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths. */
static int parse_q(const char *s)
{
	int q, scale = 100;

	if (s[0] != '0' && s[0] != '1')
		return -1;
	q = (s[0] - '0') * 1000;
	s++;
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9' && scale; s++, scale /= 10)
			q += (*s - '0') * scale;
	return *s || q > 1000 ? -1 : q;
}

enum accept_kind {
	ACCEPT_OTHER,
	ACCEPT_OPENMETRICS,
	ACCEPT_TEXT,
};

/*
 * One media range up to the next top-level comma. Returns its kind and sets @ret_q (thousandths);
 * anything malformed makes it ACCEPT_OTHER, and the cursor still ends after the comma.
 */
static enum accept_kind take_range(struct accept_cursor *c, int *ret_q)
{
	enum accept_kind kind = ACCEPT_OTHER;
	const char *type, *sub;
	size_t nt, ns;
	bool bad = false, om_version = true, text_version = true;

	*ret_q = 1000;
	skip_ows(c);
	nt = take_token(c, &type);
	if (!nt || c->p >= c->end || *c->p != '/')
		bad = true;
	else
		c->p++;
	ns = bad ? 0 : take_token(c, &sub);
	if (!ns)
		bad = true;
	while (!bad) {
		const char *name;
		size_t nn;
		char value[16];
		int vr;

		skip_ows(c);
		if (c->p >= c->end || *c->p == ',')
			break;
		if (*c->p != ';') {
			bad = true;
			break;
		}
		c->p++;
		skip_ows(c);
		if (c->p >= c->end || *c->p == ',')
			break; /* a trailing ';' */
		nn = take_token(c, &name);
		skip_ows(c);
		if (!nn || c->p >= c->end || *c->p != '=') {
			bad = true;
			break;
		}
		c->p++;
		skip_ows(c);
		vr = take_value(c, value, sizeof(value));
		if (token_is(name, nn, "q")) {
			*ret_q = vr < 0 ? -1 : parse_q(value);
			bad = *ret_q < 0;
		} else if (token_is(name, nn, "version")) {
			om_version =
				vr == 0 && (!strcmp(value, "1.0.0") || !strcmp(value, "0.0.1"));
			text_version = vr == 0 && !strcmp(value, "0.0.4");
		}
	}
	if (!bad) {
		if (token_is(type, nt, "application") && token_is(sub, ns, "openmetrics-text"))
			kind = om_version ? ACCEPT_OPENMETRICS : ACCEPT_OTHER;
		else if (token_is(type, nt, "text") && token_is(sub, ns, "plain"))
			kind = text_version ? ACCEPT_TEXT : ACCEPT_OTHER;
		else if (token_is(sub, ns, "*") &&
			 (token_is(type, nt, "text") || token_is(type, nt, "*")))
			kind = ACCEPT_TEXT; /* we answer wildcards with the text format */
	}
	/* Resynchronise at the next comma outside a quoted string. */
	for (bool quoted = false; c->p < c->end; c->p++) {
		if (quoted && *c->p == '\\' && c->p + 1 < c->end)
			c->p++;
		else if (*c->p == '"')
			quoted = !quoted;
		else if (*c->p == ',' && !quoted)
			break;
	}
	if (c->p < c->end)
		c->p++;
	return kind;
}

enum mw_format mw_negotiate(const char *accept, size_t len)
{
	struct accept_cursor c = { .p = accept, .end = accept ? accept + len : accept };
	int best_om = 0, best_text = -1;
	unsigned i, om_at = 0, text_at = 0;

	for (i = 0; c.p < c.end; i++) {
		int q;

		switch (take_range(&c, &q)) {
		case ACCEPT_OPENMETRICS:
			if (q > best_om) {
				best_om = q;
				om_at = i;
			}
			break;
		case ACCEPT_TEXT:
			if (q > best_text) {
				best_text = q;
				text_at = i;
			}
			break;
		case ACCEPT_OTHER:
			break;
		}
	}
	/* On a tie, the one listed first. */
	if (best_om > 0 && (best_om > best_text || (best_om == best_text && om_at < text_at)))
		return MW_FORMAT_OPENMETRICS;
	return MW_FORMAT_TEXT;
}
