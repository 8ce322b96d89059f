// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Input: what an unauthenticated client controls. The whole input goes to each parser in turn
 * as an Authorization header, as base64, and as a request target, with the invariants each
 * must keep; then as credentials through the cache, and as a client address to the limiter.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "fuzz.h"

#define HASH "$2y$04$fPzMqBw3lHSR8eCgUUCwJOOdVLP0CjbZ4RPO/ekq8gJGZ6hk/Psgy"

static void check_basic(const char *s, size_t size)
{
	char out[1024];
	struct auth_basic c;
	uint8_t key[AUTH_KEY_SIZE];
	static struct auth_cache cache;
	static bool cache_ready;
	int r;

	r = auth_parse_basic(s, size, out, sizeof(out), &c);
	if (r < 0) {
		if (r != -EINVAL && r != -ENOSPC)
			__builtin_trap();
		return;
	}
	/* user ':' password, all inside the buffer */
	if (c.user != out || c.pass != c.user + c.user_len + 1 || c.user[c.user_len] != ':' ||
	    memchr(c.user, ':', c.user_len) || c.user_len + 1 + c.pass_len > sizeof(out))
		__builtin_trap();
	if (!cache_ready) {
		auth_cache_init(&cache);
		cache_ready = true;
	}
	r = auth_cache_key(c.user, c.user_len, c.pass, c.pass_len, HASH, key);
	if (r < 0) {
		if (c.user_len <= AUTH_MAX_USER && c.pass_len <= AUTH_MAX_PASSWORD)
			__builtin_trap();
		return;
	}
	auth_cache_insert(&cache, key);
	if (!auth_cache_lookup(&cache, key))
		__builtin_trap();
}

static void check_b64(const char *s, size_t size)
{
	char out[256];
	size_t n = SIZE_MAX;
	int r;

	r = auth_b64_decode(s, size, out, sizeof(out), &n);
	if (r == -EINVAL || r == -ENOSPC) {
		if (n != SIZE_MAX)
			__builtin_trap(); /* written only on success */
		return;
	}
	/* three bytes a quantum, less one or two of padding in the last */
	if (r != 0 || size % 4 || n > size / 4 * 3 || (size && n + 2 < size / 4 * 3) ||
	    n > sizeof(out))
		__builtin_trap();
}

static void check_unescape(const char *s, size_t size)
{
	char *buf = malloc(size + 1);
	size_t n, escapes = 0;

	if (!buf)
		return;
	memcpy(buf, s, size);
	buf[size] = 'X'; /* never touched */
	n = auth_unescape(buf, size);
	/* Every decoded %xx is three bytes made one: count them back from the output. */
	for (size_t i = 0; i < size; i++)
		escapes += s[i] == '%';
	if (n > size || (size - n) % 2 || (size - n) / 2 > escapes || buf[size] != 'X')
		__builtin_trap();
	/* %00 is never decoded: a NUL out only where one came in. */
	if (memchr(buf, '\0', n) && !memchr(s, '\0', size))
		__builtin_trap();
	free(buf);
}

static void check_limiter(const uint8_t *data, size_t size)
{
	static struct auth_limiter l;
	static uint64_t now = 1;
	uint8_t addr[AUTH_ADDR_SIZE] = { 0 };
	struct auth_fails *f;

	memcpy(addr, data, size < sizeof(addr) ? size : sizeof(addr));
	now += size ? data[0] * 100000ULL : 1;
	f = auth_fails_of(&l, addr, now);
	if (!f || f < l.slot || f >= l.slot + AUTH_FAIL_SLOTS ||
	    memcmp(f->addr, addr, sizeof(addr)) || f->n > AUTH_FAIL_BURST ||
	    now - f->since_us > AUTH_FAIL_WINDOW_US)
		__builtin_trap();
	auth_failed(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	size_t half = size / 2;

	check_basic(s, size);
	check_b64(s, size);
	check_unescape(s, size);
	check_limiter(data, size);
	if ((auth_memcmp_ct(s, s + half, half) == 0) != (memcmp(s, s + half, half) == 0))
		__builtin_trap();
	return 0;
}
