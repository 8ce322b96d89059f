// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nf_conntrack_exporter: the main thread's epoll loop watches a signalfd and the collectors'
 * event fds; libmicrohttpd answers requests on its own thread. A scrape and the handling of
 * kernel events take turns under the exporter's lock, so collectors never see two at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "doctor.h"
#include "exporter.h"
#include "http.h"
#include "log.h"
#include "privileges.h"
#include "reloads.h"
#include "status.h"
#include "util.h"
#include "webconfig.h"

#ifndef NFCE_VERSION
#define NFCE_VERSION "unknown"
#endif

#define DRAIN_TIMEOUT_US (10 * 1000000ULL)
#define TAG_SIGNAL ((uint64_t)-1)
#define TAG_STATUS ((uint64_t)-2)
#define DRAIN_POLL_MS 20
#define RELOAD_POLL_MS 20

static const char *telemetry_path;
static const char *web_config_file;
static bool web_config_allow_downgrade;
static struct reload_stats reloads; /* with web_config_file only */

static void reload_metrics_cb(void *ctx, struct metric_writer *w)
{
	reload_stats_write(ctx, w);
}

static struct status status_page;

/* The status page takes every scrape's samples typed, Prometheus's own scrapes included. */
static void status_begin_cb(void *ctx)
{
	status_begin(ctx);
}

static void status_sample_cb(void *ctx, const struct mw_sample *s)
{
	status_sample(ctx, s);
}

static void status_part_begin_cb(void *ctx)
{
	status_part_begin(ctx);
}

static void status_part_end_cb(void *ctx, bool kept)
{
	status_part_end(ctx, kept);
}

static void status_end_cb(void *ctx, int result)
{
	status_end(ctx, result == 0, now_realtime());
}

/* The renderers run on the HTTP thread; each body is copied out before the lock is let go. */
static int render_metrics(void *userdata, http_body_fn body_fn, void *body_ctx)
{
	struct exporter *e = userdata;
	const char *accept = http_request_header(body_ctx, "Accept");
	enum mw_format format = accept ? mw_negotiate(accept, strlen(accept)) : MW_FORMAT_TEXT;
	struct metric_writer *w;
	int r;

	if (format == MW_FORMAT_OPENMETRICS)
		http_set_content_type(body_ctx, MW_CONTENT_TYPE_OPENMETRICS);
	exporter_lock(e);
	r = exporter_scrape(e, format, &w);
	if (r >= 0)
		r = body_fn(body_ctx, w->buf, w->len);
	exporter_unlock(e);
	return r;
}

