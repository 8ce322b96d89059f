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
#include "status.h"

/* A scrape bigger than this is refused (HTTP 500) rather than eating the host's memory. */
#define SCRAPE_MAX_BYTES (64u << 20)

/*
 * A ticket lock: first come, first served. A plain mutex let the main thread, busy with a
 * million-entry dump, take it back again and again while a scrape waited for a second.
 */
struct fair_lock {
	pthread_mutex_t mutex;
	pthread_cond_t cond;
	unsigned long next;
	unsigned long serving;
};

void fair_lock_init(struct fair_lock *l);
void fair_lock(struct fair_lock *l);
void fair_unlock(struct fair_lock *l);

struct exporter {
	/* Scrapes run on the HTTP thread, events on the main one: this keeps them apart. */
	struct fair_lock lock;
	struct config cfg;
	struct collector collectors[FLAGS_MAX_COLLECTORS];
	size_t n_collectors;
	struct metric_writer w;
	struct process_metrics pm;
	struct status status;
	struct log_ratelimit fail_rl[FLAGS_MAX_COLLECTORS];
	const char *logged_note[FLAGS_MAX_COLLECTORS];
	int logged_note_error[FLAGS_MAX_COLLECTORS];
};

int exporter_init(struct exporter *e, const struct flags *f);
void exporter_fini(struct exporter *e);
/* Render all enabled collectors and the self metrics into e->w, and sample the status. */
int exporter_scrape(struct exporter *e);

#endif
