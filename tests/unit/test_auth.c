// SPDX-License-Identifier: GPL-2.0-or-later
/* web/auth.c: what unauthenticated clients send, parsed; and web/conns.c, who gets cut. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "auth.h"
#include "conns.h"
#include "testlib.h"
#include "util.h"

static int b64(const char *in, char *out, size_t size, size_t *n)
{
	return auth_b64_decode(in, strlen(in), out, size, n);
}

START_TEST(b64_valid)
{
	static const struct {
		const char *in, *out;
		size_t len;
	} cases[] = {
		{ "", "", 0 },
		{ "YQ==", "a", 1 },
		{ "YWI=", "ab", 2 },
		{ "YWJj", "abc", 3 },
		{ "YWxpY2U6c2VjcmV0", "alice:secret", 12 },
		{ "AA==", "\0", 1 },
		{ "YQBiOnAAdw==", "a\0b:p\0w", 7 }, /* embedded NULs decode as they are */
		{ "//46wyg=", "\xff\xfe:\xc3(", 5 },
		{ "YR==", "a", 1 }, /* stray bits after the last byte: ignored, as before */
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char out[64];
		size_t n = 99;

		ck_assert_msg(b64(cases[i].in, out, sizeof(out), &n) == 0, "%s", cases[i].in);
		ck_assert_uint_eq(n, cases[i].len);
		ck_assert_msg(!memcmp(out, cases[i].out, n), "%s", cases[i].in);
	}
}
END_TEST

START_TEST(b64_invalid)
{
	static const char *const bad[] = {
		"Y",	    "YQ",	"YQ=",	 "YWJjY", /* truncated: not a multiple of 4 */
		"Y===",	    "====",	"YQ=a",	 "Y=Q=", /* padding in the wrong place */
		"YQ==YQ==", "YQ==YWJj", /* padding before the end */
		"YW J",	    "YW-j",	"YW_j",	 "YW.j",
		"YW\x80j",  "YW\xffj",	"YWJ\n", /* not the alphabet */
	};
	char out[64];
	size_t n = 99;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ck_assert_msg(b64(bad[i], out, sizeof(out), &n) == -EINVAL, "%s", bad[i]);
		ck_assert_uint_eq(n, 99); /* untouched */
	}
	/* A NUL in the input is no base64 either, whatever follows it. */
	ck_assert_int_eq(auth_b64_decode("YQ\0=", 4, out, sizeof(out), &n), -EINVAL);
	ck_assert_int_eq(auth_b64_decode("YWJj\0\0\0\0", 8, out, sizeof(out), &n), -EINVAL);
}
END_TEST

