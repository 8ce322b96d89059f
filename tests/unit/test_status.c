// SPDX-License-Identifier: GPL-2.0-or-later
/* The status page from typed samples: what it keeps, what it shows, and that it stays valid. */
#include <stdlib.h>
#include <string.h>

#include "metric_names.h"
#include "metric_writer.h"
#include "status.h"
#include "testlib.h"
#include "text.h"

static void tap(void *ctx, const struct mw_sample *s)
{
	status_sample(ctx, s);
}

/* One scrape as the collectors would write it: @ns namespaces (none: the own one). */
static void scrape(struct status *st, double t, unsigned ns, uint64_t entries, uint64_t drop,
		   bool ok)
{
	static const char *const names[] = { "a", "b\xff\"<x>" };
	struct metric_writer w;

	mw_init(&w, 1 << 20);
	mw_set_tap(&w, tap, st);
	status_begin(st);
	mw_family(&w, MN_ENTRIES_LIMIT, METRIC_GAUGE, "L.");
	mw_u64(&w, MN_ENTRIES_LIMIT, MW_NO_LABELS, 1000);
	mw_family(&w, MN_BUCKETS, METRIC_GAUGE, "B.");
	mw_u64(&w, MN_BUCKETS, MW_NO_LABELS, 256);
	for (unsigned k = 0; k < (ns ? ns : 1); k++) {
		mw_set_const_label(&w, ns ? ML_NETNS : NULL, names[k]);
		mw_family(&w, MN_ENTRIES, METRIC_GAUGE, "E.");
		mw_u64(&w, MN_ENTRIES, MW_NO_LABELS, entries + k * 100);
		mw_family(&w, MN_STAT_DROP, METRIC_COUNTER, "D.");
		mw_u64(&w, MN_STAT_DROP, MW_NO_LABELS, drop);
		mw_family(&w, MN_STATE_ENTRIES, METRIC_GAUGE, "S.");
		mw_u64(&w, MN_STATE_ENTRIES,
		       MW_LABELS({ ML_PROTOCOL, "tcp" }, { ML_STATE, "established" }), entries);
		mw_u64(&w, MN_STATE_ENTRIES,
		       MW_LABELS({ ML_PROTOCOL, "udp" }, { ML_STATE, "unreplied" }), 1);
		mw_family(&w, MN_ZONE_ENTRIES, METRIC_GAUGE, "Z.");
		mw_u64(&w, MN_ZONE_ENTRIES, MW_LABELS({ ML_ZONE, "7\xc3<" }), 3);
	}
	mw_set_const_label(&w, NULL, NULL);
	mw_family(&w, MN_COLLECTOR_SUCCESS, METRIC_GAUGE, "C.");
	mw_u64(&w, MN_COLLECTOR_SUCCESS, MW_LABELS({ ML_COLLECTOR, "table" }), 1);
	mw_u64(&w, MN_COLLECTOR_SUCCESS, MW_LABELS({ ML_COLLECTOR, "events" }), 0);
	status_end(st, ok, t);
	mw_free(&w);
}

static char *render(const struct status *st, bool html)
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

static void has(const char *s, const char *want)
{
	ck_assert_msg(strstr(s, want), "missing %s in:\n%s", want, s);
}

START_TEST(own_namespace)
{
	struct status *st = calloc(1, sizeof(*st));
	char *j;

	scrape(st, 100, 0, 500, 2, true);
	scrape(st, 110, 0, 600, 5, true);
	j = render(st, false);
	has(j, "\"entries\":600,\"limit\":1000,\"buckets\":256,\"fill_ratio\":0.6");
	has(j, "\"window_seconds\":10,\"growth_per_second\":10,\"seconds_to_full\":40");
	has(j, "\"drops\":3,");
	has(j, "\"top_states\":[{\"protocol\":\"tcp\",\"state\":\"established\",\"entries\":600}");
	has(j, "\"top_zones\":[{\"zone\":\"7\\ufffd<\",\"entries\":3}]");
	has(j, "\"collectors\":2,\"collectors_ok\":1}");
	free(j);
	/* A failed scrape keeps what the last good one showed. */
	scrape(st, 120, 0, 999, 5, false);
	j = render(st, false);
	has(j, "\"entries\":600,");
	free(j);
	j = render(st, true);
	has(j, "<td>7\xef\xbf\xbd&lt;</td>");
	free(j);
	free(st);
}
END_TEST

/* With --netns: the fullest namespace's entries, drops of all, states added up. */
START_TEST(namespaces)
{
	struct status *st = calloc(1, sizeof(*st));
	char *j;

	scrape(st, 100, 2, 500, 1, true);
	j = render(st, false);
	has(j, "\"entries\":600,");
	has(j, "{\"protocol\":\"tcp\",\"state\":\"established\",\"entries\":1000}");
	has(j, "{\"protocol\":\"udp\",\"state\":\"unreplied\",\"entries\":2}");
	free(j);
	free(st);
}
END_TEST

/* A collector that wrote samples and then failed: its samples are cut, on the page too. */
START_TEST(failed_collector_forgotten)
{
	struct status *st = calloc(1, sizeof(*st));
	struct metric_writer w;
	size_t mark;
	char *j;

	mw_init(&w, 1 << 20);
	mw_set_tap(&w, tap, st);
	status_begin(st);
	status_part_begin(st);
	mw_family(&w, MN_ENTRIES_LIMIT, METRIC_GAUGE, "L.");
	mw_u64(&w, MN_ENTRIES_LIMIT, MW_NO_LABELS, 1000);
	status_part_end(st, true);
	status_part_begin(st);
	mark = w.len;
	mw_family(&w, MN_ENTRIES, METRIC_GAUGE, "E.");
	mw_u64(&w, MN_ENTRIES, MW_NO_LABELS, 12345);
	mw_truncate(&w, mark);
	status_part_end(st, false);
	status_end(st, true, 100);
	j = render(st, false);
	has(j, "\"entries\":null,\"limit\":null,");
	free(j);
	mw_free(&w);
	free(st);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("status");
	TCase *tc = tcase_create("status");

	tcase_add_test(tc, own_namespace);
	tcase_add_test(tc, namespaces);
	tcase_add_test(tc, failed_collector_forgotten);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
