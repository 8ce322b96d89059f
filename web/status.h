/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_STATUS_H
#define NFCE_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "history.h"
#include "metric_writer.h"

/*
 * The status page: a human summary of this host for people without Grafana. It takes the
 * samples of every scrape typed from the metric writer's tap (the same values Prometheus
 * reads), keeps five minutes of them for rates and the time to full and an hour for the
 * charts (history.h: 45 KiB, fixed), and renders HTML (numbers and SVG charts filled in
 * server-side, so text browsers see them) and the JSON that the page's script polls.
 */

#define STATUS_SAMPLES 64
#define STATUS_WINDOW_S 300.0
#define STATUS_SAMPLE_EVERY_S 5.0
#define STATUS_TOP 5
#define STATUS_TOP_NETNS 10 /* with --netns, the fullest namespaces in the table */

struct status_sample {
	double t;
	double entries, limit, drop, early_drop, insert_failed;
	double events; /* NAN without the events collector */
};

struct status_top {
	char label[2][64]; /* protocol, state; or zone; or namespace */
	double value;
};

/* What one scrape showed. */
struct status_view {
	struct status_sample now;
	bool have_table, have_stat, have_states, have_zones;
	double buckets;
	struct status_top states[STATUS_TOP];
	unsigned n_states;
	struct status_top zones[STATUS_TOP];
	unsigned n_zones;
	struct status_top netns[STATUS_TOP_NETNS]; /* fullest first, with --netns */
	unsigned n_netns;
	unsigned collectors_ok, collectors;
};

struct status {
	struct status_sample ring[STATUS_SAMPLES];
	unsigned head, n;
	struct status_view v; /* the last complete scrape's */
	struct status_view next; /* being filled by the scrape under way */
	struct status_view part; /* next as it was before the collector under way */
	uint64_t family_id; /* the family of the last sample, and what it is to the page */
	int family_kind;
	struct history hist; /* the last hour, for the charts */
};

/*
 * One scrape: begin, every sample from the writer's tap, end. A failed scrape (@ok false)
 * leaves the last view as it was; a good one replaces it, and is kept every few seconds.
 */
void status_begin(struct status *st);
void status_sample(struct status *st, const struct mw_sample *s);
/* Around each collector: a failed one's samples are forgotten, as the exposition drops them. */
void status_part_begin(struct status *st);
void status_part_end(struct status *st, bool kept);
void status_end(struct status *st, bool ok, double now);
void status_json(const struct status *st, struct metric_writer *w);
void status_html(const struct status *st, struct metric_writer *w, const char *telemetry_path);

#endif
