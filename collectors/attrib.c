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
	ss->heap = malloc(m * sizeof(*ss->heap));
	ss->index = calloc(cap, sizeof(*ss->index));
	if (!ss->slot || !ss->heap || !ss->index) {
		ss_free(ss);
		return -ENOMEM;
	}
	/* Every slot free, at count 0: the heap's order holds from the start. */
	for (uint32_t i = 0; i < m; i++) {
		ss->heap[i] = i;
		ss->slot[i].heap_pos = i;
	}
	ss->m = m;
	ss->index_mask = cap - 1;
	return 0;
}

void ss_free(struct spacesaving *ss)
{
	free(ss->slot);
	free(ss->heap);
	free(ss->index);
	*ss = (struct spacesaving){ 0 };
}

static void heap_swap(struct spacesaving *ss, uint32_t a, uint32_t b)
{
	uint32_t t = ss->heap[a];

	ss->heap[a] = ss->heap[b];
	ss->heap[b] = t;
	ss->slot[ss->heap[a]].heap_pos = a;
	ss->slot[ss->heap[b]].heap_pos = b;
}

static uint32_t count_at(const struct spacesaving *ss, uint32_t pos)
{
	return ss->slot[ss->heap[pos]].count;
}

static void sift_up(struct spacesaving *ss, uint32_t pos)
{
	while (pos && count_at(ss, (pos - 1) / 2) > count_at(ss, pos)) {
		heap_swap(ss, pos, (pos - 1) / 2);
		pos = (pos - 1) / 2;
	}
}

static void sift_down(struct spacesaving *ss, uint32_t pos)
{
	for (;;) {
		uint32_t l = 2 * pos + 1, r = l + 1, min = pos;

		if (l < ss->m && count_at(ss, l) < count_at(ss, min))
			min = l;
		if (r < ss->m && count_at(ss, r) < count_at(ss, min))
			min = r;
		if (min == pos)
			return;
		heap_swap(ss, pos, min);
		pos = min;
	}
}

/* The index position holding @k, or the empty one where it would go. */
static uint32_t index_find(const struct spacesaving *ss, const struct attrib_key *k, uint32_t h)
{
	uint32_t i = h & ss->index_mask;

	while (ss->index[i]) {
		const struct ss_slot *s = &ss->slot[ss->index[i] - 1];

		if (s->hash == h && key_eq(&s->key, k))
			return i;
		i = (i + 1) & ss->index_mask;
	}
	return i;
}

/* Backward-shift deletion: no tombstones, so probes stay short however long it runs. */
static void index_remove(struct spacesaving *ss, uint32_t i)
{
	uint32_t j = i;

	ss->index[i] = 0;
	for (;;) {
		uint32_t home;

		j = (j + 1) & ss->index_mask;
		if (!ss->index[j])
			return;
		home = ss->slot[ss->index[j] - 1].hash & ss->index_mask;
		/* Stays if its home lies cyclically in (i, j]. */
		if (i <= j ? (home > i && home <= j) : (home > i || home <= j))
			continue;
		ss->index[i] = ss->index[j];
		ss->index[j] = 0;
		i = j;
	}
}

void ss_add(struct spacesaving *ss, const struct attrib_key *k)
{
	uint32_t h = key_hash(k), i = index_find(ss, k, h), n;
	struct ss_slot *s;

	if (ss->index[i]) {
		s = &ss->slot[ss->index[i] - 1];
		s->count++;
		sift_down(ss, s->heap_pos);
		return;
	}
	/* The smallest makes way (a free slot, at 0, first): its count becomes our error. */
	n = ss->heap[0];
	s = &ss->slot[n];
	if (s->used) {
		ss->evicted = true;
		if (s->count > ss->evicted_max)
			ss->evicted_max = s->count;
		index_remove(ss, index_find(ss, &s->key, s->hash));
		i = index_find(ss, k, h); /* the removal may have moved the spot */
	}
	s->key = *k;
	s->hash = h;
	s->err = s->count;
	s->count++;
	s->used = true;
	ss->index[i] = n + 1;
	sift_down(ss, 0);
}

void ss_sub(struct spacesaving *ss, const struct attrib_key *k)
{
	uint32_t h = key_hash(k), i = index_find(ss, k, h);
	struct ss_slot *s;

	if (!ss->index[i])
		return; /* not monitored: its entries are part of some other key's error */
	s = &ss->slot[ss->index[i] - 1];
	s->count--;
	if (s->err > s->count)
		s->err = s->count; /* the truth is not below 0 */
	if (!s->count) {
		index_remove(ss, i);
		s->used = false;
	}
	sift_up(ss, s->heap_pos);
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

		if (!s->used || (n == k && !before(s, &top[k - 1])))
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
		if (s->used && s->key.family == addr->family &&
		    !memcmp(s->key.addr, addr->addr, sizeof(s->key.addr)) &&
		    (!best || s->count > best->count ||
		     (s->count == best->count && memcmp(&s->key, &best->key, sizeof(s->key)) < 0)))
			best = s;
	}
	return best;
}

size_t attrib_set_bytes(const struct attrib_cfg *cfg)
{
	size_t cap = 1;

	while (cap < 2 * (size_t)cfg->slots)
		cap <<= 1;
	return _ATTRIB_MAX *
	       (cfg->slots * (sizeof(struct ss_slot) + sizeof(uint32_t)) + cap * sizeof(uint32_t));
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
