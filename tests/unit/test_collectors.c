// SPDX-License-Identifier: GPL-2.0-or-later
/* The four collectors on captured and reconstructed /proc trees, netlink off. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector.h"
#include "metric_names.h"
#include "testlib.h"
#include "timeouts.h"

struct run {
	struct config cfg;
	struct collector c;
	struct metric_writer w;
	char *out;
};

static void run_start(struct run *r, const struct collector_ops *ops, const char *fixture)
{
	memset(r, 0, sizeof(*r));
	r->cfg.procfs = fixture;
	r->cfg.procfs_fd = fixture_dir(fixture);
	r->cfg.no_netlink = true;
	r->cfg.scope = SCOPE_HOST | SCOPE_NETNS;
	r->cfg.net_dir = "net";
	r->c.ops = ops;
	r->c.cfg = &r->cfg;
	r->c.priv = calloc(1, ops->priv_size);
	ck_assert_ptr_nonnull(r->c.priv);
	if (ops->init)
		ck_assert_int_eq(ops->init(&r->c, &r->cfg), 0);
	mw_init(&r->w, 1 << 20);
}

/* One scrape; the output as a NUL-terminated string (or NULL) and the collector's result. */
static int run_collect(struct run *r)
{
	int ret;

	mw_reset(&r->w);
	ret = r->c.ops->collect(&r->c, &r->w);
	ck_assert_int_eq(mw_error(&r->w), 0);
	free(r->out);
	r->out = strndup(r->w.buf ? r->w.buf : "", r->w.len);
	return ret;
}

static void run_switch(struct run *r, const char *fixture)
{
	close(r->cfg.procfs_fd);
	r->cfg.procfs_fd = fixture_dir(fixture);
}

static void run_end(struct run *r)
{
	if (r->c.ops->fini)
		r->c.ops->fini(&r->c);
	free(r->c.priv);
	mw_free(&r->w);
	free(r->out);
	close(r->cfg.procfs_fd);
}

static void assert_line(const struct run *r, const char *line)
{
	char want[512];

	snprintf(want, sizeof(want), "\n%s\n", line);
	ck_assert_msg(strstr(r->out, want), "missing line \"%s\" in:\n%s", line, r->out);
}

static void assert_no(const struct run *r, const char *text)
{
	ck_assert_msg(!strstr(r->out, text), "unexpected \"%s\" in:\n%s", text, r->out);
}

START_TEST(table_from_sysctls)
{
	struct run r;

	run_start(&r, &table_collector, "linux-6.18-2cpu");
	ck_assert_int_eq(run_collect(&r), 0);
	assert_line(&r, "nf_conntrack_entries 78");
	assert_line(&r, "nf_conntrack_entries_limit 262144");
	assert_line(&r, "nf_conntrack_buckets 262144");
	assert_line(&r, "nf_conntrack_expect_entries_limit 4096");
	assert_line(&r, "# TYPE nf_conntrack_entries gauge");
	run_end(&r);
}
END_TEST

START_TEST(table_source_absent)
{
	struct run r;

	run_start(&r, &table_collector, "bad");
	ck_assert_int_eq(run_collect(&r), -ENOENT);
	run_end(&r);
}
END_TEST

START_TEST(stat_names_across_kernels)
{
	struct run r;

	/* 6.18 spells icmp_error, clashres, chainlength: exported under netlink's names. */
	run_start(&r, &stat_collector, "future-kernel-2cpu");
	ck_assert_int_eq(run_collect(&r), 0);
	assert_line(&r, "nf_conntrack_stat_drop_total 5");
	assert_line(&r, "nf_conntrack_stat_error_total 9");
	assert_line(&r, "nf_conntrack_stat_clash_resolve_total 3");
	assert_line(&r, "nf_conntrack_stat_chaintoolong_total 1");
	assert_line(&r, "nf_conntrack_stat_insert_failed_total 4");
	assert_line(&r, "nf_conntrack_stat_newstat_total 208596987");
	assert_line(&r, "# TYPE nf_conntrack_stat_newstat_total counter");
	assert_no(&r, "nf_conntrack_stat_entries");
	assert_no(&r, "icmp_error");
	run_end(&r);

	run_start(&r, &stat_collector, "linux-3.10-4cpu");
	ck_assert_int_eq(run_collect(&r), 0);
	assert_line(&r, "nf_conntrack_stat_searched_total 107210425");
	assert_line(&r, "nf_conntrack_stat_found_total 2089579825");
	assert_line(&r, "nf_conntrack_stat_error_total 1020");
	assert_no(&r, "clash_resolve");
	run_end(&r);
}
END_TEST

