/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_WEBCONFIG_H
#define NFCE_WEBCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * --web.config.file, in the Prometheus exporter-toolkit format (TLS and basic auth), so that
 * the same file and the same Prometheus scrape_config work as for node_exporter.
 */

#define WEBCONFIG_MAX_USERS 64
#define WEBCONFIG_MAX_FILE (1u << 20)

enum webconfig_client_auth {
	WEBCONFIG_NO_CLIENT_CERT,
	WEBCONFIG_REQUIRE_ANY_CLIENT_CERT,
	WEBCONFIG_VERIFY_CLIENT_CERT_IF_GIVEN,
	WEBCONFIG_REQUIRE_AND_VERIFY_CLIENT_CERT,
};

/* Values of min_version/max_version; 0 is "not set". */
enum webconfig_tls_version {
	WEBCONFIG_TLS10 = 10,
	WEBCONFIG_TLS11 = 11,
	WEBCONFIG_TLS12 = 12,
	WEBCONFIG_TLS13 = 13,
};

struct webconfig_user {
	char *name;
	char *hash; /* bcrypt, "$2[aby]$CC$..." */
};

struct auth_cache;

struct webconfig {
	bool tls; /* cert_file and key_file given */
	char *cert_file; /* resolved against the file's directory */
	char *key_file;
	char *client_ca_file;
	enum webconfig_client_auth client_auth;
	int min_version; /* enum webconfig_tls_version; TLS12 when not set, as exporter-toolkit */
	int max_version; /* 0: no maximum */
	struct webconfig_user *users;
	size_t n_users;
	char dummy_setting[32]; /* bcrypt salt of the users' highest cost, for unknown users */

	/* Filled by webconfig_load(): the files' contents, NUL-terminated PEM. */
	char *cert_pem;
	char *key_pem;
	char *ca_pem;
	struct auth_cache *cache; /* successful checks: webconfig_check_cached() */
};

/*
 * Parse the YAML in @buf (not NUL-terminated) into @ret; relative paths are resolved against
 * @base_dir (NULL or "": left as they are). Unknown keys and bad values are errors: -EINVAL
 * with a message naming the key in @err. @ret is written only on success and then
 * owns memory: webconfig_free().
 */
int webconfig_parse(const char *buf, size_t len, const char *base_dir, struct webconfig *ret,
		    char *err, size_t err_size);

/*
 * Read and parse @path, then read and check the certificate, key and CA files it names
 * (webtls.c). @err gets the reason on failure, raw: the file's bytes as they are.
 */
int webconfig_load(const char *path, struct webconfig *ret, char *err, size_t err_size);

/* NULL-safe; leaves @wc zeroed. */
void webconfig_free(struct webconfig *wc);

/* The GnuTLS priority string for min_version/max_version, e.g. "NORMAL:-VERS-ALL:+VERS-TLS1.2". */
void webconfig_tls_priorities(const struct webconfig *wc, char *buf, size_t size);

/*
 * Basic auth: true when @user/@pass match a configured user. Runs bcrypt once whether or not
 * the user exists (an unknown one against a dummy salt of the highest configured cost) and
 * compares in constant time: with one cost for all users, the time taken tells nothing about
 * which names exist. Thread-safe.
 */
bool webconfig_check_password(const struct webconfig *wc, const char *user, size_t user_len,
			      const char *pass, size_t pass_len);
/* True only when these credentials passed before and are still cached: never runs bcrypt. */
bool webconfig_check_cached(const struct webconfig *wc, const char *user, size_t user_len,
			    const char *pass, size_t pass_len);

/* Whether @a and @b have the same users with the same hashes, in any order. */
bool webconfig_same_users(const struct webconfig *a, const struct webconfig *b);
/*
 * On a reload: @next starts with @running's successful checks when its users and hashes are
 * the same, so that the first scrape after it pays no bcrypt. A changed list starts empty:
 * what users no longer configured proved does not stay in memory.
 */
void webconfig_carry_cache(struct webconfig *next, const struct webconfig *running);

/* Protection a new config would take away from the running one (webconfig_drops()). */
enum webconfig_drop {
	WEBCONFIG_DROPS_TLS = 1 << 0,
	WEBCONFIG_DROPS_CLIENT_CERT = 1 << 1, /* a Require... client_auth_type */
	WEBCONFIG_DROPS_BASIC_AUTH = 1 << 2,
};

/*
 * What @next would remove of what @running has: TLS, a required client certificate, basic
 * auth (any users to none). An empty or half-written file looks like that, so a reload refuses
 * it unless told otherwise. Changing users, certificates or TLS versions removes nothing.
 */
unsigned webconfig_drops(const struct webconfig *running, const struct webconfig *next);
/* @drops as words for a log line, e.g. "TLS, client certificate, basic auth". */
void webconfig_drops_describe(unsigned drops, char *buf, size_t size);

#endif
