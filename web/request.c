// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Answering one request: the client certificate, Basic authentication and its failure
 * limiter, the routes, and the response with our headers. Runs on the daemon's MHD thread.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>

#include "auth.h"
#include "conns.h"
#include "http.h"
#include "http_daemon.h"
#include "log.h"
#include "util.h"
#include "webconfig.h"

#define AUTH_REALM "Basic realm=\"nf_conntrack_exporter\""
#define HEALTHY_PATH "/-/healthy"
#define READY_PATH "/-/ready"

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

/* "Authorization: Basic base64(user:password)" against basic_auth_users. */
static bool authorized(const struct webconfig *wc, struct MHD_Connection *conn, bool cached_only)
{
	const char *h =
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	struct auth_basic cred;
	char buf[1024];
	bool ok;

	if (!h)
		return false;
	if (auth_parse_basic(h, strlen(h), buf, sizeof(buf), &cred) < 0)
		ok = false;
	else if (cached_only)
		ok = webconfig_check_cached(wc, cred.user, cred.user_len, cred.pass, cred.pass_len);
	else
		ok = webconfig_check_password(wc, cred.user, cred.user_len, cred.pass,
					      cred.pass_len);
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

/* auth_unescape(), which leaves "%00" as it is, so that such a path matches no route. */
size_t http_unescape(void *cls, struct MHD_Connection *conn, char *val)
{
	size_t n = auth_unescape(val, strlen(val));

	(void)cls;
	(void)conn;
	val[n] = '\0';
	return n;
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

mhd_result http_on_request(void *cls, struct MHD_Connection *conn, const char *url,
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
		hc = http_conn_of(conn);
		/*
		 * The deadline restarts with the request: on a kept-alive connection the time
		 * waited for it was the scraper's, not this request's.
		 */
		if (hc)
			conn_table_begin(&d->conns, hc, now_monotonic_us());
		/* Probes (a kubelet has no client certificate) learn nothing but up and ready. */
		if (!route || (strcmp(route->path, HEALTHY_PATH) != 0 &&
			       strcmp(route->path, READY_PATH) != 0)) {
			refused = client_cert_refused(&d->wc, conn);
			if (refused)
				return respond_text(d, conn, MHD_HTTP_FORBIDDEN, refused, false);
			if (d->wc.n_users) {
				uint64_t now = now_monotonic_us();
				uint8_t addr[AUTH_ADDR_SIZE];
				struct auth_fails *f;
				bool over;

				http_client_addr(conn, addr);
				f = auth_fails_of(&d->fails, addr, now);
				over = auth_limited(f);
				if (!authorized(&d->wc, conn, over)) {
					auth_failed(f);
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

void http_on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
		       enum MHD_RequestTerminationCode toe)
{
	struct http_daemon *d = cls;
	struct http_conn *hc;

	(void)toe;
	if (*req_cls)
		__atomic_sub_fetch(&d->in_flight, 1, __ATOMIC_RELAXED);
	*req_cls = NULL;
	hc = http_conn_of(conn);
	if (hc)
		conn_table_end(&d->conns, hc, now_monotonic_us());
}
