// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "percpu.h"
#include "testlib.h"

struct sums {
	unsigned rows;
	uint64_t sum[STAT_MAX_FIELDS];
	uint64_t first[STAT_MAX_FIELDS];
};

static int sum_row(void *userdata, unsigned row, const uint64_t *values, unsigned n)
{
	struct sums *s = userdata;

	ck_assert_uint_eq(row, s->rows);
	for (unsigned i = 0; i < n; i++) {
		s->sum[i] += values[i];
		if (row == 0)
			s->first[i] = values[i];
	}
	s->rows++;
	return 0;
}

static int col(const struct lnstat_header *h, const char *name)
{
	for (unsigned i = 0; i < h->n; i++)
		if (h->col[i].len == strlen(name) &&
		    memcmp(h->col[i].name, name, h->col[i].len) == 0)
			return (int)i;
	return -1;
}

/* The header points into the buffer: keep the last one alive until the next call. */
static char *last_buf;

static int parse_fixture(const char *rel, struct lnstat_header *h, struct sums *s)
{
	size_t len;

	free(last_buf);
	last_buf = fixture_read(rel, &len);
	memset(s, 0, sizeof(*s));
	return lnstat_parse(last_buf, len, h, sum_row, s);
}

/* Headers of four kernel generations, and values summed over their CPUs. */
START_TEST(kernel_generations)
{
	static const struct {
		const char *file;
		unsigned cpus;
		const char *present, *absent;
		uint64_t entries, found, invalid, icmp_error;
	} cases[] = {
		{ "linux-3.10-4cpu/net/stat/nf_conntrack", 4, "searched", "clashres", 6699,
		  2089579825u, 29645, 1020 },
		{ "linux-4.19-8cpu/net/stat/nf_conntrack", 8, "delete_list", "chainlength", 16161,
		  106, 66419, 1032 },
		{ "linux-5.10-1cpu/net/stat/nf_conntrack", 1, "clashres", "searched", 92, 0, 29,
		  2 },
		{ "linux-6.18-2cpu/net/stat/nf_conntrack", 2, "chainlength", "delete_list", 78, 0,
		  66, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lnstat_header h;
		struct sums s;

		ck_assert_int_eq(parse_fixture(cases[i].file, &h, &s), (int)cases[i].cpus);
		ck_assert_msg(col(&h, cases[i].present) >= 0, "%s: no %s", cases[i].file,
			      cases[i].present);
		ck_assert_msg(col(&h, cases[i].absent) < 0, "%s: %s", cases[i].file,
			      cases[i].absent);
		ck_assert_int_eq(h.entries_col, col(&h, "entries"));
		ck_assert_uint_eq(s.first[h.entries_col], cases[i].entries);
		ck_assert_uint_eq(s.sum[col(&h, "found")], cases[i].found);
		ck_assert_uint_eq(s.sum[col(&h, "invalid")], cases[i].invalid);
		ck_assert_uint_eq(s.sum[col(&h, "icmp_error")], cases[i].icmp_error);
	}
}
END_TEST

START_TEST(other_tables)
{
	struct lnstat_header h;
	struct sums s;

	ck_assert_int_eq(parse_fixture("linux-3.10-4cpu/net/stat/rt_cache", &h, &s), 4);
	ck_assert_uint_eq(s.sum[col(&h, "in_slow_tot")], 492458);
	ck_assert_uint_eq(s.first[h.entries_col], 28);
	ck_assert_int_eq(parse_fixture("linux-6.18-2cpu/net/stat/synproxy", &h, &s), 2);
	ck_assert_int_ge(col(&h, "cookie_valid"), 0);
	ck_assert_int_eq(parse_fixture("linux-3.10-4cpu/net/stat/arp_cache", &h, &s), 4);
	ck_assert_int_ge(col(&h, "forced_gc_runs"), 0);
	ck_assert_int_lt(col(&h, "table_fulls"), 0); /* added in 4.x */
	ck_assert_int_eq(parse_fixture("linux-4.19-8cpu/net/stat/arp_cache", &h, &s), 8);
	ck_assert_int_ge(col(&h, "table_fulls"), 0);
}
END_TEST

START_TEST(unknown_column_in_the_middle)
{
	struct lnstat_header h;
	struct sums s;

	ck_assert_int_eq(parse_fixture("future-kernel-2cpu/net/stat/nf_conntrack", &h, &s), 2);
	ck_assert_int_ge(col(&h, "newstat"), 0);
	ck_assert_uint_eq(s.sum[col(&h, "drop")], 5);
	ck_assert_uint_eq(s.sum[col(&h, "search_restart")], 5);
	ck_assert_uint_eq(s.sum[col(&h, "newstat")], 208596987);
}
END_TEST

static int must_not_be_called(void *userdata, unsigned row, const uint64_t *values, unsigned n)
{
	(void)userdata;
	(void)row;
	(void)values;
	(void)n;
	ck_abort_msg("a malformed table reached the row callback");
	return 0;
}

START_TEST(malformed_tables)
{
	static const struct {
		const char *file;
		int err;
	} cases[] = {
		{ "bad/nf_conntrack-empty-file", -ENODATA },
		{ "bad/nf_conntrack-header-only", -ENODATA },
		{ "bad/nf_conntrack-header-only-no-trailing-newline", -ENODATA },
		{ "bad/nf_conntrack-row-fewer-columns-than-header", -EBADMSG },
		{ "bad/nf_conntrack-row-more-columns-than-header", -EBADMSG },
		{ "bad/nf_conntrack-non-hex-garbage", -EBADMSG },
		{ "bad/nf_conntrack-nul-bytes-in-middle", -EBADMSG },
		{ "bad/nf_conntrack-duplicate-column-names", -EBADMSG },
		{ "bad/nf_conntrack-header-300-columns", -E2BIG },
		{ "bad/nf_conntrack-10k-single-line-no-newline", -E2BIG },
		{ "bad/nf_conntrack-rows-without-header", -EBADMSG },
		{ "bad/nf_conntrack-value-wider-than-u32", -EBADMSG },
		{ "bad/nf_conntrack-value-past-u32-on-every-cpu", -EBADMSG },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lnstat_header h;
		size_t len;
		char *buf = fixture_read(cases[i].file, &len);
		int r = lnstat_parse(buf, len, &h, cases[i].err < 0 ? must_not_be_called : NULL,
				     NULL);

		ck_assert_msg(r == cases[i].err, "%s: got %d, want %d", cases[i].file, r,
			      cases[i].err);
		free(buf);
	}
}
END_TEST

START_TEST(tolerated_variations)
{
	struct lnstat_header h;
	struct sums s;

	/* Blank lines and CR are whitespace to us; the kernel prints neither. */
	ck_assert_int_gt(parse_fixture("bad/nf_conntrack-crlf-line-endings", &h, &s), 0);
	ck_assert_int_gt(parse_fixture("bad/nf_conntrack-blank-line-between-rows", &h, &s), 0);
}
END_TEST

START_TEST(inline_edge_cases)
{
	static const char tab_separated[] = "entries\t\tfoo\tbar\n00000001\t00000002\t0000000a\n";
	static const char no_entries[] = "a b\n1 2\n3 4";
	struct lnstat_header h;
	struct sums s = { 0 };

	ck_assert_int_eq(lnstat_parse(tab_separated, strlen(tab_separated), &h, sum_row, &s), 1);
	ck_assert_uint_eq(h.n, 3);
	ck_assert_uint_eq(s.sum[2], 10);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(lnstat_parse(no_entries, strlen(no_entries), &h, sum_row, &s), 2);
	ck_assert_int_eq(h.entries_col, -1);
	ck_assert_uint_eq(s.sum[1], 6);
	/* The length is the bound, not a NUL: a header cut in the middle is a shorter header. */
	ck_assert_int_eq(lnstat_parse(no_entries, 3, &h, NULL, NULL), -ENODATA);
	ck_assert_int_eq(lnstat_parse(NULL, 0, &h, NULL, NULL), -ENODATA);
	ck_assert_int_eq(lnstat_parse("a-b\n1\n", 6, &h, NULL, NULL), -EBADMSG);
}
END_TEST

/*
 * Each column's values as wide as the kernel's type and no wider: u32, except the neighbour
 * tables' unsigned long counters. A wider u32 value, summed over CPUs, could wrap the total.
 */
START_TEST(values_fit_the_kernel_type)
{
	static const char *const bad[] = {
		"entries found\n00000001 100000000\n",
		"entries found\n00000001 ffffffffffffffff\n",
		/* "entries" is an int in the neighbour tables too */
		"entries allocs\n100000000 00000001\n",
		"cookie_valid\n1ffffffff\n",
	};
	static const char arp[] = "entries lookups table_fulls\n00000003 fffffffffffffff0 0\n"
				  "00000003 0000000000000020 100000000\n";
	static const char padded[] = "entries found\n0000000000000001 00000000ffffffff\n";
	struct lnstat_header h;
	struct sums s = { 0 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(lnstat_parse(bad[i], strlen(bad[i]), &h, must_not_be_called, NULL) ==
				      -EBADMSG,
			      "accepted: %s", bad[i]);
	ck_assert_int_eq(lnstat_parse(arp, strlen(arp), &h, sum_row, &s), 2);
	ck_assert(h.col[1].wide && h.col[2].wide && !h.col[0].wide);
	ck_assert_uint_eq(s.sum[2], 0x100000000ull);
	/* Leading zeros don't make a value wide. */
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(lnstat_parse(padded, strlen(padded), &h, sum_row, &s), 1);
	ck_assert_uint_eq(s.sum[1], 0xffffffffu);
}
END_TEST

START_TEST(wrap_counter_32bit)
{
	struct wrap_counter c = { 0 };

	wrap_counter_update(&c, 0xfffffff0u);
	ck_assert_uint_eq(c.total, 0xfffffff0u);
	wrap_counter_update(&c, 0x10);
	ck_assert_uint_eq(c.total, 0x100000010ull);
	wrap_counter_update(&c, 0x10);
	ck_assert_uint_eq(c.total, 0x100000010ull);
	/* Two more wraps take it past 2^33, which no u32 can hold. */
	wrap_counter_update(&c, 0xffffffffu);
	wrap_counter_update(&c, 0);
	wrap_counter_update(&c, 0xffffffffu);
	wrap_counter_update(&c, 5);
	ck_assert_uint_eq(c.total, 0x300000005ull);
}
END_TEST

START_TEST(wrap_counter_64bit_values)
{
	struct wrap_counter c = { 0 };

	wrap_counter_update(&c, 0x100000000ull);
	wrap_counter_update(&c, 0x100000005ull);
	ck_assert_uint_eq(c.total, 0x100000005ull);
	/* A 64-bit counter going down restarted: count from zero again, never backwards. */
	wrap_counter_update(&c, 3);
	ck_assert_uint_eq(c.total, 0x100000008ull);
}
END_TEST

START_TEST(percpu_slots_and_sums)
{
	struct percpu_stats st = { 0 };
	int a, b;

	a = percpu_slot(&st, "drop", 4);
	b = percpu_slot(&st, "found", 5);
	ck_assert_int_eq(a, 0);
	ck_assert_int_eq(b, 1);
	ck_assert_int_eq(percpu_slot(&st, "drop", 4), a);
	ck_assert_int_eq(percpu_find(&st, "found"), b);
	ck_assert_int_eq(percpu_find(&st, "nope"), -ENOENT);
	percpu_begin(&st);
	ck_assert_int_eq(percpu_update(&st, 0, (unsigned)a, 0xfffffffe), 0);
	ck_assert_int_eq(percpu_update(&st, 7, (unsigned)a, 1), 0);
	ck_assert(st.present[a]);
	ck_assert(!st.present[b]);
	ck_assert_uint_eq(percpu_sum(&st, (unsigned)a), 0xffffffffull);
	percpu_begin(&st);
	ck_assert_int_eq(percpu_update(&st, 0, (unsigned)a, 2), 0);
	ck_assert_uint_eq(percpu_sum(&st, (unsigned)a), 0xffffffffull + 4);
	ck_assert_int_eq(percpu_update(&st, STAT_MAX_CPUS, (unsigned)a, 1), -E2BIG);
	ck_assert_int_eq(percpu_slot(&st, "", 0), -EINVAL);
	for (int i = 0; i < STAT_MAX_FIELDS; i++) {
		char name[16];
		int n = snprintf(name, sizeof(name), "f%d", i);

		percpu_slot(&st, name, (size_t)n);
	}
	ck_assert_int_eq(percpu_slot(&st, "one_too_many", 12), -E2BIG);
	percpu_free(&st);
}
END_TEST

/* 64-bit per-CPU values (neighbour tables) near 2^64 on two CPUs: the sum stays at the top. */
START_TEST(percpu_sum_does_not_wrap)
{
	struct percpu_stats st = { 0 };
	int a = percpu_slot(&st, "lookups", 7);

	ck_assert_int_eq(percpu_update(&st, 0, (unsigned)a, UINT64_MAX - 5), 0);
	ck_assert_int_eq(percpu_update(&st, 1, (unsigned)a, 10), 0);
	ck_assert_uint_eq(percpu_sum(&st, (unsigned)a), UINT64_MAX);
	percpu_free(&st);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("lnstat");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, kernel_generations);
	tcase_add_test(tc, other_tables);
	tcase_add_test(tc, unknown_column_in_the_middle);
	tcase_add_test(tc, malformed_tables);
	tcase_add_test(tc, tolerated_variations);
	tcase_add_test(tc, inline_edge_cases);
	tcase_add_test(tc, values_fit_the_kernel_type);
	tcase_add_test(tc, wrap_counter_32bit);
	tcase_add_test(tc, wrap_counter_64bit_values);
	tcase_add_test(tc, percpu_slots_and_sums);
	tcase_add_test(tc, percpu_sum_does_not_wrap);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
