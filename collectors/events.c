// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * events: live counts of conntrack entries per protocol, state and zone, kept from ctnetlink
 * events so that a scrape costs the same at a thousand entries and at a million.
 *
 * The kernel's events alone can't be trusted to add up: entries created before anyone
 * listened never send events (nf_conntrack_events=2), UPDATE events carry only the new state,
 * and a full socket buffer drops events (ENOBUFS). So the collector keeps its own compact
 * record of every live entry (flows.c), seeded by a dump of the table, and re-dumps
 * ("resync") after an overrun, or when its count keeps disagreeing with the kernel's. A dump
 * runs in slices between events and scrapes: nothing here blocks the loop for long, and
 * nothing dumps on the scrape path.
 *
 * This file keeps the sockets and the loop's pacing: the event socket, the dump slices, the
 * drift check and the overrun handling share one state machine (when a resync may start
 * depends on all four). What an event or a dump entry does to the record and the counts is
 * flows.c's; what a scrape shows of them, events_render.c's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink_compat.h>

#include "collector.h"
#include "ctevent.h"
#include "ctnl.h"
#include "flows.h"
#include "metric_names.h"
#include "events_priv.h"
#include "util.h"

#define EVENT_BUDGET 1024 /* events per loop turn: about a millisecond, then scrapes get a go */
#define EVENT_HOLDOFF_US 1000 /* pause after reading events: bigger batches, fewer wakeups */
#define DUMP_BUF (64 * 1024)
#define DUMP_BUDGET 4 /* dump reads (about a thousand entries) per loop turn */
#define QUIET_MISMATCHES 2 /* seconds of disagreement with no events before a resync */
#define BUSY_MISMATCHES 60 /* seconds of disagreement under traffic before a resync */
#define SILENT_RESYNC_MIN_US (30 * 1000000ULL)
#define OVERRUN_WAIT_US 1000000ULL

/*
 * The time every instance's last resync spent in the dump's system calls (the kernel walking
 * the hash table), summed: what one round of periodic resyncs costs. Not their wall time,
 * which at startup, with a thousand dumps read in turns, says nothing of their cost.
 */
static uint64_t resync_work_total_us;

static int epoll_mod(int epfd, int op, int fd)
{
	struct epoll_event e = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epfd, op, fd, op == EPOLL_CTL_DEL ? NULL : &e) < 0 ? -errno : 0;
}

static void dump_close(struct events_priv *p)
{
	if (!p->dump)
		return;
	epoll_mod(p->epfd, EPOLL_CTL_DEL, mnl_socket_get_fd(p->dump));
	mnl_socket_close(p->dump);
	p->dump = NULL;
	flows_dump_abort(&p->flows); /* a no-op after flows_dump_end() */
}

static void resync_request(struct events_priv *p, enum resync_reason why)
{
	/* Events were lost: what is counted by source and the like is off until a dump repairs it. */
	if (why == RESYNC_OVERRUN)
		p->losses++;
	if (!p->resync_pending || why == RESYNC_OVERRUN)
		p->pending_reason = why;
	p->resync_pending = true;
}

static void overrun(struct events_priv *p)
{
	resync_request(p, RESYNC_OVERRUN);
	p->backlog = true;
	p->overrun_us = now_monotonic_us();
}

/* Whether a pending resync may start: not while an overrun's earlier events are unread. */
static bool resync_may_start(const struct events_priv *p)
{
	return !p->backlog || now_monotonic_us() - p->overrun_us >= OVERRUN_WAIT_US;
}

/*
 * Size the record for the table the dump is about to bring (one rehash instead of dozens
 * while a million entries stream in), or give memory back after the table shrank.
 */
static void fit_record(struct events_priv *p)
{
	struct ctnl_global g = { 0 };

	if (ctnl_get_global(p->nl, &g) == 0 && g.has_entries)
		flows_fit(&p->flows, g.entries);
}

static int resync_start(struct events_priv *p)
{
	uint64_t t0 = now_monotonic_us();
	bool fresh;
	int r;

	/* The kernel walks the first part of the hash table inside this call already. */
	r = ctnl_dump_open(++p->dump_seq, &p->dump);
	p->dump_work_us = now_monotonic_us() - t0;
	if (r < 0)
		return r;
	r = epoll_mod(p->epfd, EPOLL_CTL_ADD, mnl_socket_get_fd(p->dump));
	if (r < 0)
		goto close_sock;
	fit_record(p);
	fresh = !p->flows.dump_abandoned;
	r = flows_dump_begin(&p->flows);
	if (r < 0)
		goto unwatch;
	p->dump_reason = p->pending_reason;
	/* A restart continues its generation: losses since the first start still count. */
	if (fresh)
		p->dump_losses = p->losses;
	p->resync_pending = false;
	p->dump_start_us = now_monotonic_us();
	p->dumped_congested |= p->backlog;
	return 0;
unwatch:
	epoll_mod(p->epfd, EPOLL_CTL_DEL, mnl_socket_get_fd(p->dump));
close_sock:
	mnl_socket_close(p->dump);
	p->dump = NULL;
	return r;
}