static int render_status(struct exporter *e, bool html, http_body_fn body_fn, void *body_ctx)
{
	struct metric_writer *w;
	int r;

	exporter_lock(e);
	r = exporter_scrape(e, MW_FORMAT_TEXT, &w);
	if (r >= 0) {
		mw_reset(w);
		if (html)
			status_html(&status_page, w, telemetry_path);
		else
			status_json(&status_page, w);
		r = mw_error(w);
	}
	if (r >= 0)
		r = body_fn(body_ctx, w->buf, w->len);
	exporter_unlock(e);
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

/*
 * Every few seconds: the slow sources whose period is up, and a sample for the status page so
 * that it has rates and a time to full when someone opens it.
 */
static void status_tick(struct exporter *e, int tfd)
{
	struct metric_writer *w;
	uint64_t n;

	if (read(tfd, &n, sizeof(n)) != sizeof(n))
		return;
	exporter_refresh(e);
	exporter_lock(e);
	/* Prometheus's own scrapes feed the samples too: only fill the gaps between them. */
	if (now_realtime() - status_page.v.now.t >= STATUS_SAMPLE_EVERY_S - 0.5)
		(void)exporter_scrape(e, MW_FORMAT_TEXT, &w);
	exporter_unlock(e);
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

/* Each followed namespace holds a few sockets: 1024 fds would cap it near 150 of them. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("cannot raise the open file limit", LF_ERR(-errno));
	}
}

static int check_dir(const char *path)
{
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int epoll_add(int ep, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/*
 * SIGHUP: a file that does not load, or one that would take away protection the running config
 * has (what an empty or half-written file does), leaves the running configuration as it is.
 * -EBUSY: the server the reload before replaced is still finishing its requests, and stopping it
 * would cut them; the caller tries again shortly, and @signals SIGHUPs make one reload then.
 */
static int reload_web_config(struct http_server *http, unsigned signals)
{
	struct webconfig wc;
	char err[512], removes[64];
	unsigned drops;
	int r;

	if (http_reloading(http))
		return -EBUSY;
	r = webconfig_load(web_config_file, &wc, err, sizeof(err));
	if (r < 0) {
		reload_stats_failure(&reloads, RELOAD_FAIL_INVALID);
		log_error("web config reload failed, keeping the running one",
			  LF_STR("file", web_config_file), LF_STR("err", err));
		return 0;
	}
	drops = webconfig_drops(http_webconfig(http), &wc);
	webconfig_drops_describe(drops, removes, sizeof(removes));
	if (drops && !web_config_allow_downgrade) {
		webconfig_free(&wc);
		reload_stats_failure(&reloads, RELOAD_FAIL_DOWNGRADE);
		log_error(
			"web config reload refused, keeping the running one: the file would remove "
			"protection the running config has, as an empty or half-written file does; "
			"--web.config.allow-downgrade accepts such a reload",
			LF_STR("file", web_config_file), LF_STR("removes", removes));
		return 0;
	}
	r = http_reload(http, &wc);
	if (r < 0) {
		webconfig_free(&wc);
		reload_stats_failure(&reloads, RELOAD_FAIL_SERVER);
		log_error("web config reload failed, keeping the running one",
			  LF_STR("file", web_config_file), LF_ERR(r));
		return 0;
	}
	reload_stats_success(&reloads, now_realtime());
	if (drops)
		log_warn("web config reloaded, removing protection the previous one had "
			 "(--web.config.allow-downgrade)",
			 LF_STR("file", web_config_file), LF_STR("removes", removes),
			 LF_INT("signals", signals));
	else
		log_info("web config reloaded", LF_STR("file", web_config_file),
			 LF_INT("signals", signals));
	return 0;
}

static int setup_signals(sigset_t *mask)
{
	int fd;

	sigemptyset(mask);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGHUP);
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
	unsigned n_rl, reload_pending = 0; /* SIGHUPs not acted on yet */

	for (;;) {
		struct epoll_event evs[16];
		int n, hold = 0, timeout = -1;

		if (drain_deadline) {
			if (http_in_flight(http) == 0)
				return 0;
			if (now_monotonic_us() >= drain_deadline) {
				log_warn("shutdown deadline reached with requests in flight",
					 LF_INT("requests", http_in_flight(http)));
				return 0;
			}
		}
		if (drain_deadline)
			timeout = DRAIN_POLL_MS;
		else if (reload_pending)
			timeout = RELOAD_POLL_MS;
		n = epoll_wait(ep, evs, (int)ARRAY_SIZE(evs), timeout);
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
				if (si.ssi_signo == SIGHUP) {
					if (web_config_file)
						reload_pending++;
					else
						log_info(
							"SIGHUP ignored: there is no --web.config.file",
							LF_STR("signal", "SIGHUP"));
					continue;
				}
				log_info("shutting down",
					 LF_STR("signal", strsignal((int)si.ssi_signo)));
				http_quiesce(http);
				drain_deadline = now_monotonic_us() + DRAIN_TIMEOUT_US;
			} else {
				const char *name = "";
				int r = exporter_on_event(e, tag, &name);

				if (r < 0 &&
				    (n_rl = log_ratelimit_ok(&event_rl, now_monotonic_us())))
					log_warn("collector event handling failed",
						 LF_STR("collector", name), LF_ERR(r),
						 LF_INT("times", n_rl));
				else if (r > hold)
					hold = r;
			}
		}
		/* After the round's signals: a burst of them is one reload. */
		if (reload_pending && !drain_deadline &&
		    reload_web_config(http, reload_pending) != -EBUSY)
			reload_pending = 0;
		/* Once per round, however many namespaces' collectors asked for it. */
		if (hold)
			holdoff(hold);
	}
}

