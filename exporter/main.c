// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nf_conntrack_exporter: the main thread's epoll loop watches a signalfd and the collectors'
 * event fds; libmicrohttpd answers requests on its own thread. A scrape and the handling of
 * kernel events take turns under the exporter's lock, so collectors never see two at once.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "doctor.h"
#include "exporter.h"
#include "http.h"
#include "log.h"
#include "util.h"

#ifndef NFCE_VERSION
#define NFCE_VERSION "unknown"
#endif

#define DRAIN_TIMEOUT_US (10 * 1000000ULL)
#define TAG_SIGNAL ((uint64_t)-1)
#define TAG_STATUS ((uint64_t)-2)
#define DRAIN_POLL_MS 20

static const char *telemetry_path;

/* The renderers run on the HTTP thread; each body is copied out before the lock is let go. */
static int render_metrics(void *userdata, http_body_fn body_fn, void *body_ctx)
{
	struct exporter *e = userdata;
	int r;

	fair_lock(&e->lock);
	r = exporter_scrape(e);
	if (r >= 0)
		r = body_fn(body_ctx, e->w.buf, e->w.len);
	fair_unlock(&e->lock);
	return r;
}

static int render_status(struct exporter *e, bool html, http_body_fn body_fn, void *body_ctx)
{
	int r;

	fair_lock(&e->lock);
	r = exporter_scrape(e);
	if (r >= 0) {
		mw_reset(&e->w);
		if (html)
			status_html(&e->status, &e->w, telemetry_path);
		else
			status_json(&e->status, &e->w);
		r = mw_error(&e->w);
	}
	if (r >= 0)
		r = body_fn(body_ctx, e->w.buf, e->w.len);
	fair_unlock(&e->lock);
	return r;
}

static int render_page(void *userdata, http_body_fn body_fn, void *body_ctx)
{
	return render_status(userdata, true, body_fn, body_ctx);
}

static int render_json(void *userdata, http_body_fn body_fn, void *body_ctx)
{
	return render_status(userdata, false, body_fn, body_ctx);
}

/* Every few seconds, so the status page has rates and a time to full when someone opens it. */
static void status_tick(struct exporter *e, int tfd)
{
	uint64_t n;

	if (read(tfd, &n, sizeof(n)) != sizeof(n))
		return;
	fair_lock(&e->lock);
	/* Prometheus's own scrapes feed the samples too: only fill the gaps between them. */
	if (now_realtime() - e->status.now.t >= STATUS_SAMPLE_EVERY_S - 0.5)
		(void)exporter_scrape(e);
	fair_unlock(&e->lock);
}

/*
 * A collector asked for a pause before it is woken again, so that events pile up and are read
 * in big batches: a wakeup costs more than reading a few more events. Only this thread waits;
 * scrapes go on on the HTTP thread.
 */
