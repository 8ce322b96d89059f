/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_EVENTS_PRIV_H
#define NFCE_EVENTS_PRIV_H

/* Inside collectors/ only: the events collector's state, for events.c and events_render.c. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "collector.h"
#include "ctnl.h"
#include "flows.h"
#include "util.h"

#define RX_BATCH 64 /* datagrams per recvmmsg() */
#define RX_SLOT 8192 /* one event is a few hundred bytes */

enum resync_reason {
	RESYNC_STARTUP,
	RESYNC_OVERRUN,
	RESYNC_PERIODIC,
	RESYNC_ATTRIBUTION,
	_RESYNC_MAX,
};

/*
 * Receive buffers and their headers, shared by every instance (one per network namespace with
 * --netns): the core never runs two collector calls at once, and each call is done with them
 * when it returns. 581 KiB once, rather than once per namespace.
 */
struct rx_scratch {
	char *buf; /* RX_BATCH slots of RX_SLOT bytes for events, then DUMP_BUF for dumps */
	struct mmsghdr msgs[RX_BATCH];
	struct iovec iov[RX_BATCH];
	struct zone_count *zones; /* flows_zones()'s, grown once */
	size_t zones_cap;
	unsigned users;
};

struct events_priv {
	unsigned max_zones;
	int epfd;
	struct mnl_socket *ev;
	int ev_err; /* why there are no events (EPERM without CAP_NET_ADMIN), or 0 */
	int rcvbuf;
	struct ctnl *nl; /* the namespace's statistics socket (config.nl) */

	/* resync */
	struct mnl_socket *dump;
	char *dump_buf;
	uint32_t dump_seq;
	bool start_failed; /* the last resync_start() failed: retry from the tick only */
	/*
	 * After an overrun the socket still holds the events from before the loss: a dump that
	 * started now would see them arrive after it, older than its own view (a NEW whose
	 * DESTROY was lost would keep a dead flow). The resync waits until they are read, or
	 * OVERRUN_WAIT_US in a flood that never lets the socket empty.
	 */
	bool backlog;
	uint64_t overrun_us;
	/*
	 * A resync that OVERRUN_WAIT_US let start before the socket was read empty: the kernel
	 * kept dropping events meanwhile, unreported, so another one follows the drain.
	 */
	bool dumped_congested;
	bool synced;
	bool resync_pending;
	enum resync_reason dump_reason, pending_reason;
	uint64_t dump_start_us;

	struct flows flows; /* the record and the counts */
	uint64_t t0_us;

	struct rx_scratch *rx;

	/* what a scrape reports, besides the flows' counts */
	uint64_t overruns;
	uint64_t resyncs[_RESYNC_MAX];
	double resync_duration;
	uint64_t dump_work_us; /* of the dump under way, then of the last one */
	uint64_t last_work_us;
	uint64_t bad_messages;
	/*
	 * Losses of events (overruns, no memory) so far, when the dump under way started, and
	 * as of the start of the last dump that finished: attribution is shown only while the
	 * last is the first, as it is rebuilt by dumps alone.
	 */
	uint64_t losses, dump_losses, repaired_losses;
	uint64_t attrib_refresh_us; /* --collector.attribution.refresh-interval */

	/* drift check; silent flows' changes go unseen, so while there are any, re-dump now and then */
	uint64_t events_at_tick;
	uint64_t last_resync_end_us;
	unsigned quiet_mismatch, busy_mismatch;
};

/* collect(): what a scrape shows of the record, whole or (config.basic) within its budget. */
int events_render(struct collector *c, struct metric_writer *w);
/* The attribution families, when they are to be trusted (events_attrib.c). */
void events_render_attrib(struct events_priv *p, const struct config *cfg, struct metric_writer *w);

/*
 * flows.h's clock: deciseconds since the collector started, plus 6001, so that an entry a
 * dump finds with a kernel timestamp up to 10 minutes old keeps its age.
 */
static inline uint32_t now_ds(const struct events_priv *p)
{
	return (uint32_t)((now_monotonic_us() - p->t0_us) / 100000) + 6001;
}

#endif