int main(int argc, char **argv)
{
	struct exporter *e = NULL;
	const struct scrape_observer obs = {
		.begin = status_begin_cb,
		.sample = status_sample_cb,
		.part_begin = status_part_begin_cb,
		.part_end = status_part_end_cb,
		.end = status_end_cb,
		.ctx = &status_page,
	};
	struct http_server http = { .listen_fd = -1 };
	struct webconfig wc = { 0 };
	struct flags f;
	char err[512], where[128];
	sigset_t mask;
	struct http_route routes[] = {
		{ "/metrics", MW_CONTENT_TYPE_TEXT, render_metrics },
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
	log_set_format(f.log_json ? LOG_FORMAT_JSON : LOG_FORMAT_LOGFMT);
	/* Before privileges are dropped: the key may be readable by root only. */
	web_config_file = f.web_config_file;
	web_config_allow_downgrade = f.web_config_allow_downgrade;
	if (web_config_file && webconfig_load(web_config_file, &wc, err, sizeof(err)) < 0) {
		log_error("cannot load the web config", LF_STR("file", web_config_file),
			  LF_STR("err", err));
		return 1;
	}
	if (web_config_file)
		reload_stats_init(&reloads, now_realtime());

	if (f.netns_all || f.n_netns)
		raise_fd_limit();
	r = check_dir(f.procfs);
	if (r < 0) {
		fprintf(stderr, "nf_conntrack_exporter: error: --path.procfs=%s: %s\n", f.procfs,
			strerror(-r));
		status = 2;
		goto out;
	}
	r = exporter_new(&f, &e);
	if (r < 0)
		goto out;
	exporter_observe(e, &obs);
	if (web_config_file)
		exporter_add_writer(e, reload_metrics_cb, &reloads);
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
	/*
	 * Before libmicrohttpd's thread exists: capabilities are per thread, and scrapes run on
	 * that thread, so it must start with the reduced set rather than keep root's.
	 */
	if (f.runas && privileges_drop(f.runas, f.netns_all || f.n_netns > 0) < 0) {
		close(listen_fd);
		goto out;
	}
	/* Before the HTTP thread: a scrape may follow new namespaces and watch their fds. */
	ep = epoll_create1(EPOLL_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (ep < 0 || tfd < 0 || timerfd_settime(tfd, 0, &every, NULL) < 0 ||
	    epoll_add(ep, sigfd, TAG_SIGNAL) < 0 || epoll_add(ep, tfd, TAG_STATUS) < 0) {
		close(listen_fd);
		log_error("cannot set up the event loop", LF_ERR(-errno));
		goto out;
	}
	r = exporter_watch(e, ep);
	if (r < 0) {
		close(listen_fd);
		log_error("cannot watch collector events", LF_ERR(r));
		goto out;
	}
	telemetry_path = f.telemetry_path;
	routes[0].path = f.telemetry_path;
	r = http_start(&http, listen_fd, routes, ARRAY_SIZE(routes), &wc, e);
	if (r < 0) {
		close(listen_fd);
		log_error("cannot start the HTTP server", LF_STR("address", where), LF_ERR(r));
		goto out;
	}

	log_info("listening", LF_STR("address", where), LF_STR("telemetry_path", f.telemetry_path),
		 LF_STR("version", NFCE_VERSION));
	r = run_loop(e, &http, ep, sigfd, tfd);
	if (r < 0)
		log_error("event loop failed", LF_ERR(r));
	else
		status = 0;
out:
	http_stop(&http);
	webconfig_free(&wc);
	if (web_config_file)
		reload_stats_fini(&reloads);
	if (ep >= 0)
		close(ep);
	if (sigfd >= 0)
		close(sigfd);
	if (tfd >= 0)
		close(tfd);
	exporter_free(e);
	return status;
}
