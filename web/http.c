// SPDX-License-Identifier: GPL-2.0-or-later
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "auth.h"
#include "conns.h"
#include "http_daemon.h"
#include "log.h"
#include "util.h"
#include "webconfig.h"

#define HTTP_CONNECTION_LIMIT 64
/*
 * One address can't take every connection from Prometheus; at its limit, its oldest idle
 * connection makes room for a new one (conn_table_admit()), so that Prometheus behind a NAT
 * address it shares is not locked out by a neighbour's idle keep-alive connections.
 */
#define HTTP_PER_IP_LIMIT 16
#define HTTP_CONNECTION_TIMEOUT_S 30
#define HTTP_CONNECTION_MEMORY 32768
/*
 * MHD's timeout is for inactivity: a client sending a byte a second keeps a connection for
 * ever. Each request, from the connection's start or the end of the one before, must complete
 * within this many seconds, or the watchdog cuts the connection.
 */
#define HTTP_REQUEST_DEADLINE_US (30 * 1000000ULL)
/*
 * MHD stops accepting at its limit, and then Prometheus waits in the kernel's backlog behind
 * idle connections until they time out. Above this many, each new connection cuts the oldest
 * one that has not sent a complete request yet, so there is always room for a real one.
 */
#define HTTP_EVICT_ABOVE 48
/*
 * After a reload, the old daemon waits for its connections (conn_table_idle()): a kept-alive
 * one answered less than the linger ago may have its next request on the way (the answer to it
 * says "Connection: close"), and one that has sent nothing yet may be a scrape in its TLS
 * handshake until the grace is over.
 */
#define HTTP_RETIRE_LINGER_US 100000ULL
#define HTTP_RETIRE_GRACE_US (2 * 1000000ULL)
#define HTTP_WATCHDOG_PERIOD_US 1000000ULL
#define HTTP_WATCHDOG_RETIRE_PERIOD_US 100000ULL

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	log_debug("http server", LF_STR("detail", msg));
}

/* MHD's accept policy: runs on its thread, before on_connection() for the same connection. */
static mhd_result admit(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	struct http_daemon *d = cls;
	uint8_t key[AUTH_ADDR_SIZE];

	(void)addrlen;
	auth_addr_key(addr, key);
	return conn_table_admit(&d->conns, key, HTTP_PER_IP_LIMIT) ? MHD_YES : MHD_NO;
}

/* The request line arrived: from now on the connection has a request under way. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct http_daemon *d = cls;
	struct http_conn *hc = http_conn_of(conn);

	(void)uri;
	if (hc)
		conn_table_receiving(&d->conns, hc);
	return NULL; /* the request's context: on_request() sets it on its first call */
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct http_daemon *d = cls;
	struct http_conn *hc = *socket_context;
	const union MHD_ConnectionInfo *ci;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (!hc)
			return;
		/* Before MHD closes the fd: the watchdog never shuts down a reused number. */
		conn_table_remove(&d->conns, hc);
		free(hc);
		*socket_context = NULL;
		return;
	}
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	hc = calloc(1, sizeof(*hc));
	if (!hc || !ci) {
		free(hc);
		return;
	}
	hc->fd = ci->connect_fd;
	hc->since_us = now_monotonic_us();
	http_client_addr(conn, hc->addr);
	conn_table_add(&d->conns, hc, HTTP_EVICT_ABOVE);
	*socket_context = hc;
}

