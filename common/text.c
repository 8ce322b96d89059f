// SPDX-License-Identifier: GPL-2.0-or-later
#include "text.h"

#include <string.h>

#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */

size_t text_utf8_len(const unsigned char *p, size_t n)
{
	unsigned min, cp;
	size_t len;

	if (!n)
		return 0;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, min = 0x80, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, min = 0x800, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, min = 0x10000, cp = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	/* Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not text. */
	if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

bool text_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	while (n) {
		size_t len = text_utf8_len(p, n);

		if (!len)
			return false;
		p += len;
		n -= len;
	}
	return true;
}

bool text_logfmt_bare(const char *s, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c >= 0x7f || c == '"' || c == '=' || c == '\\')
			return false;
	}
	return true;
}

void text_sink_file(void *file, const char *s, size_t n)
{
	fwrite(s, 1, n, file);
}

/* @prefix then @c as two hex digits into @buf ("\\x1b", "\\u009b"); the length. */
static size_t put_hex(char *buf, const char *prefix, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(prefix);

	memcpy(buf, prefix, n);
	buf[n] = hex[c >> 4];
	buf[n + 1] = hex[c & 15];
	return n + 2;
}

/* Whether no kind escapes ASCII byte @c: the common case, appended as a run. */
static inline bool plain_ascii(unsigned char c)
{
	return c >= ' ' && c < 0x7f && c != '\\' && c != '"' && c != '&' && c != '<' && c != '>' &&
	       c != '\'';
}

/* A backslash and @c into @buf. */
static size_t put_backslashed(char *buf, char c)
{
	buf[0] = '\\';
	buf[1] = c;
	return 2;
}

/* The escape of ASCII byte @c for @kind into @buf, or 0 if it stands for itself. */
static size_t escape_ascii(enum text_kind kind, unsigned char c, char *buf)
{
	static const char *const entity[128] = {
		['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;", ['"'] = "&quot;", ['\''] = "&#39;",
	};
	bool control = c < ' ' || c == 0x7f;

	switch (kind) {
	case TEXT_LABEL:
	case TEXT_HELP:
	case TEXT_HELP_OM:
		if (c == '\n')
			return put_backslashed(buf, 'n');
		if (c == '\\' || (c == '"' && kind != TEXT_HELP))
			return put_backslashed(buf, (char)c);
		return 0;
	case TEXT_PLAIN:
		return control ? put_hex(buf, "\\x", c) : 0;
	case TEXT_JSON:
	case TEXT_LOGFMT:
		if (c == '\\' || c == '"')
			return put_backslashed(buf, (char)c);
		if (c == '\n')
			return put_backslashed(buf, 'n');
		if (c == '\t')
			return put_backslashed(buf, 't');
		if (c == '\r' && kind == TEXT_JSON)
			return put_backslashed(buf, 'r');
		if (!control)
			return 0;
		return put_hex(buf, kind == TEXT_JSON ? "\\u00" : "\\x", c);
	case TEXT_HTML:
		if (!entity[c])
			return 0;
		memcpy(buf, entity[c], strlen(entity[c]));
		return strlen(entity[c]);
	}
	return 0;
}

size_t text_plain_prefix(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && plain_ascii((unsigned char)s[i]))
		i++;
	return i;
}

void text_escape(enum text_kind kind, const char *s, size_t n, text_sink_fn out, void *sink)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n, *run = p;

	p += text_plain_prefix(s, n); /* most strings need nothing: one out() for the whole */
	while (p < end) {
		char buf[8];
		size_t len, k;

		if (plain_ascii(*p)) {
			p++; /* most of any string: one out() per run, not per byte */
			continue;
		}
		if (*p < 0x80) {
			k = escape_ascii(kind, *p, buf);
			len = 1;
		} else {
			len = text_utf8_len(p, (size_t)(end - p));
			/* C1 controls (U+0080..U+009F) act on some terminals: escaped there. */
			if (len == 2 && p[0] == 0xc2 && p[1] < 0xa0 &&
			    (kind == TEXT_PLAIN || kind == TEXT_LOGFMT)) {
				k = put_hex(buf, "\\u00", p[1]);
			} else if (len) {
				p += len; /* well-formed: itself */
				continue;
			} else {
				len = 1;
				k = kind == TEXT_JSON ? 6 : 3;
				memcpy(buf, kind == TEXT_JSON ? "\\ufffd" : REPLACEMENT, k);
			}
		}
		if (!k) {
			p++;
			continue;
		}
		if (p > run)
			out(sink, (const char *)run, (size_t)(p - run));
		out(sink, buf, k);
		p += len;
		run = p;
	}
	if (p > run)
		out(sink, (const char *)run, (size_t)(p - run));
}
