/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_STATUS_UTIL_H
#define NFCE_STATUS_UTIL_H

/* What the status page's unit suites share: the tap that feeds a page, and its rendering. */

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "metric_writer.h"
#include "status.h"
#include "testlib.h"
#include "text.h"

static inline void tap(void *ctx, const struct mw_sample *s)
{
	status_sample(ctx, s);
}

/* The page (@html) or status.json, checked to be valid UTF-8; free() it. */
static inline char *render(const struct status *st, bool html)
{
	struct metric_writer w;
	char *s;

	mw_init(&w, 1 << 20);
	if (html)
		status_html(st, &w, "/metrics");
	else
		status_json(st, &w);
	ck_assert_int_eq(mw_error(&w), 0);
	ck_assert_msg(text_utf8_valid(w.buf, w.len), "not UTF-8: %.*s", (int)w.len, w.buf);
	s = strndup(w.buf, w.len);
	mw_free(&w);
	return s;
}

static inline void has(const char *s, const char *want)
{
	ck_assert_msg(strstr(s, want), "missing %s in:\n%.3000s", want, s);
}

#endif
