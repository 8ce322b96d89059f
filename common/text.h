/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_TEXT_H
#define NFCE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/*
 * The one formatter for every string that leaves the process. Whatever the input (a namespace
 * name, a zone, an interface, a path), the output is valid UTF-8: a byte that does not start a
 * well-formed sequence becomes U+FFFD, never passed through, because Prometheus rejects a whole
 * scrape for one bad byte and a strict JSON parser a whole document.
 */
enum text_kind {
	TEXT_LABEL, /* a Prometheus label value: \\ \" \n */
	TEXT_HELP, /* HELP text in the text format: \\ \n */
	TEXT_HELP_OM, /* HELP text in OpenMetrics: \\ \" \n */
	TEXT_JSON, /* inside a JSON string: \" \\ \n \t \r, other controls and U+FFFD as \uXXXX */
	TEXT_HTML, /* HTML text or a quoted attribute: & < > " ' as character references */
	TEXT_LOGFMT, /* inside a quoted logfmt value: \\ \" \n \t, other controls as \xXX, C1 as \u00XX */
	TEXT_PLAIN, /* a terminal: controls as \xXX, C1 controls as \u00XX, nothing else escaped */
};

typedef void (*text_sink_fn)(void *sink, const char *s, size_t n);

/* Escape @n bytes of @s for @kind into @out, in runs as long as possible. */
void text_escape(enum text_kind kind, const char *s, size_t n, text_sink_fn out, void *sink);

/* How many leading bytes of @s no kind escapes (plain printable ASCII): n when none needs it. */
size_t text_plain_prefix(const char *s, size_t n);

/* Length of the well-formed UTF-8 sequence at @p (at most @n bytes), or 0 if none starts there. */
size_t text_utf8_len(const unsigned char *p, size_t n);

/* Whether @s is valid UTF-8 as it is. */
bool text_utf8_valid(const char *s, size_t n);

/* A logfmt value that can go unquoted: non-empty, no space, control, '"', '=', '\\' or non-ASCII. */
bool text_logfmt_bare(const char *s, size_t n);

/* A sink writing to a FILE *. */
void text_sink_file(void *file, const char *s, size_t n);

/* @s escaped for @kind, to a FILE *. */
static inline void text_fputs(enum text_kind kind, const char *s, FILE *f)
{
	text_escape(kind, s, __builtin_strlen(s), text_sink_file, f);
}

#endif
