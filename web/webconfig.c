// SPDX-License-Identifier: GPL-2.0-or-later
#include "webconfig.h"

#include <crypt.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "auth.h"
#include "util.h"

#define BCRYPT_LEN 60
/* Any valid salt: only the cost matters, so that an unknown user costs what a known one does. */
#define DUMMY_SALT "QOauhQNbBCuQDKes6eFzPe"

struct parse_ctx {
	yaml_document_t *doc;
	const char *base_dir;
	char *err;
	size_t err_size;
};

__attribute__((format(printf, 4, 5))) static int
fail(const struct parse_ctx *p, const yaml_node_t *n, const char *key, const char *fmt, ...)
{
	size_t off = 0;
	va_list ap;
	int w;

	if (!p->err_size)
		return -EINVAL;
	if (n)
		w = snprintf(p->err, p->err_size, "line %zu: %s%s", n->start_mark.line + 1,
			     key ? key : "", key ? ": " : "");
	else
		w = snprintf(p->err, p->err_size, "%s%s", key ? key : "", key ? ": " : "");
	if (w > 0)
		off = (size_t)w < p->err_size ? (size_t)w : p->err_size - 1;
	va_start(ap, fmt);
	vsnprintf(p->err + off, p->err_size - off, fmt, ap);
	va_end(ap);
	/* Raw as the file has it: the logger's text_escape() makes it one line of UTF-8. */
	return -EINVAL;
}

