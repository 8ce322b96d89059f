// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * webconfig_load(): the file read and parsed, then the certificate, key and CA files it names
 * read and tried with GnuTLS, so that a bad pair fails at start or reload, not at a client's
 * handshake. The YAML itself is webconfig.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "auth.h"
#include "util.h"
#include "webconfig.h"

#define SECRET_BUF_SIZE (64 * 1024)

/*
 * The whole of @path, NUL-terminated, into a buffer the caller then owns. A @secret's buffer
 * starts large enough for any real key, so that no realloc leaves a copy of it behind.
 */
static int read_whole(const char *path, bool secret, char **ret, size_t *ret_len)
{
	struct rbuf b = { 0 };
	int r;

	if (secret) {
		b.data = malloc(SECRET_BUF_SIZE);
		if (!b.data)
			return -ENOMEM;
		b.cap = SECRET_BUF_SIZE;
	}
	r = read_file_at(AT_FDCWD, path, &b, WEBCONFIG_MAX_FILE);
	if (r < 0) {
		if (secret)
			explicit_bzero(b.data, b.cap);
		rbuf_free(&b);
		return r;
	}
	*ret = b.data;
	if (ret_len)
		*ret_len = b.len;
	return 0;
}

static int load_pem(const char *key, const char *path, bool secret, char **ret, char *err,
		    size_t err_size)
{
	int r = read_whole(path, secret, ret, NULL);

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

	r = read_whole(path, false, &buf, &len);
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
		r = load_pem("tls_server_config.cert_file", wc.cert_file, false, &wc.cert_pem, err,
			     err_size);
		if (r == 0)
			r = load_pem("tls_server_config.key_file", wc.key_file, true, &wc.key_pem,
				     err, err_size);
		if (r == 0 && wc.client_ca_file)
			r = load_pem("tls_server_config.client_ca_file", wc.client_ca_file, false,
				     &wc.ca_pem, err, err_size);
		if (r == 0)
			r = check_tls(&wc, err, err_size);
		if (r < 0)
			goto fail;
	}
	if (wc.n_users) {
		wc.cache = malloc(sizeof(*wc.cache));
		if (!wc.cache) {
			r = -ENOMEM;
			goto fail;
		}
		auth_cache_init(wc.cache);
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

void webconfig_tls_priorities(const struct webconfig *wc, char *buf, size_t size)
{
	int lo = wc->min_version ? wc->min_version : WEBCONFIG_TLS12;
	int hi = wc->max_version ? wc->max_version : WEBCONFIG_TLS13;
	size_t off;

	off = (size_t)snprintf(buf, size, "NORMAL:-VERS-ALL");
	for (int v = hi; v >= lo && off < size; v--)
		off += (size_t)snprintf(buf + off, size - off, ":+VERS-TLS1.%d", v - 10);
}
