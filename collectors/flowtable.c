// SPDX-License-Identifier: GPL-2.0-or-later
#include "flowtable.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define FT_MIN_CAP 1024
#define FT_LOAD_NUM 92 /* grow past 92 % */
#define FT_LOAD_DEN 100

static inline bool slot_used(const struct flow *f)
{
	return (f->state & FLOW_STATE_MASK) != 0;
}

static inline uint32_t mix(uint32_t id, uint16_t thash)
{
	uint64_t x = ((uint64_t)thash << 32 | id) * 0x9e3779b97f4a7c15ull;

	return (uint32_t)(x >> 32) ^ (uint32_t)x;
}

/* Lemire's multiply-shift: any capacity, no modulo. */
static inline size_t home(const struct flowtable *t, uint32_t id, uint16_t thash)
{
	return (size_t)(((uint64_t)mix(id, thash) * t->cap) >> 32);
}

static inline size_t dist(const struct flowtable *t, size_t i, const struct flow *f)
{
	size_t h = home(t, f->id, f->thash);

	return i >= h ? i - h : i + t->cap - h;
}

int ft_init(struct flowtable *t, size_t expected)
{
	size_t cap = expected / FT_LOAD_NUM * FT_LOAD_DEN + FT_LOAD_DEN;

	if (cap < FT_MIN_CAP)
		cap = FT_MIN_CAP;
	if (cap > UINT32_MAX)
		return -E2BIG;
	/* calloc: untouched pages of a big table stay unbacked until flows land there. */
	t->slots = calloc(cap, sizeof(struct flow));
	if (!t->slots)
		return -ENOMEM;
	t->cap = cap;
	t->n = 0;
	return 0;
}

void ft_free(struct flowtable *t)
{
	if (!t)
		return;
	free(t->slots);
	*t = (struct flowtable){ 0 };
}

struct flow *ft_find(const struct flowtable *t, uint32_t id, uint16_t thash)
{
	size_t i, d = 0;

	if (!t->cap)
		return NULL;
	i = home(t, id, thash);
	for (;;) {
		struct flow *f = &t->slots[i];

		/* Robin Hood: past a slot whose flow is nearer its home than we'd be, we're absent. */
		if (!slot_used(f) || dist(t, i, f) < d)
			return NULL;
		if (f->id == id && f->thash == thash)
			return f;
		if (++i == t->cap)
			i = 0;
		d++;
	}
}

static void place(struct flowtable *t, struct flow cur)
{
	size_t i = home(t, cur.id, cur.thash), d = 0;

	for (;;) {
		struct flow *f = &t->slots[i];
		size_t fd;

		if (!slot_used(f)) {
			*f = cur;
			t->n++;
			return;
		}
		fd = dist(t, i, f);
		if (fd < d) {
			struct flow tmp = *f;

			*f = cur;
			cur = tmp;
			d = fd;
		}
		if (++i == t->cap)
			i = 0;
		d++;
	}
}

int ft_resize(struct flowtable *t, size_t expected)
{
	struct flowtable other;
	int r;

	if (expected < t->n)
		expected = t->n;
	r = ft_init(&other, expected);
	if (r < 0)
		return r;
	for (size_t i = 0; i < t->cap; i++)
		if (slot_used(&t->slots[i]))
			place(&other, t->slots[i]);
	free(t->slots);
	*t = other;
	return 0;
}

static int grow(struct flowtable *t)
{
	return ft_resize(t, t->n + t->n / 4 + 1);
}

int ft_insert(struct flowtable *t, const struct flow *f)
{
	int r;

	if (!t->cap || (t->n + 1) * FT_LOAD_DEN > t->cap * FT_LOAD_NUM) {
		r = grow(t);
		if (r < 0)
			return r;
	}
	place(t, *f);
	return 0;
}

void ft_delete(struct flowtable *t, struct flow *slot)
{
	size_t i = ft_index(t, slot);

	/* Backward shift: pull each following displaced flow one step nearer its home. */
	for (;;) {
		size_t next = i + 1 == t->cap ? 0 : i + 1;
		struct flow *f = &t->slots[next];

		if (!slot_used(f) || dist(t, next, f) == 0)
			break;
		t->slots[i] = *f;
		i = next;
	}
	memset(&t->slots[i], 0, sizeof(t->slots[i]));
	t->n--;
}
