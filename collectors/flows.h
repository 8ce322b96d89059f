/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_FLOWS_H
#define NFCE_FLOWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attrib.h"
#include "ctevent.h"
#include "flowtable.h"

/*
 * The events collector's bookkeeping, free of sockets and clocks: the record of live flows
 * (flowtable.h) and the counts a scrape reports, kept from events and dump entries.
 *
 * A resync is a dump of the table between flows_dump_begin() and flows_dump_end(). Each begin
 * flips the generation mark; an event or dump entry marks the flow it touches with the current
 * one, and the end forgets the flows nobody marked: gone while we weren't listening. An event
 * says more than a dump entry of the same time (the dump read the entry before, or after, the
 * event: we can't tell), so a dump entry never overrides a flow an event marked. Flows
 * destroyed while the dump runs are remembered (tombs) so that the dump, which may have read
 * them before their death, does not bring them back. An abandoned dump (flows_dump_abort(),
 * NLM_F_DUMP_INTR or a socket error) leaves its marks, and the next begin keeps the generation:
 * flipping it back would pass off the flows the abandoned dump never saw as seen.
 *
 * Exact after flows_dump_end() when no event was lost since the first begin of its generation,
 * and no flow that sends no events changed after the dump read it; events keep it exact after.
 */

/* State slots: TCP's own states by number, then status-bit states for the others. */
enum {
	FLOW_ST_TCP_NONE = 0, /* ... up to CT_TCP_STATE_MAX */
	FLOW_ST_UNREPLIED = CT_TCP_STATE_MAX + 1,
	FLOW_ST_REPLIED,
	FLOW_ST_ASSURED,
	FLOW_N_STATES,
};

#define FLOW_PROTO_TCP 6

/* Label values: the state slots' names, and a protocol's ("tcp", or its number). */
extern const char *const flows_state_names[FLOW_N_STATES];
const char *flows_proto_name(unsigned proto, char buf[static 4]);
/* Named protocols show all their states, 0 included: series don't come and go. */
bool flows_proto_named(unsigned proto);

#define FLOWS_N_BOUNDS 17
/* Upper bounds of the lifetime histogram's buckets, in seconds. */
extern const double flows_lifetime_bounds[FLOWS_N_BOUNDS];

/* The lifetime histogram of one protocol's flows. */
struct flows_hist {
	uint64_t bucket[FLOWS_N_BOUNDS];
	uint64_t count;
	double sum;
};

/* Unreplied entries by the second they were born (or first seen), over the last ten minutes. */
#define FLOWS_UNREP_SECONDS 600

/* Age bands of unreplied entries: under 10 s, under 1 min, under 10 min, older. */
enum { FLOWS_AGE_10S, FLOWS_AGE_1M, FLOWS_AGE_10M, FLOWS_AGE_OLDER, FLOWS_N_AGES };
extern const char *const flows_age_names[FLOWS_N_AGES];

/* What is counted of one protocol. */
struct flows_proto {
	uint32_t live[FLOW_N_STATES]; /* by state */
	uint64_t events[_CT_EVENT_MAX]; /* by type */
	struct flows_hist hist;
	/* With attribution: live unreplied entries by birth second, and those born earlier. */
	uint32_t *unrep; /* [FLOWS_UNREP_SECONDS], by birth second modulo its size */
	uint64_t unrep_older;
	uint64_t unrep_ended[2]; /* DESTROYs of never-replied entries: [0] others, [1] DNS */
};

struct flows {
	struct flowtable ft;
	struct flowtable tombs; /* flows destroyed while a dump runs: not to be revived by it */
	uint8_t gen; /* 0 or FLOW_GEN */
	bool dump_active;
	bool dump_abandoned;

	/* By protocol, made at its first event or dump entry: a few per namespace, not 256. */
	struct flows_proto *proto[256];
	uint64_t events_seen;
	uint32_t *zone_live; /* [65536] */
	unsigned zone_top; /* above the highest zone ever counted: what a scan covers */
	/*
	 * Flows known only from a dump, that never sent an event: born before any listener
	 * (nf_conntrack_events=2) or with events switched off for them (nft "ct event set 0").
	 */
	size_t silent;

