// SPDX-License-Identifier: GPL-2.0-or-later
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum log_level min_level = LOG_LEVEL_INFO;
static enum log_format format = LOG_FORMAT_LOGFMT;

static const char *const level_names[] = {
	[LOG_LEVEL_DEBUG] = "debug",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_ERROR] = "error",
};

void log_set_level(enum log_level level)
{
	min_level = level;
}

void log_set_format(enum log_format f)
{
	format = f;
}

enum log_level log_get_level(void)
{
	return min_level;
}

int log_level_parse(const char *s, enum log_level *ret_level)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(s, level_names[i]) == 0) {
			*ret_level = (enum log_level)i;
			return 0;
		}
	return -EINVAL;
}

/* logfmt value: bare when it is a plain token, else quoted with \\ \" \n \t escaped. */
static void put_value(FILE *f, const char *v)
{
	int bare = *v != '\0';

	for (const char *p = v; *p && bare; p++)
		if ((unsigned char)*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
			bare = 0;
	if (bare) {
		fputs(v, f);
		return;
	}
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < ' ' || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* Length of the valid UTF-8 sequence at @p (at most @n bytes), or 0 if there is none. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	size_t len;
	unsigned min;
	unsigned cp;

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

/*
 * A JSON string: '"' and '\\' escaped, control characters (and DEL) as \n, \t or \u00XX, and
 * bytes that are not UTF-8 (a path, a namespace name) as U+FFFD, so every line parses.
 */
static void put_json_string(FILE *f, const char *v)
{
	const unsigned char *p = (const unsigned char *)v;
	size_t n = strlen(v);

	fputc('"', f);
	while (n) {
		size_t len = utf8_len(p, n);

		if (len == 0) {
			fputs("\\ufffd", f);
			len = 1;
		} else if (*p == '"' || *p == '\\') {
			fputc('\\', f);
			fputc(*p, f);
		} else if (*p == '\n') {
			fputs("\\n", f);
		} else if (*p == '\t') {
			fputs("\\t", f);
		} else if (*p == '\r') {
			fputs("\\r", f);
		} else if (*p < ' ' || *p == 0x7f) {
			fprintf(f, "\\u%04x", *p);
		} else {
			fwrite(p, 1, len, f);
		}
		p += len;
		n -= len;
	}
	fputc('"', f);
}

static void log_json(const char *when, long ms, enum log_level level, const char *msg,
		     const struct log_field *fl, unsigned n)
{
	fprintf(stderr, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":", when, ms,
		level_names[level]);
	put_json_string(stderr, msg);
	for (unsigned i = 0; i < n; i++) {
		fputc(',', stderr);
		put_json_string(stderr, fl[i].key);
		fputc(':', stderr);
		switch (fl[i].kind) {
		case LOG_FIELD_STR:
			put_json_string(stderr, fl[i].str ? fl[i].str : "");
			break;
		case LOG_FIELD_INT:
			fprintf(stderr, "%lld", fl[i].num);
			break;
		case LOG_FIELD_ERRNO:
			put_json_string(stderr, strerror((int)-fl[i].num));
			break;
		}
	}
	fputs("}\n", stderr);
}

static void log_logfmt(const char *when, long ms, enum log_level level, const char *msg,
		       const struct log_field *fl, unsigned n)
{
	fprintf(stderr, "ts=%s.%03ldZ level=%s msg=", when, ms, level_names[level]);
	put_value(stderr, msg);
	for (unsigned i = 0; i < n; i++) {
		fprintf(stderr, " %s=", fl[i].key);
		switch (fl[i].kind) {
		case LOG_FIELD_STR:
			put_value(stderr, fl[i].str ? fl[i].str : "");
			break;
		case LOG_FIELD_INT:
			fprintf(stderr, "%lld", fl[i].num);
			break;
		case LOG_FIELD_ERRNO:
			put_value(stderr, strerror((int)-fl[i].num));
			break;
		}
	}
	fputc('\n', stderr);
}

void log_fields(enum log_level level, const char *msg, const struct log_field *fl, unsigned n)
{
	struct timespec ts;
	struct tm tm;
	char when[32];
	int saved = errno;

	if (level < min_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);

	flockfile(stderr);
	if (format == LOG_FORMAT_JSON)
		log_json(when, ts.tv_nsec / 1000000, level, msg, fl, n);
	else
		log_logfmt(when, ts.tv_nsec / 1000000, level, msg, fl, n);
	funlockfile(stderr);
	errno = saved;
}

unsigned log_ratelimit_ok(struct log_ratelimit *rl, uint64_t now_us)
{
	unsigned r;

	if (rl->begin_us == 0 || now_us - rl->begin_us >= rl->interval_us) {
		rl->begin_us = now_us;
		rl->printed = 0;
	}
	if (rl->printed >= rl->burst) {
		rl->suppressed++;
		return 0;
	}
	rl->printed++;
	r = rl->suppressed + 1;
	rl->suppressed = 0;
	return r;
}
