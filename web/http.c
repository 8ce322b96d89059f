// SPDX-License-Identifier: GPL-2.0-or-later
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>

#include "log.h"
#include "util.h"
#include "webconfig.h"

#if MHD_VERSION >= 0x00097002
typedef enum MHD_Result mhd_result;
#else
typedef int mhd_result;
#endif

#define HTTP_CONNECTION_LIMIT 64
#define HTTP_PER_IP_LIMIT 16 /* one client can't take every connection from Prometheus */
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
 * A wrong password costs a bcrypt (70 ms at cost 10) of the one HTTP thread. An address past
 * this many failures in the window gets 429 at once, unless its credentials are ones that
 * passed before (cached: no bcrypt), so Prometheus behind the same address keeps scraping.
 */
#define AUTH_FAIL_BURST 5
#define AUTH_FAIL_WINDOW_US (10 * 1000000ULL)
#define AUTH_FAIL_SLOTS 64
#define HTTP_RETIRE_DEADLINE_US (10 * 1000000ULL) /* the old daemon after a reload */
#define HTTP_WATCHDOG_PERIOD_US 1000000ULL
#define HTTP_WATCHDOG_RETIRE_PERIOD_US 100000ULL

#define AUTH_REALM "Basic realm=\"nf_conntrack_exporter\""
#define HEALTHY_PATH "/-/healthy"
#define READY_PATH "/-/ready"

/* One TCP connection: MHD's socket context. */
struct http_conn {
	struct http_conn *prev, *next;
	int fd;
	uint64_t since_us; /* connected, or the last request completed */
	bool busy; /* a complete request is being answered */
	bool cut; /* shut down by us; MHD closes it next */
};

/* One MHD daemon and the web config it was started with. */
/* Recent authentication failures of one client address; only MHD's thread touches them. */
struct auth_fails {
	uint8_t addr[16]; /* IPv6, or IPv4-mapped */
	uint64_t since_us; /* start of its window; 0: a free slot */
	unsigned n;
};

struct http_daemon {
	struct auth_fails fails[AUTH_FAIL_SLOTS];
	struct MHD_Daemon *mhd;
	struct http_server *s;
	struct webconfig wc;
	char priorities[128];
	unsigned in_flight; /* requests begun and not completed; atomic */
	bool retiring; /* atomic: replaced by a reload */
	bool quiesced; /* the listening socket was handed back */
	uint64_t retired_us;
	pthread_mutex_t lock; /* conns */
	struct http_conn *conns; /* oldest first */
	unsigned n_conns; /* not cut */
};

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

static bool draining(const struct http_daemon *d)
{
	return __atomic_load_n(&d->s->draining, __ATOMIC_RELAXED) ||
	       __atomic_load_n(&d->retiring, __ATOMIC_RELAXED);
}

static int make_body(void *body_ctx, const char *body, size_t len)
{
	struct MHD_Response **resp = body_ctx;

	*resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	return *resp ? 0 : -ENOMEM;
}

/* A route's body_ctx: the request it answers, and the Content-Type it may choose. */
struct render_ctx {
	struct MHD_Connection *conn;
	struct MHD_Response *resp;
	const char *content_type;
};

static int render_body(void *body_ctx, const char *body, size_t len)
{
	struct render_ctx *rc = body_ctx;

	return make_body(&rc->resp, body, len);
}

const char *http_request_header(void *body_ctx, const char *name)
{
	struct render_ctx *rc = body_ctx;

	return MHD_lookup_connection_value(rc->conn, MHD_HEADER_KIND, name);
}

void http_set_content_type(void *body_ctx, const char *type)
{
	struct render_ctx *rc = body_ctx;

	rc->content_type = type;
}

/* Queue @resp with our headers, and let it go: MHD keeps its own reference. */
static mhd_result queue(struct http_daemon *d, struct MHD_Connection *conn, unsigned status,
			const char *type, struct MHD_Response *resp, bool allow)
{
	mhd_result ret;

	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	/* The metrics' format follows the request's Accept: a cache must not mix them up. */
	if (status == MHD_HTTP_OK)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT);
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, AUTH_REALM);
	if (draining(d))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static mhd_result respond(struct http_daemon *d, struct MHD_Connection *conn, unsigned status,
			  const char *type, const char *body, size_t len, bool allow)
{
	struct MHD_Response *resp = NULL;

	if (make_body(&resp, body, len) < 0)
		return MHD_NO;
	return queue(d, conn, status, type, resp, allow);
}