START_TEST(b64_sizes)
{
	char out[8];
	size_t n = 0;

	ck_assert_int_eq(b64("YWJj", out, 2, &n), -ENOSPC);
	ck_assert_int_eq(b64("YWJj", out, 3, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(b64("YQ==", out, 1, &n), 0); /* padding needs no room */
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(b64("YWI=", out, 1, &n), -ENOSPC);
	ck_assert_int_eq(b64("YWJjYWJjYWJj", out, sizeof(out), &n), -ENOSPC); /* over-long */
	ck_assert_int_eq(b64("", NULL, 0, &n), 0);
	ck_assert_uint_eq(n, 0);
}
END_TEST

/* Header value @h into user and password, or the error. */
static int basic(const char *h, char *user, char *pass)
{
	struct auth_basic c;
	char buf[64];
	int r;

	r = auth_parse_basic(h, strlen(h), buf, sizeof(buf), &c);
	if (r < 0)
		return r;
	ck_assert_ptr_eq(c.user, buf);
	ck_assert_uint_le(c.user_len + c.pass_len + 1, sizeof(buf));
	memcpy(user, c.user, c.user_len);
	user[c.user_len] = '\0';
	memcpy(pass, c.pass, c.pass_len);
	pass[c.pass_len] = '\0';
	return 0;
}

START_TEST(basic_valid)
{
	static const struct {
		const char *h, *user, *pass;
	} cases[] = {
		{ "Basic YWxpY2U6c2VjcmV0", "alice", "secret" },
		{ "basic YWxpY2U6c2VjcmV0", "alice", "secret" }, /* the scheme in any case */
		{ "BASIC YWxpY2U6c2VjcmV0", "alice", "secret" },
		{ "bAsIc YWxpY2U6c2VjcmV0", "alice", "secret" },
		{ "Basic    YWxpY2U6c2VjcmV0", "alice", "secret" }, /* spaces after it */
		{ "Basic OnNlY3JldA==", "", "secret" }, /* empty user */
		{ "Basic YWxpY2U6", "alice", "" }, /* empty password */
		{ "Basic Og==", "", "" },
		{ "Basic YTpiOmM=", "a", "b:c" }, /* the first colon splits */
		{ "Basic //46wyg=", "\xff\xfe", "\xc3(" }, /* not UTF-8: bytes as they are */
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char user[64], pass[64];

		ck_assert_msg(basic(cases[i].h, user, pass) == 0, "%s", cases[i].h);
		ck_assert_str_eq(user, cases[i].user);
		ck_assert_str_eq(pass, cases[i].pass);
	}
}
END_TEST

START_TEST(basic_invalid)
{
	static const char *const bad[] = {
		"",
		"Basic",
		"Basic ",
		"Basi",
		"Basic\tYWxpY2U6c2VjcmV0", /* a tab is not the separator */
		"BasicYWxpY2U6c2VjcmV0",
		" Basic YWxpY2U6c2VjcmV0",
		"Basic YWxpY2U6c2VjcmV0 ", /* trailing space */
		"Basic YWxpY2U6 c2VjcmV0",
		"Bearer YWxpY2U6c2VjcmV0",
		"Digest username=\"alice\"",
		"Basic YWxpY2U=", /* no colon */
		"Basic YWxpY2U6c2VjcmV0=", /* truncated */
		"Basic YWxp\xc3\xa9Y2U6",
	};
	char user[64], pass[64];

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		ck_assert_msg(basic(bad[i], user, pass) == -EINVAL, "%s", bad[i]);
}
END_TEST

START_TEST(basic_lengths)
{
	const char *h = "Basic YWxpY2U6c2VjcmV0";
	struct auth_basic c;
	char buf[16];

	/* Only @len bytes are read: no terminating NUL needed, none past it looked at. */
	ck_assert_int_eq(auth_parse_basic(h, 6 + 12, buf, sizeof(buf), &c), 0);
	ck_assert_uint_eq(c.user_len, 5);
	ck_assert_uint_eq(c.pass_len, 3);
	ck_assert(!memcmp(c.pass, "sec", 3));
	ck_assert_int_eq(auth_parse_basic(h, 5, buf, sizeof(buf), &c), -EINVAL);
	ck_assert_int_eq(auth_parse_basic(h, 0, buf, sizeof(buf), &c), -EINVAL);
	/* Decoded larger than the buffer: refused, not cut short. */
	ck_assert_int_eq(auth_parse_basic(h, strlen(h), buf, 11, &c), -ENOSPC);
	ck_assert_int_eq(auth_parse_basic(h, strlen(h), buf, 12, &c), 0);
	/* An embedded NUL ends nothing: it is just not base64. */
	ck_assert_int_eq(auth_parse_basic("Basic YQ\0=", 10, buf, sizeof(buf), &c), -EINVAL);
}
END_TEST

/* @in unescaped; the result NUL-terminated for comparing. */
static const char *unesc(const char *in, char *buf)
{
	size_t n = strlen(in);

	memcpy(buf, in, n);
	n = auth_unescape(buf, n);
	buf[n] = '\0';
	return buf;
}

START_TEST(unescape)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "", "" },
		{ "/metrics", "/metrics" },
		{ "/%6detrics", "/metrics" },
		{ "/%2e%2E/%2F", "/..//" },
		{ "%41%42%43", "ABC" },
		{ "/metrics%00/../x", "/metrics%00/../x" }, /* %00 stays: no route matches it */
		{ "%", "%" },
		{ "%4", "%4" }, /* truncated */
		{ "/x%", "/x%" },
		{ "%zz", "%zz" },
		{ "%g1", "%g1" },
		{ "%1g", "%1g" },
		{ "%%41", "%A" },
		{ "%2541", "%41" }, /* decoded once */
		{ "%ff%C3%a9", "\xff\xc3\xa9" },
		{ "%20+", " +" },
	};
	char buf[64];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		ck_assert_str_eq(unesc(cases[i].in, buf), cases[i].out);
}
END_TEST

