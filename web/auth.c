// SPDX-License-Identifier: GPL-2.0-or-later
#include "auth.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#define BCRYPT_LEN 60

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

int auth_b64_decode(const char *buf, size_t len, char *out, size_t size, size_t *ret_len)
{
	size_t n = 0;

	if (len % 4)
		return -EINVAL;
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		unsigned pad = 0;

		for (int j = 0; j < 4; j++) {
			bool last = i + 4 == len;

			/* "xx==" or "xxx=", in the last quantum only. */
			if (last && j >= 2 && buf[i + j] == '=' &&
			    (j == 2 ? buf[i + 3] == '=' : 1)) {
				v[j] = 0;
				pad++;
				continue;
			}
			v[j] = b64_value(buf[i + j]);
			if (v[j] < 0)
				return -EINVAL;
		}
		if (n + 3 - pad > size)
			return -ENOSPC;
		out[n++] = (char)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[n++] = (char)((v[1] & 15) << 4 | v[2] >> 2);
		if (pad < 1)
			out[n++] = (char)((v[2] & 3) << 6 | v[3]);
	}
	*ret_len = n;
	return 0;
}

int auth_parse_basic(const char *buf, size_t len, char *out, size_t size, struct auth_basic *ret)
{
	const char *colon;
	size_t n;
	int r;

	if (len < 6 || strncasecmp(buf, "Basic ", 6) != 0)
		return -EINVAL;
	buf += 6;
	len -= 6;
	while (len && *buf == ' ') {
		buf++;
		len--;
	}
	r = auth_b64_decode(buf, len, out, size, &n);
	if (r < 0)
		return r;
	colon = memchr(out, ':', n);
	if (!colon)
		return -EINVAL;
	*ret = (struct auth_basic){
		.user = out,
		.user_len = (size_t)(colon - out),
		.pass = colon + 1,
		.pass_len = n - (size_t)(colon - out) - 1,
	};
	return 0;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

size_t auth_unescape(char *buf, size_t len)
{
	size_t i = 0, o = 0;

	while (i < len) {
		int hi, lo;

		if (buf[i] == '%' && len - i >= 3 && (hi = hex_value(buf[i + 1])) >= 0 &&
		    (lo = hex_value(buf[i + 2])) >= 0 && (hi || lo)) {
			buf[o++] = (char)(hi << 4 | lo);
			i += 3;
		} else {
			buf[o++] = buf[i++];
		}
	}
	return o;
}

int auth_memcmp_ct(const void *a, const void *b, size_t len)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;

	for (size_t i = 0; i < len; i++)
		d |= x[i] ^ y[i];
	return d != 0;
}

void auth_cache_init(struct auth_cache *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
}

void auth_cache_fini(struct auth_cache *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->lock);
	explicit_bzero(c, sizeof(*c));
}

int auth_cache_key(const char *user, size_t user_len, const char *pass, size_t pass_len,
		   const char *hash, uint8_t ret[AUTH_KEY_SIZE])
{
	char buf[AUTH_MAX_USER + AUTH_MAX_PASSWORD + BCRYPT_LEN + 2];
	size_t hash_len = strlen(hash), n = 0;

	if (user_len > AUTH_MAX_USER || pass_len > AUTH_MAX_PASSWORD || hash_len > BCRYPT_LEN)
		return -E2BIG;
	memcpy(buf, user, user_len);
	n += user_len;
	buf[n++] = '\0';
	memcpy(buf + n, pass, pass_len);
	n += pass_len;
	buf[n++] = '\0';
	memcpy(buf + n, hash, hash_len);
	n += hash_len;
	gnutls_hash_fast(GNUTLS_DIG_SHA256, buf, n, ret);
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

bool auth_cache_lookup(struct auth_cache *c, const uint8_t key[AUTH_KEY_SIZE])
{
	bool hit = false;

	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < AUTH_CACHE_SLOTS; i++)
		hit |= c->used[i] & !auth_memcmp_ct(c->key[i], key, AUTH_KEY_SIZE);
	pthread_mutex_unlock(&c->lock);
	return hit;
}

void auth_cache_insert(struct auth_cache *c, const uint8_t key[AUTH_KEY_SIZE])
{
	pthread_mutex_lock(&c->lock);
	memcpy(c->key[c->next], key, AUTH_KEY_SIZE);
	c->used[c->next] = true;
	c->next = (c->next + 1) % AUTH_CACHE_SLOTS;
	pthread_mutex_unlock(&c->lock);
}

void auth_cache_copy(struct auth_cache *dst, struct auth_cache *src)
{
	pthread_mutex_lock(&src->lock);
	pthread_mutex_lock(&dst->lock);
	memcpy(dst->key, src->key, sizeof(dst->key));
	memcpy(dst->used, src->used, sizeof(dst->used));
	dst->next = src->next;
	pthread_mutex_unlock(&dst->lock);
	pthread_mutex_unlock(&src->lock);
}

void auth_addr_key(const struct sockaddr *sa, uint8_t ret[AUTH_ADDR_SIZE])
{
	memset(ret, 0, AUTH_ADDR_SIZE);
	if (sa && sa->sa_family == AF_INET6) {
		memcpy(ret, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
	} else if (sa && sa->sa_family == AF_INET) {
		ret[10] = ret[11] = 0xff;
		memcpy(ret + 12, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	}
}

struct auth_fails *auth_fails_of(struct auth_limiter *l, const uint8_t addr[AUTH_ADDR_SIZE],
				 uint64_t now)
{
	struct auth_fails *f = NULL, *oldest = &l->slot[0];

	for (size_t i = 0; i < AUTH_FAIL_SLOTS && !f; i++) {
		if (l->slot[i].since_us && !memcmp(l->slot[i].addr, addr, AUTH_ADDR_SIZE))
			f = &l->slot[i];
		else if (l->slot[i].since_us < oldest->since_us)
			oldest = &l->slot[i];
	}
	if (!f) {
		f = oldest;
		memcpy(f->addr, addr, AUTH_ADDR_SIZE);
		f->since_us = 0;
	}
	if (!f->since_us || now - f->since_us > AUTH_FAIL_WINDOW_US) {
		f->since_us = now;
		f->n = 0;
	}
	return f;
}
