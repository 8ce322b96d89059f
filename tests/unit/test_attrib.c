// SPDX-License-Identifier: GPL-2.0-or-later
/* The attribution summaries (collectors/attrib.c) against exact counts. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>

#include <linux/netfilter/nf_conntrack_common.h>

#include "attrib.h"
#include "testlib.h"

static struct attrib_key key(uint32_t i)
{
	struct attrib_key k = { .family = AF_INET, .proto = 17 };

	memcpy(k.addr, &i, sizeof(i));
	return k;
}

static uint32_t count_of(const struct spacesaving *ss, const struct attrib_key *k, uint32_t *err)
{
	for (uint32_t i = 0; i < ss->m; i++)
		if (ss->slot[i].count && !memcmp(&ss->slot[i].key, k, sizeof(*k))) {
			*err = ss->slot[i].err;
			return ss->slot[i].count;
		}
	*err = 0;
	return 0;
}

/* Room for every key: adds and removals in any order leave exact counts, error 0. */
START_TEST(exact_when_room)
{
	enum { KEYS = 50, STEPS = 200000 };
	static uint32_t truth[KEYS];
	struct spacesaving ss;

	memset(truth, 0, sizeof(truth));
	srand(1);
	ck_assert_int_eq(ss_init(&ss, KEYS), 0);
	for (int step = 0; step < STEPS; step++) {
		uint32_t i = (uint32_t)rand() % KEYS;
		struct attrib_key k = key(i);

		/* Skewed: low keys are added more often than removed. */
		if (truth[i] && (uint32_t)rand() % (KEYS + 1) < i + 1) {
			ss_sub(&ss, &k);
			truth[i]--;
		} else {
			ss_add(&ss, &k);
			truth[i]++;
		}
	}
	for (uint32_t i = 0; i < KEYS; i++) {
		struct attrib_key k = key(i);
		uint32_t err;

		ck_assert_uint_eq(count_of(&ss, &k, &err), truth[i]);
		ck_assert_uint_eq(err, 0);
	}
	ss_free(&ss);
}
END_TEST

/*
 * Insertions only, as a resync's dump: every key with more than n / m entries is monitored,
 * and each count c with error e brackets the truth: c - e <= true <= c, e <= n / m.
 */
START_TEST(insert_only_bounds)
{
	enum { M = 64, KEYS = 5000, N = 100000 };
	static uint32_t truth[KEYS];
	struct spacesaving ss;

	memset(truth, 0, sizeof(truth));
	srand(2);
	ck_assert_int_eq(ss_init(&ss, M), 0);
	for (int n = 0; n < N; n++) {
		/* Zipf-like: key i about 1/(i+1) as often. */
		uint32_t i =
			(uint32_t)((double)KEYS / (1.0 + (double)(rand() % (KEYS * 8)))) % KEYS;
		struct attrib_key k = key(i);

		ss_add(&ss, &k);
		truth[i]++;
	}
	for (uint32_t i = 0; i < KEYS; i++) {
		struct attrib_key k = key(i);
		uint32_t err, c = count_of(&ss, &k, &err);

		if (truth[i] > N / M)
			ck_assert_msg(c, "key %u with %u > n/m entries not monitored", i, truth[i]);
		if (c) {
			ck_assert_uint_le(c - err, truth[i]);
			ck_assert_uint_ge(c, truth[i]);
			ck_assert_uint_le(err, N / M);
		}
	}
	ss_free(&ss);
}
END_TEST

/* 200,000 sources seen once, one source with 5,000 among them: it ranks first, near exact. */
START_TEST(storm_heavy_first)
{
	struct spacesaving ss;
	struct attrib_top top[10];
	struct attrib_key heavy = key(0xffffffff);
	size_t n;

	ck_assert_int_eq(ss_init(&ss, 1024), 0);
	for (uint32_t i = 0; i < 200000; i++) {
		struct attrib_key k = key(i);

		ss_add(&ss, &k);
		if (i % 40 == 0)
			ss_add(&ss, &heavy);
	}
	/* While the storm lives, n / m = 205000 / 1024 bounds the heavy source's error. */
	n = ss_top(&ss, top, 10);
	ck_assert_mem_eq(&top[0].key, &heavy, sizeof(heavy));
	ck_assert_uint_ge(top[0].count, 5000);
	ck_assert_uint_le(top[0].count - top[0].err, 5000);
	ck_assert_uint_le(top[0].err, 205000 / 1024);
	/* The storm's entries expire; the heavy source's stay. */
	for (uint32_t i = 0; i < 200000; i++) {
		struct attrib_key k = key(i);

		ss_sub(&ss, &k);
	}
	n = ss_top(&ss, top, 10);
	ck_assert_uint_ge(n, 1);
	ck_assert_mem_eq(&top[0].key, &heavy, sizeof(heavy));
	ck_assert_uint_le(top[0].count - top[0].err, 5000);
	ck_assert_uint_ge(top[0].count, 5000);
	ss_free(&ss);
}
END_TEST

/*
 * A key pushed out and back: its earlier entries are no longer counted, so its count is low;
 * evicted_max says by how much at most (found by review: the error alone read 0).
 */