START_TEST(unescape_bounds)
{
	char buf[8];

	/* Nothing past @len is read or written. */
	memcpy(buf, "%41XXXXX", 8);
	ck_assert_uint_eq(auth_unescape(buf, 2), 2);
	ck_assert(!memcmp(buf, "%41XXXXX", 8));
	memcpy(buf, "a%41XXXX", 8);
	ck_assert_uint_eq(auth_unescape(buf, 4), 2);
	ck_assert(!memcmp(buf, "aA", 2));
	/* A NUL byte inside is just a byte. */
	memcpy(buf, "a\0%42", 5);
	ck_assert_uint_eq(auth_unescape(buf, 5), 3);
	ck_assert(!memcmp(buf, "a\0B", 3));
	ck_assert_uint_eq(auth_unescape(buf, 0), 0);
}
END_TEST

START_TEST(memcmp_ct)
{
	const unsigned char a[] = { 0x00, 0x80, 0xff, 0x41 }, b[] = { 0x00, 0x80, 0xff, 0x40 };

	ck_assert_int_eq(auth_memcmp_ct("abc", "abc", 3), 0);
	ck_assert_int_ne(auth_memcmp_ct("abc", "abd", 3), 0);
	ck_assert_int_ne(auth_memcmp_ct("abc", "bbc", 3), 0);
	ck_assert_int_eq(auth_memcmp_ct("", "", 0), 0);
	ck_assert_int_eq(auth_memcmp_ct("x", "y", 0), 0);
	ck_assert_int_eq(auth_memcmp_ct(a, b, 3), 0);
	ck_assert_int_eq(auth_memcmp_ct(a, b, 4), 1); /* 1, not a difference of bytes */
	ck_assert_int_eq(auth_memcmp_ct(b, a, 4), 1);
}
END_TEST

#define HASH "$2y$04$fPzMqBw3lHSR8eCgUUCwJOOdVLP0CjbZ4RPO/ekq8gJGZ6hk/Psgy"

START_TEST(cache)
{
	struct auth_cache c;
	uint8_t k[AUTH_KEY_SIZE], k2[AUTH_KEY_SIZE], other[AUTH_CACHE_SLOTS][AUTH_KEY_SIZE];
	char big[AUTH_MAX_USER + 1];

	auth_cache_init(&c);
	ck_assert_int_eq(auth_cache_key("alice", 5, "secret", 6, HASH, k), 0);
	ck_assert(!auth_cache_lookup(&c, k)); /* miss: empty */
	auth_cache_insert(&c, k);
	ck_assert(auth_cache_lookup(&c, k)); /* hit */
	/* Another password, another hash, or the same bytes split elsewhere: other keys. */
	ck_assert_int_eq(auth_cache_key("alice", 5, "secreT", 6, HASH, k2), 0);
	ck_assert(!auth_cache_lookup(&c, k2));
	ck_assert_int_eq(auth_cache_key("alice", 5, "secret", 6, "$2y$04$x", k2), 0);
	ck_assert(!auth_cache_lookup(&c, k2));
	ck_assert_int_eq(auth_cache_key("alices", 6, "ecret", 5, HASH, k2), 0);
	ck_assert(!auth_cache_lookup(&c, k2));
	ck_assert_int_eq(auth_cache_key("alice", 5, "secret", 6, HASH, k2), 0);
	ck_assert(!memcmp(k, k2, AUTH_KEY_SIZE)); /* deterministic */
	/* Expiry: the oldest key goes once AUTH_CACHE_SLOTS newer ones came in. */
	for (unsigned i = 0; i < AUTH_CACHE_SLOTS; i++) {
		char pass[16];
		int n = snprintf(pass, sizeof(pass), "p%u", i);

		ck_assert_int_eq(auth_cache_key("bob", 3, pass, (size_t)n, HASH, other[i]), 0);
		auth_cache_insert(&c, other[i]);
		ck_assert(auth_cache_lookup(&c, k) == (i + 1 < AUTH_CACHE_SLOTS));
	}
	for (unsigned i = 0; i < AUTH_CACHE_SLOTS; i++)
		ck_assert(auth_cache_lookup(&c, other[i]));
	auth_cache_insert(&c, k);
	ck_assert(auth_cache_lookup(&c, k));
	ck_assert(!auth_cache_lookup(&c, other[0]));
	/* Lengths past what is ever checked are refused. */
	memset(big, 'u', sizeof(big));
	ck_assert_int_eq(auth_cache_key(big, sizeof(big), "p", 1, HASH, k2), -E2BIG);
	ck_assert_int_eq(auth_cache_key(big, AUTH_MAX_USER, big, AUTH_MAX_PASSWORD, HASH, k2), 0);
	ck_assert_int_eq(auth_cache_key("u", 1, big, AUTH_MAX_PASSWORD + 1, HASH, k2), -E2BIG);
	ck_assert_int_eq(auth_cache_key("u", 1, "p", 1, HASH "x", k2), -E2BIG);
	auth_cache_fini(&c);
	auth_cache_fini(NULL);
}
END_TEST

