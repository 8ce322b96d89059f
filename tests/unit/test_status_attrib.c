// SPDX-License-Identifier: GPL-2.0-or-later
/* The status page's "What fills the table" from the attribution families (issue 13). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metric_names.h"
#include "metric_writer.h"
#include "status.h"
#include "status_util.h"
#include "testlib.h"
#include "text.h"

static void table(struct metric_writer *w, uint64_t entries, uint64_t limit)
{
	mw_family(w, MN_ENTRIES_LIMIT, METRIC_GAUGE, "L.");
	mw_u64(w, MN_ENTRIES_LIMIT, MW_NO_LABELS, limit);
	mw_family(w, MN_ENTRIES, METRIC_GAUGE, "E.");
	mw_u64(w, MN_ENTRIES, MW_NO_LABELS, entries);
}

/* What the events collector writes for a table of 1000 entries, as in the spec. */
static void attribution(struct metric_writer *w, const char *owner)
{
	mw_family(w, MN_TOP_SOURCE_ENTRIES, METRIC_GAUGE, "S.");
	mw_u64(w, MN_TOP_SOURCE_ENTRIES, MW_LABELS({ ML_SOURCE, "10.1.2.3" }), 410);
	mw_u64(w, MN_TOP_SOURCE_ENTRIES,
	       MW_LABELS({ ML_SOURCE, "2001:db8:0:1::/64" }, { ML_OWNER_NETNS, owner }), 200);
	mw_u64(w, MN_TOP_SOURCE_ENTRIES, MW_LABELS({ ML_SOURCE, "other" }), 390);
	mw_family(w, MN_TOP_DESTINATION_ENTRIES, METRIC_GAUGE, "D.");
	mw_u64(w, MN_TOP_DESTINATION_ENTRIES,
	       MW_LABELS({ ML_PROTOCOL, "tcp" }, { ML_DESTINATION, "2001:db8::53" },
			 { ML_PORT, "443" }),
	       300);
	mw_u64(w, MN_TOP_DESTINATION_ENTRIES,
	       MW_LABELS({ ML_PROTOCOL, "icmp" }, { ML_DESTINATION, "192.0.2.1" }, { ML_PORT, "" }),
	       20);
	mw_family(w, MN_TOP_DNAT_TARGET_ENTRIES, METRIC_GAUGE, "T.");
	mw_u64(w, MN_TOP_DNAT_TARGET_ENTRIES,
	       MW_LABELS({ ML_PROTOCOL, "udp" }, { ML_TARGET, "10.244.1.7" }, { ML_PORT, "53" }),
	       5);
	mw_family(w, MN_SNAT_ENTRIES, METRIC_GAUGE, "N.");
	mw_u64(w, MN_SNAT_ENTRIES, MW_LABELS({ ML_ADDRESS, "198.51.100.2" }), 90);
	mw_u64(w, MN_SNAT_ENTRIES, MW_LABELS({ ML_ADDRESS, "203.0.113.7" }), 60);
	mw_family(w, MN_SNAT_BUSIEST_DESTINATION_ENTRIES, METRIC_GAUGE, "B.");
	mw_u64(w, MN_SNAT_BUSIEST_DESTINATION_ENTRIES,
	       MW_LABELS({ ML_ADDRESS, "198.51.100.2" }, { ML_PROTOCOL, "udp" },
			 { ML_DESTINATION, "192.0.2.53" }, { ML_PORT, "53" }),
	       9);
	mw_u64(w, MN_SNAT_BUSIEST_DESTINATION_ENTRIES,
	       MW_LABELS({ ML_ADDRESS, "203.0.113.7" }, { ML_PROTOCOL, "tcp" },
			 { ML_DESTINATION, "198.51.100.10" }, { ML_PORT, "443" }),
	       56);
	mw_family(w, MN_SNAT_PORT_USAGE_RATIO, METRIC_GAUGE, "R.");
	mw_double(w, MN_SNAT_PORT_USAGE_RATIO, MW_LABELS({ ML_ADDRESS, "198.51.100.2" }), 0.09);
	mw_double(w, MN_SNAT_PORT_USAGE_RATIO, MW_LABELS({ ML_ADDRESS, "203.0.113.7" }), 0.875);
	mw_family(w, MN_SNAT_PORT_RANGE_PORTS, METRIC_GAUGE, "P.");
	mw_u64(w, MN_SNAT_PORT_RANGE_PORTS, MW_NO_LABELS, 64);
	mw_family(w, MN_UNREPLIED_ENTRIES, METRIC_GAUGE, "U.");
	mw_u64(w, MN_UNREPLIED_ENTRIES, MW_LABELS({ ML_PROTOCOL, "udp" }, { ML_AGE, "under_10s" }),
	       3);
	mw_u64(w, MN_UNREPLIED_ENTRIES, MW_LABELS({ ML_PROTOCOL, "udp" }, { ML_AGE, "10s_to_1m" }),
	       0);
	mw_u64(w, MN_UNREPLIED_ENTRIES, MW_LABELS({ ML_PROTOCOL, "udp" }, { ML_AGE, "1m_to_10m" }),
	       7);
	mw_u64(w, MN_UNREPLIED_ENTRIES, MW_LABELS({ ML_PROTOCOL, "udp" }, { ML_AGE, "over_10m" }),
	       0);
	mw_family(w, MN_UNREPLIED_ENDED_TOTAL, METRIC_COUNTER, "X.");
	mw_u64(w, MN_UNREPLIED_ENDED_TOTAL,
	       MW_LABELS({ ML_PROTOCOL, "udp" }, { ML_SERVICE, "dns" }), 11);
	mw_u64(w, MN_UNREPLIED_ENDED_TOTAL,
	       MW_LABELS({ ML_PROTOCOL, "udp" }, { ML_SERVICE, "other" }), 2);
	mw_u64(w, MN_UNREPLIED_ENDED_TOTAL,
	       MW_LABELS({ ML_PROTOCOL, "tcp" }, { ML_SERVICE, "other" }), 4);
	mw_family(w, MN_ATTRIBUTION_ERROR_ENTRIES, METRIC_GAUGE, "A.");
	mw_u64(w, MN_ATTRIBUTION_ERROR_ENTRIES, MW_LABELS({ ML_FAMILY, "source" }), 0);
	mw_u64(w, MN_ATTRIBUTION_ERROR_ENTRIES, MW_LABELS({ ML_FAMILY, "destination" }), 12);
}

