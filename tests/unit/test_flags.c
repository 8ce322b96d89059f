// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <string.h>

#include "collector.h"
#include "flags.h"
#include "testlib.h"

static char err[512];

static int parse(struct flags *f, int argc, char **argv)
{
	err[0] = '\0';
	return flags_parse(argc, argv, f, err, sizeof(err));
}

#define PARSE(f, ...)                                                     \
	parse(f, sizeof((char *[]){ "x", __VA_ARGS__ }) / sizeof(char *), \
	      (char *[]){ "x", __VA_ARGS__ })

static int registry_index(const char *name)
{
	for (size_t i = 0; i < collector_registry_size; i++)
		if (strcmp(collector_registry[i]->name, name) == 0)
			return (int)i;
	ck_abort_msg("no collector %s", name);
	return -1;
}

START_TEST(defaults)
{
	struct flags f;
	char *argv[] = { "x" };

	ck_assert_int_eq(parse(&f, 1, argv), 0);
	ck_assert_str_eq(f.listen_address, ":39901");
	ck_assert_str_eq(f.listen_host, "");
	ck_assert_str_eq(f.listen_port, "39901");
	ck_assert_str_eq(f.telemetry_path, "/metrics");
	ck_assert_str_eq(f.procfs, "/proc");
	ck_assert_int_eq(f.log_level, LOG_LEVEL_INFO);
	for (size_t i = 0; i < collector_registry_size; i++)
		ck_assert_int_eq(f.collector_enabled[i], collector_registry[i]->default_enabled);
}
END_TEST

START_TEST(values_both_spellings)
{
	struct flags f;

	ck_assert_int_eq(PARSE(&f, "--web.listen-address=127.0.0.1:9", "--log.level", "debug",
			       "--path.procfs=/host/proc", "--web.telemetry-path", "/m"),
			 0);
	ck_assert_str_eq(f.listen_host, "127.0.0.1");
	ck_assert_str_eq(f.listen_port, "9");
	ck_assert_int_eq(f.log_level, LOG_LEVEL_DEBUG);
	ck_assert_str_eq(f.procfs, "/host/proc");
	ck_assert_str_eq(f.telemetry_path, "/m");
}
END_TEST

START_TEST(listen_addresses)
{
	static const struct {
		const char *in, *host, *port;
	} ok[] = {
		{ ":39901", "", "39901" },
		{ "[::]:1", "::", "1" },
		{ "[::1]:39901", "::1", "39901" },
		{ "localhost:0", "localhost", "0" },
		{ "10.1.2.3:65535", "10.1.2.3", "65535" },
	};
	static const char *const bad[] = {
		"",	      "39901", ":",	 ":65536",	":-1",	 ":12a",    "::1:39901",
		"[::1]39901", "[]:1",  "[::1:1", "host name:1", "a:1:2", ":999999",
	};
	char host[256], port[8];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ck_assert_msg(
			listen_address_split(ok[i].in, host, sizeof(host), port, sizeof(port)) == 0,
			"%s rejected", ok[i].in);
		ck_assert_str_eq(host, ok[i].host);
		ck_assert_str_eq(port, ok[i].port);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(listen_address_split(bad[i], host, sizeof(host), port, sizeof(port)) <
				      0,
			      "%s accepted", bad[i]);
}
END_TEST

START_TEST(collector_toggles)
{
	struct flags f;
	int table = registry_index("table"), lnstat = registry_index("lnstat");

	ck_assert_int_eq(PARSE(&f, "--no-collector.lnstat"), 0);
	ck_assert(!f.collector_enabled[lnstat]);
	ck_assert(f.collector_enabled[table]);
	ck_assert_int_eq(PARSE(&f, "--collector.disable-defaults", "--collector.table"), 0);
	ck_assert(f.collector_enabled[table]);
	ck_assert(!f.collector_enabled[lnstat]);
	/* Order does not matter: explicit choices beat --collector.disable-defaults. */
	ck_assert_int_eq(PARSE(&f, "--collector.lnstat", "--collector.disable-defaults"), 0);
	ck_assert(f.collector_enabled[lnstat]);
	ck_assert(!f.collector_enabled[table]);
}
END_TEST