START_TEST(addr_key)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	const uint8_t v4[AUTH_ADDR_SIZE] = { [10] = 0xff, [11] = 0xff, 127, 0, 0, 1 };
	const uint8_t v6[AUTH_ADDR_SIZE] = { [15] = 1 }, zero[AUTH_ADDR_SIZE] = { 0 };
	uint8_t k[AUTH_ADDR_SIZE];

	auth_addr_key((struct sockaddr *)&in, k);
	ck_assert(!memcmp(k, v4, sizeof(k)));
	auth_addr_key((struct sockaddr *)&in6, k);
	ck_assert(!memcmp(k, v6, sizeof(k)));
	auth_addr_key((struct sockaddr *)&un, k);
	ck_assert(!memcmp(k, zero, sizeof(k)));
	memset(k, 0xaa, sizeof(k));
	auth_addr_key(NULL, k);
	ck_assert(!memcmp(k, zero, sizeof(k)));
}
END_TEST

START_TEST(limiter)
{
	static struct auth_limiter l; /* zeroed: every slot free */
	const uint8_t a[AUTH_ADDR_SIZE] = { 1 }, b[AUTH_ADDR_SIZE] = { 2 };
	uint64_t now = 1000;
	struct auth_fails *f;

	for (unsigned i = 0; i < AUTH_FAIL_BURST; i++) {
		f = auth_fails_of(&l, a, now + i);
		ck_assert(!auth_limited(f));
		auth_failed(f);
	}
	f = auth_fails_of(&l, a, now + 10);
	ck_assert(auth_limited(f));
	auth_failed(f); /* not counted further */
	ck_assert_uint_eq(f->n, AUTH_FAIL_BURST);
	ck_assert(!auth_limited(auth_fails_of(&l, b, now + 10))); /* another address */
	/* The window is counted from the first failure, and restarts once past. */
	ck_assert(auth_limited(auth_fails_of(&l, a, now + AUTH_FAIL_WINDOW_US)));
	f = auth_fails_of(&l, a, now + AUTH_FAIL_WINDOW_US + 1);
	ck_assert(!auth_limited(f));
	ck_assert_uint_eq(f->n, 0);
	ck_assert_uint_eq(f->since_us, now + AUTH_FAIL_WINDOW_US + 1);
}
END_TEST

START_TEST(limiter_slots)
{
	static struct auth_limiter l;
	uint8_t addr[AUTH_ADDR_SIZE] = { 0 };
	struct auth_fails *f, *first;

	/* More addresses than slots: a new one takes the slot of the oldest window. */
	for (unsigned i = 0; i < AUTH_FAIL_SLOTS; i++) {
		addr[15] = (uint8_t)i;
		f = auth_fails_of(&l, addr, 100 + i);
		for (unsigned j = 0; j < AUTH_FAIL_BURST; j++)
			auth_failed(f);
	}
	addr[15] = 0;
	first = auth_fails_of(&l, addr, 200);
	ck_assert(auth_limited(first));
	addr[15] = 1;
	ck_assert(auth_limited(auth_fails_of(&l, addr, 200)));
	addr[15] = 0xfe;
	f = auth_fails_of(&l, addr, 201);
	ck_assert(!auth_limited(f));
	ck_assert_ptr_eq(f, first); /* address 0's window, begun at 100, was the oldest */
	ck_assert_uint_eq(f->since_us, 201);
	ck_assert(!memcmp(f->addr, addr, sizeof(addr)));
	/* Address 0 is forgotten: it starts afresh, in the next oldest slot (address 1's). */
	addr[15] = 0;
	f = auth_fails_of(&l, addr, 202);
	ck_assert(!auth_limited(f));
	ck_assert_ptr_eq(f, first + 1);
}
END_TEST

/* A connection of the table: one end of a socketpair; the test keeps the other. */
struct pair {
	struct http_conn hc;
	int peer;
};

