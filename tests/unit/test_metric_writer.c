// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metric_writer.h"
#include "testlib.h"

static struct metric_writer w;

static void setup(void)
{
	mw_init(&w, 1 << 20);
}

static void teardown(void)
{
	mw_free(&w);
}

static void assert_output(const char *want)
{
	ck_assert_int_eq(mw_error(&w), 0);
	ck_assert_uint_eq(w.len, strlen(want));
	ck_assert_msg(memcmp(w.buf, want, w.len) == 0, "got:\n%.*s\nwant:\n%s", (int)w.len, w.buf,
		      want);
}

START_TEST(family_and_samples)
{
	mw_family(&w, "x_total", METRIC_COUNTER, "Help.");
	mw_u64(&w, "x_total", MW_NO_LABELS, 0);
	mw_u64(&w, "x_total", MW_LABELS({ "a", "1" }, { "b", "two" }), UINT64_MAX);
	assert_output("# HELP x_total Help.\n# TYPE x_total counter\nx_total 0\n"
		      "x_total{a=\"1\",b=\"two\"} 18446744073709551615\n");
}
END_TEST

START_TEST(label_escaping)
{
	mw_u64(&w, "m", MW_LABELS({ "v", "back\\slash \"quoted\"\nnewline" }), 1);
	assert_output("m{v=\"back\\\\slash \\\"quoted\\\"\\nnewline\"} 1\n");
}
END_TEST

START_TEST(help_escaping)
{
	/* HELP escapes backslash and newline but leaves quotes alone. */
	mw_family(&w, "m", METRIC_GAUGE, "a \"b\" \\ c\nd");
	assert_output("# HELP m a \"b\" \\\\ c\\nd\n# TYPE m gauge\n");
}
END_TEST

START_TEST(empty_and_null_label_values)
{
	mw_u64(&w, "m", MW_LABELS({ "a", "" }, { "b", NULL }), 7);
	assert_output("m{a=\"\",b=\"\"} 7\n");
}
END_TEST

START_TEST(doubles)
{
	static const struct {
		double v;
		const char *want;
	} cases[] = {
		{ 0.0, "0" },
		{ 1.0, "1" },
		{ -3.0, "-3" },
		{ 0.5, "0.5" },
		{ 1e-05, "1e-05" },
		{ 0.1, "0.1" },
		{ 1.0 / 3.0, "0.33333333333333331" },
		{ 1795384135.6, "1795384135.6" },
		{ 1e300, "1e+300" },
		{ NAN, "NaN" },
		{ INFINITY, "+Inf" },
		{ -INFINITY, "-Inf" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[64];
		size_t n = fmt_double(buf, sizeof(buf), cases[i].v);

		buf[n] = '\0';
		/* Whatever the digits, the text must read back to the same double. */
		if (!isnan(cases[i].v) && !isinf(cases[i].v))
			ck_assert_double_eq(strtod(buf, NULL), cases[i].v);
		ck_assert_str_eq(buf, cases[i].want);
	}
}
END_TEST

START_TEST(u64_formatting)
{
	static const uint64_t vals[] = { 0, 9, 10, 4294967295u, 4294967296u, UINT64_MAX };
	static const char *const want[] = { "0",	  "9",		"10",
					    "4294967295", "4294967296", "18446744073709551615" };

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		char buf[24];
		size_t n = fmt_u64(buf, vals[i]);

		buf[n] = '\0';
		ck_assert_str_eq(buf, want[i]);
	}
}
END_TEST

START_TEST(sticky_error_at_cap)
{
	struct metric_writer small;

	mw_init(&small, 64);
	for (int i = 0; i < 100; i++)
		mw_u64(&small, "some_metric_name", MW_NO_LABELS, (uint64_t)i);
	ck_assert_int_eq(mw_error(&small), -ENOBUFS);
	ck_assert_uint_le(small.len, 64);
	/* Truncating back to a mark clears the error: a failed collector's output is dropped. */
	mw_truncate(&small, 0);
	ck_assert_int_eq(mw_error(&small), 0);
	mw_u64(&small, "m", MW_NO_LABELS, 1);
	ck_assert_int_eq(mw_error(&small), 0);
	ck_assert_uint_eq(small.len, 4);
	mw_free(&small);
}
END_TEST

START_TEST(reuse_after_reset)
{
	mw_u64(&w, "a", MW_NO_LABELS, 1);
	mw_reset(&w);
	mw_u64(&w, "b", MW_NO_LABELS, 2);
	assert_output("b 2\n");
}
END_TEST

START_TEST(grows_past_initial_capacity)
{
	char name[32];

	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "metric_%d", i);
		mw_u64(&w, name, MW_LABELS({ "l", "value" }), (uint64_t)i);
	}
	ck_assert_int_eq(mw_error(&w), 0);
	ck_assert_uint_gt(w.len, 16384);
	ck_assert(memmem(w.buf, w.len, "metric_4999{l=\"value\"} 4999\n", 28) != NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("metric_writer");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, family_and_samples);
	tcase_add_test(tc, label_escaping);
	tcase_add_test(tc, help_escaping);
	tcase_add_test(tc, empty_and_null_label_values);
	tcase_add_test(tc, doubles);
	tcase_add_test(tc, u64_formatting);
	tcase_add_test(tc, sticky_error_at_cap);
	tcase_add_test(tc, reuse_after_reset);
	tcase_add_test(tc, grows_past_initial_capacity);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
