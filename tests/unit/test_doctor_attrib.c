// SPDX-License-Identifier: GPL-2.0-or-later
/* doctor's findings on what fills the table (issue 13): the culprit named, the fix that applies. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "doctor_report.h"
#include "metric_names.h"
#include "metric_writer.h"
#include "testlib.h"

static void tap(void *ctx, const struct mw_sample *s)
{
	attrib_sample(ctx, s);
}

static void writer(struct metric_writer *w, struct attrib_facts *a)
{
	mw_init(w, 1 << 20);
	mw_set_tap(w, tap, a);
	attrib_begin(a);
}

static void source(struct metric_writer *w, const char *s, uint64_t v)
{
	mw_family(w, MN_TOP_SOURCE_ENTRIES, METRIC_GAUGE, "S.");
	mw_u64(w, MN_TOP_SOURCE_ENTRIES, MW_LABELS({ ML_SOURCE, s }), v);
}

static void error(struct metric_writer *w, const char *family, uint64_t v)
{
	mw_family(w, MN_ATTRIBUTION_ERROR_ENTRIES, METRIC_GAUGE, "A.");
	mw_u64(w, MN_ATTRIBUTION_ERROR_ENTRIES, MW_LABELS({ ML_FAMILY, family }), v);
}

static void snat(struct metric_writer *w, const char *address, const char *protocol,
		 const char *dest, const char *port, uint64_t entries, uint64_t busiest,
		 uint64_t ports)
{
	mw_family(w, MN_SNAT_ENTRIES, METRIC_GAUGE, "N.");
	mw_u64(w, MN_SNAT_ENTRIES, MW_LABELS({ ML_ADDRESS, address }), entries);
	mw_family(w, MN_SNAT_BUSIEST_DESTINATION_ENTRIES, METRIC_GAUGE, "B.");
	mw_u64(w, MN_SNAT_BUSIEST_DESTINATION_ENTRIES,
	       MW_LABELS({ ML_ADDRESS, address }, { ML_PROTOCOL, protocol },
			 { ML_DESTINATION, dest }, { ML_PORT, port }),
	       busiest);
	mw_family(w, MN_SNAT_PORT_USAGE_RATIO, METRIC_GAUGE, "R.");
	mw_double(w, MN_SNAT_PORT_USAGE_RATIO, MW_LABELS({ ML_ADDRESS, address }),
		  (double)busiest / (double)ports);
	mw_family(w, MN_SNAT_PORT_RANGE_PORTS, METRIC_GAUGE, "P.");
	mw_u64(w, MN_SNAT_PORT_RANGE_PORTS, MW_NO_LABELS, ports);
}

static void unreplied(struct metric_writer *w, const char *protocol, const uint64_t age[4])
{
	static const char *const bands[] = { "under_10s", "10s_to_1m", "1m_to_10m", "over_10m" };

	mw_family(w, MN_UNREPLIED_ENTRIES, METRIC_GAUGE, "U.");
	for (unsigned i = 0; i < 4; i++)
		mw_u64(w, MN_UNREPLIED_ENTRIES,
		       MW_LABELS({ ML_PROTOCOL, protocol }, { ML_AGE, bands[i] }), age[i]);
}

static void ended_dns(struct metric_writer *w, uint64_t v)
{
	mw_family(w, MN_UNREPLIED_ENDED_TOTAL, METRIC_COUNTER, "X.");
	mw_u64(w, MN_UNREPLIED_ENDED_TOTAL,
	       MW_LABELS({ ML_PROTOCOL, "udp" }, { ML_SERVICE, "dns" }), v);
}

static const struct finding *find(const struct report *r, const char *title)
{
	for (unsigned i = 0; i < r->n; i++)
		if (strcmp(r->f[i].title, title) == 0)
			return &r->f[i];
	return NULL;
}

static const struct finding *must(const struct report *r, const char *title)
{
	const struct finding *f = find(r, title);
	char all[4096] = "";

	for (unsigned i = 0; !f && i < r->n; i++)
		snprintf(all + strlen(all), sizeof(all) - strlen(all), "\n  %s", r->f[i].title);
	ck_assert_msg(f, "no finding \"%s\" among:%s", title, all);
	return f;
}

static void has(const char *s, const char *want)
{
	ck_assert_msg(strstr(s, want), "missing \"%s\" in \"%s\"", want, s);
}

/* Over 25 % of the limit a warning, over 50 % a risk; "other" and the rest are no culprits. */
START_TEST(sources)
{
	struct attrib_facts a;
	struct metric_writer w;
	struct report r = { 0 };
	const struct finding *f;

	writer(&w, &a);
	mw_family(&w, MN_TOP_SOURCE_ENTRIES, METRIC_GAUGE, "S.");
	mw_u64(&w, MN_TOP_SOURCE_ENTRIES, MW_LABELS({ ML_SOURCE, "10.1.2.3" }), 4100);
	mw_u64(&w, MN_TOP_SOURCE_ENTRIES, MW_LABELS({ ML_SOURCE, "10.1.2.4" }), 2400);
	mw_u64(&w, MN_TOP_SOURCE_ENTRIES, MW_LABELS({ ML_SOURCE, "other" }), 3000);
	error(&w, "source", 0);
	ck_assert(a.seen);
	examine_attrib(&a, NULL, 9500, 10000, 3, &r);
	ck_assert_uint_eq(r.n, 1);
	f = must(&r, "10.1.2.3 holds 41 % of the table (4100 of 10000)");
	ck_assert_int_eq(f->sev, SEV_WARN);
	ck_assert_str_eq(
		f->fix,
		"see its entries: conntrack -L -s 10.1.2.3; cap them with a rule in the input "
		"chain (forward, if it is routed through), e.g. nft add rule inet filter input ip "
		"saddr 10.1.2.3 ct state new ct count over 1000 counter reject; or shorten the "
		"timeout of the state they are in (the listing shows it)");
	mw_free(&w);
}
END_TEST

