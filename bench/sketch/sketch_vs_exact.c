// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The design choice behind attribution (docs/design/attribution.md), measured: the Space-Saving
 * summary of collectors/attrib.c against an exact count per key (an open-addressing map that
 * grows with the distinct keys), on the same streams of entries born and ending: CPU per
 * update, memory, and the cost of finding the top 10 at a scrape.
 *
 *   cc -O2 -I collectors -I netlink -I common bench/sketch/sketch_vs_exact.c \
 *      build/collectors/libcollectors.a -o /tmp/sketch_vs_exact && /tmp/sketch_vs_exact
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attrib.h"

struct exact_slot {
	struct attrib_key key;
	uint32_t count;
	uint32_t used;
};

struct exact {
	struct exact_slot *s;
	size_t cap, n;
};

static uint64_t hash(const struct attrib_key *k)
{
	uint64_t h = 0x243f6a8885a308d3ull, w;

	for (size_t i = 0; i < sizeof(*k); i += 8) {
		memcpy(&w, (const char *)k + i, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	return h;
}

static struct exact_slot *exact_find(struct exact *e, const struct attrib_key *k)
{
	size_t i = hash(k) & (e->cap - 1);

	while (e->s[i].used && memcmp(&e->s[i].key, k, sizeof(*k)))
		i = (i + 1) & (e->cap - 1);
	return &e->s[i];
}

static void exact_add(struct exact *e, const struct attrib_key *k, int d)
{
	struct exact_slot *s;

	if ((e->n + 1) * 2 > e->cap) {
		struct exact old = *e;

		e->cap = e->cap ? e->cap * 2 : 1024;
		e->s = calloc(e->cap, sizeof(*e->s));
		e->n = 0;
		for (size_t i = 0; i < old.cap; i++)
			if (old.s[i].used) {
				*exact_find(e, &old.s[i].key) = old.s[i];
				e->n++;
			}
		free(old.s);
	}
	s = exact_find(e, k);
	if (!s->used) {
		/* Keys at 0 stay: removing them needs tombstones or shifting; the map only grows. */
		s->used = 1;
		s->key = *k;
		e->n++;
	}
	s->count += (uint32_t)d;
}

static size_t exact_top(const struct exact *e, uint32_t *top, size_t k)
{
	size_t n = 0;

	for (size_t i = 0; i < e->cap; i++) {
		size_t j;

		if (!e->s[i].used || (n == k && e->s[i].count <= top[k - 1]))
			continue;
		j = n < k ? n++ : k - 1;
		for (; j > 0 && e->s[i].count > top[j - 1]; j--)
			top[j] = top[j - 1];
		top[j] = e->s[i].count;
	}
	return n;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct attrib_key key_of(uint32_t i)
{
	struct attrib_key k = { .family = 2, .prefix = 32 };

	k.addr[0] = 10;
	k.addr[1] = (uint8_t)(i >> 16);
	k.addr[2] = (uint8_t)(i >> 8);
	k.addr[3] = (uint8_t)i;
	return k;
}

/*
 * @live entries from @distinct sources (source i with weight ~1/(i+1) when @zipf, else one
 * heavy source with 2.5 % and the rest uniform), then @churn replacements: the oldest ends,
 * a new one is born.
 */
static void run(const char *name, uint32_t distinct, int zipf, size_t live, size_t churn)
{
	uint32_t *ring = malloc(live * sizeof(*ring));
	struct spacesaving ss;
	struct exact ex = { 0 };
	struct attrib_top top[10];
	uint32_t etop[10];
	double t0, t_ss = 0, t_ex = 0, q_ss, q_ex;
	size_t head = 0;

	srand(7);
	for (size_t i = 0; i < live; i++) {
		uint32_t r = (uint32_t)rand();

		ring[i] =
			zipf ? (uint32_t)((double)distinct / (1.0 + r % (distinct * 8u))) % distinct
			     : (r % 40 == 0 ? 0 : 1 + r % (distinct - 1));
	}
	ss_init(&ss, 1024);
	for (int pass = 0; pass < 2; pass++) {
		t0 = now();
		for (size_t i = 0; i < live; i++) {
			struct attrib_key k = key_of(ring[i]);

			if (pass == 0)
				ss_add(&ss, &k);
			else
				exact_add(&ex, &k, +1);
		}
		head = 0;
		srand(8);
		for (size_t c = 0; c < churn; c++) {
			struct attrib_key k = key_of(ring[head]);
			uint32_t r = (uint32_t)rand();

			if (pass == 0)
				ss_sub(&ss, &k);
			else
				exact_add(&ex, &k, -1);
			ring[head] =
				zipf ? (uint32_t)((double)distinct / (1.0 + r % (distinct * 8u))) %
						distinct
				     : (r % 40 == 0 ? 0 : 1 + r % (distinct - 1));
			k = key_of(ring[head]);
			if (pass == 0)
				ss_add(&ss, &k);
			else
				exact_add(&ex, &k, +1);
			head = (head + 1) % live;
		}
		if (pass == 0)
			t_ss = (now() - t0) / (double)(live + 2 * churn) * 1e9;
		else
			t_ex = (now() - t0) / (double)(live + 2 * churn) * 1e9;
		/* Restart the same stream for the exact map. */
		srand(7);
		for (size_t i = 0; i < live; i++) {
			uint32_t r = (uint32_t)rand();

			ring[i] =
				zipf ? (uint32_t)((double)distinct / (1.0 + r % (distinct * 8u))) %
						distinct
				     : (r % 40 == 0 ? 0 : 1 + r % (distinct - 1));
		}
	}
	t0 = now();
	for (int i = 0; i < 100; i++)
		ss_top(&ss, top, 10);
	q_ss = (now() - t0) / 100 * 1e6;
	t0 = now();
	for (int i = 0; i < 100; i++)
		exact_top(&ex, etop, 10);
	q_ex = (now() - t0) / 100 * 1e6;
	printf("| %s | %zu | %.0f ns | %.0f ns | %zu KiB | %zu KiB | %.0f µs | %.0f µs | %u / %u (err %u) |\n",
	       name, ex.n, t_ss, t_ex,
	       (size_t)1024 * (sizeof(struct ss_slot) + sizeof(struct ss_bucket) + 4 + 8) / 1024,
	       ex.cap * sizeof(*ex.s) / 1024, q_ss, q_ex, top[0].count, etop[0], top[0].err);
	ss_free(&ss);
	free(ex.s);
	free(ring);
}

int main(void)
{
	printf("| stream | distinct keys seen | Space-Saving, per update | exact map, per update | Space-Saving memory | exact memory | top 10, Space-Saving | top 10, exact | top count: sketch / exact |\n");
	printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	run("100 sources, Zipf, 100k live, 1M churn", 100, 1, 100000, 1000000);
	run("20,000 sources, Zipf, 100k live, 1M churn", 20000, 1, 100000, 1000000);
	run("200k sources + 1 heavy, 200k live, 1M churn", 200000, 0, 200000, 1000000);
	run("2M sources + 1 heavy, 1M live, 2M churn", 2000000, 0, 1000000, 2000000);
	return 0;
}
