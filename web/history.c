// SPDX-License-Identifier: GPL-2.0-or-later
#include "history.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

_Static_assert(sizeof(struct history_point) == 64, "the documented size of the history");

/*
 * Per second since the last point. A total below the last one is a counter that started again
 * (a module reload) or, with --netns, a sum that lost a namespace and its counters: neither
 * says what happened in between, so the chart shows a gap there rather than a made-up spike.
 */
static float rate(double now, double last, double dt)
{
	if (isnan(now) || isnan(last) || dt <= 0 || now < last)
		return NAN;
	return (float)((now - last) / dt);
}

/* The slot drawing @name: its own, a free one, or one unseen for the whole hour; -1 if none. */
static int state_slot(struct history *h, const char *name, double t)
{
	int free_slot = -1;

	for (int i = 0; i < HISTORY_STATES; i++) {
		if (strncmp(h->state_name[i], name, HISTORY_NAME - 1) == 0 && h->state_name[i][0])
			return i;
		if (free_slot < 0 && (!h->state_name[i][0] ||
				      t - h->state_seen[i] > HISTORY_SLOTS * HISTORY_EVERY_S))
			free_slot = i;
	}
	if (free_slot >= 0)
		snprintf(h->state_name[free_slot], HISTORY_NAME, "%s", name);
	return free_slot;
}

bool history_push(struct history *h, const struct history_input *in)
{
	const struct history_point *last = h->n ? history_at(h, h->n - 1) : NULL;
	struct history_point *p;
	double dt, other;

	if (last && in->t - last->t < HISTORY_EVERY_S)
		return false;
	/* A gap of more than two periods (the exporter stopped): no rate across it. */
	dt = last && in->t - last->t <= 2.5 * HISTORY_EVERY_S ? in->t - last->t : 0;
	p = &h->ring[h->head];
	*p = (struct history_point){ .t = in->t, .entries = in->entries, .limit = in->limit };
	for (int i = 0; i < HC_N; i++) {
		p->rate[i] = rate(in->counters[i], h->last_counters[i], dt);
		h->last_counters[i] = in->counters[i];
	}
	for (int i = 0; i <= HISTORY_STATES; i++)
		p->states[i] = in->n_states ? 0 : NAN;
	other = isnan(in->entries) ? 0 : in->entries;
	for (unsigned i = 0; i < in->n_states; i++) {
		int slot = state_slot(h, in->states[i].name, in->t);

		if (slot < 0)
			continue;
		p->states[slot] += (float)in->states[i].entries;
		h->state_seen[slot] = in->t;
		other -= in->states[i].entries;
	}
	if (in->n_states)
		p->states[HISTORY_STATES] = (float)fmax(0, other);
	h->head = (h->head + 1) % HISTORY_SLOTS;
	if (h->n < HISTORY_SLOTS)
		h->n++;
	return true;
}
