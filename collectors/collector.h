/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_COLLECTOR_H
#define NFCE_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "metric_writer.h"

struct collector;

/*
 * The core never runs two calls of any collectors at once (scrapes and events take turns under
 * one lock), so instances of a collector may share scratch space between calls.
 */
struct collector_ops {
	const char *name; /* --collector.<name>, label in self-metrics */
	const char *help; /* one line for --help */
	bool default_enabled;
	unsigned scopes; /* SCOPE_* it has series for */
	/*
	 * Has series with config.basic; instances are not made otherwise. Those series count
	 * against NETNS_BASIC_SERIES, of which the events collector's states take what is left
	 * (BASIC_STATE_SERIES): one more basic series means one state fewer there.
	 */
	bool basic;
	size_t priv_size; /* private state, zero-allocated by the core */
	/* -EOPNOTSUPP: off, quietly. A source that is absent now is not an init error. */
	int (*init)(struct collector *c, const struct config *cfg);
	int (*event_fd)(const struct collector *c);
	/* Must not block. > 0: call again no sooner than that many microseconds. */
	int (*on_event)(struct collector *c);
	/*
	 * Optional: called by the event loop about once a second, inside the collector's
	 * namespace, for periodic checks. One timer for all instances instead of one each.
	 */
	void (*tick)(struct collector *c);
	/*
	 * Optional, for sources that are slow to read and change rarely (sysctls, slabinfo): read
	 * them into the collector's state, which collect() then renders. The core calls it from
	 * the event loop every @refresh_s seconds; collect() calls it itself when its values are
	 * older than twice that (or were never read), so a scrape serves values at most
	 * 2 x @refresh_s old and almost never pays for the read.
	 */
	int (*refresh)(struct collector *c);
	unsigned refresh_s;
	/* Renders into @w; a negative return discards what it wrote and reports failure. */
	int (*collect)(struct collector *c, struct metric_writer *w);
	void (*fini)(struct collector *c); /* NULL-safe, half-init-safe */
};

struct collector {
	const struct collector_ops *ops;
	const struct config *cfg;
	void *priv;
	bool enabled;
	/* Outcome of the last scrape, for the self metrics. */
	bool last_success;
	double last_duration;
	int last_error;
	/*
	 * A degraded but working state (e.g. netlink refused, /proc used instead) that the
	 * exporter logs when it changes. Collectors never log themselves.
	 */
	const char *note;
	int note_error;
	/* When refresh() last succeeded (monotonic µs); 0: never, or its last try failed. */
	uint64_t refreshed_us;
	/* Entries of the namespace, set by the table collector for the host-wide sum. */
	bool has_entries;
	uint64_t entries;
};

static inline void collector_note(struct collector *c, const char *note, int error)
{
	c->note = note;
	c->note_error = error;
}

/* Refresh @c now: what refresh() returned. */
int collector_refresh(struct collector *c);
/* For collect(): refresh @c if its values are older than 2 x refresh_s (or missing); 0 or -errno. */
int collector_fresh_enough(struct collector *c);

/* Room for every collector of the registry, in per-namespace arrays. */
#define COLLECTORS_MAX 8

extern const struct collector_ops *const collector_registry[];
extern const size_t collector_registry_size;

extern const struct collector_ops table_collector;
extern const struct collector_ops stat_collector;
extern const struct collector_ops timeouts_collector;
extern const struct collector_ops lnstat_collector;
extern const struct collector_ops events_collector;
extern const struct collector_ops kernel_collector;

#endif
