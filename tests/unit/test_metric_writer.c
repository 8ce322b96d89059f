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

/* Two namespaces' families in turn, one family only in the second, one host family. */
START_TEST(regroup_families)
{
	struct metric_writer ns;

	mw_init(&ns, 1 << 20);
	mw_track_families(&ns, true);
	mw_family(&ns, "host", METRIC_GAUGE, "H.");
	mw_u64(&ns, "host", MW_NO_LABELS, 1);
	for (int k = 0; k < 2; k++) {
		mw_set_const_label(&ns, "netns", k ? "b" : "a");
		mw_family(&ns, "x", METRIC_GAUGE, "X.");
		mw_u64(&ns, "x", MW_NO_LABELS, (uint64_t)k);
		if (k) {
			mw_family(&ns, "only_b", METRIC_GAUGE, "B.");
			mw_u64(&ns, "only_b", MW_NO_LABELS, 7);
		}
		mw_family(&ns, "y_total", METRIC_COUNTER, "Y.");
		mw_u64(&ns, "y_total", MW_LABELS({ "l", "1" }), 10u + (uint64_t)k);
		mw_u64(&ns, "y_total", MW_LABELS({ "l", "2" }), 20u + (uint64_t)k);
	}
	mw_set_const_label(&ns, NULL, NULL);
	/* A family that failed half-way is cut, mark and all. */
	{
		size_t mark = ns.len;

		mw_family(&ns, "x", METRIC_GAUGE, "X.");
		mw_u64(&ns, "x", MW_NO_LABELS, 99);
		mw_truncate(&ns, mark);
	}
	ck_assert_uint_eq(ns.n_marks, 6);
	ck_assert_int_eq(mw_regroup(&w, &ns), 0);
	assert_output("# HELP host H.\n# TYPE host gauge\nhost 1\n"
		      "# HELP x X.\n# TYPE x gauge\nx{netns=\"a\"} 0\nx{netns=\"b\"} 1\n"
		      "# HELP y_total Y.\n# TYPE y_total counter\n"
		      "y_total{netns=\"a\",l=\"1\"} 10\ny_total{netns=\"a\",l=\"2\"} 20\n"
		      "y_total{netns=\"b\",l=\"1\"} 11\ny_total{netns=\"b\",l=\"2\"} 21\n"
		      "# HELP only_b B.\n# TYPE only_b gauge\nonly_b{netns=\"b\"} 7\n");
	/* Regrouped again (scratch reused): the same output. */
	mw_reset(&w);
	ck_assert_int_eq(mw_regroup(&w, &ns), 0);
	ck_assert_uint_eq(w.len, 307);
	/* Untracked output cannot be cut: refused, not guessed. */
	{
		struct metric_writer plain;

		mw_init(&plain, 1 << 20);
		mw_family(&plain, "x", METRIC_GAUGE, "X.");
		mw_u64(&plain, "x", MW_NO_LABELS, 1);
		ck_assert_int_eq(mw_regroup(&w, &plain), -EINVAL);
		mw_free(&plain);
	}
	mw_free(&ns);
}
END_TEST

struct seen {
	char log[1024];
	size_t len;
};

static void tap(void *ctx, const struct mw_sample *s)
{
	struct seen *x = ctx;
	int n = snprintf(x->log + x->len, sizeof(x->log) - x->len, "%s/%s/%s/%d/%s/%zu/%g;",
			 s->family, s->name, s->const_label ? s->const_label : "-", (int)s->type,
			 s->n_labels ? s->labels[0].value : "-", s->n_labels, s->value);

	ck_assert_int_gt(n, 0);
	x->len += (size_t)n;
	if (s->is_u64)
		ck_assert(s->u64 == UINT64_MAX || (double)s->u64 == s->value);
}

START_TEST(tap_sees_typed_samples)
{
	struct seen x = { 0 };

	mw_set_tap(&w, tap, &x);
	mw_family(&w, "h_seconds", METRIC_HISTOGRAM, "H.");
	mw_u64(&w, "h_seconds_bucket", MW_LABELS({ "le", "1" }), 3);
	mw_double(&w, "h_seconds_sum", MW_NO_LABELS, 0.5);
	mw_set_const_label(&w, "netns", "n\"s");
	mw_family(&w, "c_total", METRIC_COUNTER, "C.");
	mw_u64(&w, "c_total", MW_NO_LABELS, UINT64_MAX);
	mw_set_tap(&w, NULL, NULL);
	mw_u64(&w, "c_total", MW_NO_LABELS, 1);
	ck_assert_str_eq(x.log, "h_seconds/h_seconds_bucket/-/2/1/1/3;"
				"h_seconds/h_seconds_sum/-/2/-/0/0.5;"
				"c_total/c_total/n\"s/1/-/0/1.84467e+19;");
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
	tcase_add_test(tc, regroup_families);
	tcase_add_test(tc, tap_sees_typed_samples);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
