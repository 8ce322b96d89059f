/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_CHARTS_H
#define NFCE_CHARTS_H

#include <stdbool.h>

#include "history.h"
#include "metric_writer.h"

/* The state of the table now, from the same scrape the page shows. */
struct status_chart_now {
	double t;
	double entries, limit; /* NAN when unknown */
	double growth, to_full; /* entries a second; seconds, NAN when not filling */
	bool have_states, have_events;
};

/* <div id="charts">: the fill gauge and the last hour's charts, as inline SVG. */
void status_charts(struct metric_writer *w, const struct history *h,
		   const struct status_chart_now *c);

/* A small bar for a table row, @fill from 0 to 1. */
void status_fill_bar(struct metric_writer *w, double fill);

#endif
