// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"
#include "util.h"
#include "webconfig.h"

/* htpasswd -nbBC 4 alice secret; cost 4 keeps the tests fast. */
#define HASH_ALICE "$2y$04$fPzMqBw3lHSR8eCgUUCwJOOdVLP0CjbZ4RPO/ekq8gJGZ6hk/Psgy"
#define HASH_BOB "$2b$05$dybHAeBcs5KtSK9oQruQ4ehCccIEFMWGxPCpb1u5Pwh4zm5hBqba2"

static int parse(const char *yaml, const char *base, struct webconfig *wc, char *err)
{
	return webconfig_parse(yaml, strlen(yaml), base, wc, err, 256);
}

START_TEST(full_config)
{
	const char *y = "tls_server_config:\n"
			"  cert_file: server.crt\n"
			"  key_file: /abs/server.key\n"
			"  client_auth_type: RequireAndVerifyClientCert\n"
			"  client_ca_file: sub/ca.crt\n"
			"  min_version: TLS13\n"
			"basic_auth_users:\n"
			"  alice: " HASH_ALICE "\n"
			"  'bob': \"" HASH_BOB "\"\n";
	struct webconfig wc;
	char err[256] = "";

	ck_assert_int_eq(parse(y, "/etc/nfce", &wc, err), 0);
	ck_assert(wc.tls);
	ck_assert_str_eq(wc.cert_file, "/etc/nfce/server.crt");
	ck_assert_str_eq(wc.key_file, "/abs/server.key");
	ck_assert_str_eq(wc.client_ca_file, "/etc/nfce/sub/ca.crt");
	ck_assert_int_eq(wc.client_auth, WEBCONFIG_REQUIRE_AND_VERIFY_CLIENT_CERT);
	ck_assert_int_eq(wc.min_version, WEBCONFIG_TLS13);
	ck_assert_uint_eq(wc.n_users, 2);
	ck_assert_str_eq(wc.users[1].name, "bob");
	ck_assert_str_eq(wc.users[1].hash, HASH_BOB);
	/* the dummy costs what the dearest user does */
	ck_assert_str_eq(wc.dummy_setting, "$2y$05$QOauhQNbBCuQDKes6eFzPe");
	webconfig_free(&wc);
	webconfig_free(&wc); /* zeroed: a second free is harmless */
	webconfig_free(NULL);
}
END_TEST

START_TEST(empty_and_null)
{
	static const char *const ok[] = {
		"",
		"# nothing\n",
		"tls_server_config:\nbasic_auth_users:\n",
		"tls_server_config: {}\nbasic_auth_users: ~\n",
		"tls_server_config:\n  cert_file:\n  key_file: null\n",
		"tls_server_config:\n  min_version: TLS13\n",
		"---\n{}\n",
	};
	struct webconfig wc;
	char err[256];

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		ck_assert_msg(parse(ok[i], "/x", &wc, err) == 0, "%s: %s", ok[i], err);
		ck_assert(!wc.tls);
		ck_assert_uint_eq(wc.n_users, 0);
		webconfig_free(&wc);
	}
}
END_TEST

START_TEST(relative_paths)
{
	const char *y = "tls_server_config:\n  cert_file: a.crt\n  key_file: ../k/a.key\n";
	struct webconfig wc;
	char err[256];

	ck_assert_int_eq(parse(y, "/etc/nfce", &wc, err), 0);
	ck_assert_str_eq(wc.cert_file, "/etc/nfce/a.crt");
	ck_assert_str_eq(wc.key_file, "/etc/nfce/../k/a.key");
	webconfig_free(&wc);
	/* a file named without a directory: relative to the working directory */
	ck_assert_int_eq(parse(y, "", &wc, err), 0);
	ck_assert_str_eq(wc.cert_file, "a.crt");
	webconfig_free(&wc);
	ck_assert_int_eq(parse(y, NULL, &wc, err), 0);
	ck_assert_str_eq(wc.key_file, "../k/a.key");
	webconfig_free(&wc);
}
END_TEST