static mhd_result respond_text(struct http_daemon *d, struct MHD_Connection *conn, unsigned status,
			       const char *text, bool allow)
{
	return respond(d, conn, status, "text/plain; charset=utf-8", text, strlen(text), allow);
}

static bool has_body(struct MHD_Connection *conn)
{
	const char *cl =
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

	return (cl && strcmp(cl, "0") != 0) ||
	       MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					   MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Standard base64 with padding; -EINVAL on anything else, -ENOSPC past @size. */
static int b64_decode(const char *in, size_t len, char *out, size_t size, size_t *ret_len)
{
	size_t n = 0;

	if (len % 4)
		return -EINVAL;
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		unsigned pad = 0;

		for (int j = 0; j < 4; j++) {
			bool last = i + 4 == len;

			if (last && j >= 2 && in[i + j] == '=' && (j == 2 ? in[i + 3] == '=' : 1)) {
				v[j] = 0;
				pad++;
				continue;
			}
			v[j] = b64_value(in[i + j]);
			if (v[j] < 0)
				return -EINVAL;
		}
		if (n + 3 - pad > size)
			return -ENOSPC;
		out[n++] = (char)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[n++] = (char)((v[1] & 15) << 4 | v[2] >> 2);
		if (pad < 1)
			out[n++] = (char)((v[2] & 3) << 6 | v[3]);
	}
	*ret_len = n;
	return 0;
}

/* "Authorization: Basic base64(user:password)" against basic_auth_users. */
static void client_addr(struct MHD_Connection *conn, uint8_t addr[16])
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	memset(addr, 0, 16);
	if (sa && sa->sa_family == AF_INET6) {
		memcpy(addr, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
	} else if (sa && sa->sa_family == AF_INET) {
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	}
}

/* The address's slot, its window restarted when over; the oldest slot for a new address. */
static struct auth_fails *fails_of(struct http_daemon *d, const uint8_t addr[16], uint64_t now)
{
	struct auth_fails *f = NULL, *oldest = &d->fails[0];

	for (size_t i = 0; i < AUTH_FAIL_SLOTS && !f; i++) {
		if (d->fails[i].since_us && !memcmp(d->fails[i].addr, addr, 16))
			f = &d->fails[i];
		else if (d->fails[i].since_us < oldest->since_us)
			oldest = &d->fails[i];
	}
	if (!f) {
		f = oldest;
		memcpy(f->addr, addr, 16);
		f->since_us = 0;
	}
	if (!f->since_us || now - f->since_us > AUTH_FAIL_WINDOW_US) {
		f->since_us = now;
		f->n = 0;
	}
	return f;
}

static bool authorized(const struct webconfig *wc, struct MHD_Connection *conn, bool cached_only)
{
	const char *h =
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	char buf[1024];
	const char *colon;
	size_t n;
	bool ok;

	if (!h || strncasecmp(h, "Basic ", 6) != 0)
		return false;
	h += 6;
	while (*h == ' ')
		h++;
	if (b64_decode(h, strlen(h), buf, sizeof(buf), &n) < 0)
		return false;
	colon = memchr(buf, ':', n);
	if (!colon)
		ok = false;
	else if (cached_only)
		ok = webconfig_check_cached(wc, buf, (size_t)(colon - buf), colon + 1,
					    n - (size_t)(colon - buf) - 1);
	else
		ok = webconfig_check_password(wc, buf, (size_t)(colon - buf), colon + 1,
					      n - (size_t)(colon - buf) - 1);
	explicit_bzero(buf, sizeof(buf));
	return ok;
}

/*
 * libmicrohttpd requests a client certificate once it has a trust list, and lets the
 * handshake succeed with whatever the client sent: client_auth_type is enforced here.
 * Returns NULL when the connection may go on, else the reason.
 */