static void resync_finish(struct events_priv *p)
{
	double took = (double)(now_monotonic_us() - p->dump_start_us) / 1e6;

	flows_dump_end(&p->flows);
	p->repaired_losses = p->dump_losses;
	/*
	 * Events lost after the generation's first start, and the dump was restarted since
	 * (which keeps the generation and cleared the request): one more, to repair them.
	 */
	if (p->repaired_losses != p->losses) {
		p->pending_reason = RESYNC_OVERRUN;
		p->resync_pending = true;
	}
	p->resyncs[p->dump_reason]++;
	p->resync_duration = took;
	resync_work_total_us += p->dump_work_us - p->last_work_us;
	p->last_work_us = p->dump_work_us;
	p->synced = true;
	p->quiet_mismatch = p->busy_mismatch = 0;
	p->last_resync_end_us = now_monotonic_us();
	dump_close(p);
}

/* One event or dump entry: into the record, or counted as bad. */
static void take(struct events_priv *p, const struct nlmsghdr *nlh, bool from_dump)
{
	struct ct_event ev;

	if (ct_event_parse(nlh, &ev) < 0) {
		p->bad_messages++;
		return;
	}
	if (ev.has_tstart) {
		struct timespec ts;
		uint64_t now_ns;

		clock_gettime(CLOCK_REALTIME, &ts);
		now_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		if (ev.tstart_ns < now_ns && (now_ns - ev.tstart_ns) / 100000000u < UINT32_MAX)
			ev.age_ds = (uint32_t)((now_ns - ev.tstart_ns) / 100000000u);
	}
	if (flows_apply(&p->flows, &ev, from_dump, now_ds(p)) < 0) { /* no memory: stale */
		p->losses++;
		resync_request(p, from_dump ? p->dump_reason : RESYNC_OVERRUN);
	}
}

static int dump_entry(const struct nlmsghdr *nlh, void *userdata)
{
	take(userdata, nlh, true);
	return 0;
}

static int dump_read(struct events_priv *p)
{
	for (int turn = 0; turn < DUMP_BUDGET && p->flows.dump_active; turn++) {
		uint64_t t0 = now_monotonic_us();
		/* The kernel walks the next part of the hash table inside this call. */
		ssize_t n = recv(mnl_socket_get_fd(p->dump), p->dump_buf, DUMP_BUF, 0);
		int r;

		p->dump_work_us += now_monotonic_us() - t0;

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			r = ctnl_error(errno);
		} else {
			r = ctnl_reply_walk(p->dump_buf, (size_t)n, p->dump_seq,
					    mnl_socket_get_portid(p->dump), dump_entry, p);
			if (r == 0)
				continue;
			if (r > 0) {
				resync_finish(p);
				return 0;
			}
		}
		/* Interrupted (NLM_F_DUMP_INTR: the table changed under it) or failed: again. */
		if (r == -EBADMSG)
			p->bad_messages++;
		dump_close(p);
		resync_request(p, p->dump_reason);
		return r == -EINTR ? 0 : r;
	}
	return 0;
}

/*
 * Drain the event socket, in batches, until it is empty or this turn's budget is spent.
 * Returns the number of datagrams read.
 */
static int events_read(struct events_priv *p)
{
	int fd = mnl_socket_get_fd(p->ev);
	unsigned handled = 0;

	while (handled < EVENT_BUDGET) {
		int n = recvmmsg(fd, p->rx->msgs, RX_BATCH, MSG_DONTWAIT, NULL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				if (p->backlog && p->dumped_congested)
					resync_request(p, RESYNC_OVERRUN);
				p->backlog = p->dumped_congested = false;
				return (int)handled;
			}
			if (errno == ENOBUFS) {
				/* The kernel dropped events for us: our record is stale now. */
				p->overruns++;
				overrun(p);
				continue;
			}
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			const struct nlmsghdr *nlh =
				(const struct nlmsghdr *)p->rx->iov[i].iov_base;
			size_t len = p->rx->msgs[i].msg_len;

			if (p->rx->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
				p->bad_messages++;
				overrun(p);
				continue;
			}
			/* One event per datagram, but walk them all in case a kernel batches. */
			for (; nlh && ctnl_msg_ok(nlh, len); nlh = ctnl_msg_next(nlh, &len))
				take(p, nlh, false);
			p->rx->msgs[i].msg_hdr.msg_flags = 0;
		}
		handled += (unsigned)n;
	}
	return (int)handled;
}

