// SPDX-License-Identifier: GPL-2.0-or-later
/* The log line formats: logfmt and JSON, byte for byte, stderr captured in a memfd. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "testlib.h"

static int saved_stderr = -1;
static int capture_fd = -1;

static void capture_begin(void)
{
	fflush(stderr);
	saved_stderr = dup(2);
	capture_fd = memfd_create("log", MFD_CLOEXEC);
	ck_assert_int_ge(saved_stderr, 0);
	ck_assert_int_ge(capture_fd, 0);
	ck_assert_int_eq(dup2(capture_fd, 2), 2);
}

/* Everything written since capture_begin(), with the "ts" value cut out: a malloc'd string. */
static char *capture_end(void)
{
	char *buf = calloc(1, 65536);
	ssize_t n;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	n = pread(capture_fd, buf, 65535, 0);
	close(capture_fd);
	ck_assert_int_gt(n, 0);
	return buf;
}

/* "ts=2026-01-02T03:04:05.678Z " or "\"ts\":\"2026-01-02T03:04:05.678Z\"," at @p: its length. */
static size_t ts_len(const char *p, int json)
{
	const char *v = p + (json ? 6 : 3);

	ck_assert_msg(strncmp(p, json ? "\"ts\":\"" : "ts=", json ? 6 : 3) == 0, "no ts in %s", p);
	ck_assert_msg(strlen(v) > 24 && v[4] == '-' && v[10] == 'T' && v[19] == '.' && v[23] == 'Z',
		      "bad ts in %s", p);
	return (size_t)(v - p) + 24 + (json ? 2 : 1);
}

static void assert_line(const char *got, const char *want, int json)
{
	const char *rest;

	ck_assert_msg(got[0] == (json ? '{' : 't'), "got %s", got);
	rest = got + json + ts_len(got + json, json);
	ck_assert_msg(strncmp(got, "{", (size_t)json) == 0 && strcmp(rest, want) == 0,
		      "got:  %s\nwant: %s", rest, want);
}

static void teardown(void)
{
	log_set_format(LOG_FORMAT_LOGFMT);
	log_set_level(LOG_LEVEL_INFO);
}

START_TEST(json_fields_and_types)
{
	char *out;

	log_set_format(LOG_FORMAT_JSON);
	capture_begin();
	log_warn("collector failed", LF_STR("collector", "events"), LF_ERR(-ENOBUFS),
		 LF_INT("times", -3), LF_STR("empty", NULL));
	out = capture_end();
	assert_line(out,
		    "\"level\":\"warn\",\"msg\":\"collector failed\",\"collector\":\"events\","
		    "\"err\":\"No buffer space available\",\"times\":-3,\"empty\":\"\"}\n",
		    1);
	free(out);
}
END_TEST

START_TEST(json_escaping)
{
	char *out;

	log_set_format(LOG_FORMAT_JSON);
	capture_begin();
	/* Every control character, quote, backslash, DEL; valid UTF-8 (2, 3, 4 bytes) kept. */
	log_error("q\" b\\ n\n t\t r\r \x01\x08\x0c\x1f \x7f é€😀",
		  LF_STR("path", "/x\xff/\xc0\xaf/\xed\xa0\x80/\xe2\x82"), LF_STR("k\"ey", "v"));
	out = capture_end();
	assert_line(out,
		    "\"level\":\"error\",\"msg\":\"q\\\" b\\\\ n\\n t\\t r\\r \\u0001\\u0008"
		    "\\u000c\\u001f \\u007f é€😀\","
		    /* not UTF-8: a stray byte, an overlong '/', a surrogate, a cut sequence */
		    "\"path\":\"/x\\ufffd/\\ufffd\\ufffd/\\ufffd\\ufffd\\ufffd/\\ufffd\\ufffd\","
		    "\"k\\\"ey\":\"v\"}\n",
		    1);
	free(out);
}
END_TEST

START_TEST(json_respects_level_and_errno)
{
	char *out;

	log_set_format(LOG_FORMAT_JSON);
	log_set_level(LOG_LEVEL_WARN);
	capture_begin();
	errno = EAGAIN;
	log_info("hidden", LF_INT("n", 1));
	log_debug("hidden", LF_INT("n", 1));
	ck_assert_int_eq(errno, EAGAIN);
	log_error("shown", LF_INT("n", 9223372036854775807LL));
	ck_assert_int_eq(errno, EAGAIN);
	out = capture_end();
	assert_line(out, "\"level\":\"error\",\"msg\":\"shown\",\"n\":9223372036854775807}\n", 1);
	free(out);
}
END_TEST

START_TEST(logfmt_unchanged)
{
	char *out;

	capture_begin();
	log_warn("collector failed", LF_STR("collector", "stat"), LF_ERR(-EPERM),
		 LF_INT("times", 2), LF_STR("v", "a\"b\\c\nd\te\x01"));
	out = capture_end();
	assert_line(out,
		    "level=warn msg=\"collector failed\" collector=stat "
		    "err=\"Operation not permitted\" times=2 v=\"a\\\"b\\\\c\\nd\\te\\x01\"\n",
		    0);
	free(out);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, json_fields_and_types);
	tcase_add_test(tc, json_escaping);
	tcase_add_test(tc, json_respects_level_and_errno);
	tcase_add_test(tc, logfmt_unchanged);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