static void holdoff(int us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int epoll_add(int ep, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int setup_signals(sigset_t *mask)
{
	int fd;

	sigemptyset(mask);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, mask, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	fd = signalfd(-1, mask, SFD_CLOEXEC | SFD_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

static int run_loop(struct exporter *e, struct http_server *http, int ep, int sigfd, int tfd)
{
	struct log_ratelimit event_rl = LOG_RATELIMIT_INIT(60, 3);
	uint64_t drain_deadline = 0;
	unsigned n_rl;

	for (;;) {
		struct epoll_event evs[16];
		int n;

		if (drain_deadline) {
			if (http_in_flight(http) == 0)
				return 0;
			if (now_monotonic_us() >= drain_deadline) {
				log_warn("shutdown deadline reached with requests in flight",
					 LF_INT("requests", http_in_flight(http)));
				return 0;
			}
		}
		n = epoll_wait(ep, evs, (int)ARRAY_SIZE(evs), drain_deadline ? DRAIN_POLL_MS : -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;

			if (tag == TAG_STATUS) {
				status_tick(e, tfd);
			} else if (tag == TAG_SIGNAL) {
				struct signalfd_siginfo si;

				if (read(sigfd, &si, sizeof(si)) != sizeof(si) || drain_deadline)
					continue;
				log_info("shutting down",
					 LF_STR("signal", strsignal((int)si.ssi_signo)));
				http_quiesce(http);
				drain_deadline = now_monotonic_us() + DRAIN_TIMEOUT_US;
			} else if (tag < e->n_collectors) {
				struct collector *c = &e->collectors[tag];
				int r;

				fair_lock(&e->lock);
				r = c->ops->on_event(c);
				fair_unlock(&e->lock);
				if (r < 0 &&
				    (n_rl = log_ratelimit_ok(&event_rl, now_monotonic_us())))
					log_warn("collector event handling failed",
						 LF_STR("collector", c->ops->name), LF_ERR(r),
						 LF_INT("times", n_rl));
				else if (r > 0)
					holdoff(r);
			}
		}
	}
}

int main(int argc, char **argv)
{
	struct exporter e = { .cfg.procfs_fd = -1 };
	struct http_server http = { .listen_fd = -1 };
	struct flags f;
	char err[512], where[128];
	sigset_t mask;
	struct http_route routes[] = {
		{ "/metrics", "text/plain; version=0.0.4; charset=utf-8", render_metrics },
		{ "/", "text/html; charset=utf-8", render_page },
		{ "/status.json", "application/json", render_json },
	};
	struct itimerspec every = { .it_interval = { .tv_sec = (time_t)STATUS_SAMPLE_EVERY_S },
				    .it_value = { .tv_sec = 1 } };
	int r, listen_fd = -1, ep = -1, sigfd = -1, tfd = -1, status = 1;

	if (flags_parse(argc, argv, &f, err, sizeof(err)) < 0) {
		fprintf(stderr, "nf_conntrack_exporter: error: %s, try --help\n", err);
		return 2;
	}
	if (f.help) {
		flags_usage("nf_conntrack_exporter", stdout);
		return 0;
	}
	if (f.version) {
		printf("nf_conntrack_exporter %s\n", NFCE_VERSION);
		return 0;
	}
	if (f.doctor)
		return doctor_run(&f);
	log_set_level(f.log_level);

	r = exporter_init(&e, &f);
	if (r < 0) {
		if (e.cfg.procfs_fd < 0) {
			fprintf(stderr, "nf_conntrack_exporter: error: --path.procfs=%s: %s\n",
				f.procfs, strerror(-r));
			status = 2;
		}
		goto out;
	}
	sigfd = setup_signals(&mask);
	if (sigfd < 0) {
		log_error("cannot set up signal handling", LF_ERR(sigfd));
		goto out;
	}
	r = http_listen(f.listen_host, f.listen_port, &listen_fd, where, sizeof(where));
	if (r < 0) {
		log_error("cannot listen", LF_STR("address", f.listen_address), LF_ERR(r));
		goto out;
	}
	telemetry_path = f.telemetry_path;
	routes[0].path = f.telemetry_path;
	r = http_start(&http, listen_fd, routes, ARRAY_SIZE(routes), &e);
	if (r < 0) {
		close(listen_fd);
		log_error("cannot start the HTTP server", LF_STR("address", where), LF_ERR(r));
		goto out;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (ep < 0 || tfd < 0 || timerfd_settime(tfd, 0, &every, NULL) < 0 ||
	    epoll_add(ep, sigfd, TAG_SIGNAL) < 0 || epoll_add(ep, tfd, TAG_STATUS) < 0) {
		log_error("cannot set up the event loop", LF_ERR(-errno));
		goto out;
	}
	for (size_t i = 0; i < e.n_collectors; i++) {
		struct collector *c = &e.collectors[i];
		int fd;

		if (!c->enabled || !c->ops->event_fd || !c->ops->on_event)
			continue;
		fd = c->ops->event_fd(c);
		if (fd >= 0 && (r = epoll_add(ep, fd, i)) < 0) {
			log_error("cannot watch collector events",
				  LF_STR("collector", c->ops->name), LF_ERR(r));
			goto out;
		}
	}

	log_info("listening", LF_STR("address", where), LF_STR("telemetry_path", f.telemetry_path),
		 LF_STR("version", NFCE_VERSION));
	r = run_loop(&e, &http, ep, sigfd, tfd);
	if (r < 0)
		log_error("event loop failed", LF_ERR(r));
	else
		status = 0;
out:
	http_stop(&http);
	if (ep >= 0)
		close(ep);
	if (sigfd >= 0)
		close(sigfd);
	if (tfd >= 0)
		close(tfd);
	exporter_fini(&e);
	return status;
}