/*
 * Once a second (the core's tick): does our count agree with the kernel's? Entries born
 * before we listened never send a DESTROY, and a lost event is only noticed this way. A quiet
 * table that still disagrees, or a busy one that disagrees for a minute, gets a resync.
 */
static void events_tick(struct collector *c)
{
	struct events_priv *p = c->priv;
	struct ctnl_global g = { 0 };
	uint64_t last_second = p->flows.events_seen - p->events_at_tick;
	bool quiet = last_second == 0;
	/*
	 * Under traffic the two counts are read a moment apart with events in flight between,
	 * so a busy table never agrees to the entry: a difference within 50 ms of events is no
	 * drift. Dumping such a table every minute cost overruns under heavy churn.
	 */
	uint64_t slack = quiet ? 0 : 16 + last_second / 20;
	/*
	 * Dumping takes at most 2 % of the time: 50 times the last dumps' length between them,
	 * of every namespace's together, as each dump walks the one hash table all share (at
	 * 1,000 namespaces a dump per namespace every 30 s kept 6 % of a CPU busy).
	 */
	uint64_t pace = resync_work_total_us * 50;
	uint64_t since_resync = now_monotonic_us() - p->last_resync_end_us;

	p->events_at_tick = p->flows.events_seen;
	if (p->flows.dump_active || !p->ev)
		return; /* no event socket (init failed): nothing to keep in step */
	if (!p->resync_pending && p->synced && ctnl_get_global(p->nl, &g) == 0 && g.has_entries) {
		size_t n = p->flows.ft.n;
		uint64_t diff = g.entries > n ? g.entries - n : n - g.entries;

		if (diff <= slack) {
			p->quiet_mismatch = p->busy_mismatch = 0;
		} else if ((quiet ? ++p->quiet_mismatch >= QUIET_MISMATCHES
				  : ++p->busy_mismatch >= BUSY_MISMATCHES) &&
			   since_resync >= pace) {
			/* A count that never agrees (two flows on one id and hash) mustn't dump nonstop. */
			resync_request(p, RESYNC_PERIODIC);
		}
	}
	/* Silent flows: at most 2 % of the time dumping, and no more than every 30 s. */
	if (p->flows.silent && !p->resync_pending && p->synced &&
	    since_resync >= (pace > SILENT_RESYNC_MIN_US ? pace : SILENT_RESYNC_MIN_US))
		resync_request(p, RESYNC_PERIODIC);
	/*
	 * Summaries that had more distinct keys than slots: removals of keys they no longer
	 * monitor are lost, so errors grow with churn. A dump rebuilds them now and then.
	 */
	if (p->attrib_refresh_us && p->flows.acur && attrib_set_evicted(p->flows.acur) &&
	    !p->resync_pending && p->synced &&
	    since_resync >= (pace > p->attrib_refresh_us ? pace : p->attrib_refresh_us))
		resync_request(p, RESYNC_ATTRIBUTION);
	if (p->resync_pending && resync_may_start(p))
		p->start_failed = resync_start(p) < 0;
}

static int events_on_event(struct collector *c)
{
	struct events_priv *p = c->priv;
	struct epoll_event evs[4];
	int n, r = 0, got = 0;

	n = epoll_wait(p->epfd, evs, ARRAY_SIZE(evs), 0);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	/* Events first: the socket buffer is what can overflow. */
	for (int i = 0; i < n; i++)
		if (p->ev && evs[i].data.fd == mnl_socket_get_fd(p->ev))
			got = events_read(p);
	if (got < 0)
		r = got;
	for (int i = 0; i < n; i++) {
		if (p->dump && evs[i].data.fd == mnl_socket_get_fd(p->dump)) {
			int rr = dump_read(p);

			if (rr < 0 && r == 0)
				r = rr;
		}
	}
	/* An overrun seen while reading starts its resync at once; a failed start waits for a tick. */
	if (p->resync_pending && !p->flows.dump_active && p->synced && !p->start_failed &&
	    resync_may_start(p)) {
		int rr = resync_start(p);

		p->start_failed = rr < 0;
		if (rr < 0 && r == 0)
			r = rr;
	}
	/*
	 * Let events pile up a little: waking up for each handful cost more than reading them.
	 * Not when the budget ran out with more queued: in a burst (the kernel expiring a
	 * hundred thousand entries at once) a pause only brings the buffer closer to overflowing.
	 */
	if (r == 0 && got > 0 && got < EVENT_BUDGET && !p->flows.dump_active)
		return EVENT_HOLDOFF_US;
	return r;
}