START_TEST(evicted_comes_back_low)
{
	struct spacesaving ss;
	struct attrib_key a = key(1), b = key(2), c = key(3);
	uint32_t err;

	ck_assert_int_eq(ss_init(&ss, 2), 0);
	for (int i = 0; i < 5; i++) {
		ss_add(&ss, &a);
		ss_add(&ss, &b);
	}
	ss_add(&ss, &b);
	ck_assert_uint_eq(ss.evicted_max, 0);
	ss_add(&ss, &c); /* pushes out a, the smallest */
	ck_assert_uint_eq(ss.evicted_max, 5);
	for (int i = 0; i < 6; i++)
		ss_sub(&ss, &b);
	ss_sub(&ss, &c);
	ss_add(&ss, &a); /* the truth is 6 */
	ck_assert_uint_eq(count_of(&ss, &a, &err), 1);
	ck_assert_uint_eq(err, 0);
	ck_assert_uint_ge(1 + ss.evicted_max, 6);
	ss_free(&ss);
}
END_TEST

/* Largest first, ties in key order; at most k; a full sketch of equals still gives k. */
START_TEST(top_order)
{
	struct spacesaving ss;
	struct attrib_top top[4];
	size_t n;

	ck_assert_int_eq(ss_init(&ss, 16), 0);
	ck_assert_uint_eq(ss_top(&ss, top, 4), 0);
	for (uint32_t i = 0; i < 8; i++)
		for (uint32_t j = 0; j <= i / 2; j++) {
			struct attrib_key k = key(i);

			ss_add(&ss, &k);
		}
	n = ss_top(&ss, top, 4);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(top[0].count, 4);
	ck_assert_uint_eq(top[1].count, 4);
	ck_assert_uint_eq(top[2].count, 3);
	ck_assert_uint_eq(top[3].count, 3);
	ck_assert_int_lt(memcmp(&top[0].key, &top[1].key, sizeof(top[0].key)), 0);
	ss_free(&ss);
}
END_TEST

/* attrib_set_count(): prefixes, NAT families from the status bits, and removals undo adds. */
START_TEST(set_families)
{
	struct attrib_cfg cfg = { .slots = 32, .prefix4 = 24, .prefix6 = 64 };
	struct attrib_set *s;
	struct attrib_top top[4];
	struct ct_event ev = {
		.l4proto = 6,
		.has_status = true,
		.has_reply = true,
		.status = IPS_DST_NAT | IPS_SRC_NAT,
		.orig = { .src = { 10, 1, 2, 3 },
			  .dst = { 198, 51, 100, 10 },
			  .dport = 443,
			  .family = AF_INET,
			  .has_ports = true },
		.reply = { .src = { 10, 9, 0, 7 },
			   .dst = { 203, 0, 113, 7 },
			   .sport = 8443,
			   .dport = 61000,
			   .family = AF_INET,
			   .has_ports = true },
	};
	const struct ss_slot *b;
	struct attrib_key snat = { .addr = { 203, 0, 113, 7 }, .family = AF_INET };

	ck_assert_int_eq(attrib_set_new(&cfg, &s), 0);
	attrib_set_count(s, &cfg, &ev, +1);
	ev.orig.src[3] = 200; /* the same /24 */
	attrib_set_count(s, &cfg, &ev, +1);
	ck_assert_uint_eq(ss_top(&s->ss[ATTRIB_SOURCE], top, 4), 1);
	ck_assert_uint_eq(top[0].count, 2);
	ck_assert_uint_eq(top[0].key.addr[3], 0);
	ck_assert_uint_eq(top[0].key.prefix, 24);
	ck_assert_uint_eq(ss_top(&s->ss[ATTRIB_DNAT], top, 4), 1);
	ck_assert_uint_eq(top[0].key.addr[1], 9);
	ck_assert_uint_eq(top[0].key.port, 8443);
	b = ss_busiest_for(&s->ss[ATTRIB_SNAT_DEST], &snat);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(b->count, 2);
	ck_assert_uint_eq(b->key.addr2[0], 10);
	ck_assert_uint_eq(s->total[ATTRIB_SNAT], 2);

	/* GRE's "ports" are call keys: one destination whatever the call (found by review). */
	{
		struct ct_event gre = ev;

		gre.l4proto = 47;
		gre.status = 0;
		for (uint16_t call = 100; call < 103; call++) {
			gre.orig.dport = call;
			attrib_set_count(s, &cfg, &gre, +1);
		}
		ck_assert_uint_eq(ss_top(&s->ss[ATTRIB_DESTINATION], top, 4), 2);
		ck_assert_uint_eq(top[0].count, 3);
		ck_assert_uint_eq(top[0].key.proto, 47);
		ck_assert_uint_eq(top[0].key.port, 0);
		for (uint16_t call = 100; call < 103; call++) {
			gre.orig.dport = call;
			attrib_set_count(s, &cfg, &gre, -1);
		}
	}

	/* Without NAT bits, only sources and destinations. */
	ev.status = IPS_SEEN_REPLY;
	attrib_set_count(s, &cfg, &ev, +1);
	ck_assert_uint_eq(s->total[ATTRIB_SOURCE], 3);
	ck_assert_uint_eq(s->total[ATTRIB_DNAT], 2);

	attrib_set_count(s, &cfg, &ev, -1);
	ev.status = IPS_DST_NAT | IPS_SRC_NAT;
	attrib_set_count(s, &cfg, &ev, -1);
	ev.orig.src[3] = 3;
	attrib_set_count(s, &cfg, &ev, -1);
	for (unsigned f = 0; f < _ATTRIB_MAX; f++) {
		ck_assert_uint_eq(s->total[f], 0);
		ck_assert_uint_eq(ss_top(&s->ss[f], top, 4), 0);
	}
	attrib_set_free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("attrib");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, exact_when_room);
	tcase_add_test(tc, insert_only_bounds);
	tcase_add_test(tc, storm_heavy_first);
	tcase_add_test(tc, top_order);
	tcase_add_test(tc, evicted_comes_back_low);
	tcase_add_test(tc, set_families);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
