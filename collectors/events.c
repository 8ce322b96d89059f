// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * events: live counts of conntrack entries per protocol, state and zone, kept from ctnetlink
 * events so that a scrape costs the same at a thousand entries and at a million.
 *
 * The kernel's events alone can't be trusted to add up: entries created before anyone
 * listened never send events (nf_conntrack_events=2), UPDATE events carry only the new state,
 * and a full socket buffer drops events (ENOBUFS). So the collector keeps its own compact
 * record of every live entry (flowtable.c), seeded by a dump of the table, and re-dumps
 * ("resync") after an overrun, or when its count keeps disagreeing with the kernel's. A dump
 * runs in slices between events and scrapes: nothing here blocks the loop for long, and
 * nothing dumps on the scrape path.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_compat.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "collector.h"
#include "ctevent.h"
#include "ctnl.h"
#include "flowtable.h"
#include "util.h"

#define RX_BATCH 64 /* datagrams per recvmmsg() */
#define RX_SLOT 8192 /* one event is a few hundred bytes */
#define EVENT_BUDGET 1024 /* events per loop turn: about a millisecond, then scrapes get a go */
#define EVENT_HOLDOFF_US 1000 /* pause after reading events: bigger batches, fewer wakeups */
#define DUMP_BUF (64 * 1024)
#define DUMP_BUDGET 4 /* dump reads (about a thousand entries) per loop turn */
#define QUIET_MISMATCHES 2 /* seconds of disagreement with no events before a resync */
#define BUSY_MISMATCHES 60 /* seconds of disagreement under traffic before a resync */
#define SILENT_RESYNC_MIN_US (30 * 1000000ULL)

/* State slots: TCP's own states by number, then status-bit states for the others. */
enum {
	ST_TCP_NONE = 0, /* ... up to CT_TCP_STATE_MAX */
	ST_UNREPLIED = CT_TCP_STATE_MAX + 1,
	ST_REPLIED,
	ST_ASSURED,
	N_STATES,
};

static const char *const state_names[N_STATES] = {
	"none",	     "syn_sent", "syn_recv",  "established", "fin_wait", "close_wait", "last_ack",
	"time_wait", "close",	 "syn_sent2", "unreplied",   "replied",	 "assured",
};

enum resync_reason {
	RESYNC_STARTUP,
	RESYNC_OVERRUN,
	RESYNC_PERIODIC,
	_RESYNC_MAX,
};

static const char *const resync_names[] = { "startup", "overrun", "periodic" };
static const char *const event_names[] = { "new", "update", "destroy" };

static const double lifetime_bounds[] = { 0.1, 0.5, 1,	  2.5,	5,    10,    30,    60,	  120,
					  300, 600, 1800, 3600, 7200, 14400, 43200, 86400 };
#define N_BOUNDS ARRAY_SIZE(lifetime_bounds)

#define IPPROTO_TCP_NUM 6

struct events_priv {
	unsigned max_zones;
	int epfd;
	int timer_fd;
	struct mnl_socket *ev;
	int ev_err; /* why there are no events (EPERM without CAP_NET_ADMIN), or 0 */
	int rcvbuf;
	struct ctnl stats;

	/* resync */
	struct mnl_socket *dump;
	char *dump_buf;
	uint32_t dump_seq;
	bool dump_active;
	bool dump_abandoned;
	bool start_failed; /* the last resync_start() failed: retry from tick() only */
	bool synced;
	bool resync_pending;
	enum resync_reason dump_reason, pending_reason;
	uint64_t dump_start_us;
	uint8_t gen;

	struct flowtable ft;
	struct flowtable tombs; /* flows destroyed while a dump runs: not to be revived by it */
	uint64_t t0_us;

	struct mmsghdr msgs[RX_BATCH];
	struct iovec iov[RX_BATCH];
	char *rx;

	/* what a scrape reports */
	uint64_t events[_CT_EVENT_MAX][256];
	uint32_t live[256][N_STATES];
	uint32_t *zone_live; /* [65536] */
	unsigned zone_top; /* above the highest zone ever counted: what a scrape scans */
	uint64_t (*hist[256])[N_BOUNDS]; /* allocated for a protocol at its first death */
	uint64_t hist_count[256];
	double hist_sum[256];
	uint64_t overruns;
	uint64_t resyncs[_RESYNC_MAX];
	double resync_duration;
	uint64_t bad_messages;