static const char *scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* A YAML null: an empty value, "~" or "null" written plainly. */
static bool is_null(const yaml_node_t *n)
{
	const char *v;

	if (!n)
		return true;
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = scalar(n);
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

/* Checks that @n is a mapping with scalar, unique keys. A null counts as an empty mapping. */
static int check_mapping(const struct parse_ctx *p, const yaml_node_t *n, const char *key)
{
	if (is_null(n))
		return 0;
	if (n->type != YAML_MAPPING_NODE)
		return fail(p, n, key, "expected a mapping");
	for (yaml_node_pair_t *a = n->data.mapping.pairs.start; a < n->data.mapping.pairs.top;
	     a++) {
		const yaml_node_t *ka = yaml_document_get_node(p->doc, a->key);

		if (!ka || ka->type != YAML_SCALAR_NODE)
			return fail(p, ka ? ka : n, key, "keys must be plain strings");
		for (yaml_node_pair_t *b = n->data.mapping.pairs.start; b < a; b++) {
			const yaml_node_t *kb = yaml_document_get_node(p->doc, b->key);

			if (!strcmp(scalar(ka), scalar(kb)))
				return fail(p, ka, key, "duplicate key \"%s\"", scalar(ka));
		}
	}
	return 0;
}

/* A string value; null leaves *@ret NULL. */
static int get_string(const struct parse_ctx *p, const yaml_node_t *n, const char *key, char **ret)
{
	if (is_null(n))
		return 0;
	if (n->type != YAML_SCALAR_NODE)
		return fail(p, n, key, "expected a string");
	if (strlen(scalar(n)) != n->data.scalar.length)
		return fail(p, n, key, "contains a NUL character");
	*ret = strdup(scalar(n));
	return *ret ? 0 : -ENOMEM;
}

/* exporter-toolkit's JoinDir: absolute paths and empty ones stay as they are. */
static int get_path(const struct parse_ctx *p, const yaml_node_t *n, const char *key, char **ret)
{
	char *s = NULL, *joined;
	int r;

	r = get_string(p, n, key, &s);
	if (r < 0 || !s)
		return r;
	if (!*s) {
		free(s);
		return 0;
	}
	if (s[0] == '/' || !p->base_dir || !*p->base_dir) {
		*ret = s;
		return 0;
	}
	r = asprintf(&joined, "%s/%s", p->base_dir, s);
	free(s);
	if (r < 0)
		return -ENOMEM;
	*ret = joined;
	return 0;
}

static int parse_version(const struct parse_ctx *p, const yaml_node_t *n, const char *key, int *ret)
{
	static const struct {
		const char *name;
		int v;
	} versions[] = {
		{ "TLS10", WEBCONFIG_TLS10 },
		{ "TLS11", WEBCONFIG_TLS11 },
		{ "TLS12", WEBCONFIG_TLS12 },
		{ "TLS13", WEBCONFIG_TLS13 },
	};

	if (is_null(n))
		return 0;
	if (n->type == YAML_SCALAR_NODE)
		for (size_t i = 0; i < ARRAY_SIZE(versions); i++)
			if (!strcmp(scalar(n), versions[i].name)) {
				*ret = versions[i].v;
				return 0;
			}
	return fail(p, n, key, "unknown TLS version \"%s\" (TLS10, TLS11, TLS12 or TLS13)",
		    n->type == YAML_SCALAR_NODE ? scalar(n) : "");
}

static int parse_client_auth(const struct parse_ctx *p, const yaml_node_t *n, const char *key,
			     enum webconfig_client_auth *ret)
{
	static const char *const names[] = {
		[WEBCONFIG_NO_CLIENT_CERT] = "NoClientCert",
		[WEBCONFIG_REQUIRE_ANY_CLIENT_CERT] = "RequireAnyClientCert",
		[WEBCONFIG_VERIFY_CLIENT_CERT_IF_GIVEN] = "VerifyClientCertIfGiven",
		[WEBCONFIG_REQUIRE_AND_VERIFY_CLIENT_CERT] = "RequireAndVerifyClientCert",
	};

	if (is_null(n))
		return 0;
	if (n->type == YAML_SCALAR_NODE)
		for (size_t i = 0; i < ARRAY_SIZE(names); i++)
			if (!strcmp(scalar(n), names[i])) {
				*ret = (enum webconfig_client_auth)i;
				return 0;
			}
	return fail(p, n, key,
		    "unknown value \"%s\" (NoClientCert, RequireAnyClientCert, "
		    "VerifyClientCertIfGiven or RequireAndVerifyClientCert)",
		    n->type == YAML_SCALAR_NODE ? scalar(n) : "");
}

/* Keys exporter-toolkit has and this exporter does not implement: named as such. */
static bool unsupported(const char *k)
{
	static const char *const keys[] = {
		"cipher_suites",
		"curve_preferences",
		"prefer_server_cipher_suites",
		"client_allowed_sans",
		"cert",
		"key",
		"client_ca",
	};

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (!strcmp(k, keys[i]))
			return true;
	return false;
}

static int parse_tls(const struct parse_ctx *p, const yaml_node_t *n, struct webconfig *wc)
{
	char key[96];
	bool any = false;
	int r;

	r = check_mapping(p, n, "tls_server_config");
	if (r < 0 || is_null(n))
		return r;
	for (yaml_node_pair_t *a = n->data.mapping.pairs.start; a < n->data.mapping.pairs.top;
	     a++) {
		const yaml_node_t *k = yaml_document_get_node(p->doc, a->key);
		const yaml_node_t *v = yaml_document_get_node(p->doc, a->value);
		const char *name = scalar(k);

		snprintf(key, sizeof(key), "tls_server_config.%.60s", name);
		if (!strcmp(name, "cert_file"))
			r = get_path(p, v, key, &wc->cert_file);
		else if (!strcmp(name, "key_file"))
			r = get_path(p, v, key, &wc->key_file);
		else if (!strcmp(name, "client_ca_file"))
			r = get_path(p, v, key, &wc->client_ca_file);
		else if (!strcmp(name, "client_auth_type")) {
			r = parse_client_auth(p, v, key, &wc->client_auth);
			any |= !is_null(v);
		} else if (!strcmp(name, "min_version"))
			r = parse_version(p, v, key, &wc->min_version);
		else if (!strcmp(name, "max_version"))
			r = parse_version(p, v, key, &wc->max_version);
		else if (unsupported(name))
			r = fail(p, k, key, "not supported by nf_conntrack_exporter");
		else
			r = fail(p, k, key, "unknown key");
		if (r < 0)
			return r;
	}
	/* As exporter-toolkit: without files or client auth, plain HTTP. */
	if (!any && !wc->cert_file && !wc->key_file && !wc->client_ca_file)
		return 0;
	if (!wc->cert_file)
		return fail(p, n, "tls_server_config", "missing cert_file");
	if (!wc->key_file)
		return fail(p, n, "tls_server_config", "missing key_file");
	wc->tls = true;
	if (wc->client_ca_file && wc->client_auth == WEBCONFIG_NO_CLIENT_CERT)
		return fail(p, n, "tls_server_config",
			    "client_ca_file is set but client_auth_type is NoClientCert");
	if (!wc->client_ca_file && (wc->client_auth == WEBCONFIG_VERIFY_CLIENT_CERT_IF_GIVEN ||
				    wc->client_auth == WEBCONFIG_REQUIRE_AND_VERIFY_CLIENT_CERT))
		return fail(p, n, "tls_server_config", "client_auth_type %s needs client_ca_file",
			    wc->client_auth == WEBCONFIG_VERIFY_CLIENT_CERT_IF_GIVEN
				    ? "VerifyClientCertIfGiven"
				    : "RequireAndVerifyClientCert");
	if (wc->max_version && wc->max_version < wc->min_version)
		return fail(p, n, "tls_server_config", "max_version is below min_version");
	return 0;
}

/* "$2a$", "$2b$" or "$2y$", a two-digit cost from 4 to 31, 53 characters of salt and hash. */
static int bcrypt_cost(const char *h)
{
	static const char b64[] =
		"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	int cost;

	if (strlen(h) != BCRYPT_LEN || h[0] != '$' || h[1] != '2' || !strchr("aby", h[2]) ||
	    h[3] != '$' || h[4] < '0' || h[4] > '9' || h[5] < '0' || h[5] > '9' || h[6] != '$')
		return -EINVAL;
	cost = (h[4] - '0') * 10 + (h[5] - '0');
	if (cost < 4 || cost > 31)
		return -EINVAL;
	for (const char *c = h + 7; *c; c++)
		if (!strchr(b64, *c))
			return -EINVAL;
	return cost;
}

static int parse_users(const struct parse_ctx *p, const yaml_node_t *n, struct webconfig *wc)
{
	size_t count;
	int r, max_cost = 10;

	r = check_mapping(p, n, "basic_auth_users");
	if (r < 0 || is_null(n))
		return r;
	count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	if (count > WEBCONFIG_MAX_USERS)
		return fail(p, n, "basic_auth_users", "more than %u users", WEBCONFIG_MAX_USERS);
	if (!count)
		return 0;
	wc->users = calloc(count, sizeof(*wc->users));
	if (!wc->users)
		return -ENOMEM;
	for (yaml_node_pair_t *a = n->data.mapping.pairs.start; a < n->data.mapping.pairs.top;
	     a++) {
		const yaml_node_t *k = yaml_document_get_node(p->doc, a->key);
		const yaml_node_t *v = yaml_document_get_node(p->doc, a->value);
		struct webconfig_user *u = &wc->users[wc->n_users++]; /* freed on failure too */
		char key[96];
		int cost;

		snprintf(key, sizeof(key), "basic_auth_users.%.60s", scalar(k));
		if (!*scalar(k) || strlen(scalar(k)) != k->data.scalar.length ||
		    strchr(scalar(k), ':'))
			return fail(p, k, key, "a user name must be non-empty, without ':' or NUL");
		r = get_string(p, v, key, &u->hash);
		if (r < 0)
			return r;
		if (!u->hash)
			return fail(p, v, key, "missing password hash");
		cost = bcrypt_cost(u->hash);
		if (cost < 0)
			return fail(p, v, key,
				    "not a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters)");
		if (a == n->data.mapping.pairs.start || cost > max_cost)
			max_cost = cost;
		u->name = strdup(scalar(k));
		if (!u->name)
			return -ENOMEM;
	}
	snprintf(wc->dummy_setting, sizeof(wc->dummy_setting), "$2y$%02d$%s", max_cost, DUMMY_SALT);
	return 0;
}

static int parse_root(const struct parse_ctx *p, const yaml_node_t *root, struct webconfig *wc)
{
	int r;

	r = check_mapping(p, root, NULL);
	if (r < 0 || is_null(root))
		return r;
	for (yaml_node_pair_t *a = root->data.mapping.pairs.start; a < root->data.mapping.pairs.top;
	     a++) {
		const yaml_node_t *k = yaml_document_get_node(p->doc, a->key);
		const yaml_node_t *v = yaml_document_get_node(p->doc, a->value);

		if (!strcmp(scalar(k), "tls_server_config"))
			r = parse_tls(p, v, wc);
		else if (!strcmp(scalar(k), "basic_auth_users"))
			r = parse_users(p, v, wc);
		else if (!strcmp(scalar(k), "http_server_config"))
			r = fail(p, k, scalar(k), "not supported by nf_conntrack_exporter");
		else
			r = fail(p, k, scalar(k), "unknown key");
		if (r < 0)
			return r;
	}
	return 0;
}

int webconfig_parse(const char *buf, size_t len, const char *base_dir, struct webconfig *ret,
		    char *err, size_t err_size)
{
	struct webconfig wc = { .min_version = WEBCONFIG_TLS12 };
	yaml_parser_t parser;
	yaml_document_t doc;
	struct parse_ctx p = {
		.doc = &doc, .base_dir = base_dir, .err = err, .err_size = err_size
	};
	int r;

	snprintf(wc.dummy_setting, sizeof(wc.dummy_setting), "$2y$10$%s", DUMMY_SALT);
	if (len > WEBCONFIG_MAX_FILE)
		return fail(&p, NULL, NULL, "larger than %u bytes", WEBCONFIG_MAX_FILE);
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		if (parser.error == YAML_MEMORY_ERROR)
			r = -ENOMEM;
		else
			r = fail(&p, NULL, NULL, "line %zu: YAML: %s", parser.problem_mark.line + 1,
				 parser.problem ? parser.problem : "syntax error");
		yaml_parser_delete(&parser);
		return r;
	}
	r = parse_root(&p, yaml_document_get_root_node(&doc), &wc);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (r < 0) {
		webconfig_free(&wc);
		return r;
	}
	*ret = wc;
	return 0;
}