static void lacks(const char *s, const char *unwanted)
{
	ck_assert_msg(!strstr(s, unwanted), "unexpected %s in:\n%.3000s", unwanted, s);
}

START_TEST(section)
{
	struct status *st = calloc(1, sizeof(*st));
	struct metric_writer w;
	char *p;

	/* Before the first dump: said so, and null in JSON. */
	mw_init(&w, 1 << 20);
	mw_set_tap(&w, tap, st);
	status_begin(st);
	table(&w, 1000, 1000);
	status_end(st, true, 100);
	p = render(st, true);
	has(p, "<div id=\"attrib\">\n<h2>What fills the table</h2>\n<p>Not known (yet)");
	free(p);
	p = render(st, false);
	has(p, "\"attribution\":null,");
	free(p);

	mw_reset(&w);
	status_begin(st);
	table(&w, 1000, 1000);
	attribution(&w, "pod<a>&\"b");
	status_end(st, true, 105);
	p = render(st, true);
	/* shares of the limit, the remainder as "other", an owner column escaped */
	has(p, "<table id=\"sources\">\n<tr><th>source</th><th>owner namespace</th>"
	       "<th>entries (exact)</th><th>of the limit</th><th></th></tr>\n");
	has(p, "<tr><td>10.1.2.3</td><td></td><td>410</td><td>41.0 %</td><td><svg");
	has(p, "<tr><td>2001:db8:0:1::/64</td><td>pod&lt;a&gt;&amp;&quot;b</td><td>200</td>"
	       "<td>20.0 %</td>");
	has(p, "<tr class=\"other\"><td colspan=\"2\">other</td><td>390</td><td>39.0 %</td>");
	lacks(p, "<td>other</td>");
	/* destinations: [v6]:port, no port for icmp, the sketch's error */
	has(p, "<th>entries (&plusmn; 12)</th>");
	has(p, "<tr><td>tcp</td><td>[2001:db8::53]:443</td><td>300</td><td>30.0 %</td></tr>");
	has(p, "<tr><td>icmp</td><td>192.0.2.1</td><td>20</td><td>2.0 %</td></tr>");
	/* no error family for dnat_target: no claim either way */
	has(p, "<h3>DNAT targets (the real backends)</h3>\n<table id=\"dnat_targets\">\n<tr>"
	       "<th>protocol</th><th>target</th><th>entries</th>");
	has(p, "<tr><td>udp</td><td>10.244.1.7:53</td><td>5</td><td>0.5 %</td></tr>");
	/* SNAT: the most saturated first, although it has fewer entries */
	has(p, "<span id=\"snat_ports\">64</span> per address and destination");
	has(p, "<tr><td>203.0.113.7</td><td>60</td><td>tcp 198.51.100.10:443</td><td>56</td>"
	       "<td>87.5 %</td><td><svg");
	ck_assert(strstr(p, "<td>203.0.113.7</td>") < strstr(p, "<td>198.51.100.2</td>"));
	has(p, "<tr><td>udp</td><td>3</td><td>0</td><td>7</td><td>0</td></tr>");
	has(p, "<span id=\"ended_dns\">11</span> DNS, <span id=\"ended_other\">6</span> other");
	/* the script swaps the section in from the page it fetches */
	has(p, "['charts','netns','attrib']");
	free(p);

	p = render(st, false);
	has(p,
	    "\"attribution\":{\"top_sources\":[{\"source\":\"10.1.2.3\",\"owner_netns\":\"\","
	    "\"entries\":410},{\"source\":\"2001:db8:0:1::/64\",\"owner_netns\":\"pod<a>&\\\"b\","
	    "\"entries\":200}],\"top_sources_total\":1000,");
	has(p,
	    "\"snat\":[{\"address\":\"198.51.100.2\",\"entries\":90,\"busiest_destination\":"
	    "{\"protocol\":\"udp\",\"destination\":\"192.0.2.53\",\"port\":\"53\",\"entries\":9},"
	    "\"port_usage_ratio\":0.09}");
	has(p, "\"unreplied\":[{\"protocol\":\"udp\",\"under_10s\":3,\"10s_to_1m\":0,"
	       "\"1m_to_10m\":7,\"over_10m\":0}],\"unreplied_ended\":{\"dns\":11,\"other\":6},"
	       "\"error\":{\"source\":0,\"destination\":12,\"dnat_target\":null,\"snat\":null,"
	       "\"snat_destination\":null}}");
	free(p);
	mw_free(&w);
	free(st);
}
END_TEST