static int events_event_fd(const struct collector *c)
{
	const struct events_priv *p = c->priv;

	return p->epfd;
}

static struct rx_scratch scratch;

static struct rx_scratch *scratch_get(void)
{
	if (!scratch.users) {
		scratch.buf = malloc((size_t)RX_BATCH * RX_SLOT + DUMP_BUF);
		if (!scratch.buf)
			return NULL;
		for (int i = 0; i < RX_BATCH; i++) {
			scratch.iov[i] =
				(struct iovec){ .iov_base = scratch.buf + (size_t)i * RX_SLOT,
						.iov_len = RX_SLOT };
			scratch.msgs[i].msg_hdr =
				(struct msghdr){ .msg_iov = &scratch.iov[i], .msg_iovlen = 1 };
		}
	}
	scratch.users++;
	return &scratch;
}

static void scratch_put(void)
{
	if (--scratch.users)
		return;
	free(scratch.buf);
	free(scratch.zones);
	scratch.buf = NULL;
	scratch.zones = NULL;
	scratch.zones_cap = 0;
}

static int events_init(struct collector *c, const struct config *cfg)
{
	struct events_priv *p = c->priv;
	int r;

	p->max_zones = cfg->events_max_zones;
	p->nl = cfg->nl;
	p->epfd = -1;
	p->t0_us = now_monotonic_us();
	if (cfg->no_netlink) {
		p->ev_err = -EOPNOTSUPP;
		return 0;
	}
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (p->epfd < 0)
		return -errno;
	r = flows_init(&p->flows);
	if (r < 0)
		return r;
	if (cfg->attrib.enabled && !cfg->basic) {
		struct attrib_cfg ac = {
			.slots = cfg->attrib.sketch_size,
			.prefix4 = cfg->attrib.prefix4,
			.prefix6 = cfg->attrib.prefix6,
		};

		r = flows_attrib_init(&p->flows, &ac);
		if (r < 0)
			return r;
		p->attrib_refresh_us = cfg->attrib.refresh_s * 1000000ULL;
	}
	p->rx = scratch_get();
	if (!p->rx)
		return -ENOMEM;
	p->dump_buf = p->rx->buf + (size_t)RX_BATCH * RX_SLOT;
	/* Listen first, then dump: nothing that happens in between is missed. */
	r = ctnl_listen(NF_NETLINK_CONNTRACK_NEW | NF_NETLINK_CONNTRACK_UPDATE |
				NF_NETLINK_CONNTRACK_DESTROY,
			cfg->events_buffer_size, &p->ev, &p->rcvbuf);
	if (r == 0)
		r = epoll_mod(p->epfd, EPOLL_CTL_ADD, mnl_socket_get_fd(p->ev));
	if (r == 0) {
		resync_request(p, RESYNC_STARTUP);
		r = resync_start(p);
	}
	if (r < 0) {
		/* No events without CAP_NET_ADMIN, or without ctnetlink: report it per scrape. */
		p->ev_err = r;
		if (p->ev) {
			mnl_socket_close(p->ev);
			p->ev = NULL;
		}
	}
	return 0;
}

static void events_fini(struct collector *c)
{
	struct events_priv *p = c->priv;

	if (!p)
		return;
	resync_work_total_us -= p->last_work_us;
	dump_close(p);
	if (p->ev)
		mnl_socket_close(p->ev);
	if (p->epfd >= 0)
		close(p->epfd);
	flows_fini(&p->flows);
	if (p->rx)
		scratch_put();
}

const struct collector_ops events_collector = {
	.name = "events",
	.help = "live entries per protocol, state and zone, from conntrack events",
	.default_enabled = true,
	.scopes = SCOPE_NETNS,
	.basic = true,
	.priv_size = sizeof(struct events_priv),
	.init = events_init,
	.event_fd = events_event_fd,
	.tick = events_tick,
	.on_event = events_on_event,
	.collect = events_render,
	.fini = events_fini,
};