static void free_secret(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
	free(s);
}

void webconfig_free(struct webconfig *wc)
{
	if (!wc)
		return;
	free(wc->cert_file);
	free(wc->key_file);
	free(wc->client_ca_file);
	for (size_t i = 0; i < wc->n_users; i++) {
		free(wc->users[i].name);
		free(wc->users[i].hash);
	}
	free(wc->users);
	free(wc->cert_pem);
	free_secret(wc->key_pem);
	free(wc->ca_pem);
	auth_cache_fini(wc->cache);
	free(wc->cache);
	*wc = (struct webconfig){ 0 };
}

bool webconfig_check_cached(const struct webconfig *wc, const char *user, size_t user_len,
			    const char *pass, size_t pass_len)
{
	uint8_t key[AUTH_KEY_SIZE];

	if (!wc->cache || user_len > AUTH_MAX_USER || pass_len > AUTH_MAX_PASSWORD)
		return false;
	for (size_t i = 0; i < wc->n_users; i++)
		if (strlen(wc->users[i].name) == user_len &&
		    !memcmp(wc->users[i].name, user, user_len))
			return auth_cache_key(user, user_len, pass, pass_len, wc->users[i].hash,
					      key) == 0 &&
			       auth_cache_lookup(wc->cache, key);
	return false;
}