/* A collector that failed after writing its attribution: forgotten, the others' kept. */
START_TEST(failed_collector)
{
	struct status *st = calloc(1, sizeof(*st));
	struct metric_writer w;
	char *p;

	mw_init(&w, 1 << 20);
	mw_set_tap(&w, tap, st);
	status_begin(st);
	status_part_begin(st);
	table(&w, 1000, 1000);
	status_part_end(st, true);
	mw_set_const_label(&w, ML_NETNS, "kept");
	status_part_begin(st);
	mw_family(&w, MN_TOP_SOURCE_ENTRIES, METRIC_GAUGE, "S.");
	mw_u64(&w, MN_TOP_SOURCE_ENTRIES, MW_LABELS({ ML_SOURCE, "192.0.2.1" }), 7);
	status_part_end(st, true);
	mw_set_const_label(&w, ML_NETNS, "failed");
	status_part_begin(st);
	attribution(&w, "");
	status_part_end(st, false);
	mw_set_const_label(&w, NULL, NULL);
	status_end(st, true, 100);
	p = render(st, true);
	has(p, "<tr><td>kept</td><td>192.0.2.1</td><td>7</td><td>0.7 %</td>");
	/* the families written, but empty: said so */
	has(p, "<h3>DNAT targets (the real backends)</h3>\n<p id=\"dnat_targets\">None.</p>\n");
	has(p, "<p id=\"snat\">None.</p>\n");
	has(p, "<p id=\"unreplied\">None.</p>\n");
	lacks(p, "10.1.2.3");
	lacks(p, "203.0.113.7");
	free(p);
	mw_free(&w);
	free(st);
}
END_TEST

/*
 * The bound: 50 namespaces of 100 rows each with the longest, most escaped names; at most
 * STATUS_ATTR_ROWS rows a table, the biggest, and the page under 256 KB, valid UTF-8.
 */
