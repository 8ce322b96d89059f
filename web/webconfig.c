// SPDX-License-Identifier: GPL-2.0-or-later
#include "webconfig.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <yaml.h>

#define BCRYPT_LEN 60
#define BCRYPT_MAX_PASSWORD 72 /* bcrypt ignores what follows: refuse it instead */
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
	/* Keys and values are quoted: one line for the log whatever they contain. */
	for (char *c = p->err; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
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
		for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
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
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
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

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
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

static int read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	struct stat st;
	char *buf;
	ssize_t n;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		close(fd);
		return S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	n = read(fd, buf, (size_t)st.st_size + 1);
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r == 0 && (size_t)n > (size_t)st.st_size)
		r = -EAGAIN; /* grew while we read it */
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[n] = '\0';
	*ret = buf;
	if (ret_len)
		*ret_len = (size_t)n;
	return 0;
}

static int load_pem(const char *key, const char *path, char **ret, char *err, size_t err_size)
{
	int r = read_file(path, WEBCONFIG_MAX_FILE, ret, NULL);

	if (r < 0)
		snprintf(err, err_size, "%s: %s: %s", key, path, strerror(-r));
	return r;
}

/* What MHD would find out only when a client connects: a key that is not the certificate's. */
static int check_tls(const struct webconfig *wc, char *err, size_t err_size)
{
	gnutls_certificate_credentials_t cred;
	gnutls_datum_t cert = { (unsigned char *)wc->cert_pem, (unsigned)strlen(wc->cert_pem) };
	gnutls_datum_t key = { (unsigned char *)wc->key_pem, (unsigned)strlen(wc->key_pem) };
	gnutls_priority_t prio;
	const char *pos = NULL;
	char prio_str[128];
	int g, r = 0;

	if (gnutls_certificate_allocate_credentials(&cred) < 0)
		return -ENOMEM;
	g = gnutls_certificate_set_x509_key_mem2(cred, &cert, &key, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (g < 0) {
		snprintf(err, err_size, "tls_server_config: cert_file %s with key_file %s: %s",
			 wc->cert_file, wc->key_file, gnutls_strerror(g));
		r = -EINVAL;
		goto out;
	}
	if (wc->ca_pem) {
		gnutls_datum_t ca = { (unsigned char *)wc->ca_pem, (unsigned)strlen(wc->ca_pem) };

		g = gnutls_certificate_set_x509_trust_mem(cred, &ca, GNUTLS_X509_FMT_PEM);
		if (g <= 0) {
			snprintf(err, err_size, "tls_server_config.client_ca_file: %s: %s",
				 wc->client_ca_file,
				 g < 0 ? gnutls_strerror(g) : "no PEM certificate in it");
			r = -EINVAL;
			goto out;
		}
	}
	webconfig_tls_priorities(wc, prio_str, sizeof(prio_str));
	g = gnutls_priority_init(&prio, prio_str, &pos);
	if (g < 0) {
		snprintf(err, err_size, "tls_server_config: GnuTLS refuses priorities \"%s\": %s",
			 prio_str, gnutls_strerror(g));
		r = -EINVAL;
		goto out;
	}
	gnutls_priority_deinit(prio);
out:
	gnutls_certificate_free_credentials(cred);
	return r;
}

static int load(const char *path, struct webconfig *ret, char *err, size_t err_size)
{
	struct webconfig wc;
	char *buf = NULL, *dir = NULL, *slash;
	size_t len;
	int r;

	r = read_file(path, WEBCONFIG_MAX_FILE, &buf, &len);
	if (r < 0) {
		snprintf(err, err_size, "%s: %s", path,
			 r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
		return r;
	}
	dir = strdup(path);
	if (!dir) {
		free(buf);
		return -ENOMEM;
	}
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	else
		*dir = '\0';
	r = webconfig_parse(buf, len, dir, &wc, err, err_size);
	free(buf);
	free(dir);
	if (r < 0)
		return r;
	if (wc.tls) {
		r = load_pem("tls_server_config.cert_file", wc.cert_file, &wc.cert_pem, err,
			     err_size);
		if (r == 0)
			r = load_pem("tls_server_config.key_file", wc.key_file, &wc.key_pem, err,
				     err_size);
		if (r == 0 && wc.client_ca_file)
			r = load_pem("tls_server_config.client_ca_file", wc.client_ca_file,
				     &wc.ca_pem, err, err_size);
		if (r == 0)
			r = check_tls(&wc, err, err_size);
		if (r < 0)
			goto fail;
	}
	if (wc.n_users) {
		wc.cache = calloc(1, sizeof(*wc.cache));
		if (!wc.cache) {
			r = -ENOMEM;
			goto fail;
		}
		pthread_mutex_init(&wc.cache->lock, NULL);
	}
	*ret = wc;
	return 0;
fail:
	webconfig_free(&wc);
	return r;
}

int webconfig_load(const char *path, struct webconfig *ret, char *err, size_t err_size)
{
	struct webconfig wc;
	int r;

	if (err_size)
		*err = '\0';
	r = load(path, &wc, err, err_size);
	if (r < 0 && err_size && !*err)
		snprintf(err, err_size, "%s: %s", path, strerror(-r));
	if (r == 0)
		*ret = wc;
	return r;
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
	if (wc->cache) {
		pthread_mutex_destroy(&wc->cache->lock);
		explicit_bzero(wc->cache, sizeof(*wc->cache));
		free(wc->cache);
	}
	*wc = (struct webconfig){ 0 };
}

void webconfig_tls_priorities(const struct webconfig *wc, char *buf, size_t size)
{
	int lo = wc->min_version ? wc->min_version : WEBCONFIG_TLS12;
	int hi = wc->max_version ? wc->max_version : WEBCONFIG_TLS13;
	size_t off;

	off = (size_t)snprintf(buf, size, "NORMAL:-VERS-ALL");
	for (int v = hi; v >= lo && off < size; v--)
		off += (size_t)snprintf(buf + off, size - off, ":+VERS-TLS1.%d", v - 10);
}

int webconfig_memcmp_ct(const void *a, const void *b, size_t len)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;

	for (size_t i = 0; i < len; i++)
		d |= x[i] ^ y[i];
	return d != 0;
}

static void cache_key(const char *user, size_t user_len, const char *pass, size_t pass_len,
		      const char *hash, uint8_t out[32])
{
	char buf[512 + BCRYPT_MAX_PASSWORD + BCRYPT_LEN + 2];
	size_t n = 0;

	memcpy(buf, user, user_len);
	n += user_len;
	buf[n++] = '\0';
	memcpy(buf + n, pass, pass_len);
	n += pass_len;
	buf[n++] = '\0';
	memcpy(buf + n, hash, strlen(hash));
	n += strlen(hash);
	gnutls_hash_fast(GNUTLS_DIG_SHA256, buf, n, out);
	explicit_bzero(buf, sizeof(buf));
}

static bool cache_lookup(struct webconfig_cache *c, const uint8_t key[32])
{
	bool hit = false;

	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < WEBCONFIG_CACHE_SLOTS; i++)
		hit |= c->used[i] & !webconfig_memcmp_ct(c->key[i], key, 32);
	pthread_mutex_unlock(&c->lock);
	return hit;
}