bool webconfig_check_password(const struct webconfig *wc, const char *user, size_t user_len,
			      const char *pass, size_t pass_len)
{
	const char *hash = NULL, *out;
	struct crypt_data *cd;
	char password[AUTH_MAX_PASSWORD + 1];
	uint8_t key[AUTH_KEY_SIZE];
	bool ok, keyed = false;

	if (!wc->n_users || user_len > AUTH_MAX_USER || pass_len > AUTH_MAX_PASSWORD ||
	    memchr(pass, '\0', pass_len))
		return false;
	for (size_t i = 0; i < wc->n_users; i++)
		if (strlen(wc->users[i].name) == user_len &&
		    !memcmp(wc->users[i].name, user, user_len))
			hash = wc->users[i].hash;
	if (hash && wc->cache) {
		keyed = auth_cache_key(user, user_len, pass, pass_len, hash, key) == 0;
		if (keyed && auth_cache_lookup(wc->cache, key))
			return true;
	}
	cd = calloc(1, sizeof(*cd));
	if (!cd)
		return false;
	memcpy(password, pass, pass_len);
	password[pass_len] = '\0';
	/*
	 * crypt_rn, not crypt_r: sanitizers intercept crypt_r, and with the interceptor in the
	 * executable the linker drops libcrypt as unneeded, leaving the interceptor nothing to call.
	 */
	out = crypt_rn(password, hash ? hash : wc->dummy_setting, cd, (int)sizeof(*cd));
	ok = hash && out && strlen(out) == BCRYPT_LEN && strlen(hash) == BCRYPT_LEN &&
	     !auth_memcmp_ct(out, hash, BCRYPT_LEN);
	explicit_bzero(password, sizeof(password));
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	if (ok && keyed)
		auth_cache_insert(wc->cache, key);
	return ok;
}