static struct http_daemon *daemon_start(struct http_server *s, int listen_fd, struct webconfig *wc)
{
	struct MHD_OptionItem tls[5] = { { MHD_OPTION_END, 0, NULL } };
	unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
	struct http_daemon *d;

	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->s = s;
	if (wc) {
		d->wc = *wc;
		*wc = (struct webconfig){ 0 };
	}
	conn_table_init(&d->conns);
	if (d->wc.tls) {
		size_t n = 0;

		flags |= MHD_USE_TLS;
		webconfig_tls_priorities(&d->wc, d->priorities, sizeof(d->priorities));
		tls[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, d->wc.cert_pem };
		tls[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, d->wc.key_pem };
		tls[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES, 0, d->priorities };
		/* A trust list is what makes MHD ask for client certificates: for
		 * RequireAnyClientCert without a CA, any certificate will do as the list. */
		if (d->wc.client_auth != WEBCONFIG_NO_CLIENT_CERT)
			tls[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST, 0,
							    d->wc.ca_pem ? d->wc.ca_pem
									 : d->wc.cert_pem };
		tls[n] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	}
	/* No MHD_OPTION_PER_IP_CONNECTION_LIMIT: admit() is the per-address limit. */
	d->mhd = MHD_start_daemon(
		flags, 0, admit, d, http_on_request, d, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, d,
		MHD_OPTION_LISTEN_SOCKET, listen_fd, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)HTTP_CONNECTION_LIMIT, MHD_OPTION_URI_LOG_CALLBACK, on_uri, d,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_CONNECTION_TIMEOUT_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONNECTION_MEMORY,
		MHD_OPTION_NOTIFY_COMPLETED, http_on_completed, d, MHD_OPTION_NOTIFY_CONNECTION,
		on_connection, d, MHD_OPTION_UNESCAPE_CALLBACK, http_unescape, d, MHD_OPTION_ARRAY,
		tls, MHD_OPTION_END);
	if (!d->mhd) {
		if (wc)
			*wc = d->wc; /* still the caller's */
		conn_table_fini(&d->conns);
		free(d);
		return NULL;
	}
	return d;
}

/* Returns the listening socket if this daemon still had it. */
static int daemon_quiesce(struct http_daemon *d)
{
	int fd;

	if (d->quiesced)
		return -1;
	d->quiesced = true;
	fd = MHD_quiesce_daemon(d->mhd);
	return fd;
}

static void daemon_stop(struct http_daemon *d)
{
	if (!d)
		return;
	/* With MHD's own thread, a socket it still listens on is closed here. */
	MHD_stop_daemon(d->mhd);
	webconfig_free(&d->wc);
	conn_table_fini(&d->conns);
	free(d);
}

/*
 * With s->lock held: the daemon a reload replaced is stopped once none of its connections has a
 * request to answer (kept-alive ones between requests are closed with it: a client reconnects
 * and meets the new daemon), or once whatever request it still has is past its own deadline.
 */
static void retire_old(struct http_server *s, uint64_t now)
{
	struct http_daemon *d = s->old;

	if (!d)
		return;
	if ((__atomic_load_n(&d->in_flight, __ATOMIC_RELAXED) == 0 &&
	     conn_table_idle(&d->conns, now, HTTP_RETIRE_LINGER_US, HTTP_RETIRE_GRACE_US)) ||
	    now - d->retired_us > HTTP_REQUEST_DEADLINE_US) {
		daemon_stop(d);
		s->old = NULL;
	}
}

static void *watchdog(void *arg)
{
	struct http_server *s = arg;
	struct timespec ts;

	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		uint64_t now = now_monotonic_us();
		uint64_t period = s->old ? HTTP_WATCHDOG_RETIRE_PERIOD_US : HTTP_WATCHDOG_PERIOD_US;

		conn_table_sweep(&s->cur->conns, now, HTTP_REQUEST_DEADLINE_US);
		if (s->old)
			conn_table_sweep(&s->old->conns, now, HTTP_REQUEST_DEADLINE_US);
		retire_old(s, now);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (time_t)(period / 1000000);
		ts.tv_nsec += (long)(period % 1000000) * 1000;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->wake, &s->lock, &ts);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int http_start(struct http_server *s, int listen_fd, const struct http_route *routes,
	       size_t n_routes, struct webconfig *wc, void *userdata)
{
	pthread_condattr_t ca;
	int r;

	*s = (struct http_server){
		.listen_fd = listen_fd,
		.routes = routes,
		.n_routes = n_routes,
		.userdata = userdata,
	};
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &ca);
	pthread_condattr_destroy(&ca);
	s->cur = daemon_start(s, listen_fd, wc);
	if (!s->cur) {
		s->listen_fd = -1; /* the caller's still */
		return -EIO;
	}
	r = -pthread_create(&s->watchdog, NULL, watchdog, s);
	if (r < 0) {
		/* Quiesced first, so that the socket stays the caller's to close. */
		daemon_quiesce(s->cur);
		daemon_stop(s->cur);
		pthread_cond_destroy(&s->wake);
		pthread_mutex_destroy(&s->lock);
		*s = (struct http_server){ .listen_fd = -1 };
		return r;
	}
	s->watchdog_running = true;
	return 0;
}

