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

/* --- OpenMetrics ------------------------------------------------------------------------- */

START_TEST(om_counter_family_without_total)
{
	mw_set_format(&w, MW_FORMAT_OPENMETRICS);
	mw_family(&w, "x_total", METRIC_COUNTER, "Help.");
	mw_u64(&w, "x_total", MW_LABELS({ "a", "1" }), 3);
	mw_family(&w, "y", METRIC_UNTYPED, "U.");
	mw_u64(&w, "y", MW_NO_LABELS, 1);
	mw_family(&w, "g", METRIC_GAUGE, "G.");
	mw_double(&w, "g", MW_NO_LABELS, 0.5);
	mw_finish(&w);
	assert_output("# HELP x Help.\n# TYPE x counter\nx_total{a=\"1\"} 3\n"
		      "# HELP y U.\n# TYPE y unknown\ny 1\n"
		      "# HELP g G.\n# TYPE g gauge\ng 0.5\n# EOF\n");
}
END_TEST

START_TEST(om_counter_without_total_suffix_is_unknown)
{
	/* Its sample could not be <family>_total: keep the exposition valid. */
	mw_set_format(&w, MW_FORMAT_OPENMETRICS);
	mw_family(&w, "bad_count", METRIC_COUNTER, "H.");
	mw_family(&w, "_total", METRIC_COUNTER, "H.");
	assert_output("# HELP bad_count H.\n# TYPE bad_count unknown\n"
		      "# HELP _total H.\n# TYPE _total unknown\n");
}
END_TEST

START_TEST(om_help_escapes_quotes)
{
	mw_set_format(&w, MW_FORMAT_OPENMETRICS);
	mw_family(&w, "m", METRIC_GAUGE, "a \"b\" \\ c\nd");
	assert_output("# HELP m a \\\"b\\\" \\\\ c\\nd\n# TYPE m gauge\n");
}
END_TEST

START_TEST(om_histogram_le_canonical)
{
	static const char *const in[] = { "0.1",  "0.5",   "1",	      "2.5", "300", "86400", "1e6",
					  "+Inf", "0.005", "1234567", "0",   "-1",  "1e-05", "x" };
	static const char *const want[] = { "0.1",     "0.5",	"1.0",	 "2.5",	  "300.0",
					    "86400.0", "1e+06", "+Inf",	 "0.005", "1.234567e+06",
					    "0.0",     "-1.0",	"1e-05", "x" };

	mw_set_format(&w, MW_FORMAT_OPENMETRICS);
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		char line[128];

		mw_reset(&w);
		mw_u64(&w, "h_bucket", MW_LABELS({ "protocol", "1" }, { "le", in[i] }), 2);
		snprintf(line, sizeof(line), "h_bucket{protocol=\"1\",le=\"%s\"} 2\n", want[i]);
		assert_output(line);
	}
}
END_TEST

START_TEST(om_format_survives_reset_text_unchanged)
{
	mw_set_format(&w, MW_FORMAT_OPENMETRICS);
	mw_reset(&w);
	ck_assert_int_eq(w.format, MW_FORMAT_OPENMETRICS);
	mw_set_format(&w, MW_FORMAT_TEXT);
	mw_family(&w, "x_total", METRIC_COUNTER, "Help.");
	mw_u64(&w, "h_bucket", MW_LABELS({ "le", "1" }), 2);
	mw_finish(&w);
	assert_output("# HELP x_total Help.\n# TYPE x_total counter\nh_bucket{le=\"1\"} 2\n");
}
END_TEST

static enum mw_format neg(const char *s)
{
	return mw_negotiate(s, strlen(s));
}

START_TEST(negotiate)
{
	static const struct {
		const char *accept;
		enum mw_format want;
	} cases[] = {
		/* Prometheus 2.x's default */
		{ "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
		  "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
		  MW_FORMAT_OPENMETRICS },
		/* Prometheus with scrape_protocols preferring text */
		{ "text/plain;version=0.0.4;q=1,application/openmetrics-text;version=1.0.0;q=0.9",
		  MW_FORMAT_TEXT },
		{ "application/openmetrics-text", MW_FORMAT_OPENMETRICS },
		{ "application/openmetrics-text; version=0.0.1", MW_FORMAT_OPENMETRICS },
		{ "APPLICATION/OpenMetrics-Text ; Version=\"1.0.0\" ; Q=1", MW_FORMAT_OPENMETRICS },
		{ "application/openmetrics-text;version=2.0.0", MW_FORMAT_TEXT },
		{ "application/openmetrics-text;q=0", MW_FORMAT_TEXT },
		{ "application/openmetrics-text;q=0.000", MW_FORMAT_TEXT },
		{ "application/openmetrics-text;q=0.001", MW_FORMAT_OPENMETRICS },
		{ "application/openmetrics-text;q=1.5", MW_FORMAT_TEXT },
		{ "application/openmetrics-text;q=0.1234", MW_FORMAT_TEXT },
		{ "application/openmetrics-text;q=abc", MW_FORMAT_TEXT },
		{ "text/plain;q=0.5, application/openmetrics-text;q=0.5", MW_FORMAT_TEXT },
		{ "application/openmetrics-text;q=0.5, text/plain;q=0.5", MW_FORMAT_OPENMETRICS },
		{ "application/openmetrics-text;q=0.5, */*", MW_FORMAT_TEXT },
		{ "application/openmetrics-text;q=0.5, text/plain;version=9;q=1",
		  MW_FORMAT_OPENMETRICS },
		{ "*/*", MW_FORMAT_TEXT },
		{ "application/*", MW_FORMAT_TEXT },
		{ "", MW_FORMAT_TEXT },
		{ ",,, ,", MW_FORMAT_TEXT },
		{ "application/json, application/openmetrics-text;x=\"a,b;q=0\";q=0.9",
		  MW_FORMAT_OPENMETRICS },
		{ "garbage\"with,quote, application/openmetrics-text", MW_FORMAT_TEXT },
		{ "garbage, application/openmetrics-text", MW_FORMAT_OPENMETRICS },
		{ "application/openmetrics-text;version=\"1.0.0", MW_FORMAT_TEXT },
		{ "application/openmetrics-text;", MW_FORMAT_OPENMETRICS },
		{ "application/openmetrics-text;;q=1", MW_FORMAT_TEXT },
		{ "application/openmetrics-text;version=1.0.0.0.0.0.0.0.0.0.0", MW_FORMAT_TEXT },
		{ "application/openmetrics-text;q", MW_FORMAT_TEXT },
		{ "/openmetrics-text", MW_FORMAT_TEXT },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(neg(cases[i].accept) == cases[i].want, "Accept: %s: got %d",
			      cases[i].accept, neg(cases[i].accept));
	ck_assert_int_eq(mw_negotiate(NULL, 0), MW_FORMAT_TEXT);
	/* Only @len bytes count: the rest of a longer string is not read. */
	ck_assert_int_eq(mw_negotiate("application/openmetrics-textual", 28),
			 MW_FORMAT_OPENMETRICS);
	ck_assert_int_eq(mw_negotiate("application/openmetrics-text;q=0", 29),
			 MW_FORMAT_OPENMETRICS);
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
	tcase_add_test(tc, om_counter_family_without_total);
	tcase_add_test(tc, om_counter_without_total_suffix_is_unknown);
	tcase_add_test(tc, om_help_escapes_quotes);
	tcase_add_test(tc, om_histogram_le_canonical);
	tcase_add_test(tc, om_format_survives_reset_text_unchanged);
	tcase_add_test(tc, negotiate);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
