/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_HISTORY_H
#define NFCE_HISTORY_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The last hour of the status page's charts: one point every 5 s, 720 of them in a ring that
 * is allocated once with the page (a struct history is 720 * 64 bytes of points plus the
 * state names: 45 KiB, whatever the table or the number of namespaces). Counters come in as
 * totals and are kept as rates, so that a chart needs no neighbour to draw a point.
 */
#define HISTORY_SLOTS 720
#define HISTORY_EVERY_S 5.0
#define HISTORY_STATES 4 /* states drawn on their own; the rest are summed as "other" */
#define HISTORY_NAME 48

/* Counters as totals, NAN when the scrape had none. */
enum history_counter {
	HC_DROP,
	HC_EARLY_DROP,
	HC_INSERT_FAILED,
	HC_EVENTS,
	HC_N,
};

struct history_state {
	const char *name; /* "tcp established" */
	double entries;
};

/* What one scrape brings. */
struct history_input {
	double t; /* seconds, realtime */
	double entries, limit; /* NAN when unknown */
	double counters[HC_N];
	const struct history_state *states;
	unsigned n_states;
};

struct history_point {
	double t;
	double entries, limit;
	float rate[HC_N]; /* per second since the point before; NAN for the first or a gap */
	float states[HISTORY_STATES + 1]; /* by slot of history.state_name, then "other" */
};

struct history {
	struct history_point ring[HISTORY_SLOTS];
	unsigned head, n; /* next slot to write, points held */
	double last_counters[HC_N];
	/* the state each slot draws; a slot unseen for an hour is given to another */
	char state_name[HISTORY_STATES][HISTORY_NAME];
	double state_seen[HISTORY_STATES];
};

/* A point from @in, or nothing when it comes less than HISTORY_EVERY_S after the last. */
bool history_push(struct history *h, const struct history_input *in);

/* The @i-th point, oldest first (i < h->n). */
static inline const struct history_point *history_at(const struct history *h, unsigned i)
{
	return &h->ring[(h->head + HISTORY_SLOTS - h->n + i) % HISTORY_SLOTS];
}

#endif
