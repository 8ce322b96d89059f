// SPDX-License-Identifier: GPL-2.0-or-later
#include "log.h"

#include "text.h"
#include "util.h"

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
	for (unsigned i = 0; i < ARRAY_SIZE(level_names); i++)
		if (strcmp(s, level_names[i]) == 0) {
			*ret_level = (enum log_level)i;
			return 0;
		}
	return -EINVAL;
}

/* logfmt value: bare when it is a plain token, else quoted; always valid UTF-8. */
static void put_value(FILE *f, const char *v)
{
	size_t n = strlen(v);

	if (text_logfmt_bare(v, n)) {
		fwrite(v, 1, n, f);
		return;
	}
	fputc('"', f);
	text_escape(TEXT_LOGFMT, v, n, text_sink_file, f);
	fputc('"', f);
}

static void put_json_string(FILE *f, const char *v)
{
	fputc('"', f);
	text_escape(TEXT_JSON, v, strlen(v), text_sink_file, f);
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