	/* drift check */
	uint64_t events_seen;
	uint64_t events_at_tick;
	/*
	 * Flows known only from a dump, that never sent an event: born before any listener
	 * (nf_conntrack_events=2) or with events switched off for them (nft "ct event set 0").
	 * Their state changes and deaths go unseen, so while there are any, re-dump now and then.
	 */
	size_t silent;
	uint64_t last_resync_end_us;
	unsigned quiet_mismatch, busy_mismatch;
};

static uint32_t now_ds(const struct events_priv *p)
{
	return (uint32_t)((now_monotonic_us() - p->t0_us) / 100000);
}

static unsigned state_of(const struct ct_event *ev, int old)
{
	if (ev->l4proto == IPPROTO_TCP_NUM) {
		if (ev->has_tcp_state && ev->tcp_state <= CT_TCP_STATE_MAX)
			return ev->tcp_state;
		/* UPDATEs without a state change, and DESTROYs, carry no protoinfo. */
		return old >= 0 && old <= CT_TCP_STATE_MAX ? (unsigned)old : ST_TCP_NONE;
	}
	if (!ev->has_status)
		return old >= ST_UNREPLIED ? (unsigned)old : ST_UNREPLIED;
	if (ev->status & IPS_ASSURED)
		return ST_ASSURED;
	return ev->status & IPS_SEEN_REPLY ? ST_REPLIED : ST_UNREPLIED;
}

static void count(struct events_priv *p, const struct flow *f, int delta)
{
	unsigned st = (f->state & FLOW_STATE_MASK) - 1u;

	p->live[f->proto][st] += (uint32_t)delta;
	p->zone_live[f->zone] += (uint32_t)delta;
	if (f->zone >= p->zone_top)
		p->zone_top = f->zone + 1u;
}

static void observe_lifetime(struct events_priv *p, const struct flow *f)
{
	double life;

	if (!f->start)
		return; /* seen in a dump, not born under our eyes */
	life = (double)(now_ds(p) + 1 - f->start) / 10.0;
	if (!p->hist[f->proto] && !(p->hist[f->proto] = calloc(1, sizeof(*p->hist[0]))))
		return; /* out of memory: this flow goes unobserved, nothing worse */
	for (size_t i = 0; i < N_BOUNDS; i++)
		if (life <= lifetime_bounds[i])
			(*p->hist[f->proto])[i]++;
	p->hist_count[f->proto]++;
	p->hist_sum[f->proto] += life;
}

static void forget(struct events_priv *p, struct flow *f)
{
	if (!(f->state & FLOW_EVENTS))
		p->silent--;
	count(p, f, -1);
	ft_delete(&p->ft, f);
}

/* Apply one event or dump entry to the record and the counts. */
static int apply(struct events_priv *p, const struct ct_event *ev, bool from_dump)
{
	struct flow *f = ft_find(&p->ft, ev->id, ev->thash);
	unsigned st;
	int r;

	if (!from_dump) {
		p->events[ev->type][ev->l4proto]++;
		p->events_seen++;
	}
	if (ev->type == CT_EVENT_DESTROY) {
		if (f) {
			observe_lifetime(p, f);
			forget(p, f);
		}
		/* The dump under way may still bring this flow, from before its death: ignore it. */
		if (p->dump_active && !ft_find(&p->tombs, ev->id, ev->thash)) {
			struct flow t = { .id = ev->id, .thash = ev->thash, .state = 1 };

			(void)ft_insert(&p->tombs,
					&t); /* no room: a phantom until the next resync */
		}
		return 0;
	}
	if (from_dump && ((f && (f->state & FLOW_GEN) == p->gen) ||
			  (!f && ft_find(&p->tombs, ev->id, ev->thash))))
		return 0; /* an event of this dump's time already said more, or the flow died */
	st = state_of(ev, f ? (int)(f->state & FLOW_STATE_MASK) - 1 : -1);
	if (f) {
		uint8_t keep = f->state & FLOW_EVENTS;

		if ((f->state & FLOW_STATE_MASK) != st + 1 || f->zone != ev->zone ||
		    f->proto != ev->l4proto) {
			count(p, f, -1);
			f->state = (uint8_t)(st + 1);
			f->zone = ev->zone;
			f->proto = ev->l4proto;
			count(p, f, +1);
		}
		if (!keep && !from_dump)
			p->silent--;
		f->state = (uint8_t)((f->state & FLOW_STATE_MASK) | p->gen | keep |
				     (from_dump ? 0 : FLOW_EVENTS));
		return 0;
	}
	{
		struct flow nf = {
			.id = ev->id,
			.thash = ev->thash,
			.zone = ev->zone,
			.proto = ev->l4proto,
			.state = (uint8_t)((st + 1) | p->gen | (from_dump ? 0 : FLOW_EVENTS)),
			.start = ev->type == CT_EVENT_NEW && !from_dump ? now_ds(p) + 1 : 0,
		};

		r = ft_insert(&p->ft, &nf);
		if (r < 0)
			return r;
		count(p, &nf, +1);
		if (from_dump)
			p->silent++;
	}
	return 0;
}

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
	/* Unfinished: the next dump keeps this generation, or flows it never saw would survive. */
	p->dump_abandoned = p->dump_active;
	p->dump_active = false;
	ft_free(&p->tombs);
}

