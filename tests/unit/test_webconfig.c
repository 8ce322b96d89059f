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
	suite_add_tcase(s, tc);
	return run_suite(s);
}
