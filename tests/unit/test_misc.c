// SPDX-License-Identifier: GPL-2.0-or-later
/* Small parsers: /proc/self/stat, /proc/stat btime, sysctl numbers, the log rate limit. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "process_metrics.h"
#include "slabinfo.h"
#include "testlib.h"
#include "util.h"

START_TEST(self_stat)
{
	/* A comm with spaces and parentheses must not shift the fields. */
	static const char line[] =
		"4242 (evil) (name )) S 1 4242 4242 0 -1 4194560 300 0 0 0 "
		"150 25 0 0 20 0 1 0 987654 10485760 1234 18446744073709551615 1 1 0 0 0 0 0 0 0 0 "
		"0 0 17 1 0 0 0 0 0\n";
	struct proc_self_stat st;

	ck_assert_int_eq(proc_self_stat_parse(line, strlen(line), &st), 0);
	ck_assert_uint_eq(st.utime_ticks, 150);
	ck_assert_uint_eq(st.stime_ticks, 25);
	ck_assert_uint_eq(st.starttime_ticks, 987654);
	ck_assert_uint_eq(st.vsize_bytes, 10485760);
	ck_assert_uint_eq(st.rss_pages, 1234);
	ck_assert_int_eq(proc_self_stat_parse(line, 40, &st), -EBADMSG);
	ck_assert_int_eq(proc_self_stat_parse("1 (x S 1 2", 10, &st), -EBADMSG);
	ck_assert_int_eq(proc_self_stat_parse("", 0, &st), -EBADMSG);
}
END_TEST

START_TEST(btime)
{
	static const char stat[] = "cpu  1 2 3\nintr 5\nbtime 1795380000\nprocesses 9\n";
	uint64_t v;

	ck_assert_int_eq(proc_stat_btime_parse(stat, strlen(stat), &v), 0);
	ck_assert_uint_eq(v, 1795380000);
	ck_assert_int_eq(proc_stat_btime_parse("cpu 1\n", 6, &v), -ENOENT);
}
END_TEST

START_TEST(sysctl_numbers)
{
	uint64_t v;

	ck_assert_int_eq(parse_u64("262144\n", 7, &v), 0);
	ck_assert_uint_eq(v, 262144);
	ck_assert_int_eq(parse_u64("  7 ", 4, &v), 0);
	ck_assert_uint_eq(v, 7);
	ck_assert_int_eq(parse_u64("18446744073709551615", 20, &v), 0);
	ck_assert_uint_eq(v, UINT64_MAX);
	ck_assert_int_eq(parse_u64("18446744073709551616", 20, &v), -ERANGE);
	ck_assert_int_eq(parse_u64("-1\n", 3, &v), -EINVAL);
	ck_assert_int_eq(parse_u64("1 2", 3, &v), -EINVAL);
	ck_assert_int_eq(parse_u64("", 0, &v), -EINVAL);
	ck_assert_int_eq(parse_u64("12x", 3, &v), -EINVAL);
	/* The length bounds the parse, not a NUL. */
	ck_assert_int_eq(parse_u64("12345", 2, &v), 0);
	ck_assert_uint_eq(v, 12);
}
END_TEST

START_TEST(ratelimit)
{
	struct log_ratelimit rl = LOG_RATELIMIT_INIT(60, 2);
	uint64_t t = 1000000;

	ck_assert_uint_eq(log_ratelimit_ok(&rl, t), 1);
	ck_assert_uint_eq(log_ratelimit_ok(&rl, t + 1), 1);
	ck_assert_uint_eq(log_ratelimit_ok(&rl, t + 2), 0);
	ck_assert_uint_eq(log_ratelimit_ok(&rl, t + 3), 0);
	/* The first line after the window tells how many were dropped, plus itself. */
	ck_assert_uint_eq(log_ratelimit_ok(&rl, t + 60000000), 3);
	ck_assert_uint_eq(log_ratelimit_ok(&rl, t + 60000001), 1);
}
END_TEST

START_TEST(log_levels)
{
	enum log_level l;

	ck_assert_int_eq(log_level_parse("warn", &l), 0);
	ck_assert_int_eq(l, LOG_LEVEL_WARN);
	ck_assert_int_eq(log_level_parse("WARN", &l), -EINVAL);
	ck_assert_int_eq(log_level_parse("", &l), -EINVAL);
}
END_TEST

struct slab_seen {
	unsigned n;
	struct slab_cache last_ct;
};

static int slab_count(void *userdata, const struct slab_cache *c)
{
	struct slab_seen *s = userdata;

	s->n++;
	if (strcmp(c->name, "nf_conntrack") == 0)
		s->last_ct = *c;
	return 0;
}

START_TEST(slabinfo)
{
	static const char moved[] = "slabinfo - version: 2.1\n"
				    "# name <objsize> <active_objs> <num_objs> : tunables <limit>\n"
				    "nf_conntrack 320 1000 1024 : tunables 0\n";
	static const char *const bad[] = {
		"",
		"slabinfo - version: 1.1\n# name <active_objs> <num_objs> <objsize>\n",
		"slabinfo - version: 2.1\n# name <active_objs> <objsize>\n",
		"slabinfo - version: 2.1\n# name <active_objs> <num_objs> <objsize>\nx 1 2\n",
		"slabinfo - version: 2.1\n# name <active_objs> <num_objs> <objsize>\nx 1 2 z\n",
	};
	struct slab_seen s = { 0 };
	size_t len;
	char *buf = fixture_read("linux-6.18-2cpu/slabinfo", &len);

	ck_assert_int_eq(slabinfo_parse(buf, len, slab_count, &s), 0);
	ck_assert_uint_gt(s.n, 100);
	ck_assert_uint_eq(s.last_ct.active_objs, 96);
	ck_assert_uint_eq(s.last_ct.num_objs, 160);
	ck_assert_uint_eq(s.last_ct.objsize, 256);
	free(buf);
	/* Columns are found by their names, in whatever order. */
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(slabinfo_parse(moved, strlen(moved), slab_count, &s), 0);
	ck_assert_uint_eq(s.last_ct.objsize, 320);
	ck_assert_uint_eq(s.last_ct.active_objs, 1000);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(slabinfo_parse(bad[i], strlen(bad[i]), slab_count, &s) < 0,
			      "accepted: %s", bad[i]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("misc");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, self_stat);
	tcase_add_test(tc, btime);
	tcase_add_test(tc, sysctl_numbers);
	tcase_add_test(tc, ratelimit);
	tcase_add_test(tc, log_levels);
	tcase_add_test(tc, slabinfo);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
