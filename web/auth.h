/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_AUTH_H
#define NFCE_AUTH_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * What unauthenticated clients feed us, parsed without libmicrohttpd: every parser takes
 * (buf, len) and writes into caller-owned memory, so unit tests and fuzzers call it directly.
 */

struct sockaddr;

/* Standard base64 with padding into @out; -EINVAL on anything else, -ENOSPC past @size. */
int auth_b64_decode(const char *buf, size_t len, char *out, size_t size, size_t *ret_len);

/* User and password of a Basic Authorization header, pointing into the caller's buffer. */
struct auth_basic {
	const char *user;
	size_t user_len;
	const char *pass;
	size_t pass_len;
};

/*
 * "Basic <base64(user:password)>" (the scheme in any case, spaces after it) decoded into @out,
 * which @ret points into: the password is everything after the first colon. -EINVAL when it is
 * not Basic, not base64 or has no colon; -ENOSPC when it decodes to more than @size bytes.
 * On failure @out may hold decoded bytes: the caller wipes it either way.
 */
int auth_parse_basic(const char *buf, size_t len, char *out, size_t size, struct auth_basic *ret);

/*
 * Decode %xx in place, except %00: libmicrohttpd's own unescaper makes it a NUL, and
 * "/metrics%00/../x" then matches the route "/metrics". Returns the new length; a '%' not
 * followed by two hex digits stays as it is.
 */
size_t auth_unescape(char *buf, size_t len);

/* Constant-time comparison: 0 when equal. */
int auth_memcmp_ct(const void *a, const void *b, size_t len);

/*
 * Successful (user, password) checks, so that a scrape does not pay a bcrypt every time: the
 * last AUTH_CACHE_SLOTS keys, oldest replaced first. Owned by the caller; thread-safe.
 */
#define AUTH_CACHE_SLOTS 16
#define AUTH_KEY_SIZE 32
#define AUTH_MAX_USER 512
#define AUTH_MAX_PASSWORD 72 /* bcrypt ignores what follows: refused instead */

struct auth_cache {
	pthread_mutex_t lock;
	uint8_t key[AUTH_CACHE_SLOTS][AUTH_KEY_SIZE]; /* SHA-256 of user, password and hash */
	bool used[AUTH_CACHE_SLOTS];
	unsigned next;
};

void auth_cache_init(struct auth_cache *c);
/* NULL-safe; wipes the keys. */
void auth_cache_fini(struct auth_cache *c);
/* The cache key of @user and @pass checked against @hash; -E2BIG past the maximum lengths. */
int auth_cache_key(const char *user, size_t user_len, const char *pass, size_t pass_len,
		   const char *hash, uint8_t ret[AUTH_KEY_SIZE]);
/* Looks at every slot whatever it finds: the time taken says nothing about a hit. */
bool auth_cache_lookup(struct auth_cache *c, const uint8_t key[AUTH_KEY_SIZE]);
void auth_cache_insert(struct auth_cache *c, const uint8_t key[AUTH_KEY_SIZE]);
/* @dst takes @src's keys: a reload that left the users as they were keeps what they proved. */
void auth_cache_copy(struct auth_cache *dst, struct auth_cache *src);

/*
 * A wrong password costs a bcrypt (70 ms at cost 10) of the one HTTP thread. An address past
 * AUTH_FAIL_BURST failures in the window is limited: only credentials that passed before
 * (cached: no bcrypt) are checked, so Prometheus behind the same address keeps scraping.
 * Addresses beyond AUTH_FAIL_SLOTS take the slot of the oldest window. Not thread-safe: one
 * limiter per HTTP thread.
 */
#define AUTH_FAIL_BURST 5
#define AUTH_FAIL_WINDOW_US (10 * 1000000ULL)
#define AUTH_FAIL_SLOTS 64

/* A client address as a key: IPv6, or IPv4-mapped; zeroes for any other family. */
#define AUTH_ADDR_SIZE 16
void auth_addr_key(const struct sockaddr *sa, uint8_t ret[AUTH_ADDR_SIZE]);

struct auth_fails {
	uint8_t addr[AUTH_ADDR_SIZE];
	uint64_t since_us; /* start of its window; 0: a free slot */
	unsigned n;
};

struct auth_limiter {
	struct auth_fails slot[AUTH_FAIL_SLOTS];
};

/* The slot of @addr at @now (monotonic, non-zero), its window restarted when past. */
struct auth_fails *auth_fails_of(struct auth_limiter *l, const uint8_t addr[AUTH_ADDR_SIZE],
				 uint64_t now);

static inline bool auth_limited(const struct auth_fails *f)
{
	return f->n >= AUTH_FAIL_BURST;
}

/* Count one failure; a limited address is not counted further. */
static inline void auth_failed(struct auth_fails *f)
{
	f->n += !auth_limited(f);
}

#endif