START_TEST(stat_wraps_stay_monotonic)
{
	struct run r;

	run_start(&r, &stat_collector, "wrap-2cpu-a");
	ck_assert_int_eq(run_collect(&r), 0);
	assert_line(&r, "nf_conntrack_stat_found_total 4294967280");
	run_switch(&r, "wrap-2cpu-b");
	ck_assert_int_eq(run_collect(&r), 0);
	/* Deltas per CPU: found +32 +5, invalid +512 +32, insert_failed +0 +3, ... */
	assert_line(&r, "nf_conntrack_stat_found_total 4294967317");
	assert_line(&r, "nf_conntrack_stat_invalid_total 6442451216");
	assert_line(&r, "nf_conntrack_stat_insert_failed_total 4294967306");
	assert_line(&r, "nf_conntrack_stat_search_restart_total 4294967553");
	assert_line(&r, "nf_conntrack_stat_drop_total 7");
	run_end(&r);
}
END_TEST

START_TEST(stat_bad_file_keeps_state)
{
	struct run r;

	run_start(&r, &stat_collector, "wrap-2cpu-a");
	ck_assert_int_eq(run_collect(&r), 0);
	run_switch(&r, "bad");
	ck_assert_int_lt(run_collect(&r), 0);
	run_switch(&r, "wrap-2cpu-b");
	ck_assert_int_eq(run_collect(&r), 0);
	assert_line(&r, "nf_conntrack_stat_found_total 4294967317");
	run_end(&r);
}
END_TEST

START_TEST(timeouts_from_directory)
{
	struct run r;

	run_start(&r, &timeouts_collector, "future-kernel-2cpu");
	ck_assert_int_eq(run_collect(&r), 0);
	assert_line(&r,
		    "nf_conntrack_timeout_seconds{protocol=\"tcp\",state=\"established\"} 432000");
	assert_line(&r, "nf_conntrack_timeout_seconds{protocol=\"udp\",state=\"stream\"} 120");
	assert_line(&r, "nf_conntrack_timeout_seconds{protocol=\"udp\",state=\"default\"} 30");
	assert_line(&r, "nf_conntrack_timeout_seconds{protocol=\"generic\",state=\"default\"} 600");
	/* A protocol no list of ours knows. */
	ck_assert_msg(strstr(r.out, "{protocol=\"quic\",state=\"handshake\"}"), "%s", r.out);
	assert_no(&r, "state=\"max\""); /* nf_conntrack_max is no timeout */
	assert_no(&r, "acct");
	run_end(&r);

	run_start(&r, &timeouts_collector, "linux-3.10-4cpu");
	ck_assert_int_eq(run_collect(&r), 0);
	ck_assert_msg(strstr(r.out, "{protocol=\"dccp\",state=\"partopen\"}"), "%s", r.out);
	run_end(&r);
}
END_TEST

START_TEST(timeout_names)
{
	static const struct {
		const char *file, *protocol, *state;
	} ok[] = {
		{ "nf_conntrack_tcp_timeout_time_wait", "tcp", "time_wait" },
		{ "nf_conntrack_udp_timeout", "udp", "default" },
		{ "nf_conntrack_generic_timeout", "generic", "default" },
		{ "nf_conntrack_icmpv6_timeout", "icmpv6", "default" },
		{ "nf_conntrack_sctp_timeout_cookie_echoed", "sctp", "cookie_echoed" },
		{ "nf_conntrack_timeout", "generic", "default" },
		{ "nf_conntrack_frag6_timeout", "frag6", "default" },
	};
	static const char *const bad[] = {
		"nf_conntrack_max",	     "nf_conntrack_events_retry_timeouts",
		"nf_conntrack_timeouts",     "nf_flowtable_tcp_timeout",
		"nf_conntrack_tcp_timeoutx", "",
	};
	struct timeout_name n;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ck_assert_int_eq(timeout_sysctl_parse(ok[i].file, &n), 0);
		ck_assert_str_eq(n.protocol, ok[i].protocol);
		ck_assert_str_eq(n.state, ok[i].state);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(timeout_sysctl_parse(bad[i], &n) < 0, "%s accepted", bad[i]);
}
END_TEST

