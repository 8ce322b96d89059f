/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_EXPORTER_H
#define NFCE_EXPORTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flags.h"
#include "metric_writer.h"

/*
 * The daemon core: the enabled collectors, alone or once per followed network namespace, and
 * the self metrics, rendered into one writer per scrape. Opaque to doctor and the web front.
 * Scrapes run on the HTTP thread and kernel events on the main one; the caller takes
 * exporter_lock() around exporter_scrape() and whatever reads its writer.
 */
struct exporter;

/* Whoever wants a scrape's values typed (the status page, doctor): called under the lock. */
struct scrape_observer {
	void (*begin)(void *ctx);
	mw_tap_fn sample; /* every sample, in the order collectors write them */
	/*
	 * Around each collector: a collector that fails has its output cut from the exposition,
	 * so part_end(ctx, false) must forget the samples since part_begin() too.
	 */
	void (*part_begin)(void *ctx);
	void (*part_end)(void *ctx, bool kept);
	void (*end)(void *ctx, int result);
	void *ctx;
};

/* A scrape bigger than this is refused (HTTP 500) rather than eating the host's memory. */
#define SCRAPE_MAX_BYTES (64u << 20)

int exporter_new(const struct flags *f, struct exporter **ret);
void exporter_free(struct exporter *e); /* NULL-safe */

void exporter_lock(struct exporter *e);
void exporter_unlock(struct exporter *e);

/* At most one; NULL to stop. Applies from the next scrape. */
/* @write adds the caller's own series (the web server's) at the end of each scrape. */
void exporter_add_writer(struct exporter *e, void (*write)(void *ctx, struct metric_writer *w),
			 void *ctx);
void exporter_observe(struct exporter *e, const struct scrape_observer *o);
/*
 * Render all enabled collectors and the self metrics in @format into the exporter's writer,
 * returned in *@ret_w on success (valid until the next scrape; the caller may reuse it for
 * another body).
 */
int exporter_scrape(struct exporter *e, enum mw_format format, struct metric_writer **ret_w);

/* Register the collectors' event fds with the main loop's epoll @epfd (tags below 2^56). */
int exporter_watch(struct exporter *e, int epfd);
/*
 * Handle the event fd tagged @tag; takes the lock. Returns 0, a holdoff in microseconds
 * (> 0) the caller should wait before the next round, or -errno, with the collector's name
 * in *@ret_name.
 */
int exporter_on_event(struct exporter *e, uint64_t tag, const char **ret_name);
/*
 * From the event loop, every few seconds: re-read the slow sources (timeouts, slabinfo) whose
 * period is up, off the scrape path. Takes the lock.
 */
void exporter_refresh(struct exporter *e);
/* Without an event loop (doctor): the own namespace's collectors read their events, and tick. */
void exporter_poll_events(struct exporter *e);

/* The @i-th collector of the own namespace that failed at the last scrape; false past the end. */
bool exporter_failed_collector(const struct exporter *e, size_t i, const char **ret_name,
			       int *ret_error);

#endif
