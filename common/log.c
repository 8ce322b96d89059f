// SPDX-License-Identifier: GPL-2.0-or-later
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum log_level min_level = LOG_LEVEL_INFO;

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
	fprintf(stderr, "ts=%s.%03ldZ level=%s msg=", when, ts.tv_nsec / 1000000,
		level_names[level]);
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