static const char *client_cert_refused(const struct webconfig *wc, struct MHD_Connection *conn)
{
	gnutls_typed_vdata_st purpose = { .type = GNUTLS_DT_KEY_PURPOSE_OID,
					  .data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT };
	const union MHD_ConnectionInfo *ci;
	gnutls_session_t session;
	unsigned n = 0, status = 0;

	if (!wc->tls || wc->client_auth == WEBCONFIG_NO_CLIENT_CERT)
		return NULL;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (!ci || !ci->tls_session)
		return "403 no TLS session\n";
	session = ci->tls_session;
	if (!gnutls_certificate_get_peers(session, &n) || !n) {
		if (wc->client_auth == WEBCONFIG_REQUIRE_ANY_CLIENT_CERT ||
		    wc->client_auth == WEBCONFIG_REQUIRE_AND_VERIFY_CLIENT_CERT)
			return "403 a client certificate is required\n";
		return NULL;
	}
	if (wc->client_auth == WEBCONFIG_REQUIRE_ANY_CLIENT_CERT)
		return NULL;
	/* A server's certificate from the same CA is no client's: check the key purpose too. */
	if (gnutls_certificate_verify_peers(session, &purpose, 1, &status) < 0 || status)
		return "403 the client certificate is not trusted\n";
	return NULL;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * MHD's own unescaper turns "%00" into a NUL, and "/metrics%00/../x" into "/metrics" for
 * the routes. This one leaves "%00" as it is, so such a path matches nothing.
 */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *val)
{
	char *in = val, *out = val;

	(void)cls;
	(void)conn;
	while (*in) {
		int hi, lo;

		if (in[0] == '%' && (hi = hex_value(in[1])) >= 0 && (lo = hex_value(in[2])) >= 0 &&
		    (hi || lo)) {
			*out++ = (char)(hi << 4 | lo);
			in += 3;
		} else {
			*out++ = *in++;
		}
	}
	*out = '\0';
	return (size_t)(out - val);
}

static const struct http_route *find_route(const struct http_server *s, const char *url)
{
	static const struct http_route builtin[] = {
		{ HEALTHY_PATH, "text/plain; charset=utf-8", NULL },
		{ READY_PATH, "text/plain; charset=utf-8", NULL },
	};

	for (size_t i = 0; i < ARRAY_SIZE(builtin); i++)
		if (strcmp(url, builtin[i].path) == 0)
			return &builtin[i];
	for (size_t i = 0; i < s->n_routes; i++)
		if (strcmp(url, s->routes[i].path) == 0)
			return &s->routes[i];
	return NULL;
}

static struct http_conn *conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

static mhd_result serve(struct http_daemon *d, struct MHD_Connection *conn,
			const struct http_route *route)
{
	struct http_server *s = d->s;
	struct render_ctx rc = { .conn = conn, .content_type = route->content_type };
	int r;

	if (!route->render) {
		if (strcmp(route->path, HEALTHY_PATH) == 0)
			return respond_text(d, conn, MHD_HTTP_OK, "Healthy\n", false);
		if (__atomic_load_n(&s->draining, __ATOMIC_RELAXED))
			return respond_text(d, conn, MHD_HTTP_SERVICE_UNAVAILABLE,
					    "Shutting down\n", false);
		return respond_text(d, conn, MHD_HTTP_OK, "Ready\n", false);
	}
	if ((r = route->render(s->userdata, render_body, &rc)) < 0) {
		log_error("request failed", LF_STR("path", route->path), LF_ERR(r));
		return respond_text(d, conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				    "error gathering metrics\n", false);
	}
	return queue(d, conn, MHD_HTTP_OK, rc.content_type, rc.resp, false);
}