static void resync_request(struct events_priv *p, enum resync_reason why)
{
	if (!p->resync_pending || why == RESYNC_OVERRUN)
		p->pending_reason = why;
	p->resync_pending = true;
}

/*
 * Size the record for the table the dump is about to bring (one rehash instead of dozens
 * while a million entries stream in), or give memory back after the table shrank.
 */
static void fit_record(struct events_priv *p)
{
	struct ctnl_global g = { 0 };
	size_t want;

	if (ctnl_get_global(&p->stats, &g) < 0 || !g.has_entries)
		return;
	want = (size_t)g.entries + g.entries / 16;
	if (want > p->ft.cap || want * 4 < p->ft.cap)
		(void)ft_resize(&p->ft, want); /* on failure the table still grows as it goes */
}

static int resync_start(struct events_priv *p)
{
	char buf[256];
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;
	int r;

	p->dump = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!p->dump)
		return -errno;
	if (mnl_socket_bind(p->dump, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		goto fail;
	}
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_GET;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++p->dump_seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	if (mnl_socket_sendto(p->dump, nlh, nlh->nlmsg_len) < 0) {
		r = -errno;
		goto fail;
	}
	r = ft_init(&p->tombs, 0);
	if (r < 0)
		goto fail;
	r = epoll_mod(p->epfd, EPOLL_CTL_ADD, mnl_socket_get_fd(p->dump));
	if (r < 0) {
		ft_free(&p->tombs);
		goto fail;
	}
	fit_record(p);
	/* Flows the dump doesn't mention, and no event touches meanwhile, are gone. */
	if (!p->dump_abandoned)
		p->gen ^= FLOW_GEN;
	p->dump_abandoned = false;
	p->dump_active = true;
	p->dump_reason = p->pending_reason;
	p->resync_pending = false;
	p->dump_start_us = now_monotonic_us();
	return 0;
fail:
	mnl_socket_close(p->dump);
	p->dump = NULL;
	return r;
}

static void resync_finish(struct events_priv *p)
{
	/* Sweep; a deletion shifts the next flow into slot i, so look at i again. */
	for (size_t i = 0; i < p->ft.cap;) {
		struct flow *f = &p->ft.slots[i];

		if ((f->state & FLOW_STATE_MASK) && (f->state & FLOW_GEN) != p->gen)
			forget(p, f);
		else
			i++;
	}
	p->resyncs[p->dump_reason]++;
	p->resync_duration = (double)(now_monotonic_us() - p->dump_start_us) / 1e6;
	p->synced = true;
	p->quiet_mismatch = p->busy_mismatch = 0;
	p->last_resync_end_us = now_monotonic_us();
	p->dump_active = false; /* finished, not abandoned */
	dump_close(p);
}

/* One event or dump entry: into the record, or counted as bad. */
static void take(struct events_priv *p, const struct nlmsghdr *nlh, bool from_dump)
{
	struct ct_event ev;

	if (ct_event_parse(nlh, &ev) < 0)
		p->bad_messages++;
	else if (apply(p, &ev, from_dump) < 0) /* no memory for the record: it is stale now */
		resync_request(p, from_dump ? p->dump_reason : RESYNC_OVERRUN);
}