START_TEST(errors_name_the_key)
{
	static const struct {
		const char *yaml;
		const char *want;
	} cases[] = {
		{ "foo: 1\n", "line 1: foo: unknown key" },
		{ "tls_server_config:\n  cert_fil: x\n",
		  "line 2: tls_server_config.cert_fil: unknown key" },
		{ "tls_server_config:\n  cipher_suites: [x]\n",
		  "tls_server_config.cipher_suites: not supported" },
		{ "http_server_config: {}\n", "http_server_config: not supported" },
		{ "tls_server_config:\n  cert_file: a\n", "tls_server_config: missing key_file" },
		{ "tls_server_config:\n  key_file: a\n", "tls_server_config: missing cert_file" },
		{ "tls_server_config:\n  client_auth_type: NoClientCert\n", "missing cert_file" },
		{ "tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS14\n",
		  "line 4: tls_server_config.min_version: unknown TLS version \"TLS14\"" },
		{ "tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS13\n"
		  "  max_version: TLS12\n",
		  "max_version is below min_version" },
		{ "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Maybe\n",
		  "tls_server_config.client_auth_type: unknown value \"Maybe\"" },
		{ "tls_server_config:\n  cert_file: a\n  key_file: b\n"
		  "  client_auth_type: RequireAndVerifyClientCert\n",
		  "RequireAndVerifyClientCert needs client_ca_file" },
		{ "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: c\n",
		  "client_ca_file is set but client_auth_type is NoClientCert" },
		{ "tls_server_config:\n  cert_file: [a]\n  key_file: b\n",
		  "tls_server_config.cert_file: expected a string" },
		{ "tls_server_config: yes\n", "tls_server_config: expected a mapping" },
		{ "basic_auth_users:\n  alice: secret\n",
		  "line 2: basic_auth_users.alice: not a bcrypt hash" },
		{ "basic_auth_users:\n  alice: $2y$03$fPzMqBw3lHSR8eCgUUCwJOOdVLP0CjbZ4RPO/ekq8gJGZ6hk/Psgy\n",
		  "basic_auth_users.alice: not a bcrypt hash" },
		{ "basic_auth_users:\n  alice:\n",
		  "basic_auth_users.alice: missing password hash" },
		{ "basic_auth_users:\n  alice: " HASH_ALICE "\n  alice: " HASH_ALICE "\n",
		  "line 3: basic_auth_users: duplicate key \"alice\"" },
		{ "basic_auth_users:\n  \"a:b\": " HASH_ALICE "\n", "without ':'" },
		{ "basic_auth_users:\n  [a]: " HASH_ALICE "\n", "keys must be plain strings" },
		{ "- a\n- b\n", "expected a mapping" },
		{ "tls_server_config: [\n", "YAML:" },
		{ "a: b\n\tc: d\n", "YAML:" },
	};
	struct webconfig wc = { .n_users = 42 };

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char err[256] = "";

		ck_assert_int_eq(parse(cases[i].yaml, "/d", &wc, err), -EINVAL);
		ck_assert_msg(strstr(err, cases[i].want), "%s: got \"%s\", want \"%s\"",
			      cases[i].yaml, err, cases[i].want);
		ck_assert_msg(!strchr(err, '\n'), "one line: %s", err);
		ck_assert_uint_eq(wc.n_users, 42); /* untouched on failure */
	}
}
END_TEST

