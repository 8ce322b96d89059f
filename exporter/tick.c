// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The core's own descriptors in the main loop: one timer that ticks every collector instance
 * (instead of a timerfd each) and runs the namespace scans, and the /run/netns watch.
 */
#include <errno.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core.h"
#include "util.h"

/* Namespaces ticked under one hold of the lock. */
#define TICK_BATCH 32

/* The next tick in @first_us, then every second. */
static void tick_arm(struct exporter *e, uint64_t first_us)
{
	struct itimerspec its = {
		.it_interval = { .tv_sec = 1 },
		.it_value = { .tv_sec = (time_t)(first_us / 1000000),
			      .tv_nsec = (long)(first_us % 1000000) * 1000 },
	};

	(void)timerfd_settime(e->tick_fd, 0, &its, NULL);
}

static int watch_core(struct exporter *e, int fd, unsigned what)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = make_tag(TAG_CORE_SET, 0, what) };

	return epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int core_watch(struct exporter *e)
{
	int r;

	e->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (e->tick_fd < 0)
		return -errno;
	tick_arm(e, 1000000);
	r = watch_core(e, e->tick_fd, TAG_CORE_TICK);
	if (r == 0 && e->inotify_fd >= 0)
		r = watch_core(e, e->inotify_fd, TAG_CORE_INOTIFY);
	return r;
}

static void tick_set(struct collector_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->c[i].enabled && s->c[i].ops->tick)
			s->c[i].ops->tick(&s->c[i]);
}

/* The timer: namespace scans when due, and about once a second the collectors' ticks. */
static void core_tick(struct exporter *e)
{
	uint64_t ticks, now, soon;

	if (read(e->tick_fd, &ticks, sizeof(ticks)) != sizeof(ticks))
		return;
	soon = netns_tick(e);
	if (soon)
		tick_arm(e, soon);
	now = now_monotonic_us();
	/* Not for the short ticks a scan asked for: once a second is what collectors expect. */
	if (now - e->ticked_us < 900000)
		return;
	e->ticked_us = now;
	tick_set(&e->host);
	for (size_t i = 0, k = 0; i < e->ns_slots; i++) {
		struct netns_inst *n;
		int r;

		/*
		 * A scrape waiting for the lock gets its turn every TICK_BATCH namespaces, not
		 * after a thousand netlink round trips. What it may change is read again after.
		 */
		if (++k % TICK_BATCH == 0) {
			fair_unlock(&e->lock);
			fair_lock(&e->lock);
			if (i >= e->ns_slots)
				break;
		}
		n = e->ns[i];
		if (!n)
			continue;
		r = ns_enter(n);
		if (r < 0) {
			drop_unenterable(e, i, r);
			continue;
		}
		tick_set(&n->set);
		ns_leave(e);
	}
}

void core_event(struct exporter *e, size_t what)
{
	bool armed = e->scan_soon;

	if (what == TAG_CORE_TICK) {
		core_tick(e);
		return;
	}
	netns_inotify(e);
	/*
	 * A burst of names (a node starting its pods) is one scan, a little later; not later and
	 * later: re-arming at each change would starve the timer.
	 */
	if (!armed)
		tick_arm(e, 50000);
}

void tick_host(struct exporter *e)
{
	uint64_t now = now_monotonic_us();

	if (now - e->ticked_us < 1000000)
		return;
	e->ticked_us = now;
	tick_set(&e->host);
}