int http_reload(struct http_server *s, struct webconfig *wc)
{
	struct http_daemon *d;
	int fd, old_fd;

	if (__atomic_load_n(&s->draining, __ATOMIC_RELAXED) || !s->cur)
		return -ESHUTDOWN;
	pthread_mutex_lock(&s->lock);
	retire_old(s, now_monotonic_us());
	if (s->old) {
		/* Stopping it now would cut the requests it has: the caller tries again later. */
		pthread_mutex_unlock(&s->lock);
		return -EBUSY;
	}
	webconfig_carry_cache(wc, &s->cur->wc);
	/*
	 * The new daemon gets a copy of the socket: should it fail to start after taking it, it
	 * may close what it was given, and the running one must keep listening whatever happens.
	 * Both poll the socket for a moment; whichever accepts a connection serves it.
	 */
	fd = fcntl(s->listen_fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		int r = -errno;

		pthread_mutex_unlock(&s->lock);
		return r;
	}
	d = daemon_start(s, fd, wc);
	if (!d) {
		pthread_mutex_unlock(&s->lock);
		return -EIO; /* fd: maybe closed by libmicrohttpd, better leaked than closed twice */
	}
	/* Quiesced, the old daemon hands its copy back: the new one listens on its own. */
	old_fd = daemon_quiesce(s->cur);
	if (old_fd >= 0)
		close(old_fd);
	s->listen_fd = fd;
	__atomic_store_n(&s->cur->retiring, true, __ATOMIC_RELAXED);
	s->cur->retired_us = now_monotonic_us();
	s->old = s->cur;
	s->cur = d;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

bool http_reloading(struct http_server *s)
{
	bool busy;

	if (!s->cur)
		return false;
	pthread_mutex_lock(&s->lock);
	retire_old(s, now_monotonic_us());
	busy = s->old != NULL;
	pthread_mutex_unlock(&s->lock);
	return busy;
}

const struct webconfig *http_webconfig(const struct http_server *s)
{
	return s->cur ? &s->cur->wc : NULL;
}

void http_quiesce(struct http_server *s)
{
	if (__atomic_load_n(&s->draining, __ATOMIC_RELAXED) || !s->cur)
		return;
	__atomic_store_n(&s->draining, true, __ATOMIC_RELAXED);
	pthread_mutex_lock(&s->lock);
	daemon_quiesce(s->cur);
	pthread_mutex_unlock(&s->lock);
}

unsigned http_in_flight(const struct http_server *s)
{
	struct http_server *m = (struct http_server *)s;
	unsigned n = 0;

	if (!m->cur)
		return 0;
	pthread_mutex_lock(&m->lock);
	n = __atomic_load_n(&m->cur->in_flight, __ATOMIC_RELAXED);
	if (m->old)
		n += __atomic_load_n(&m->old->in_flight, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&m->lock);
	return n;
}

void http_stop(struct http_server *s)
{
	bool quiesced;

	if (!s->cur) {
		*s = (struct http_server){ .listen_fd = -1 };
		return;
	}
	if (s->watchdog_running) {
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		pthread_cond_signal(&s->wake);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->watchdog, NULL);
	}
	daemon_stop(s->old);
	quiesced = s->cur->quiesced;
	daemon_stop(s->cur);
	if (quiesced && s->listen_fd >= 0)
		close(s->listen_fd);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	*s = (struct http_server){ .listen_fd = -1 };
}