START_TEST(errors_name_the_flag)
{
	static const struct {
		const char *arg, *mention;
	} cases[] = {
		{ "--bogus", "--bogus" },
		{ "--log.level=loud", "--log.level" },
		{ "--web.listen-address=nonsense", "--web.listen-address" },
		{ "--web.listen-address=:99999", "--web.listen-address" },
		{ "--web.telemetry-path=metrics", "--web.telemetry-path" },
		{ "--web.telemetry-path=/a b", "--web.telemetry-path" },
		{ "--path.procfs=", "--path.procfs" },
		{ "--collector.table=1", "--collector.table" },
		{ "--collector.nope", "--collector.nope" },
		{ "--no-collector.nope", "--no-collector.nope" },
		{ "--help=yes", "--help" },
		{ "positional", "positional" },
		{ "-x", "-x" },
		{ "--", "--" },
		{ "--web.listen", "--web.listen" }, /* no abbreviations */
		{ "--collector.attribution.top-k=0", "--collector.attribution.top-k" },
		{ "--collector.attribution.top-k=101", "--collector.attribution.top-k" },
		{ "--collector.attribution.top-k=1K", "--collector.attribution.top-k" },
		{ "--collector.attribution.sketch-size=3", "--collector.attribution.sketch-size" },
		{ "--collector.attribution.sketch-size=65537",
		  "--collector.attribution.sketch-size" },
		{ "--collector.attribution.source-prefix=24",
		  "--collector.attribution.source-prefix" },
		{ "--collector.attribution.source-prefix=33,64",
		  "--collector.attribution.source-prefix" },
		{ "--collector.attribution.source-prefix=24,129",
		  "--collector.attribution.source-prefix" },
		{ "--collector.attribution.source-prefix=-1,64",
		  "--collector.attribution.source-prefix" },
		{ "--collector.attribution.source-prefix=24,64x",
		  "--collector.attribution.source-prefix" },
		{ "--collector.attribution.snat-port-range=0-10",
		  "--collector.attribution.snat-port-range" },
		{ "--collector.attribution.snat-port-range=20-10",
		  "--collector.attribution.snat-port-range" },
		{ "--collector.attribution.snat-port-range=1-65536",
		  "--collector.attribution.snat-port-range" },
		{ "--collector.attribution.snat-port-range=1024",
		  "--collector.attribution.snat-port-range" },
		{ "--collector.attribution.refresh-interval=4s",
		  "--collector.attribution.refresh-interval" },
		{ "--collector.attribution.refresh-interval=25h",
		  "--collector.attribution.refresh-interval" },
		{ "--collector.attribution.refresh-interval=1441m",
		  "--collector.attribution.refresh-interval" },
		{ "--no-collector.attribution=1", "--no-collector.attribution" },
		{ "--collector.attribution.source-prefix=24, 64",
		  "--collector.attribution.source-prefix" },
		{ "--collector.attribution.source-prefix=24,+64",
		  "--collector.attribution.source-prefix" },
		{ "--collector.attribution.source-prefix=24,-0",
		  "--collector.attribution.source-prefix" },
		{ "--collector.attribution.snat-port-range=1024- 2000",
		  "--collector.attribution.snat-port-range" },
		{ "--collector.attribution.snat-port-range=1024-+2000",
		  "--collector.attribution.snat-port-range" },
		{ "--collector.attribution.refresh-interval=+5m",
		  "--collector.attribution.refresh-interval" },
		{ "--collector.attribution.refresh-interval=5m5",
		  "--collector.attribution.refresh-interval" },
		{ "--collector.attribution.refresh-interval=5ms",
		  "--collector.attribution.refresh-interval" },
	};
	struct flags f;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[] = { "x", (char *)cases[i].arg };

		ck_assert_int_eq(parse(&f, 2, argv), -EINVAL);
		ck_assert_msg(strstr(err, cases[i].mention), "%s: \"%s\"", cases[i].arg, err);
		ck_assert_msg(!strchr(err, '\n'), "multi-line error for %s", cases[i].arg);
	}
}
END_TEST

