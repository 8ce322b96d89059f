/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_STATUS_H
#define NFCE_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metric_writer.h"

/*
 * The status page: a human summary of this host for people without Grafana. It reads what
 * Prometheus reads (our own /metrics text), keeps five minutes of samples for rates and the
 * time to full, and renders HTML (numbers filled in server-side, so text browsers see them)
 * and the JSON that the page's script polls.
 */

#define STATUS_SAMPLES 64
#define STATUS_WINDOW_S 300.0
#define STATUS_SAMPLE_EVERY_S 5.0
#define STATUS_TOP 5

struct status_sample {
	double t;
	double entries, limit, drop, early_drop, insert_failed;
};

struct status_top {
	char label[2][32]; /* protocol, state; or zone */
	double value;
};

struct status {
	struct status_sample ring[STATUS_SAMPLES];
	unsigned head, n;
	struct status_sample now;
	bool have_table, have_stat, have_states, have_zones;
	double buckets;
	struct status_top states[STATUS_TOP];
	unsigned n_states;
	struct status_top zones[STATUS_TOP];
	unsigned n_zones;
	unsigned collectors_ok, collectors;
};

/* Read the figures out of an exposition in @text and keep a sample every few seconds. */
void status_update(struct status *st, const char *text, size_t len, double now);
void status_json(const struct status *st, struct metric_writer *w);
void status_html(const struct status *st, struct metric_writer *w, const char *telemetry_path);

#endif
