/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_EXPORTER_H
#define NFCE_EXPORTER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "collector.h"
#include "config.h"
#include "flags.h"
#include "log.h"
#include "metric_writer.h"
#include "process_metrics.h"

/* A scrape bigger than this is refused (HTTP 500) rather than eating the host's memory. */
#define SCRAPE_MAX_BYTES (64u << 20)

struct exporter {
	/* Scrapes run on the HTTP thread, events on the main one: this keeps them apart. */
	pthread_mutex_t lock;
	struct config cfg;
	struct collector collectors[FLAGS_MAX_COLLECTORS];
	size_t n_collectors;
	struct metric_writer w;
	struct process_metrics pm;
	struct log_ratelimit fail_rl[FLAGS_MAX_COLLECTORS];
	const char *logged_note[FLAGS_MAX_COLLECTORS];
	int logged_note_error[FLAGS_MAX_COLLECTORS];
};

int exporter_init(struct exporter *e, const struct flags *f);
void exporter_fini(struct exporter *e);
/* Render all enabled collectors and the self metrics into e->w. */
int exporter_scrape(struct exporter *e);

#endif