static void open_conn(struct conn_table *t, struct pair *p, uint8_t a, uint64_t since,
		      unsigned evict_above)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	p->hc = (struct http_conn){ .fd = sv[0], .since_us = since };
	p->hc.addr[15] = a;
	p->peer = sv[1];
	conn_table_add(t, &p->hc, evict_above);
}

static bool peer_closed(const struct pair *p)
{
	char c;

	return recv(p->peer, &c, 1, MSG_DONTWAIT) == 0;
}

static void close_conn(struct conn_table *t, struct pair *p)
{
	conn_table_remove(t, &p->hc);
	close(p->hc.fd);
	close(p->peer);
}

START_TEST(fairness)
{
	const uint8_t addr_a[AUTH_ADDR_SIZE] = { [15] = 1 }, addr_b[AUTH_ADDR_SIZE] = { [15] = 2 };
	struct conn_table t;
	struct pair p[6];
	char c;

	conn_table_init(&t);
	for (unsigned i = 0; i < 3; i++)
		open_conn(&t, &p[i], 1, 100 + i, 1000);
	ck_assert_uint_eq(t.n, 3);
	ck_assert(conn_table_admit(&t, addr_b, 3)); /* another address: under its limit */
	ck_assert_uint_eq(t.n, 3);
	/* At the limit: the connection of the address idle longest makes room. */
	ck_assert(conn_table_admit(&t, addr_a, 3));
	ck_assert(p[0].hc.cut);
	ck_assert(peer_closed(&p[0]));
	ck_assert_uint_eq(t.n, 2);
	open_conn(&t, &p[3], 1, 200, 1000);
	/* A request under way (answered, or its request line in) or unread bytes: never cut. */
	conn_table_begin(&t, &p[1].hc, 300);
	conn_table_receiving(&t, &p[2].hc);
	ck_assert_int_eq(write(p[3].peer, "G", 1), 1);
	ck_assert(!conn_table_admit(&t, addr_a, 3));
	ck_assert(!p[1].hc.cut && !p[2].hc.cut && !p[3].hc.cut);
	ck_assert(conn_table_admit(&t, addr_b, 3));
	/* Answered, the connection is idle again: the next to go. */
	conn_table_end(&t, &p[1].hc, 400);
	ck_assert(conn_table_admit(&t, addr_a, 3));
	ck_assert(p[1].hc.cut && !p[2].hc.cut && !p[3].hc.cut);
	ck_assert(!p[1].hc.busy);
	/* Removing a cut connection does not count it twice. */
	close_conn(&t, &p[0]);
	close_conn(&t, &p[1]);
	ck_assert_uint_eq(t.n, 2);
	/* The deadline: from the connection's start or the end of its last request. */
	conn_table_sweep(&t, 102 + 1000, 1000);
	ck_assert(!p[2].hc.cut);
	conn_table_sweep(&t, 102 + 1001, 1000);
	ck_assert(p[2].hc.cut && !p[3].hc.cut);
	ck_assert_uint_eq(t.n, 1);
	/* Global eviction above the limit: the oldest without a complete request. */
	ck_assert_int_eq(read(p[3].hc.fd, &c, 1), 1); /* nothing unread any more */
	open_conn(&t, &p[4], 2, 500, 1000);
	conn_table_begin(&t, &p[4].hc, 600);
	ck_assert_uint_eq(t.n, 2);
	open_conn(&t, &p[5], 2, 700, 2);
	ck_assert(p[3].hc.cut && !p[4].hc.cut && !p[5].hc.cut);
	ck_assert_uint_eq(t.n, 2);
	for (unsigned i = 2; i < 6; i++)
		close_conn(&t, &p[i]);
	ck_assert_uint_eq(t.n, 0);
	ck_assert_ptr_null(t.head);
	conn_table_fini(&t);
}
END_TEST

/* The first connection, Prometheus's keep-alive one, just answered: the neighbour's go first. */
START_TEST(fairness_longest_idle)
{
	const uint8_t addr[AUTH_ADDR_SIZE] = { [15] = 1 };
	struct conn_table t;
	struct pair p[3];

	conn_table_init(&t);
	for (unsigned i = 0; i < 3; i++)
		open_conn(&t, &p[i], 1, 100 + i, 1000);
	conn_table_begin(&t, &p[0].hc, 500);
	conn_table_end(&t, &p[0].hc, 510);
	ck_assert(conn_table_admit(&t, addr, 3));
	ck_assert(!p[0].hc.cut && p[1].hc.cut && !p[2].hc.cut);
	for (unsigned i = 0; i < 3; i++)
		close_conn(&t, &p[i]);
	conn_table_fini(&t);
}
END_TEST