static int dump_read(struct events_priv *p)
{
	for (int turn = 0; turn < DUMP_BUDGET && p->dump_active; turn++) {
		ssize_t n = recv(mnl_socket_get_fd(p->dump), p->dump_buf, DUMP_BUF, 0);
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)p->dump_buf;
		size_t left;

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			n = -errno;
			dump_close(p);
			resync_request(p, p->dump_reason);
			return (int)n;
		}
		for (left = (size_t)n; nlh && ctnl_msg_ok(nlh, left);
		     nlh = ctnl_msg_next(nlh, &left)) {
			if (nlh->nlmsg_seq != p->dump_seq) {
				/* the remains of an abandoned dump */
			} else if (nlh->nlmsg_type == NLMSG_DONE) {
				resync_finish(p);
				return 0;
			} else if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
				int err = nlh->nlmsg_len >= MNL_NLMSG_HDRLEN + sizeof(*e)
						  ? e->error
						  : -EBADMSG;

				dump_close(p);
				resync_request(p, p->dump_reason);
				return err ? err : -EBADMSG;
			} else if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) {
				dump_close(p);
				resync_request(p, p->dump_reason);
				return 0;
			} else {
				take(p, nlh, true);
			}
		}
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
		int n = recvmmsg(fd, p->msgs, RX_BATCH, MSG_DONTWAIT, NULL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return (int)handled;
			if (errno == ENOBUFS) {
				/* The kernel dropped events for us: our record is stale now. */
				p->overruns++;
				resync_request(p, RESYNC_OVERRUN);
				continue;
			}
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			const struct nlmsghdr *nlh = (const struct nlmsghdr *)p->iov[i].iov_base;
			size_t len = p->msgs[i].msg_len;

			if (p->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
				p->bad_messages++;
				resync_request(p, RESYNC_OVERRUN);
				continue;
			}
			/* One event per datagram, but walk them all in case a kernel batches. */
			for (; nlh && ctnl_msg_ok(nlh, len); nlh = ctnl_msg_next(nlh, &len))
				take(p, nlh, false);
			p->msgs[i].msg_hdr.msg_flags = 0;
		}
		handled += (unsigned)n;
	}
	return (int)handled;
}

/*
 * Once a second: does our count agree with the kernel's? Entries born before we listened
 * never send a DESTROY, and a lost event is only noticed this way. A quiet table that still
 * disagrees, or a busy one that disagrees for a minute, gets a resync.
 */