START_TEST(bounded)
{
	struct status *st = calloc(1, sizeof(*st));
	struct metric_writer w;
	char ns[300], owner[300], addr[64], *p;

	memset(ns, '<', sizeof(ns) - 1);
	ns[sizeof(ns) - 1] = 0;
	memset(owner, '"', sizeof(owner) - 1);
	owner[sizeof(owner) - 1] = 0;
	owner[62] = '\xc3'; /* a cut right after the first byte of a character */
	mw_init(&w, 1 << 24);
	mw_set_tap(&w, tap, st);
	status_begin(st);
	table(&w, 1000, 100000);
	for (unsigned n = 0; n < 50; n++) {
		ns[0] = (char)('a' + n % 26);
		ns[1] = (char)('a' + n / 26);
		mw_set_const_label(&w, ML_NETNS, ns);
		mw_family(&w, MN_TOP_SOURCE_ENTRIES, METRIC_GAUGE, "S.");
		for (unsigned i = 0; i < 100; i++) {
			snprintf(addr, sizeof(addr), "2001:db8:%x:%x:ffff:ffff:ffff:ffff", n, i);
			mw_u64(&w, MN_TOP_SOURCE_ENTRIES,
			       MW_LABELS({ ML_SOURCE, addr }, { ML_OWNER_NETNS, owner }),
			       1 + n * 100 + i);
		}
		mw_family(&w, MN_TOP_DESTINATION_ENTRIES, METRIC_GAUGE, "D.");
		for (unsigned i = 0; i < 100; i++) {
			snprintf(addr, sizeof(addr), "2001:db8:%x:%x:ffff:ffff:ffff:ffff", n, i);
			mw_u64(&w, MN_TOP_DESTINATION_ENTRIES,
			       MW_LABELS({ ML_PROTOCOL, "udplite" }, { ML_DESTINATION, addr },
					 { ML_PORT, "65535" }),
			       1 + i);
		}
		mw_family(&w, MN_SNAT_ENTRIES, METRIC_GAUGE, "N.");
		for (unsigned i = 0; i < 100; i++) {
			snprintf(addr, sizeof(addr), "2001:db8:%x:%x:ffff:ffff:ffff:ffff", n, i);
			mw_u64(&w, MN_SNAT_ENTRIES, MW_LABELS({ ML_ADDRESS, addr }), 1 + i);
		}
		mw_family(&w, MN_SNAT_BUSIEST_DESTINATION_ENTRIES, METRIC_GAUGE, "B.");
		for (unsigned i = 0; i < 100; i++) {
			snprintf(addr, sizeof(addr), "2001:db8:%x:%x:ffff:ffff:ffff:ffff", n, i);
			mw_u64(&w, MN_SNAT_BUSIEST_DESTINATION_ENTRIES,
			       MW_LABELS({ ML_ADDRESS, addr }, { ML_PROTOCOL, "tcp" },
					 { ML_DESTINATION, addr }, { ML_PORT, "65535" }),
			       1 + i);
		}
		mw_family(&w, MN_UNREPLIED_ENTRIES, METRIC_GAUGE, "U.");
		for (unsigned i = 0; i < 20; i++) {
			snprintf(addr, sizeof(addr), "%u", 200 + i);
			mw_u64(&w, MN_UNREPLIED_ENTRIES,
			       MW_LABELS({ ML_PROTOCOL, addr }, { ML_AGE, "over_10m" }), 1);
		}
	}
	mw_set_const_label(&w, NULL, NULL);
	status_end(st, true, 100);
	ck_assert_int_eq(mw_error(&w), 0);
	ck_assert_uint_eq(st->attrib.n[SA_SOURCE], STATUS_ATTR_ROWS);
	ck_assert_uint_eq(st->attrib.n_snat, STATUS_ATTR_ROWS);
	ck_assert_uint_eq(st->attrib.n_unreplied, STATUS_ATTR_PROTOS);
	/* the biggest source of all: the last namespace's last */
	ck_assert_double_eq(st->attrib.rows[SA_SOURCE][0].value, 5000);
	ck_assert_str_eq(st->attrib.rows[SA_SOURCE][0].address,
			 "2001:db8:31:63:ffff:ffff:ffff:ffff");
	/* the SNAT rows kept are the ones with most entries, each with its busiest destination */
	for (unsigned i = 0; i < st->attrib.n_snat; i++) {
		ck_assert_double_ge(st->attrib.snat[i].entries, 91);
		ck_assert_str_eq(st->attrib.snat[i].busiest.address, st->attrib.snat[i].address);
	}
	p = render(st, true);
	lacks(p, "<<");
	has(p, "&lt;&lt;");
	ck_assert_msg(strlen(p) < 256 * 1024, "page of %zu bytes", strlen(p));
	free(p);
	p = render(st, false);
	ck_assert_msg(strlen(p) < 256 * 1024, "status.json of %zu bytes", strlen(p));
	free(p);
	mw_free(&w);
	free(st);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("status_attrib");
	TCase *tc = tcase_create("status_attrib");

	tcase_add_test(tc, section);
	tcase_add_test(tc, failed_collector);
	tcase_add_test(tc, bounded);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