START_TEST(lnstat_tables)
{
	struct run r;

	run_start(&r, &lnstat_collector, "linux-3.10-4cpu");
	ck_assert_int_eq(run_collect(&r), 0);
	assert_line(&r, "lnstat_entries{table=\"nf_conntrack\"} 6699");
	assert_line(&r, "lnstat_entries{table=\"rt_cache\"} 28");
	assert_line(&r, "lnstat_in_slow_tot_total{table=\"rt_cache\"} 492458");
	assert_line(&r, "lnstat_icmp_error_total{table=\"nf_conntrack\"} 1020");
	/* arp_cache and ndisc_cache share their columns: one family, two samples in a row. */
	ck_assert_msg(strstr(r.out, "# TYPE lnstat_allocs_total counter\n"
				    "lnstat_allocs_total{table=\"arp_cache\"} "),
		      "%s", r.out);
	ck_assert_msg(strstr(r.out, "\nlnstat_allocs_total{table=\"ndisc_cache\"} "), "%s", r.out);
	assert_no(&r, "lnstat_entries_total");
	run_end(&r);
}
END_TEST

/*
 * With --netns, one instance writes the host's facts and one per namespace the rest: each
 * series in exactly one of them.
 */
START_TEST(scopes_split_the_series)
{
	struct run r;

	run_start(&r, &table_collector, "linux-6.18-2cpu");
	r.cfg.scope = SCOPE_HOST;
	ck_assert_int_eq(run_collect(&r), 0);
	assert_no(&r, "nf_conntrack_entries ");
	assert_line(&r, "nf_conntrack_entries_limit 262144");
	assert_line(&r, "nf_conntrack_buckets 262144");
	r.cfg.scope = SCOPE_NETNS;
	ck_assert_int_eq(run_collect(&r), 0);
	assert_line(&r, "nf_conntrack_entries 78");
	assert_no(&r, "nf_conntrack_entries_limit");
	assert_no(&r, "nf_conntrack_buckets");
	ck_assert(r.c.has_entries);
	ck_assert_uint_eq(r.c.entries, 78);
	run_end(&r);

	run_start(&r, &lnstat_collector, "linux-6.18-2cpu");
	r.cfg.scope = SCOPE_HOST;
	ck_assert_int_eq(run_collect(&r), 0);
	assert_no(&r, "table=\"nf_conntrack\"");
	assert_no(&r, "table=\"synproxy\"");
	ck_assert_msg(strstr(r.out, "table=\"rt_cache\""), "%s", r.out);
	ck_assert_msg(strstr(r.out, "table=\"arp_cache\""), "%s", r.out);
	r.cfg.scope = SCOPE_NETNS;
	ck_assert_int_eq(run_collect(&r), 0);
	ck_assert_msg(strstr(r.out, "table=\"nf_conntrack\""), "%s", r.out);
	ck_assert_msg(strstr(r.out, "table=\"synproxy\""), "%s", r.out);
	assert_no(&r, "table=\"rt_cache\"");
	assert_no(&r, "table=\"arp_cache\"");
	run_end(&r);
}
END_TEST