static mhd_result on_request(void *cls, struct MHD_Connection *conn, const char *url,
			     const char *method, const char *version, const char *upload_data,
			     size_t *upload_data_size, void **req_cls)
{
	struct http_daemon *d = cls;
	bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
	bool head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	const struct http_route *route = find_route(d->s, url);
	const char *refused;
	struct http_conn *hc;

	(void)version;
	(void)upload_data;
	/*
	 * A GET or HEAD we serve is answered on the second call, once MHD knows there is no body,
	 * so that the connection can be kept alive. Anything else is refused at once, before a
	 * body is read; MHD then closes the connection. Authentication comes first, for every
	 * path but /-/healthy (a constant, for liveness probes that carry no credentials).
	 */
	if (!*req_cls) {
		*req_cls = d;
		__atomic_add_fetch(&d->in_flight, 1, __ATOMIC_RELAXED);
		hc = conn_of(conn);
		if (hc) {
			/*
			 * The deadline restarts with the request: on a kept-alive connection the
			 * time waited for it was the scraper's, not this request's.
			 */
			pthread_mutex_lock(&d->lock);
			hc->since_us = now_monotonic_us();
			__atomic_store_n(&hc->busy, true, __ATOMIC_RELAXED);
			pthread_mutex_unlock(&d->lock);
		}
		/* Probes (a kubelet has no client certificate) learn nothing but up and ready. */
		if (!route || (strcmp(route->path, HEALTHY_PATH) != 0 &&
			       strcmp(route->path, READY_PATH) != 0)) {
			refused = client_cert_refused(&d->wc, conn);
			if (refused)
				return respond_text(d, conn, MHD_HTTP_FORBIDDEN, refused, false);
			if (d->wc.n_users) {
				uint64_t now = now_monotonic_us();
				uint8_t addr[16];
				struct auth_fails *f;
				bool over;

				client_addr(conn, addr);
				f = fails_of(d, addr, now);
				over = f->n >= AUTH_FAIL_BURST;
				if (!authorized(&d->wc, conn, over)) {
					f->n += !over;
					return over ? respond_text(
							      d, conn, MHD_HTTP_TOO_MANY_REQUESTS,
							      "429 too many failed logins\n", false)
						    : respond_text(d, conn, MHD_HTTP_UNAUTHORIZED,
								   "401 Unauthorized\n", false);
				}
			}
		}
		if (route && (get || head) && !has_body(conn))
			return MHD_YES;
	} else if (*upload_data_size) {
		return MHD_NO; /* unreachable: a request with a body was answered at once */
	}

	if (route && (get || head) && has_body(conn))
		return respond_text(d, conn, MHD_HTTP_BAD_REQUEST, "400 a GET takes no body\n",
				    false);
	if (!route)
		return respond_text(d, conn, MHD_HTTP_NOT_FOUND, "404 page not found\n", false);
	if (!get && !head)
		return respond_text(d, conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				    "405 method not allowed\n", true);
	return serve(d, conn, route);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_daemon *d = cls;
	struct http_conn *hc;

	(void)toe;
	if (*req_cls)
		__atomic_sub_fetch(&d->in_flight, 1, __ATOMIC_RELAXED);
	*req_cls = NULL;
	hc = conn_of(conn);
	if (hc) {
		pthread_mutex_lock(&d->lock);
		hc->busy = false;
		hc->since_us = now_monotonic_us();
		pthread_mutex_unlock(&d->lock);
	}
}

/* With d->lock held. MHD sees the end of the stream and closes the connection itself. */
static void cut(struct http_daemon *d, struct http_conn *hc)
{
	shutdown(hc->fd, SHUT_RDWR);
	hc->cut = true;
	d->n_conns--;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct http_daemon *d = cls;
	struct http_conn *hc = *socket_context, **pp;
	const union MHD_ConnectionInfo *ci;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (!hc)
			return;
		/* Before MHD closes the fd: the watchdog never shuts down a reused number. */
		pthread_mutex_lock(&d->lock);
		for (pp = &d->conns; *pp; pp = &(*pp)->next)
			if (*pp == hc) {
				*pp = hc->next;
				break;
			}
		if (!hc->cut)
			d->n_conns--;
		pthread_mutex_unlock(&d->lock);
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
	pthread_mutex_lock(&d->lock);
	if (d->n_conns >= HTTP_EVICT_ABOVE) {
		for (struct http_conn *o = d->conns; o; o = o->next) {
			int unread = 0;

			/* Bytes not read yet may be a whole request: Prometheus's, just accepted. */
			if (o->cut || __atomic_load_n(&o->busy, __ATOMIC_RELAXED) ||
			    (ioctl(o->fd, FIONREAD, &unread) == 0 && unread > 0))
				continue;
			log_debug("closing an idle connection to make room",
				  LF_INT("connections", d->n_conns));
			cut(d, o);
			break;
		}
	}
	for (pp = &d->conns; *pp; pp = &(*pp)->next)
		;
	*pp = hc;
	d->n_conns++;
	pthread_mutex_unlock(&d->lock);
	*socket_context = hc;
}

