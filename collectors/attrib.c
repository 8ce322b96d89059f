// SPDX-License-Identifier: GPL-2.0-or-later
/* Who fills the table, in Space-Saving summaries that also take removals: see attrib.h. */
#include "attrib.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>

#include <linux/netfilter/nf_conntrack_common.h>

const char *const attrib_family_names[_ATTRIB_MAX] = {
	"source", "destination", "dnat_target", "snat", "snat_destination",
};

static uint32_t key_hash(const struct attrib_key *k)
{
	uint64_t h = 0x243f6a8885a308d3ull, w;

	_Static_assert(sizeof(*k) % 8 == 0, "the key is hashed in words");
	for (size_t i = 0; i < sizeof(*k); i += 8) {
		memcpy(&w, (const char *)k + i, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	return (uint32_t)(h ^ h >> 32);
}

static bool key_eq(const struct attrib_key *a, const struct attrib_key *b)
{
	uint64_t x, y, d = 0;

	/* Word by word, without a call: on every event, for every family. */
	for (size_t i = 0; i < sizeof(*a); i += 8) {
		memcpy(&x, (const char *)a + i, 8);
		memcpy(&y, (const char *)b + i, 8);
		d |= x ^ y;
	}
	return !d;
}

int ss_init(struct spacesaving *ss, uint32_t m)
{
	uint32_t cap = 1;

	*ss = (struct spacesaving){ 0 };
	if (!m || m > ATTRIB_MAX_SLOTS)
		return -EINVAL;
	while (cap < 2 * m) /* at most half full: short probes */
		cap <<= 1;
	ss->slot = calloc(m, sizeof(*ss->slot));
	ss->bucket = malloc(m * sizeof(*ss->bucket));
	ss->spare = malloc(m * sizeof(*ss->spare));
	ss->index = calloc(cap, sizeof(*ss->index));
	if (!ss->slot || !ss->bucket || !ss->spare || !ss->index) {
		ss_free(ss);
		return -ENOMEM;
	}
	/* Every slot free, at count 0, in bucket 0; the other buckets spare. */
	for (uint32_t i = 0; i < m; i++) {
		ss->slot[i].prev = i ? i - 1 : SS_NIL;
		ss->slot[i].next = i + 1 < m ? i + 1 : SS_NIL;
		ss->spare[i] = m - 1 - i;
	}
	ss->bucket[0] = (struct ss_bucket){ 0, 0, SS_NIL, SS_NIL };
	ss->n_spare = m - 1;
	ss->head = 0;
	ss->m = m;
	ss->index_mask = cap - 1;
	return 0;
}

void ss_free(struct spacesaving *ss)
{
	free(ss->slot);
	free(ss->bucket);
	free(ss->spare);
	free(ss->index);
	*ss = (struct spacesaving){ 0 };
}

static void slot_unlink(struct spacesaving *ss, uint32_t n)
{
	struct ss_slot *s = &ss->slot[n];

	if (s->prev != SS_NIL)
		ss->slot[s->prev].next = s->next;
	else
		ss->bucket[s->bucket].first = s->next;
	if (s->next != SS_NIL)
		ss->slot[s->next].prev = s->prev;
}

static void slot_link(struct spacesaving *ss, uint32_t n, uint32_t b)
{
	struct ss_slot *s = &ss->slot[n];

	s->bucket = b;
	s->prev = SS_NIL;
	s->next = ss->bucket[b].first;
	if (s->next != SS_NIL)
		ss->slot[s->next].prev = n;
	ss->bucket[b].first = n;
}

/* A new bucket of @count next to @at: after it (@after) or before it. */
static uint32_t bucket_new(struct spacesaving *ss, uint32_t count, uint32_t at, bool after)
{
	/* Never short: every bucket in the list holds a slot, and @at keeps one. */
	uint32_t b = ss->spare[--ss->n_spare];
	struct ss_bucket *x = &ss->bucket[b], *a = &ss->bucket[at];

	x->count = count;
	x->first = SS_NIL;
	if (after) {
		x->prev = at;
		x->next = a->next;
		if (a->next != SS_NIL)
			ss->bucket[a->next].prev = b;
		a->next = b;
	} else {
		x->next = at;
		x->prev = a->prev;
		if (a->prev != SS_NIL)
			ss->bucket[a->prev].next = b;
		else
			ss->head = b;
		a->prev = b;
	}
	return b;
}

static void bucket_drop_if_empty(struct spacesaving *ss, uint32_t b)
{
	struct ss_bucket *x = &ss->bucket[b];

	if (x->first != SS_NIL)
		return;
	if (x->prev != SS_NIL)
		ss->bucket[x->prev].next = x->next;
	else
		ss->head = x->next;
	if (x->next != SS_NIL)
		ss->bucket[x->next].prev = x->prev;
	ss->spare[ss->n_spare++] = b;
}

/* Slot @n's count goes one up (@up) or down, into the bucket of that count. O(1). */
static void step(struct spacesaving *ss, uint32_t n, bool up)
{
	struct ss_slot *s = &ss->slot[n];
	uint32_t b = s->bucket, count = up ? s->count + 1 : s->count - 1;
	uint32_t near = up ? ss->bucket[b].next : ss->bucket[b].prev;

	s->count = count;
	if (ss->bucket[b].first == n && s->next == SS_NIL &&
	    (near == SS_NIL || ss->bucket[near].count != count)) {
		ss->bucket[b].count = count; /* alone: the bucket moves, still in order */
		return;
	}
	slot_unlink(ss, n);
	if (near == SS_NIL || ss->bucket[near].count != count)
		near = bucket_new(ss, count, b, up);
	slot_link(ss, n, near);
	bucket_drop_if_empty(ss, b);
}

/* The index position holding @k, or the empty one where it would go. */
static uint32_t index_find(const struct spacesaving *ss, const struct attrib_key *k, uint32_t h)
{
	uint32_t i = h & ss->index_mask;

	while (ss->index[i].slot) {
		if (ss->index[i].hash == h && key_eq(&ss->slot[ss->index[i].slot - 1].key, k))
			return i;
		i = (i + 1) & ss->index_mask;
	}
	return i;
}

/* Backward-shift deletion: no tombstones, so probes stay short however long it runs. */
static void index_remove(struct spacesaving *ss, uint32_t i)
{
	uint32_t j = i;

	ss->index[i].slot = 0;
	for (;;) {
		uint32_t home;

		j = (j + 1) & ss->index_mask;
		if (!ss->index[j].slot)
			return;
		home = ss->index[j].hash & ss->index_mask;
		/* Stays if its home lies cyclically in (i, j]. */
		if (i <= j ? (home > i && home <= j) : (home > i || home <= j))
			continue;
		ss->index[i] = ss->index[j];
		ss->index[j].slot = 0;
		i = j;
	}
}

void ss_add(struct spacesaving *ss, const struct attrib_key *k)
{
	uint32_t h = key_hash(k), i = index_find(ss, k, h), n;
	struct ss_slot *s;

	if (ss->index[i].slot) {
		step(ss, ss->index[i].slot - 1, true);
		return;
	}
	/* The smallest makes way (a free slot, at 0, first): its count becomes our error. */
	n = ss->bucket[ss->head].first;
	s = &ss->slot[n];
	if (s->count) {
		if (s->count > ss->evicted_max)
			ss->evicted_max = s->count;
		index_remove(ss, index_find(ss, &s->key, s->hash));
		i = index_find(ss, k, h); /* the removal may have moved the spot */
	}
	s->key = *k;
	s->hash = h;
	s->err = s->count;
	ss->index[i] = (struct ss_index){ n + 1, h };
	step(ss, n, true);
}

void ss_sub(struct spacesaving *ss, const struct attrib_key *k)
{
	uint32_t h = key_hash(k), i = index_find(ss, k, h), n;
	struct ss_slot *s;

	if (!ss->index[i].slot) {
		/*
		 * Not monitored: pushed out, its entries went into another key's count as error
		 * when it was. Take one off the smallest count (SpaceSaving±): the counts keep
		 * summing to the live entries, so what is shown never holds more than there is.
		 */
		uint32_t b = ss->head;

		if (!ss->bucket[b].count)
			b = ss->bucket[b].next; /* past the free slots */
		if (b == SS_NIL)
			return; /* nothing counted: a removal without its add (no memory then) */
		n = ss->bucket[b].first;
	} else {
		n = ss->index[i].slot - 1;
	}
	s = &ss->slot[n];
	/* Another key's entry: what the count holds above the truth shrinks, if anything. */
	if (!ss->index[i].slot && s->err)
		s->err--;
	if (s->err > s->count - 1)
		s->err = s->count - 1; /* the truth is not below 0 */
	if (s->count == 1) /* at 0 the slot is free, its key gone */
		index_remove(ss, index_find(ss, &s->key, s->hash));
	step(ss, n, false);
}

/* Larger count first; among equals, key order: the output does not depend on slot order. */
static bool before(const struct ss_slot *a, const struct attrib_top *b)
{
	return a->count != b->count ? a->count > b->count
				    : memcmp(&a->key, &b->key, sizeof(a->key)) < 0;
}

size_t ss_top(const struct spacesaving *ss, struct attrib_top *top, size_t k)
{
	size_t n = 0;

	for (uint32_t i = 0; ss->slot && i < ss->m && k; i++) {
		const struct ss_slot *s = &ss->slot[i];
		size_t j;

		if (!s->count || (n == k && !before(s, &top[k - 1])))
			continue;
		j = n < k ? n++ : k - 1;
		for (; j > 0 && before(s, &top[j - 1]); j--)
			top[j] = top[j - 1];
		top[j] = (struct attrib_top){ s->key, s->count, s->err };
	}
	return n;
}

const struct ss_slot *ss_busiest_for(const struct spacesaving *ss, const struct attrib_key *addr)
{
	const struct ss_slot *best = NULL;

	for (uint32_t i = 0; ss->slot && i < ss->m; i++) {
		const struct ss_slot *s = &ss->slot[i];

		/* Ties by key: the labels shown don't flip between equals from scrape to scrape. */
		if (s->count && s->key.family == addr->family &&
		    !memcmp(s->key.addr, addr->addr, sizeof(s->key.addr)) &&
		    (!best || s->count > best->count ||
		     (s->count == best->count && memcmp(&s->key, &best->key, sizeof(s->key)) < 0)))
			best = s;
	}
	return best;
}

int attrib_set_new(const struct attrib_cfg *cfg, struct attrib_set **ret)
{
	struct attrib_set *s;

	if (!cfg->slots || cfg->slots > ATTRIB_MAX_SLOTS)
		return -EINVAL;
	/* Summaries are made at their first key: most tables have no NAT, some no IPv6. */
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

void attrib_set_free(struct attrib_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < _ATTRIB_MAX; i++)
		ss_free(&s->ss[i]);
	free(s);
}

bool attrib_proto_has_ports(unsigned proto)
{
	/* tcp, udp, dccp, sctp, udplite */
	return proto == 6 || proto == 17 || proto == 33 || proto == 132 || proto == 136;
}

static void mask_prefix(uint8_t *addr, unsigned bits, unsigned prefix)
{
	if (prefix >= bits)
		return;
	if (prefix % 8)
		addr[prefix / 8] &= (uint8_t)(0xff00u >> (prefix % 8));
	memset(addr + (prefix + 7) / 8, 0, (bits - prefix) / 8);
}

static void count_key(struct attrib_set *s, const struct attrib_cfg *cfg, enum attrib_family f,
		      const struct attrib_key *k, int delta)
{
	struct spacesaving *ss = &s->ss[f];

	s->total[f] += (uint64_t)(int64_t)delta;
	if (delta < 0) {
		if (ss->slot)
			ss_sub(ss, k);
		return;
	}
	/* No memory: the entry goes uncounted here, into "other", and its removal finds nothing. */
	if (!ss->slot && ss_init(ss, cfg->slots) < 0)
		return;
	ss_add(ss, k);
}

void attrib_set_count(struct attrib_set *s, const struct attrib_cfg *cfg, const struct ct_event *ev,
		      int delta)
{
	const struct ct_tuple *o = &ev->orig, *r = &ev->reply;
	struct attrib_key k = { .family = o->family };
	bool v6 = o->family == AF_INET6, ports = attrib_proto_has_ports(ev->l4proto);

	memcpy(k.addr, o->src, sizeof(k.addr));
	k.prefix = (uint8_t)(v6 ? cfg->prefix6 : cfg->prefix4);
	mask_prefix(k.addr, v6 ? 128 : 32, k.prefix);
	count_key(s, cfg, ATTRIB_SOURCE, &k, delta);

	k = (struct attrib_key){ .family = o->family,
				 .proto = ev->l4proto,
				 .port = ports ? o->dport : 0 };
	memcpy(k.addr, o->dst, sizeof(k.addr));
	count_key(s, cfg, ATTRIB_DESTINATION, &k, delta);

	/* NAT: the status bits say it; the reply tuple says to what. */
	if (!ev->has_status || !ev->has_reply)
		return;
	if (ev->status & IPS_DST_NAT) {
		k = (struct attrib_key){ .family = r->family,
					 .proto = ev->l4proto,
					 .port = ports ? r->sport : 0 };
		memcpy(k.addr, r->src, sizeof(k.addr));
		count_key(s, cfg, ATTRIB_DNAT, &k, delta);
	}
	if (ev->status & IPS_SRC_NAT) {
		k = (struct attrib_key){ .family = r->family };
		memcpy(k.addr, r->dst, sizeof(k.addr));
		count_key(s, cfg, ATTRIB_SNAT, &k, delta);
		/* Each such entry needs its own source port: what runs out is per destination. */
		k.proto = ev->l4proto;
		k.port = ports ? r->sport : 0;
		memcpy(k.addr2, r->src, sizeof(k.addr2));
		count_key(s, cfg, ATTRIB_SNAT_DEST, &k, delta);
	}
}