/* Every family declared once and its samples contiguous, the way promtool demands. */
START_TEST(lnstat_families_unique)
{
	struct run r;
	char *save = NULL, *line;
	char seen[256][64];
	unsigned n = 0;

	run_start(&r, &lnstat_collector, "linux-6.18-2cpu");
	ck_assert_int_eq(run_collect(&r), 0);
	for (line = strtok_r(r.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[64];

		if (sscanf(line, "# TYPE %63s", name) != 1)
			continue;
		for (unsigned i = 0; i < n; i++)
			ck_assert_msg(strcmp(seen[i], name) != 0, "family %s twice", name);
		ck_assert_uint_lt(n, 256);
		strcpy(seen[n++], name);
	}
	ck_assert_uint_gt(n, 10);
	run_end(&r);
}
END_TEST

/* A table that can't be parsed: the others are exported, and a success series per table says which. */
START_TEST(lnstat_table_success)
{
	struct run r;

	run_start(&r, &lnstat_collector, "lnstat-bad-table");
	ck_assert_int_eq(run_collect(&r), 0);
	assert_line(&r, "# TYPE nf_conntrack_exporter_lnstat_table_success gauge");
	assert_line(&r, "nf_conntrack_exporter_lnstat_table_success{table=\"nf_conntrack\"} 0");
	assert_line(&r, "nf_conntrack_exporter_lnstat_table_success{table=\"rt_cache\"} 1");
	assert_line(&r, "lnstat_entries{table=\"rt_cache\"} 7");
	assert_line(&r, "lnstat_out_slow_tot_total{table=\"rt_cache\"} 6");
	assert_no(&r, "lnstat_entries{table=\"nf_conntrack\"}");
	assert_no(&r, "lnstat_found_total");
	ck_assert_int_eq(r.c.note_error, -EBADMSG);
	/* Again, from the files kept open since the listing: the same, the bad one still 0. */
	ck_assert_int_eq(run_collect(&r), 0);
	assert_line(&r, "nf_conntrack_exporter_lnstat_table_success{table=\"nf_conntrack\"} 0");
	assert_line(&r, "nf_conntrack_exporter_lnstat_table_success{table=\"rt_cache\"} 1");
	assert_line(&r, "lnstat_out_slow_tot_total{table=\"rt_cache\"} 6");
	ck_assert_int_eq(r.c.note_error, -EBADMSG);
	run_end(&r);

	/* An absent table (no synproxy module) is no failure: no series. */
	run_start(&r, &lnstat_collector, "linux-5.10-1cpu");
	r.cfg.scope = SCOPE_NETNS;
	ck_assert_int_eq(run_collect(&r), 0);
	assert_line(&r, "nf_conntrack_exporter_lnstat_table_success{table=\"nf_conntrack\"} 1");
	assert_no(&r, "table=\"synproxy\"");
	ck_assert_ptr_null(r.c.note);
	run_end(&r);
}
END_TEST

START_TEST(lnstat_wrap_and_64bit_columns)
{
	struct run r;

	run_start(&r, &lnstat_collector, "wrap-2cpu-a");
	ck_assert_int_eq(run_collect(&r), 0);
	run_switch(&r, "wrap-2cpu-b");
	ck_assert_int_eq(run_collect(&r), 0);
	assert_line(&r, "lnstat_found_total{table=\"nf_conntrack\"} 4294967317");
	assert_line(&r, "lnstat_in_slow_tot_total{table=\"rt_cache\"} 4294967316");
	/* arp_cache counters are unsigned long: 0xfffffff0 -> 0x100000010 is growth, not a wrap. */
	assert_line(&r, "lnstat_lookups_total{table=\"arp_cache\"} 4294967321");
	run_end(&r);
}
END_TEST

START_TEST(kernel_memory_and_settings)
{
	struct run r;

	run_start(&r, &kernel_collector, "linux-6.18-2cpu");
	r.cfg.sysfs_fd = fixture_dir("linux-6.18-2cpu/sys");
	ck_assert_int_eq(run_collect(&r), 0);
	/* slabinfo: 96 active nf_conntrack objects of 256 bytes; 262144 buckets of a pointer. */
	assert_line(&r, "nf_conntrack_kernel_memory_bytes 2121728");
	assert_line(&r, "nf_conntrack_kernel_memory_limit_bytes 69206016");
	assert_line(&r, "nf_conntrack_settings_info{events=\"2\",acct=\"0\",timestamp=\"0\","
			"tcp_loose=\"1\",tcp_be_liberal=\"0\",checksum=\"1\"} 1");
	/* The module parameter equals the sysctl: not repeated. */
	assert_no(&r, "hashsize_module_param");
	close(r.cfg.sysfs_fd);
	run_end(&r);

	/* No slabinfo (not root): settings only, and still a success. */
	run_start(&r, &kernel_collector, "linux-4.19-8cpu");
	r.cfg.sysfs_fd = -1;
	ck_assert_int_eq(run_collect(&r), 0);
	assert_no(&r, "kernel_memory");
	ck_assert_msg(strstr(r.out, "nf_conntrack_settings_info{"), "%s", r.out);
	run_end(&r);
}
END_TEST

/* Slow sources are served from the last read until it is older than twice the period. */
START_TEST(slow_sources_served_from_cache)
{
	const struct collector_ops *ops[] = { &timeouts_collector, &kernel_collector };

	for (size_t k = 0; k < 2; k++) {
		struct run r;
		char *first;

		run_start(&r, ops[k], "linux-3.10-4cpu");
		ck_assert_int_eq(run_collect(&r), 0);
		ck_assert_uint_gt(r.c.refreshed_us, 0);
		first = strdup(r.out);
		run_switch(&r, "linux-6.18-2cpu");
		ck_assert_int_eq(run_collect(&r), 0);
		ck_assert_str_eq(r.out, first); /* within the period: the last read */
		r.c.refreshed_us -= 2ull * ops[k]->refresh_s * 1000000 + 1;
		ck_assert_int_eq(run_collect(&r), 0);
		ck_assert_str_ne(r.out, first); /* past twice the period: read again */
		/* A source gone: the read fails, and the next scrape tries again. */
		run_switch(&r, "bad");
		r.c.refreshed_us = 0;
		ck_assert_int_lt(run_collect(&r), 0);
		ck_assert_uint_eq(r.c.refreshed_us, 0);
		free(first);
		run_end(&r);
	}
}
END_TEST

/* Every name the status page and doctor read is one some collector writes. */
START_TEST(names_others_read_are_written)
{
	static const struct {
		const struct collector_ops *ops;
		const char *name;
	} want[] = {
		{ &table_collector, "\n" MN_ENTRIES " " },
		{ &table_collector, "\n" MN_ENTRIES_LIMIT " " },
		{ &table_collector, "\n" MN_BUCKETS " " },
		{ &stat_collector, "\n" MN_STAT_DROP " " },
		{ &stat_collector, "\n" MN_STAT_EARLY_DROP " " },
		{ &stat_collector, "\n" MN_STAT_INSERT_FAILED " " },
		{ &stat_collector, "\n" MN_STAT_CHAINTOOLONG " " },
		{ &timeouts_collector,
		  "\n" MN_TIMEOUT_SECONDS "{" ML_PROTOCOL "=\"tcp\"," ML_STATE },
		{ &kernel_collector, "\n" MN_KERNEL_MEMORY_BYTES " " },
		{ &kernel_collector, "\n" MN_KERNEL_MEMORY_LIMIT_BYTES " " },
		{ &lnstat_collector, "\n" MN_LNSTAT_TABLE_FULLS "{" ML_TABLE "=\"arp_cache\"}" },
		{ &lnstat_collector,
		  "\n" MN_LNSTAT_FORCED_GC_RUNS "{" ML_TABLE "=\"ndisc_cache\"}" },
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct run r;

		run_start(&r, want[i].ops, "linux-6.18-2cpu");
		ck_assert_int_eq(run_collect(&r), 0);
		ck_assert_msg(strstr(r.out, want[i].name), "%s writes no %s", want[i].ops->name,
			      want[i].name + 1);
		run_end(&r);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("collectors");
	TCase *tc = tcase_create("fixtures");

	tcase_add_test(tc, table_from_sysctls);
	tcase_add_test(tc, table_source_absent);
	tcase_add_test(tc, stat_names_across_kernels);
	tcase_add_test(tc, stat_wraps_stay_monotonic);
	tcase_add_test(tc, stat_bad_file_keeps_state);
	tcase_add_test(tc, timeouts_from_directory);
	tcase_add_test(tc, timeout_names);
	tcase_add_test(tc, lnstat_tables);
	tcase_add_test(tc, lnstat_families_unique);
	tcase_add_test(tc, scopes_split_the_series);
	tcase_add_test(tc, lnstat_table_success);
	tcase_add_test(tc, lnstat_wrap_and_64bit_columns);
	tcase_add_test(tc, kernel_memory_and_settings);
	tcase_add_test(tc, names_others_read_are_written);
	tcase_add_test(tc, slow_sources_served_from_cache);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
