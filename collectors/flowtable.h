/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_FLOWTABLE_H
#define NFCE_FLOWTABLE_H

#include <stddef.h>
#include <stdint.h>

/*
 * The events collector's record of live conntrack entries: open addressing with Robin Hood
 * probing and backward-shift deletion, 14 bytes a slot, kept up to 92 % full, so a million
 * flows cost about 15 MB. Keyed by the conntrack id plus a 16-bit hash of the original
 * tuple: ids are 32-bit hashes themselves and do collide among a million live entries.
 */

#define FLOW_STATE_MASK 0x0f
#define FLOW_UNREPLIED 0x10 /* no reply seen (IPS_SEEN_REPLY clear) */
#define FLOW_BORN 0x20 /* @start is its NEW event's time; else when we first saw it */
#define FLOW_EVENTS 0x40 /* the flow has sent an event: it will send its DESTROY too */
#define FLOW_GEN 0x80 /* mark of the resync generation that last saw the flow */

struct flow {
	uint32_t id;
	uint32_t start; /* on flows_apply()'s clock, at least 1 (see FLOW_BORN) */
	uint16_t thash;
	uint16_t zone;
	uint8_t proto;
	uint8_t state; /* collector's state + 1 (0: empty slot) | FLOW_EVENTS | FLOW_GEN */
} __attribute__((packed));

struct flowtable {
	struct flow *slots;
	size_t cap;
	size_t n;
};

/* Room for @expected flows without growing. */
int ft_init(struct flowtable *t, size_t expected);
void ft_free(struct flowtable *t);
/* Resize for @expected flows (more, or far fewer), keeping the flows. */
int ft_resize(struct flowtable *t, size_t expected);
struct flow *ft_find(const struct flowtable *t, uint32_t id, uint16_t thash);
/*
 * Insert a flow not in the table (check with ft_find() first). Pointers into the table are
 * invalid afterwards. -ENOMEM when it had to grow and could not.
 */
int ft_insert(struct flowtable *t, const struct flow *f);
void ft_delete(struct flowtable *t, struct flow *slot);
/* Slot index of a flow pointer, for walking the table with ft_delete() in between. */
static inline size_t ft_index(const struct flowtable *t, const struct flow *f)
{
	return (size_t)(f - t->slots);
}

#endif