static void cache_insert(struct webconfig_cache *c, const uint8_t key[32])
{
	pthread_mutex_lock(&c->lock);
	memcpy(c->key[c->next], key, 32);
	c->used[c->next] = true;
	c->next = (c->next + 1) % WEBCONFIG_CACHE_SLOTS;
	pthread_mutex_unlock(&c->lock);
}

bool webconfig_check_cached(const struct webconfig *wc, const char *user, size_t user_len,
			    const char *pass, size_t pass_len)
{
	uint8_t key[32];

	if (!wc->cache || user_len > 512 || pass_len > BCRYPT_MAX_PASSWORD)
		return false;
	for (size_t i = 0; i < wc->n_users; i++)
		if (strlen(wc->users[i].name) == user_len &&
		    !memcmp(wc->users[i].name, user, user_len)) {
			cache_key(user, user_len, pass, pass_len, wc->users[i].hash, key);
			return cache_lookup(wc->cache, key);
		}
	return false;
}

bool webconfig_check_password(const struct webconfig *wc, const char *user, size_t user_len,
			      const char *pass, size_t pass_len)
{
	const char *hash = NULL, *out;
	struct crypt_data *cd;
	char password[BCRYPT_MAX_PASSWORD + 1];
	uint8_t key[32];
	bool ok;

	if (!wc->n_users || user_len > 512 || pass_len > BCRYPT_MAX_PASSWORD ||
	    memchr(pass, '\0', pass_len))
		return false;
	for (size_t i = 0; i < wc->n_users; i++)
		if (strlen(wc->users[i].name) == user_len &&
		    !memcmp(wc->users[i].name, user, user_len))
			hash = wc->users[i].hash;
	if (hash && wc->cache) {
		cache_key(user, user_len, pass, pass_len, hash, key);
		if (cache_lookup(wc->cache, key))
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
	     !webconfig_memcmp_ct(out, hash, BCRYPT_LEN);
	explicit_bzero(password, sizeof(password));
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	if (ok && wc->cache)
		cache_insert(wc->cache, key);
	return ok;
}