/* A prefix listed with its mask; the sketch's error is shown and decides on the safe side. */
START_TEST(prefixes_and_error)
{
	struct attrib_facts a;
	struct metric_writer w;
	struct report r = { 0 };
	const struct finding *f;

	writer(&w, &a);
	source(&w, "10.9.0.0/16", 5500);
	source(&w, "2001:db8:0:1::/64", 2800);
	source(&w, "192.0.2.1", 2550); /* 25.5 %, but may hold only 24.5 % */
	error(&w, "source", 100);
	examine_attrib(&a, NULL, 10000, 10000, 3, &r);
	ck_assert_uint_eq(r.n, 2);
	f = must(&r, "10.9.0.0/16 holds 55 % of the table (5500 ± 100 of 10000)");
	ck_assert_int_eq(f->sev, SEV_RISK);
	has(f->fix, "conntrack -L -s 10.9.0.0 --mask-src 255.255.0.0;");
	has(f->fix, " ip saddr 10.9.0.0/16 ct state new ct count over 1000 counter reject;");
	f = must(&r, "2001:db8:0:1::/64 holds 28 % of the table (2800 ± 100 of 10000)");
	ck_assert_int_eq(f->sev, SEV_WARN);
	has(f->fix, "conntrack -L -f ipv6 -s 2001:db8:0:1:: --mask-src ffff:ffff:ffff:ffff::;");
	has(f->fix, " ip6 saddr 2001:db8:0:1::/64 ct state new ");
	mw_free(&w);
}
END_TEST

/* Over 80 % of the source ports to one destination; the wider range only where it is wider. */
START_TEST(snat_ports)
{
	struct attrib_facts a;
	struct metric_writer w;
	struct report r = { 0 };
	const struct finding *f;

	writer(&w, &a);
	snat(&w, "203.0.113.7", "tcp", "198.51.100.10", "443", 60000, 56125, 64512);
	snat(&w, "203.0.113.8", "tcp", "198.51.100.11", "443", 40000, 32256, 64512);
	examine_attrib(&a, NULL, 100000, 262144, 3, &r);
	ck_assert_uint_eq(r.n, 1);
	f = must(&r, "SNAT 203.0.113.7 -> 198.51.100.10:443 (tcp) uses 87 % of its 64512 "
		     "source ports");
	ck_assert_int_eq(f->sev, SEV_WARN);
	ck_assert_str_eq(f->fix, "more SNAT addresses (nft: snat ip to 203.0.113.7-LAST_ADDRESS); "
				 "reuse connections (keep-alive, connection pools); a shorter "
				 "time_wait: sysctl -w "
				 "net.netfilter.nf_conntrack_tcp_timeout_time_wait=30");
	has(f->why, "needs a source port of its own");
	mw_free(&w);

	/* A narrower range, IPv6, UDP: the whole range offered, no time_wait; 97 %: a risk. */
	memset(&r, 0, sizeof(r));
	writer(&w, &a);
	snat(&w, "2001:db8::7", "udp", "2001:db8:1::53", "53", 30000, 27386, 28232);
	examine_attrib(&a, NULL, 100000, 262144, 3, &r);
	f = must(&r, "SNAT 2001:db8::7 -> [2001:db8:1::53]:53 (udp) uses 97 % of its 28232 "
		     "source ports");
	ck_assert_int_eq(f->sev, SEV_RISK);
	ck_assert_str_eq(f->fix, "more SNAT addresses (nft: snat ip6 to 2001:db8::7-LAST_ADDRESS); "
				 "the whole port range (snat ip6 to [2001:db8::7]:1024-65535); "
				 "reuse connections (keep-alive, connection pools)");
	mw_free(&w);
}
END_TEST