/*
 * After a reload the old daemon waits while any connection may still bring a request: one
 * under way or with bytes unread, one answered within the linger (a client scraping again at
 * once), one never answered within the grace (its TLS handshake).
 */
START_TEST(idle_for_retirement)
{
	struct conn_table t;
	struct pair p[2];
	char c;

	conn_table_init(&t);
	ck_assert(conn_table_idle(&t, 0, 10, 1000)); /* no connection */
	open_conn(&t, &p[0], 1, 100, 1000);
	ck_assert(!conn_table_idle(&t, 1100, 10, 1000)); /* new, within the grace */
	ck_assert(conn_table_idle(&t, 1101, 10, 1000));
	ck_assert_int_eq(write(p[0].peer, "G", 1), 1);
	ck_assert(!conn_table_idle(&t, 5000, 10, 1000)); /* unread: a request arriving */
	ck_assert_int_eq(read(p[0].hc.fd, &c, 1), 1);
	conn_table_receiving(&t, &p[0].hc);
	ck_assert(!conn_table_idle(&t, 5000, 10, 1000));
	conn_table_begin(&t, &p[0].hc, 5000);
	ck_assert(!conn_table_idle(&t, 9000, 10, 1000));
	conn_table_end(&t, &p[0].hc, 9000);
	/* Answered: idle once the linger is over, however young. */
	ck_assert(!conn_table_idle(&t, 9010, 10, 1000));
	ck_assert(conn_table_idle(&t, 9011, 10, 1000));
	/* A new connection beside it keeps the table busy for its grace; a cut one does not. */
	open_conn(&t, &p[1], 2, 8500, 1000);
	ck_assert(!conn_table_idle(&t, 9011, 10, 1000));
	conn_table_sweep(&t, 9011, 500);
	ck_assert(p[1].hc.cut && !p[0].hc.cut);
	ck_assert(conn_table_idle(&t, 9011, 10, 1000));
	for (unsigned i = 0; i < 2; i++)
		close_conn(&t, &p[i]);
	conn_table_fini(&t);
}
END_TEST

/* A reload with the same users starts with what the running config's cache holds. */
START_TEST(cache_copy)
{
	struct auth_cache a, b;
	uint8_t k[AUTH_KEY_SIZE], k2[AUTH_KEY_SIZE];

	auth_cache_init(&a);
	auth_cache_init(&b);
	ck_assert_int_eq(auth_cache_key("alice", 5, "secret", 6, HASH, k), 0);
	ck_assert_int_eq(auth_cache_key("bob", 3, "secret", 6, HASH, k2), 0);
	auth_cache_insert(&a, k);
	auth_cache_copy(&b, &a);
	ck_assert(auth_cache_lookup(&b, k));
	ck_assert(!auth_cache_lookup(&b, k2));
	/* Each goes on by itself. */
	auth_cache_insert(&b, k2);
	ck_assert(!auth_cache_lookup(&a, k2));
	auth_cache_fini(&a);
	auth_cache_fini(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("parsers");
	TCase *tc_state = tcase_create("state");

	tcase_add_test(tc, b64_valid);
	tcase_add_test(tc, b64_invalid);
	tcase_add_test(tc, b64_sizes);
	tcase_add_test(tc, basic_valid);
	tcase_add_test(tc, basic_invalid);
	tcase_add_test(tc, basic_lengths);
	tcase_add_test(tc, unescape);
	tcase_add_test(tc, unescape_bounds);
	tcase_add_test(tc, memcmp_ct);
	suite_add_tcase(s, tc);
	tcase_add_test(tc_state, cache);
	tcase_add_test(tc_state, addr_key);
	tcase_add_test(tc_state, limiter);
	tcase_add_test(tc_state, limiter_slots);
	tcase_add_test(tc_state, fairness);
	tcase_add_test(tc_state, fairness_longest_idle);
	tcase_add_test(tc_state, idle_for_retirement);
	tcase_add_test(tc_state, cache_copy);
	suite_add_tcase(s, tc_state);
	return run_suite(s);
}