static void tick(struct events_priv *p)
{
	struct ctnl_global g = { 0 };
	uint64_t last_second = p->events_seen - p->events_at_tick;
	bool quiet = last_second == 0;
	/*
	 * Under traffic the two counts are read a moment apart with events in flight between,
	 * so a busy table never agrees to the entry: a difference within 50 ms of events is no
	 * drift. Dumping such a table every minute cost overruns under heavy churn.
	 */
	uint64_t slack = quiet ? 0 : 16 + last_second / 20;
	/* Dumping takes at most 2 % of the time: 50 times the last dump's length between them. */
	uint64_t pace = (uint64_t)(p->resync_duration * 50e6);
	uint64_t since_resync = now_monotonic_us() - p->last_resync_end_us;

	p->events_at_tick = p->events_seen;
	if (p->dump_active || !p->ev)
		return; /* no event socket (init failed): nothing to keep in step */
	if (!p->resync_pending && p->synced && ctnl_get_global(&p->stats, &g) == 0 &&
	    g.has_entries) {
		uint64_t diff = g.entries > p->ft.n ? g.entries - p->ft.n : p->ft.n - g.entries;

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
	if (p->silent && !p->resync_pending && p->synced &&
	    since_resync >= (pace > SILENT_RESYNC_MIN_US ? pace : SILENT_RESYNC_MIN_US))
		resync_request(p, RESYNC_PERIODIC);
	if (p->resync_pending)
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
		if (evs[i].data.fd == p->timer_fd) {
			uint64_t ticks;

			if (read(p->timer_fd, &ticks, sizeof(ticks)) == sizeof(ticks))
				tick(p);
		} else if (p->dump && evs[i].data.fd == mnl_socket_get_fd(p->dump)) {
			int rr = dump_read(p);

			if (rr < 0 && r == 0)
				r = rr;
		}
	}
	/* An overrun seen while reading starts its resync at once; a failed start waits for a tick. */
	if (p->resync_pending && !p->dump_active && p->synced && !p->start_failed) {
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
	if (r == 0 && got > 0 && got < EVENT_BUDGET && !p->dump_active)
		return EVENT_HOLDOFF_US;
	return r;
}

static int events_event_fd(const struct collector *c)
{
	const struct events_priv *p = c->priv;

	return p->epfd;
}

static int open_event_socket(struct events_priv *p, size_t bufsize)
{
	int fd, size = bufsize > INT32_MAX / 2 ? INT32_MAX / 2 : (int)bufsize;
	socklen_t sl = sizeof(p->rcvbuf);

	p->ev = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!p->ev)
		return -errno;
	fd = mnl_socket_get_fd(p->ev);
	/* FORCE passes rmem_max with CAP_NET_ADMIN; without it we get what rmem_max allows. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &p->rcvbuf, &sl) < 0)
		p->rcvbuf = 0;
	if (mnl_socket_bind(p->ev,
			    NF_NETLINK_CONNTRACK_NEW | NF_NETLINK_CONNTRACK_UPDATE |
				    NF_NETLINK_CONNTRACK_DESTROY,
			    MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	return epoll_mod(p->epfd, EPOLL_CTL_ADD, fd);
}

/*
 * Receive buffers, shared by every instance (one per network namespace with --netns): the core
 * never runs two collector calls at once, and each call is done with them when it returns.
 * 576 KiB once, rather than once per namespace.
 */
static struct {
	char *rx;
	char *dump;
	unsigned users;
} scratch;

static int scratch_get(void)
{
	if (!scratch.users) {
		scratch.rx = malloc((size_t)RX_BATCH * RX_SLOT);
		scratch.dump = malloc(DUMP_BUF);
		if (!scratch.rx || !scratch.dump) {
			free(scratch.rx);
			free(scratch.dump);
			scratch.rx = scratch.dump = NULL;
			return -ENOMEM;
		}
	}
	scratch.users++;
	return 0;
}

static void scratch_put(void)
{
	if (--scratch.users)
		return;
	free(scratch.rx);
	free(scratch.dump);
	scratch.rx = scratch.dump = NULL;
}

static int events_init(struct collector *c, const struct config *cfg)
{
	struct events_priv *p = c->priv;
	struct itimerspec its = { .it_interval = { .tv_sec = 1 }, .it_value = { .tv_sec = 1 } };
	int r;

	p->max_zones = cfg->events_max_zones;
	p->epfd = p->timer_fd = -1;
	p->t0_us = now_monotonic_us();
	if (cfg->no_netlink) {
		p->ev_err = -EOPNOTSUPP;
		return 0;
	}
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (p->epfd < 0)
		return -errno;
	p->zone_live = calloc(65536, sizeof(*p->zone_live));
	if (!p->zone_live || scratch_get() < 0)
		return -ENOMEM;
	p->rx = scratch.rx;
	p->dump_buf = scratch.dump;
	for (int i = 0; i < RX_BATCH; i++) {
		p->iov[i] = (struct iovec){ .iov_base = p->rx + (size_t)i * RX_SLOT,
					    .iov_len = RX_SLOT };
		p->msgs[i].msg_hdr = (struct msghdr){ .msg_iov = &p->iov[i], .msg_iovlen = 1 };
	}
	p->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (p->timer_fd < 0 || timerfd_settime(p->timer_fd, 0, &its, NULL) < 0)
		return -errno;
	r = epoll_mod(p->epfd, EPOLL_CTL_ADD, p->timer_fd);
	if (r < 0)
		return r;
	r = ft_init(&p->ft, 0);
	if (r < 0)
		return r;

	/* Listen first, then dump: nothing that happens in between is missed. */
	r = open_event_socket(p, cfg->events_buffer_size);
	if (r == 0)
		r = ctnl_open(&p->stats);
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

static const char *proto_name(unsigned proto, char *buf, size_t size)
{
	switch (proto) {
	case 1:
		return "icmp";
	case 6:
		return "tcp";
	case 17:
		return "udp";
	case 33:
		return "dccp";
	case 47:
		return "gre";
	case 58:
		return "icmpv6";
	case 132:
		return "sctp";
	case 136:
		return "udplite";
	default:
		snprintf(buf, size, "%u", proto);
		return buf;
	}
}

static bool proto_named(unsigned proto)
{
	char buf[4];

	return proto_name(proto, buf, sizeof(buf)) != buf;
}

struct zone_count {
	uint16_t zone;
	uint32_t n;
};

static int by_count_desc(const void *a, const void *b)
{
	const struct zone_count *x = a, *y = b;

	return x->n != y->n ? (x->n < y->n ? 1 : -1) : (x->zone > y->zone) - (x->zone < y->zone);
}

static int by_zone(const void *a, const void *b)
{
	const struct zone_count *x = a, *y = b;

	return (x->zone > y->zone) - (x->zone < y->zone);
}

static int write_zones(struct events_priv *p, struct metric_writer *w)
{
	struct zone_count *z;
	size_t n = 0, shown;
	uint64_t other = 0;
	char num[8];

	/* Most hosts use zone 0 alone: with one namespace per pod, scanning 64k is the cost. */
	z = malloc((p->zone_top + 1) * sizeof(*z));
	if (!z)
		return -ENOMEM;
	for (unsigned i = 0; i < p->zone_top; i++)
		if (p->zone_live[i])
			z[n++] = (struct zone_count){ (uint16_t)i, p->zone_live[i] };
	/* The biggest zones get their own series: the one gone wild is what matters. */
	shown = n;
	if (n > p->max_zones) {
		qsort(z, n, sizeof(*z), by_count_desc);
		shown = p->max_zones;
		for (size_t i = shown; i < n; i++)
			other += z[i].n;
		qsort(z, shown, sizeof(*z), by_zone);
	}
	mw_family(
		w, "nf_conntrack_zone_entries", METRIC_GAUGE,
		"Live conntrack entries per conntrack zone; zones past the cap are summed as \"other\".");
	for (size_t i = 0; i < shown; i++) {
		snprintf(num, sizeof(num), "%u", z[i].zone);
		mw_u64(w, "nf_conntrack_zone_entries", MW_LABELS({ "zone", num }), z[i].n);
	}
	if (n > shown)
		mw_u64(w, "nf_conntrack_zone_entries", MW_LABELS({ "zone", "other" }), other);
	free(z);
	return 0;
}

static void write_histograms(struct events_priv *p, struct metric_writer *w)
{
	mw_family(w, "nf_conntrack_flow_lifetime_seconds", METRIC_HISTOGRAM,
		  "How long flows lived, from NEW to DESTROY, for flows whose NEW event was seen.");
	for (unsigned proto = 0; proto < 256; proto++) {
		char pb[4], le[24];
		const char *pn;

		if (!p->hist_count[proto])
			continue;
		pn = proto_name(proto, pb, sizeof(pb));
		for (size_t i = 0; i < N_BOUNDS; i++) {
			fmt_double(le, sizeof(le), lifetime_bounds[i]);
			mw_u64(w, "nf_conntrack_flow_lifetime_seconds_bucket",
			       MW_LABELS({ "protocol", pn }, { "le", le }), (*p->hist[proto])[i]);
		}
		mw_u64(w, "nf_conntrack_flow_lifetime_seconds_bucket",
		       MW_LABELS({ "protocol", pn }, { "le", "+Inf" }), p->hist_count[proto]);
		mw_double(w, "nf_conntrack_flow_lifetime_seconds_sum",
			  MW_LABELS({ "protocol", pn }), p->hist_sum[proto]);
		mw_u64(w, "nf_conntrack_flow_lifetime_seconds_count", MW_LABELS({ "protocol", pn }),
		       p->hist_count[proto]);
	}
}

static int events_collect(struct collector *c, struct metric_writer *w)
{
	struct events_priv *p = c->priv;

	if (p->ev_err)
		return p->ev_err;

	mw_family(w, "nf_conntrack_events_total", METRIC_COUNTER,
		  "Conntrack events received from the kernel, by type and protocol.");
	for (unsigned t = 0; t < _CT_EVENT_MAX; t++)
		for (unsigned proto = 0; proto < 256; proto++) {
			char pb[4];

			if (p->events[t][proto])
				mw_u64(w, "nf_conntrack_events_total",
				       MW_LABELS({ "type", event_names[t] },
						 { "protocol", proto_name(proto, pb, sizeof(pb)) }),
				       p->events[t][proto]);
		}
	mw_family(
		w, "nf_conntrack_event_overruns_total", METRIC_COUNTER,
		"Times the kernel dropped events for the exporter because its socket buffer was full (ENOBUFS).");
	mw_u64(w, "nf_conntrack_event_overruns_total", MW_NO_LABELS, p->overruns);
	mw_family(w, "nf_conntrack_event_bad_messages_total", METRIC_COUNTER,
		  "Event and dump messages the exporter could not parse, or that were truncated.");
	mw_u64(w, "nf_conntrack_event_bad_messages_total", MW_NO_LABELS, p->bad_messages);
	mw_family(
		w, "nf_conntrack_event_silent_entries", METRIC_GAUGE,
		"Live entries known only from a dump, that send no events; periodic resyncs keep them right.");
	mw_u64(w, "nf_conntrack_event_silent_entries", MW_NO_LABELS, p->silent);
	mw_family(w, "nf_conntrack_event_socket_buffer_bytes", METRIC_GAUGE,
		  "Receive buffer of the event socket, as the kernel accounts it.");
	mw_u64(w, "nf_conntrack_event_socket_buffer_bytes", MW_NO_LABELS, (uint64_t)p->rcvbuf);
	mw_family(w, "nf_conntrack_resyncs_total", METRIC_COUNTER,
		  "Dumps of the conntrack table that rebuilt the exporter's record of live flows.");
	for (unsigned r = 0; r < _RESYNC_MAX; r++)
		mw_u64(w, "nf_conntrack_resyncs_total", MW_LABELS({ "reason", resync_names[r] }),
		       p->resyncs[r]);
	mw_family(w, "nf_conntrack_resync_duration_seconds", METRIC_GAUGE,
		  "How long the last resync took.");
	mw_double(w, "nf_conntrack_resync_duration_seconds", MW_NO_LABELS, p->resync_duration);
	write_histograms(p, w);

	/* Until the first dump is in, per-state counts would be partial: say nothing. */
	if (!p->synced)
		return 0;
	mw_family(
		w, "nf_conntrack_state_entries", METRIC_GAUGE,
		"Live conntrack entries by protocol and state (TCP states, else unreplied/replied/assured).");
	for (unsigned proto = 0; proto < 256; proto++) {
		char pb[4];
		const char *pn = proto_name(proto, pb, sizeof(pb));
		bool named = proto_named(proto);

		for (unsigned st = 0; st < N_STATES; st++) {
			bool tcp_state = st <= CT_TCP_STATE_MAX;

			/* Named protocols always show their states (0 too): series don't come and go. */
			if (!p->live[proto][st] && (!named || st == ST_TCP_NONE ||
						    tcp_state != (proto == IPPROTO_TCP_NUM)))
				continue;
			mw_u64(w, "nf_conntrack_state_entries",
			       MW_LABELS({ "protocol", pn }, { "state", state_names[st] }),
			       p->live[proto][st]);
		}
	}
	return write_zones(p, w);
}

static void events_fini(struct collector *c)
{
	struct events_priv *p = c->priv;

	if (!p)
		return;
	dump_close(p);
	if (p->ev)
		mnl_socket_close(p->ev);
	ctnl_close(&p->stats);
	if (p->timer_fd >= 0)
		close(p->timer_fd);
	if (p->epfd >= 0)
		close(p->epfd);
	ft_free(&p->ft);
	free(p->zone_live);
	for (unsigned i = 0; i < 256; i++)
		free(p->hist[i]);
	if (p->rx)
		scratch_put();
}

const struct collector_ops events_collector = {
	.name = "events",
	.help = "live entries per protocol, state and zone, from conntrack events",
	.default_enabled = true,
	.scopes = SCOPE_NETNS,
	.priv_size = sizeof(struct events_priv),
	.init = events_init,
	.event_fd = events_event_fd,
	.on_event = events_on_event,
	.collect = events_collect,
	.fini = events_fini,
};