START_TEST(attribution)
{
	struct flags f;

	ck_assert_int_eq(PARSE(&f, "--log.level=info"), 0);
	ck_assert(!f.attrib.off);
	ck_assert_uint_eq(f.attrib.top_k, 10);
	ck_assert_uint_eq(f.attrib.sketch_size, 1024);
	ck_assert_uint_eq(f.attrib.prefix4, 32);
	ck_assert_uint_eq(f.attrib.prefix6, 64);
	ck_assert_uint_eq(f.attrib.snat_hi - f.attrib.snat_lo + 1, 64512);
	ck_assert_uint_eq(f.attrib.refresh_s, 300);
	ck_assert_int_eq(PARSE(&f, "--no-collector.attribution",
			       "--collector.attribution.top-k=100",
			       "--collector.attribution.sketch-size=400",
			       "--collector.attribution.source-prefix=24,48",
			       "--collector.attribution.snat-port-range=20000-20099",
			       "--collector.attribution.refresh-interval=30s"),
			 0);
	ck_assert(f.attrib.off);
	ck_assert_uint_eq(f.attrib.top_k, 100);
	ck_assert_uint_eq(f.attrib.sketch_size, 400);
	ck_assert_uint_eq(f.attrib.prefix4, 24);
	ck_assert_uint_eq(f.attrib.prefix6, 48);
	ck_assert_uint_eq(f.attrib.snat_lo, 20000);
	ck_assert_uint_eq(f.attrib.snat_hi, 20099);
	ck_assert_uint_eq(f.attrib.refresh_s, 30);
	ck_assert_int_eq(PARSE(&f, "--no-collector.attribution", "--collector.attribution"), 0);
	ck_assert(!f.attrib.off);
	ck_assert_int_eq(PARSE(&f, "--collector.attribution.refresh-interval=0"), 0);
	ck_assert_uint_eq(f.attrib.refresh_s, 0);
	ck_assert_int_eq(PARSE(&f, "--collector.attribution.refresh-interval=24h"), 0);
	ck_assert_uint_eq(f.attrib.refresh_s, 86400);
	ck_assert_int_eq(PARSE(&f, "--collector.attribution.refresh-interval=90"), 0);
	ck_assert_uint_eq(f.attrib.refresh_s, 90);
	/* The sketch must hold several times what is shown. */
	ck_assert_int_eq(PARSE(&f, "--collector.attribution.top-k=100",
			       "--collector.attribution.sketch-size=399"),
			 -EINVAL);
	ck_assert_msg(strstr(err, "sketch-size"), "%s", err);
}
END_TEST

START_TEST(missing_value)
{
	struct flags f;

	ck_assert_int_eq(PARSE(&f, "--log.level"), -EINVAL);
	ck_assert(strstr(err, "--log.level"));
	ck_assert(strstr(err, "needs a value"));
}
END_TEST

START_TEST(netns)
{
	struct flags f;

	ck_assert_int_eq(PARSE(&f), 0);
	ck_assert(!f.netns_all);
	ck_assert_uint_eq(f.n_netns, 0);
	ck_assert_uint_eq(f.netns_max, DEFAULT_NETNS_MAX);
	ck_assert_int_eq(PARSE(&f, "--netns=all", "--netns.max", "7"), 0);
	ck_assert(f.netns_all);
	ck_assert_uint_eq(f.netns_max, 7);
	ck_assert_int_eq(PARSE(&f, "--netns=cni-1", "--netns", "qrouter-2"), 0);
	ck_assert_uint_eq(f.n_netns, 2);
	ck_assert_str_eq(f.netns[0], "cni-1");
	ck_assert_str_eq(f.netns[1], "qrouter-2");
	/* Names as ip-netns(8) makes them: no path tricks. */
	ck_assert_int_eq(PARSE(&f, "--netns=../../proc/1/ns/net"), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "--netns"));
	ck_assert_int_eq(PARSE(&f, "--netns=.."), -EINVAL);
	ck_assert_int_eq(PARSE(&f, "--netns="), -EINVAL);
	ck_assert_int_eq(PARSE(&f, "--netns=all", "--netns=x"), -EINVAL);
	ck_assert_int_eq(PARSE(&f, "--netns.max=0"), -EINVAL);
	ck_assert_int_eq(PARSE(&f, "--netns.max=16385"), -EINVAL);
	ck_assert_int_eq(PARSE(&f, "--netns.max=1KiB"), -EINVAL);
	ck_assert_int_eq(PARSE(&f, "--netns.max=16384"), 0);
}
END_TEST

START_TEST(help_and_version)
{
	struct flags f;

	ck_assert_int_eq(PARSE(&f, "-h"), 0);
	ck_assert(f.help);
	ck_assert_int_eq(PARSE(&f, "--version"), 0);
	ck_assert(f.version);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("flags");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, defaults);
	tcase_add_test(tc, values_both_spellings);
	tcase_add_test(tc, listen_addresses);
	tcase_add_test(tc, collector_toggles);
	tcase_add_test(tc, errors_name_the_flag);
	tcase_add_test(tc, missing_value);
	tcase_add_test(tc, attribution);
	tcase_add_test(tc, netns);
	tcase_add_test(tc, help_and_version);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