bool webconfig_same_users(const struct webconfig *a, const struct webconfig *b)
{
	size_t same = 0;

	if (a->n_users != b->n_users)
		return false;
	/* Names are unique in a file (duplicate keys are refused): counting matches is enough. */
	for (size_t i = 0; i < a->n_users; i++)
		for (size_t j = 0; j < b->n_users; j++)
			if (!strcmp(a->users[i].name, b->users[j].name)) {
				same += !strcmp(a->users[i].hash, b->users[j].hash);
				break;
			}
	return same == a->n_users;
}

void webconfig_carry_cache(struct webconfig *next, const struct webconfig *running)
{
	if (next->cache && running->cache && webconfig_same_users(next, running))
		auth_cache_copy(next->cache, running->cache);
}

static bool requires_client_cert(const struct webconfig *wc)
{
	return wc->tls && (wc->client_auth == WEBCONFIG_REQUIRE_ANY_CLIENT_CERT ||
			   wc->client_auth == WEBCONFIG_REQUIRE_AND_VERIFY_CLIENT_CERT);
}

unsigned webconfig_drops(const struct webconfig *running, const struct webconfig *next)
{
	unsigned drops = 0;

	if (running->tls && !next->tls)
		drops |= WEBCONFIG_DROPS_TLS;
	if (requires_client_cert(running) && !requires_client_cert(next))
		drops |= WEBCONFIG_DROPS_CLIENT_CERT;
	if (running->n_users && !next->n_users)
		drops |= WEBCONFIG_DROPS_BASIC_AUTH;
	return drops;
}

void webconfig_drops_describe(unsigned drops, char *buf, size_t size)
{
	static const char *const names[] = { "TLS", "client certificate", "basic auth" };
	size_t off = 0;

	if (!size)
		return;
	*buf = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(names) && off < size; i++)
		if (drops & (1u << i)) {
			int w = snprintf(buf + off, size - off, "%s%s", off ? ", " : "", names[i]);

			if (w < 0)
				return;
			off += (size_t)w;
		}
}
