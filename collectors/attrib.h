/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_ATTRIB_H
#define NFCE_ATTRIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctevent.h"

/*
 * Who fills the table: live entries by source, destination, DNAT backend and SNAT address, in
 * memory fixed by the sketch size whatever the number of distinct addresses.
 *
 * Each family is a Space-Saving summary of M slots (Metwally et al., 2005) that also takes
 * removals: an entry's DESTROY takes one from its key's slot if the key is monitored, else from
 * the smallest count (SpaceSaving±), so the counts always sum to the family's total. An
 * unmonitored key that arrives when every slot is taken replaces the smallest, inheriting its
 * count as its error. A shown count c with error e holds c - e <= true <= c while no key has
 * left the summary with live entries; the error is 0 while a family never had more than M
 * distinct keys, so small tables are exact. flows.c rebuilds the summaries from each resync's
 * dump, where only insertions happen and the classic bound holds: every key with more than
 * entries / M live entries is monitored, each count within entries / M above the truth.
 */

enum attrib_family {
	ATTRIB_SOURCE, /* original source address, prefix-aggregated */
	ATTRIB_DESTINATION, /* original destination address, protocol, port */
	ATTRIB_DNAT, /* the real backend of a DNAT: reply source address, protocol, port */
	ATTRIB_SNAT, /* the address an SNAT chose: reply destination address */
	ATTRIB_SNAT_DEST, /* an SNAT address with a destination: reply dst, reply src, proto, port */
	_ATTRIB_MAX,
};

extern const char *const attrib_family_names[_ATTRIB_MAX];

struct attrib_key {
	uint8_t addr[16];
	uint8_t addr2[16]; /* ATTRIB_SNAT_DEST: the destination */
	uint16_t port;
	uint8_t proto;
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t prefix; /* ATTRIB_SOURCE: the prefix length @addr is masked to */
	uint8_t pad[3];
};

struct attrib_cfg {
	unsigned slots; /* M, per family */
	unsigned prefix4, prefix6;
};

#define SS_NIL UINT32_MAX

struct ss_slot {
	struct attrib_key key;
	uint32_t count, err;
	uint32_t hash;
	uint32_t bucket; /* the bucket of its count */
	uint32_t prev, next; /* slots of the same bucket, or SS_NIL */
};

/* The slots that share a count, in a list of buckets by rising count. */
struct ss_bucket {
	uint32_t count;
	uint32_t first; /* a slot */
	uint32_t prev, next; /* buckets, or SS_NIL */
};

/*
 * One Space-Saving summary: M slots in the Stream-Summary of the paper, buckets of equal
 * counts in rising order, so that a count moves by one and the smallest is found in O(1):
 * with a heap, each new key sank through log2(M) levels when every key was new (a port scan,
 * NAT'ed flows), the cost of a third of the exporter's time at 70,000 NAT'ed flows a second.
 */
struct spacesaving {
	struct ss_slot *slot;
	struct ss_bucket *bucket;
	uint32_t *spare; /* unused buckets, a stack */
	uint32_t n_spare;
	uint32_t head; /* the bucket of the smallest count */
	/*
	 * Slot number + 1 (0: empty) and the key's hash; open addressing, linear probing. The
	 * hash is here, not only in the slot: a probe reads no slot until the hash matches.
	 */
	struct ss_index {
		uint32_t slot;
		uint32_t hash;
	} * index;
	uint32_t m, index_mask;
	/*
	 * The largest count a key had when it was pushed out (0: none was, every count is exact):
	 * if it comes back, its earlier entries are no longer counted, so a count shown may be
	 * low by about this much too.
	 */
	uint32_t evicted_max;
};

/* The five summaries of a table, and their exact totals. */
struct attrib_set {
	struct spacesaving ss[_ATTRIB_MAX];
	uint64_t total[_ATTRIB_MAX];
};

/* Whether any summary of @s evicted a key: its errors grow with churn until a rebuild. */
static inline bool attrib_set_evicted(const struct attrib_set *s)
{
	for (int i = 0; i < _ATTRIB_MAX; i++)
		if (s->ss[i].evicted_max)
			return true;
	return false;
}

/* One shown key. */
struct attrib_top {
	struct attrib_key key;
	uint32_t count, err;
};

/* -ENOMEM or -EINVAL (a size of 0 or above ATTRIB_MAX_SLOTS); attrib_set_free() undoes it. */
#define ATTRIB_MAX_SLOTS 65536
int attrib_set_new(const struct attrib_cfg *cfg, struct attrib_set **ret);
void attrib_set_free(struct attrib_set *s);

/* Count the entry @ev describes in (@delta +1) or out of (-1) every family it belongs to. */
void attrib_set_count(struct attrib_set *s, const struct attrib_cfg *cfg, const struct ct_event *ev,
		      int delta);

/* Whether @proto's tuples have ports: GRE's "ports" are call keys, attributed to nobody. */
bool attrib_proto_has_ports(unsigned proto);

/* For tests and fuzzers: one summary alone. */
int ss_init(struct spacesaving *ss, uint32_t m);
void ss_free(struct spacesaving *ss);
void ss_add(struct spacesaving *ss, const struct attrib_key *k);
void ss_sub(struct spacesaving *ss, const struct attrib_key *k);

/*
 * The @k (<= what @top holds) largest counts of @ss, largest first (ties: key order, so
 * output is stable). Returns how many.
 */
size_t ss_top(const struct spacesaving *ss, struct attrib_top *top, size_t k);

/* For ATTRIB_SNAT_DEST: the largest count among keys whose SNAT address is @addr's, or NULL. */
const struct ss_slot *ss_busiest_for(const struct spacesaving *ss, const struct attrib_key *addr);

#endif
