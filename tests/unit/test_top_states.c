// SPDX-License-Identifier: GPL-2.0-or-later
/* flows_top_states(): the largest per-state counts, and what the others hold. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "flows.h"
#include "testlib.h"
#include "util.h"

static struct flows f;

static void setup(void)
{
	ck_assert_int_eq(flows_init(&f), 0);
}

static void teardown(void)
{
	flows_fini(&f);
}

/* The per-state counts of the fixture's record, written as flows_apply() would keep them. */
static uint32_t *live_slot(unsigned proto, unsigned st)
{
	if (!f.proto[proto])
		ck_assert_ptr_nonnull(f.proto[proto] = calloc(1, sizeof(*f.proto[0])));
	return &f.proto[proto]->live[st];
}

static void clear_live(void)
{
	for (unsigned p = 0; p < 256; p++)
		if (f.proto[p])
			memset(f.proto[p]->live, 0, sizeof(f.proto[p]->live));
}

/* The fixture's record with these (protocol, state, count) in its per-state counts only. */
static void set_live(const unsigned (*v)[3], size_t n)
{
	clear_live();
	for (size_t i = 0; i < n; i++)
		*live_slot(v[i][0], v[i][1]) = v[i][2];
}

START_TEST(top_states)
{
	static const unsigned few[][3] = { { 6, 3, 5 }, { 17, 12, 9 }, { 1, 11, 2 } };
	/* Nine non-zero, k = 4: the three largest in table order, the other six as the rest. */
	static const unsigned many[][3] = {
		{ 1, 11, 1 }, { 6, 1, 40 },  { 6, 2, 7 },    { 6, 3, 7 },    { 6, 5, 3 },
		{ 6, 7, 90 }, { 17, 11, 2 }, { 17, 12, 40 }, { 132, 11, 6 },
	};
	struct state_count top[4];
	uint64_t rest = 99;
	size_t n;

	set_live(few, 0);
	ck_assert_uint_eq(flows_top_states(&f, top, 4, &rest), 0);
	ck_assert_uint_eq(rest, 0);

	/* Three fit in four: all of them, in table order, nothing left over. */
	set_live(few, ARRAY_SIZE(few));
	n = flows_top_states(&f, top, 4, &rest);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(rest, 0);
	ck_assert_uint_eq(top[0].proto, 1);
	ck_assert_uint_eq(top[1].proto, 6);
	ck_assert_uint_eq(top[2].proto, 17);
	ck_assert_uint_eq(top[2].n, 9);

	/* Exactly k: no remainder series either. */
	set_live(many, 4);
	ck_assert_uint_eq(flows_top_states(&f, top, 4, &rest), 4);
	ck_assert_uint_eq(rest, 0);

	set_live(many, ARRAY_SIZE(many));
	n = flows_top_states(&f, top, 4, &rest);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(top[0].proto, 6);
	ck_assert_uint_eq(top[0].state, 1);
	ck_assert_uint_eq(top[1].proto, 6);
	ck_assert_uint_eq(top[1].state, 7);
	ck_assert_uint_eq(top[2].proto, 17);
	ck_assert_uint_eq(top[2].state, 12);
	ck_assert_uint_eq(rest, 1 + 7 + 7 + 3 + 2 + 6);
}
END_TEST

/* Random tables: what is kept is never smaller than what is summed away, and all adds up. */
START_TEST(top_states_random)
{
	srand(7);
	for (int round = 0; round < 200; round++) {
		struct state_count top[8];
		uint64_t total = 0, kept = 0, rest;
		uint32_t min_kept = UINT32_MAX;
		size_t n, k = 1 + (size_t)(rand() % 8), nonzero = 0;

		clear_live();
		for (int i = rand() % 24; i > 0; i--) {
			unsigned proto = (unsigned)rand() % 256,
				 st = (unsigned)rand() % FLOW_N_STATES;

			if (!flows_live(&f, proto, st))
				nonzero++;
			*live_slot(proto, st) += 1 + (uint32_t)(rand() % 5);
		}
		for (unsigned p = 0; p < 256; p++)
			for (unsigned s = 0; s < FLOW_N_STATES; s++)
				total += flows_live(&f, p, s);
		n = flows_top_states(&f, top, k, &rest);
		ck_assert_uint_eq(n, nonzero <= k ? nonzero : k - 1);
		for (size_t i = 0; i < n; i++) {
			kept += top[i].n;
			ck_assert_uint_eq(top[i].n, flows_live(&f, top[i].proto, top[i].state));
			if (top[i].n < min_kept)
				min_kept = top[i].n;
			if (i)
				ck_assert(top[i - 1].proto < top[i].proto ||
					  (top[i - 1].proto == top[i].proto &&
					   top[i - 1].state < top[i].state));
		}
		ck_assert_uint_eq(kept + rest, total);
		ck_assert(nonzero > k ? rest > 0 : rest == 0);
		/* Every flow left out is in a (protocol, state) no larger than the smallest kept. */
		for (unsigned p = 0; p < 256; p++)
			for (unsigned s = 0; s < FLOW_N_STATES; s++) {
				bool in = false;

				for (size_t i = 0; i < n; i++)
					in |= top[i].proto == p && top[i].state == s;
				if (!in && flows_live(&f, p, s) && n)
					ck_assert_uint_le(flows_live(&f, p, s), min_kept);
			}
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("top_states");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, top_states);
	tcase_add_test(tc, top_states_random);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
