/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_LOG_H
#define NFCE_LOG_H

#include <stdint.h>

/*
 * logfmt lines on stderr: ts=... level=... msg="..." key=value ...
 * or, with --log.format=json, one JSON object a line with the same fields in the same order:
 * {"ts":"...","level":"...","msg":"...","key":"value","n":42}
 * Only exporter/ logs; collectors and parsers return -errno and let the caller decide.
 */

enum log_format {
	LOG_FORMAT_LOGFMT,
	LOG_FORMAT_JSON,
};

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
};

enum log_field_kind {
	LOG_FIELD_STR,
	LOG_FIELD_INT,
	LOG_FIELD_ERRNO,
};

struct log_field {
	const char *key;
	enum log_field_kind kind;
	const char *str;
	long long num;
};

#define LF_STR(k, v) ((struct log_field){ .key = (k), .kind = LOG_FIELD_STR, .str = (v) })
#define LF_INT(k, v) \
	((struct log_field){ .key = (k), .kind = LOG_FIELD_INT, .num = (long long)(v) })
/* err="<strerror>" from a negative errno return */
#define LF_ERR(r) ((struct log_field){ .key = "err", .kind = LOG_FIELD_ERRNO, .num = (r) })

void log_set_level(enum log_level level);
void log_set_format(enum log_format format);
enum log_level log_get_level(void);
int log_level_parse(const char *s, enum log_level *ret_level);
void log_fields(enum log_level level, const char *msg, const struct log_field *f, unsigned n);

#define LOG_(lvl, msg, ...)                                             \
	log_fields(lvl, msg, (const struct log_field[]){ __VA_ARGS__ }, \
		   sizeof((const struct log_field[]){ __VA_ARGS__ }) / sizeof(struct log_field))
#define log_debug(msg, ...) LOG_(LOG_LEVEL_DEBUG, msg, __VA_ARGS__)
#define log_info(msg, ...) LOG_(LOG_LEVEL_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...) LOG_(LOG_LEVEL_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) LOG_(LOG_LEVEL_ERROR, msg, __VA_ARGS__)

/* At most @burst lines per @interval_us; the next line let through says how many were dropped. */
struct log_ratelimit {
	uint64_t interval_us;
	unsigned burst;
	uint64_t begin_us;
	unsigned printed;
	unsigned suppressed;
};

#define LOG_RATELIMIT_INIT(interval_s, b)                                   \
	{                                                                   \
		.interval_us = (uint64_t)(interval_s)*1000000, .burst = (b) \
	}
/* Returns the number of lines suppressed since the last one let through plus one, or 0: drop. */
unsigned log_ratelimit_ok(struct log_ratelimit *rl, uint64_t now_us);

#endif