	/*
	 * Attribution (attrib.h), when on. @acur counts the flows of the record, from the end of
	 * the first dump on; @anext, while a dump runs (or waits to restart), the flows marked with
	 * the current generation: the ones that survive the dump's end, when it replaces @acur.
	 * So every resync makes the summaries new from a full view of the table.
	 */
	bool attrib_on;
	struct attrib_cfg acfg;
	struct attrib_set *acur, *anext;
	uint32_t unrep_s; /* the second the unreplied rings were last moved on to */
	uint8_t unrep_protos[256]; /* the protocols with a ring */
	unsigned n_unrep_protos;
};

/* Live flows of @proto in state slot @st. */
static inline uint32_t flows_live(const struct flows *f, unsigned proto, unsigned st)
{
	return f->proto[proto & 0xff] ? f->proto[proto & 0xff]->live[st] : 0;
}

static inline uint64_t flows_events(const struct flows *f, unsigned type, unsigned proto)
{
	return f->proto[proto & 0xff] ? f->proto[proto & 0xff]->events[type] : 0;
}

/* @proto's lifetime histogram, or NULL before its first flow died under our eyes. */
static inline const struct flows_hist *flows_hist(const struct flows *f, unsigned proto)
{
	const struct flows_proto *p = f->proto[proto & 0xff];

	return p && p->hist.count ? &p->hist : NULL;
}

/* -ENOMEM; flows_fini() undoes a half-done init. */
int flows_init(struct flows *f);
/* Attribution on, before the first flow: -EINVAL for a bad @cfg. */
int flows_attrib_init(struct flows *f, const struct attrib_cfg *cfg);
/* NULL-safe, and safe on a zeroed struct. */
void flows_fini(struct flows *f);

/* The state slot an event or dump entry says, given the flow's slot so far (-1: new flow). */
unsigned flows_state_of(const struct ct_event *ev, int old);

/*
 * Apply one event (@from_dump false: counted, and marks the flow as one that sends events)
 * or dump entry to the record and the counts; @now_ds: deciseconds since some fixed start,
 * above @ev->age_ds + 1, for lifetimes and unreplied ages. -ENOMEM when the record could not
 * grow, or a DESTROY found no room to keep the dump under way from reviving its flow: the
 * record is stale then, resync.
 */
int flows_apply(struct flows *f, const struct ct_event *ev, bool from_dump, uint32_t now_ds);

/* A dump is about to start: -ENOMEM and nothing changed, or 0. */
int flows_dump_begin(struct flows *f);
/* The dump ended unfinished: its marks stay, and the next begin keeps the generation. */
void flows_dump_abort(struct flows *f);
/* The dump finished: forget the flows neither it nor an event marked. */
void flows_dump_end(struct flows *f);

/* Size the record for about @entries flows, or give memory back after the table shrank. */
void flows_fit(struct flows *f, uint64_t entries);

/*
 * Live unreplied entries of @proto by age band at @now_ds (as flows_apply()'s), into @ret;
 * false when the protocol never had one (or attribution is off).
 */
bool flows_unreplied(struct flows *f, unsigned proto, uint32_t now_ds, uint64_t ret[FLOWS_N_AGES]);

struct zone_count {
	uint16_t zone;
	uint32_t n;
};

struct state_count {
	uint32_t n;
	uint8_t proto;
	uint8_t state;
};

/*
 * At most @k (>= 1) of the non-zero (protocol, state) counts, in table order: all of them
 * when they fit, else the k - 1 largest (ties: the first in table order) and in *@ret_rest
 * what the others hold, which is then > 0. Returns how many were written to @top.
 */
size_t flows_top_states(const struct flows *f, struct state_count *top, size_t k,
			uint64_t *ret_rest);

/*
 * The zones with live flows, in zone order, at most @max of them: the biggest (ties: lower
 * zone first); what the others hold is summed in *@ret_other. They go to *@buf, an array of
 * *@cap entries grown as needed and kept for the next call (free() it when done): no
 * allocation per scrape and namespace.
 */
int flows_zones(const struct flows *f, unsigned max, struct zone_count **buf, size_t *cap,
		size_t *ret_n, uint64_t *ret_other);

#endif
