// SPDX-License-Identifier: GPL-2.0-or-later
/* The status page from typed samples: what it keeps, what it shows, and that it stays valid. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metric_names.h"
#include "metric_writer.h"
#include "status.h"
#include "status_util.h"
#include "testlib.h"
#include "text.h"

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

static bool push(struct history *h, double t, double entries, double drop)
{
	static const struct history_state states[] = {
		{ "tcp established", 50 }, { "udp unreplied", 20 }, { "tcp time_wait", 10 },
		{ "tcp syn_sent", 5 },	   { "icmp replied", 3 },
	};
	struct history_input in = {
		.t = t,
		.entries = entries,
		.limit = 1000,
		.counters = { drop, 0, NAN, NAN },
		.states = states,
		.n_states = 5,
	};

	return history_push(h, &in);
}

/* 720 points at most, the oldest overwritten; nothing kept closer than 5 s to the last. */
START_TEST(history_wraps)
{
	struct history *h = calloc(1, sizeof(*h));

	ck_assert(push(h, 1000, 100, 0));
	ck_assert(!push(h, 1004.9, 100, 0));
	for (unsigned i = 1; i < 800; i++)
		ck_assert(push(h, 1000 + 5 * i, 100 + i, 0));
	ck_assert_uint_eq(h->n, HISTORY_SLOTS);
	ck_assert(history_at(h, 0)->t == 1000 + 5 * 80);
	ck_assert(history_at(h, 0)->entries == 180);
	ck_assert(history_at(h, HISTORY_SLOTS - 1)->t == 1000 + 5 * 799);
	ck_assert_uint_eq(sizeof(*h) / 1024, 45);
	free(h);
}
END_TEST

/* Rates from totals: none for the first point, across a gap or a counter reset. */
START_TEST(history_rates)
{
	struct history *h = calloc(1, sizeof(*h));
	const struct history_point *p;

	push(h, 100, 10, 0);
	ck_assert(isnan(history_at(h, 0)->rate[HC_DROP]));
	push(h, 105, 10, 10);
	ck_assert(history_at(h, 1)->rate[HC_DROP] == 2);
	push(h, 110, 10, 30);
	ck_assert(history_at(h, 2)->rate[HC_DROP] == 4);
	push(h, 115, 10, 5); /* the counter started again: a gap, no spike */
	ck_assert(isnan(history_at(h, 3)->rate[HC_DROP]));
	push(h, 120, 10, 15); /* and counts on from there */
	ck_assert(history_at(h, 4)->rate[HC_DROP] == 2);
	push(h, 165, 10, 50); /* the exporter was away for 45 s */
	ck_assert(isnan(history_at(h, 5)->rate[HC_DROP]));
	p = history_at(h, 5);
	ck_assert(isnan(p->rate[HC_INSERT_FAILED]));
	ck_assert(p->rate[HC_EARLY_DROP] == 0 || isnan(p->rate[HC_EARLY_DROP]));
	/* Four states by name, the fifth in "other" with what no state accounts for. */
	ck_assert_str_eq(h->state_name[0], "tcp established");
	ck_assert_str_eq(h->state_name[3], "tcp syn_sent");
	ck_assert(p->states[0] == 50 && p->states[3] == 5);
	ck_assert(p->states[HISTORY_STATES] == 0); /* 10 entries, 88 in states: never negative */
	free(h);
}
END_TEST

/* The charts: inline SVG with text alternatives, the gauge at entries / limit, bounded. */
START_TEST(charts)
{
	struct status *st = calloc(1, sizeof(*st));
	char *p;

	for (unsigned i = 0; i < 800; i++)
		scrape(st, 1000 + 5 * i, 2, 200 + i / 4, i, true);
	p = render(st, true);
	has(p, "<svg id=\"gauge\" class=\"chart\" role=\"img\"");
	has(p, "<title id=\"gauge-t\">Table fill against the limit</title>");
	has(p, "<desc id=\"gauge-d\">49.9 % of the limit: 499 of 1000 entries.");
	has(p, "data-value=\"0.499\" data-entries=\"499\" data-limit=\"1000\"");
	has(p, "data-points=\"720\"");
	has(p, "<path id=\"projection\"");
	has(p, "<desc id=\"drops-chart-d\">dropped now: 0.40/s;");
	has(p, ">tcp established</text>");
	/* --netns: fullest first, the name through the HTML formatter */
	has(p, "<tr><td>b\xef\xbf\xbd&quot;&lt;x&gt;</td><td>499</td><td>49.9 %</td>");
	ck_assert_msg(strlen(p) < 256 * 1024, "page of %zu bytes", strlen(p));
	free(p);
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
	tcase_add_test(tc, history_wraps);
	tcase_add_test(tc, history_rates);
	tcase_add_test(tc, charts);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
