// SPDX-License-Identifier: GPL-2.0-or-later
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "log.h"
#include "util.h"

#if MHD_VERSION >= 0x00097002
typedef enum MHD_Result mhd_result;
#else
typedef int mhd_result;
#endif

#define HTTP_CONNECTION_LIMIT 64
#define HTTP_PER_IP_LIMIT 16 /* one client can't take every connection from Prometheus */
#define HTTP_CONNECTION_TIMEOUT_S 30
#define HTTP_CONNECTION_MEMORY 32768

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

static bool draining(const struct http_server *s)
{
	return __atomic_load_n(&s->draining, __ATOMIC_RELAXED);
}

static int make_body(void *body_ctx, const char *body, size_t len)
{
	struct MHD_Response **resp = body_ctx;

	*resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	return *resp ? 0 : -ENOMEM;
}

/* Queue @resp with our headers, and let it go: MHD keeps its own reference. */
static mhd_result queue(struct http_server *s, struct MHD_Connection *conn, unsigned status,
			const char *type, struct MHD_Response *resp, bool allow)
{
	mhd_result ret;

	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	if (draining(s))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static mhd_result respond(struct http_server *s, struct MHD_Connection *conn, unsigned status,
			  const char *type, const char *body, size_t len, bool allow)
{
	struct MHD_Response *resp = NULL;

	if (make_body(&resp, body, len) < 0)
		return MHD_NO;
	return queue(s, conn, status, type, resp, allow);
}

static mhd_result respond_text(struct http_server *s, struct MHD_Connection *conn, unsigned status,
			       const char *text, bool allow)
{
	return respond(s, conn, status, "text/plain; charset=utf-8", text, strlen(text), allow);
}

static bool has_body(struct MHD_Connection *conn)
{
	const char *cl =
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

	return (cl && strcmp(cl, "0") != 0) ||
	       MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					   MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

static mhd_result on_request(void *cls, struct MHD_Connection *conn, const char *url,
			     const char *method, const char *version, const char *upload_data,
			     size_t *upload_data_size, void **req_cls)
{
	struct http_server *s = cls;
	bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
	bool head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	const struct http_route *route = NULL;
	struct MHD_Response *resp = NULL;
	mhd_result ret;
	int r;

	(void)version;
	(void)upload_data;
	for (size_t i = 0; i < s->n_routes && !route; i++)
		if (strcmp(url, s->routes[i].path) == 0)
			route = &s->routes[i];
	/*
	 * A GET or HEAD we serve is answered on the second call, once MHD knows there is no body,
	 * so that the connection can be kept alive. Anything else is refused at once, before a
	 * body is read; MHD then closes the connection.
	 */
	if (!*req_cls) {
		*req_cls = s;
		__atomic_add_fetch(&s->in_flight, 1, __ATOMIC_RELAXED);
		if (route && (get || head) && !has_body(conn))
			return MHD_YES;
	} else if (*upload_data_size) {
		return MHD_NO; /* unreachable: a request with a body was answered at once */
	}

	if (route && (get || head) && has_body(conn))
		ret = respond_text(s, conn, MHD_HTTP_BAD_REQUEST, "400 a GET takes no body\n",
				   false);
	else if (!route)
		ret = respond_text(s, conn, MHD_HTTP_NOT_FOUND, "404 page not found\n", false);
	else if (!get && !head)
		ret = respond_text(s, conn, MHD_HTTP_METHOD_NOT_ALLOWED, "405 method not allowed\n",
				   true);
	else if ((r = route->render(s->userdata, make_body, &resp)) < 0) {
		log_error("request failed", LF_STR("path", route->path), LF_ERR(r));
		ret = respond_text(s, conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				   "error gathering metrics\n", false);
	} else {
		ret = queue(s, conn, MHD_HTTP_OK, route->content_type, resp, false);
	}
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_server *s = cls;

	(void)conn;
	(void)toe;
	if (*req_cls)
		__atomic_sub_fetch(&s->in_flight, 1, __ATOMIC_RELAXED);
	*req_cls = NULL;
}

int http_start(struct http_server *s, int listen_fd, const struct http_route *routes,
	       size_t n_routes, void *userdata)
{
	*s = (struct http_server){
		.listen_fd = -1,
		.routes = routes,
		.n_routes = n_routes,
		.userdata = userdata,
	};
	s->daemon = MHD_start_daemon(
		MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0, NULL, NULL,
		on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, s, MHD_OPTION_LISTEN_SOCKET,
		listen_fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONNECTION_LIMIT,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)HTTP_PER_IP_LIMIT,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_CONNECTION_TIMEOUT_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONNECTION_MEMORY,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
	s->listen_fd = -1; /* MHD's now, until MHD_quiesce_daemon() hands it back */
	if (!s->daemon)
		return -EIO;
	return 0;
}

void http_quiesce(struct http_server *s)
{
	int fd;

	if (draining(s))
		return;
	__atomic_store_n(&s->draining, true, __ATOMIC_RELAXED);
	fd = MHD_quiesce_daemon(s->daemon);
	/* With MHD's own thread, the socket may be closed only after MHD_stop_daemon(). */
	if (fd >= 0)
		s->listen_fd = fd;
}

unsigned http_in_flight(const struct http_server *s)
{
	return __atomic_load_n(&s->in_flight, __ATOMIC_RELAXED);
}

void http_stop(struct http_server *s)
{
	if (s->daemon)
		MHD_stop_daemon(s->daemon);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
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