/* Old unreplied entries above 10 % of the table; DNAT'ed ones point at a vanished backend. */
START_TEST(stale_unreplied)
{
	static const uint64_t udp[4] = { 20, 0, 150, 30 }, tcp[4] = { 5, 0, 0, 0 };
	struct attrib_facts a;
	struct metric_writer w;
	struct report r = { 0 };
	const struct finding *f;

	writer(&w, &a);
	unreplied(&w, "udp", udp);
	unreplied(&w, "tcp", tcp);
	mw_family(&w, MN_TOP_DNAT_TARGET_ENTRIES, METRIC_GAUGE, "T.");
	mw_u64(&w, MN_TOP_DNAT_TARGET_ENTRIES,
	       MW_LABELS({ ML_PROTOCOL, "udp" }, { ML_TARGET, "10.244.1.7" }, { ML_PORT, "53" }),
	       150);
	examine_attrib(&a, NULL, 1000, 10000, 3, &r);
	ck_assert_uint_eq(r.n, 1);
	f = must(&r, "180 entries never saw a reply in over a minute (18 % of the entries), most "
		     "of them udp");
	ck_assert_int_eq(f->sev, SEV_WARN);
	ck_assert_str_eq(f->fix,
			 "DNAT to a backend that is gone: check the Service's endpoints (conntrack "
			 "-L -g | grep UNREPLIED); unanswered DNS: check the resolvers in "
			 "/etc/resolv.conf (conntrack -L -p udp --dport 53 | grep UNREPLIED); else "
			 "see who sends them: conntrack -L | grep UNREPLIED");
	mw_free(&w);
}
END_TEST

/*
 * doctor's own dump makes every age a lower bound of a few seconds: many unreplied entries of
 * any age are a finding too. Fewer than 1 % of the limit are none.
 */
START_TEST(young_unreplied_and_dns)
{
	static const uint64_t tcp[4] = { 400, 0, 0, 0 }, few[4] = { 90, 0, 0, 0 };
	struct attrib_facts a, a0;
	struct metric_writer w;
	struct report r = { 0 };
	const struct finding *f;

	writer(&w, &a0);
	ended_dns(&w, 5);
	mw_free(&w);
	writer(&w, &a);
	unreplied(&w, "tcp", tcp);
	ended_dns(&w, 17);
	examine_attrib(&a, &a0, 1000, 10000, 3, &r);
	ck_assert_uint_eq(r.n, 1);
	f = must(&r, "400 entries never saw a reply (40 % of the entries), most of them tcp");
	has(f->why, "DNS queries are ending unanswered right now.");
	has(f->fix, "; DNAT to a backend that is gone: check its endpoints;");
	mw_free(&w);

	memset(&r, 0, sizeof(r));
	writer(&w, &a);
	unreplied(&w, "udp", few);
	ended_dns(&w, 17);
	examine_attrib(&a, &a0, 200, 10000, 3, &r);
	ck_assert_uint_eq(r.n, 1);
	f = must(&r, "12 DNS queries ended unanswered in the last 3 s");
	ck_assert_int_eq(f->sev, SEV_INFO);
	mw_free(&w);
}
END_TEST

/* Nothing seen, another namespace's samples, no limit: no findings, nothing claimed. */
START_TEST(nothing_to_say)
{
	struct attrib_facts a;
	struct metric_writer w;
	struct report r = { 0 };

	writer(&w, &a);
	mw_family(&w, MN_ENTRIES, METRIC_GAUGE, "E.");
	mw_u64(&w, MN_ENTRIES, MW_NO_LABELS, 10);
	mw_set_const_label(&w, ML_NETNS, "other_ns");
	source(&w, "10.1.2.3", 9000);
	ck_assert(!a.seen);
	examine_attrib(&a, NULL, 10000, 10000, 3, &r);
	ck_assert_uint_eq(r.n, 0);
	mw_set_const_label(&w, NULL, NULL);
	source(&w, "10.1.2.3", 9000);
	examine_attrib(&a, NULL, 10000, 0, 3, &r);
	ck_assert_uint_eq(r.n, 0);
	mw_free(&w);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("doctor_attrib");
	TCase *tc = tcase_create("doctor_attrib");

	tcase_add_test(tc, sources);
	tcase_add_test(tc, prefixes_and_error);
	tcase_add_test(tc, snat_ports);
	tcase_add_test(tc, stale_unreplied);
	tcase_add_test(tc, young_unreplied_and_dns);
	tcase_add_test(tc, nothing_to_say);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