START_TEST(tls_priorities)
{
	struct webconfig wc = { .min_version = WEBCONFIG_TLS12 };
	char buf[128];

	webconfig_tls_priorities(&wc, buf, sizeof(buf));
	ck_assert_str_eq(buf, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2");
	wc.min_version = WEBCONFIG_TLS10;
	wc.max_version = WEBCONFIG_TLS11;
	webconfig_tls_priorities(&wc, buf, sizeof(buf));
	ck_assert_str_eq(buf, "NORMAL:-VERS-ALL:+VERS-TLS1.1:+VERS-TLS1.0");
}
END_TEST

START_TEST(passwords)
{
	const char *y = "basic_auth_users:\n  alice: " HASH_ALICE "\n  bob: " HASH_BOB "\n";
	struct webconfig wc;
	char err[256];

	ck_assert_int_eq(parse(y, NULL, &wc, err), 0);
	ck_assert(webconfig_check_password(&wc, "alice", 5, "secret", 6));
	ck_assert(!webconfig_check_password(&wc, "alice", 5, "secreT", 6));
	ck_assert(!webconfig_check_password(&wc, "alice", 5, "secret", 5));
	ck_assert(!webconfig_check_password(&wc, "alic", 4, "secret", 6));
	ck_assert(!webconfig_check_password(&wc, "carol", 5, "secret", 6));
	ck_assert(!webconfig_check_password(&wc, "bob", 3, "", 0));
	ck_assert(webconfig_check_password(&wc, "bob", 3, "hunter2", 7));
	ck_assert(!webconfig_check_password(&wc, "alice", 5, "secret\0x", 8));
	webconfig_free(&wc);
}
END_TEST

/* An error quotes the file's bytes as they are; the logger's text_escape() makes it one line. */
START_TEST(errors_are_raw)
{
	const char *y = "basic_auth_users:\n  \"a\\nb\\x01\": nothash\n";
	struct webconfig wc;
	char err[256] = "";

	ck_assert_int_eq(parse(y, NULL, &wc, err), -EINVAL);
	ck_assert_msg(strstr(err, "basic_auth_users.a\nb\x01: not a bcrypt hash"), "%s", err);
}
END_TEST

/* The file is read by read_file_at(): a directory is refused, a file over 1 MiB named as such. */
START_TEST(load_refuses)
{
	char dir[] = "/tmp/nfce-webconfig-XXXXXX", path[128], err[512];
	struct webconfig wc;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(webconfig_load(dir, &wc, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, dir), "%s", err);
	snprintf(path, sizeof(path), "%s/big.yml", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	for (unsigned i = 0; i <= WEBCONFIG_MAX_FILE / 16; i++)
		fputs("# 16 bytes ....\n", f);
	fclose(f);
	ck_assert_int_eq(webconfig_load(path, &wc, err, sizeof(err)), -EFBIG);
	ck_assert_msg(strstr(err, "big.yml: larger than 1 MiB"), "%s", err);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* webconfig_load: the file's directory is the base, and missing files are named. */
START_TEST(load_names_the_file)
{
	char dir[] = "/tmp/nfce-webconfig-XXXXXX", path[128], err[512];
	struct webconfig wc;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/web.yml", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n", f);
	fclose(f);
	ck_assert_int_eq(webconfig_load(path, &wc, err, sizeof(err)), -ENOENT);
	ck_assert_msg(strstr(err, "tls_server_config.cert_file: ") && strstr(err, dir) &&
			      strstr(err, "/nope.crt: No such file or directory"),
		      "%s", err);
	f = fopen(path, "w");
	fputs("basic_auth_users:\n  alice: " HASH_ALICE "\n", f);
	fclose(f);
	ck_assert_int_eq(webconfig_load(path, &wc, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(wc.cache);
	ck_assert(!webconfig_check_cached(&wc, "alice", 5, "secret", 6)); /* never passed yet */
	ck_assert(webconfig_check_password(&wc, "alice", 5, "secret", 6));
	ck_assert(webconfig_check_password(&wc, "alice", 5, "secret", 6)); /* from the cache */
	ck_assert(webconfig_check_cached(&wc, "alice", 5, "secret", 6));
	ck_assert(!webconfig_check_password(&wc, "alice", 5, "secret2", 7));
	ck_assert(!webconfig_check_cached(&wc, "alice", 5, "secret2", 7));
	ck_assert(!webconfig_check_cached(&wc, "carol", 5, "secret", 6));
	webconfig_free(&wc);
	unlink(path);
	ck_assert_int_eq(webconfig_load(path, &wc, err, sizeof(err)), -ENOENT);
	ck_assert_msg(strstr(err, "web.yml: No such file or directory"), "%s", err);
	rmdir(dir);
}
END_TEST

/* What a reload from @from to @to would take away; both are parsed only (no files read). */
static unsigned drops(const char *from, const char *to, char *desc, size_t size)
{
	struct webconfig a, b;
	char err[256];
	unsigned d;

	ck_assert_msg(parse(from, NULL, &a, err) == 0, "%s", err);
	ck_assert_msg(parse(to, NULL, &b, err) == 0, "%s", err);
	d = webconfig_drops(&a, &b);
	webconfig_drops_describe(d, desc, size);
	webconfig_free(&a);
	webconfig_free(&b);
	return d;
}

#define TLS_YAML "tls_server_config:\n  cert_file: s.crt\n  key_file: s.key\n"
#define MTLS_YAML(type) TLS_YAML "  client_auth_type: " type "\n  client_ca_file: ca.crt\n"
#define USERS_YAML "basic_auth_users:\n  alice: " HASH_ALICE "\n"

START_TEST(reload_drops)
{
	char d[64];

	/* An empty file, or one cut short: what a half-written file looks like. */
	ck_assert_uint_eq(drops(TLS_YAML USERS_YAML, "", d, sizeof(d)),
			  WEBCONFIG_DROPS_TLS | WEBCONFIG_DROPS_BASIC_AUTH);
	ck_assert_str_eq(d, "TLS, basic auth");
	ck_assert_uint_eq(drops(TLS_YAML USERS_YAML, TLS_YAML, d, sizeof(d)),
			  WEBCONFIG_DROPS_BASIC_AUTH);
	ck_assert_str_eq(d, "basic auth");
	ck_assert_uint_eq(drops(TLS_YAML USERS_YAML, TLS_YAML "basic_auth_users:\n", d, sizeof(d)),
			  WEBCONFIG_DROPS_BASIC_AUTH);
	ck_assert_uint_eq(drops(TLS_YAML USERS_YAML, USERS_YAML, d, sizeof(d)),
			  WEBCONFIG_DROPS_TLS);
	ck_assert_str_eq(d, "TLS");
	ck_assert_uint_eq(
		drops(MTLS_YAML("RequireAndVerifyClientCert") USERS_YAML, "", d, sizeof(d)),
		WEBCONFIG_DROPS_TLS | WEBCONFIG_DROPS_CLIENT_CERT | WEBCONFIG_DROPS_BASIC_AUTH);
	ck_assert_str_eq(d, "TLS, client certificate, basic auth");
	/* Cut after key_file: still TLS, but anyone may connect. */
	ck_assert_uint_eq(drops(MTLS_YAML("RequireAndVerifyClientCert"), TLS_YAML, d, sizeof(d)),
			  WEBCONFIG_DROPS_CLIENT_CERT);
	ck_assert_str_eq(d, "client certificate");
	ck_assert_uint_eq(drops(MTLS_YAML("RequireAnyClientCert"),
				MTLS_YAML("VerifyClientCertIfGiven"), d, sizeof(d)),
			  WEBCONFIG_DROPS_CLIENT_CERT);
	/* Changes that keep each protection remove nothing. */
	ck_assert_uint_eq(drops(MTLS_YAML("RequireAndVerifyClientCert"),
				MTLS_YAML("RequireAnyClientCert"), d, sizeof(d)),
			  0);
	ck_assert_str_eq(d, "");
	ck_assert_uint_eq(drops(MTLS_YAML("VerifyClientCertIfGiven"), TLS_YAML, d, sizeof(d)), 0);
	ck_assert_uint_eq(drops(TLS_YAML USERS_YAML,
				"tls_server_config:\n  cert_file: o.crt\n  key_file: o.key\n"
				"  min_version: TLS13\n"
				"basic_auth_users:\n  bob: " HASH_BOB "\n",
				d, sizeof(d)),
			  0);
	ck_assert_uint_eq(drops("", TLS_YAML USERS_YAML, d, sizeof(d)), 0);
	ck_assert_uint_eq(drops("", "", d, sizeof(d)), 0);
	/* A short buffer gets a terminated prefix. */
	webconfig_drops_describe(WEBCONFIG_DROPS_TLS | WEBCONFIG_DROPS_BASIC_AUTH, d, 6);
	ck_assert_str_eq(d, "TLS, ");
	webconfig_drops_describe(WEBCONFIG_DROPS_TLS, d, 0); /* nothing written */
}
END_TEST

START_TEST(same_users)
{
	static const char *const cases[][2] = {
		{ "alice: " HASH_ALICE "\n  bob: " HASH_BOB,
		  "bob: " HASH_BOB "\n  alice: " HASH_ALICE },
		{ "alice: " HASH_ALICE, "alice: " HASH_BOB }, /* another hash */
		{ "alice: " HASH_ALICE, "alice: " HASH_ALICE "\n  bob: " HASH_BOB }, /* one more */
		{ "alice: " HASH_ALICE, "carol: " HASH_ALICE }, /* another name */
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct webconfig a, b;
		char ya[512], yb[512], err[256];

		snprintf(ya, sizeof(ya), "basic_auth_users:\n  %s\n", cases[i][0]);
		snprintf(yb, sizeof(yb), "basic_auth_users:\n  %s\n", cases[i][1]);
		ck_assert_msg(parse(ya, NULL, &a, err) == 0, "%s", err);
		ck_assert_msg(parse(yb, NULL, &b, err) == 0, "%s", err);
		ck_assert_msg(webconfig_same_users(&a, &b) == (i == 0), "case %zu", i);
		ck_assert_msg(webconfig_same_users(&b, &a) == (i == 0), "case %zu", i);
		webconfig_free(&a);
		webconfig_free(&b);
	}
}
END_TEST

static void load_text(const char *path, const char *text, struct webconfig *wc)
{
	char err[512];
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	ck_assert_msg(webconfig_load(path, wc, err, sizeof(err)) == 0, "%s", err);
}

/* The first scrape after a reload that left the users as they were pays no bcrypt. */
START_TEST(carry_cache)
{
	char dir[] = "/tmp/nfce-webconfig-XXXXXX", path[128];
	struct webconfig running, same, more, other;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/web.yml", dir);
	load_text(path, USERS_YAML, &running);
	ck_assert(webconfig_check_password(&running, "alice", 5, "secret", 6));
	load_text(path, "# the same users\n" USERS_YAML, &same);
	load_text(path, USERS_YAML "  bob: " HASH_BOB "\n", &more);
	load_text(path, "basic_auth_users:\n  alice: " HASH_BOB "\n", &other);
	webconfig_carry_cache(&same, &running);
	webconfig_carry_cache(&more, &running);
	webconfig_carry_cache(&other, &running);
	ck_assert(webconfig_check_cached(&same, "alice", 5, "secret", 6));
	ck_assert(!webconfig_check_cached(&more, "alice", 5, "secret", 6));
	ck_assert(!webconfig_check_cached(&other, "alice", 5, "secret", 6));
	webconfig_free(&running);
	webconfig_free(&same);
	webconfig_free(&more);
	webconfig_free(&other);
	unlink(path);
	rmdir(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("webconfig");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, full_config);
	tcase_add_test(tc, empty_and_null);
	tcase_add_test(tc, relative_paths);
	tcase_add_test(tc, errors_name_the_key);
	tcase_add_test(tc, tls_priorities);
	tcase_add_test(tc, passwords);
	tcase_add_test(tc, errors_are_raw);
	tcase_add_test(tc, load_refuses);
	tcase_add_test(tc, load_names_the_file);
	tcase_add_test(tc, reload_drops);
	tcase_add_test(tc, same_users);
	tcase_add_test(tc, carry_cache);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