/* Cut the connections whose request has taken longer than the deadline. */
static void sweep(struct http_daemon *d, uint64_t now)
{
	pthread_mutex_lock(&d->lock);
	for (struct http_conn *hc = d->conns; hc; hc = hc->next)
		if (!hc->cut && now - hc->since_us > HTTP_REQUEST_DEADLINE_US) {
			log_debug("closing a connection past its deadline", LF_INT("fd", hc->fd));
			cut(d, hc);
		}
	pthread_mutex_unlock(&d->lock);
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
	pthread_mutex_init(&d->lock, NULL);
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
	d->mhd = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, d, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, d,
		MHD_OPTION_LISTEN_SOCKET, listen_fd, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)HTTP_CONNECTION_LIMIT, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		(unsigned)HTTP_PER_IP_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)HTTP_CONNECTION_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(size_t)HTTP_CONNECTION_MEMORY, MHD_OPTION_NOTIFY_COMPLETED, on_completed, d,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, d, MHD_OPTION_UNESCAPE_CALLBACK,
		unescape, d, MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
	if (!d->mhd) {
		if (wc)
			*wc = d->wc; /* still the caller's */
		pthread_mutex_destroy(&d->lock);
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
	pthread_mutex_destroy(&d->lock);
	free(d);
}

static void *watchdog(void *arg)
{
	struct http_server *s = arg;
	struct timespec ts;

	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		uint64_t now = now_monotonic_us();
		uint64_t period = s->old ? HTTP_WATCHDOG_RETIRE_PERIOD_US : HTTP_WATCHDOG_PERIOD_US;

		sweep(s->cur, now);
		if (s->old) {
			sweep(s->old, now);
			if (__atomic_load_n(&s->old->in_flight, __ATOMIC_RELAXED) == 0 ||
			    now - s->old->retired_us > HTTP_RETIRE_DEADLINE_US) {
				daemon_stop(s->old);
				s->old = NULL;
			}
		}
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
	if (s->old) {
		/* Reloaded again within a moment: its requests are cut short. */
		daemon_stop(s->old);
		s->old = NULL;
	}
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

static void describe(const struct sockaddr *sa, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		port = ntohs(in6->sin6_port);
		snprintf(buf, size, "[%s]:%u", ip, port);
	} else {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		port = ntohs(in->sin_port);
		snprintf(buf, size, "%s:%u", ip, port);
	}
}

static int listen_on(const struct addrinfo *ai, bool dual_stack, int *ret_fd)
{
	int fd, one = 1, zero = 0, r;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	if (ai->ai_family == AF_INET6 && dual_stack &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0)
		goto fail;
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0)
		goto fail;
	*ret_fd = fd;
	return 0;
fail:
	r = -errno;
	close(fd);
	return r;
}

int http_listen(const char *host, const char *port, int *ret_fd, char *ret_desc, size_t desc_size)
{
	struct addrinfo hints = {
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
	};
	struct addrinfo *res = NULL, *ai;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int r = -EADDRNOTAVAIL, fd = -1;
	bool any = !*host;

	/* ":PORT" means every address: one IPv6 socket that also takes IPv4, else IPv4 alone. */
	hints.ai_family = any ? AF_INET6 : AF_UNSPEC;
	r = getaddrinfo(any ? NULL : host, port, &hints, &res);
	if (r != 0 && any) {
		hints.ai_family = AF_INET;
		r = getaddrinfo(NULL, port, &hints, &res);
	}
	if (r != 0)
		return r == EAI_SYSTEM ? -errno : -EADDRNOTAVAIL;
	r = -EADDRNOTAVAIL;
	for (ai = res; ai; ai = ai->ai_next) {
		r = listen_on(ai, any, &fd);
		if (r == 0)
			break;
	}
	freeaddrinfo(res);
	if (r < 0 && any) {
		struct addrinfo v4 = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
		struct sockaddr_in sin = { .sin_family = AF_INET,
					   .sin_port = htons((uint16_t)atoi(port)) };

		v4.ai_addr = (struct sockaddr *)&sin;
		v4.ai_addrlen = sizeof(sin);
		r = listen_on(&v4, false, &fd);
	}
	if (r < 0)
		return r;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		describe((struct sockaddr *)&ss, ret_desc, desc_size);
	else
		snprintf(ret_desc, desc_size, "%s:%s", host, port);
	*ret_fd = fd;
	return 0;
}
