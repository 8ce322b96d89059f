/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_HTTP_H
#define NFCE_HTTP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * libmicrohttpd with its own poll() thread. In its (edge-triggered) epoll mode, 0.9.75 left a
 * connection whose client closed right after a partial request in CLOSE_WAIT until the
 * timeout, so a few dozen of them blocked every scrape; poll() sees those closes at once.
 * The scrape callback runs on MHD's thread: the caller serialises it with its own work.
 */

/* Hands the rendered body to the server, which copies it. */
typedef int (*http_body_fn)(void *body_ctx, const char *body, size_t len);
typedef int (*http_render_fn)(void *userdata, http_body_fn body_fn, void *body_ctx);
/* For a render: a header of the request (NULL if absent), and the response's Content-Type. */
const char *http_request_header(void *body_ctx, const char *name);
void http_set_content_type(void *body_ctx, const char *type); /* @type: a literal */

/*
 * A path answered to GET and HEAD; others get 404, other methods 405. First match wins.
 * /-/healthy and /-/ready are built in.
 */
struct http_route {
	const char *path;
	const char *content_type;
	http_render_fn render;
};

struct http_daemon;
struct webconfig;

struct http_server {
	struct http_daemon *cur; /* accepting */
	struct http_daemon *old; /* replaced by a reload, finishing its requests */
	int listen_fd;
	const struct http_route *routes;
	size_t n_routes;
	void *userdata;
	bool draining; /* atomic: set by the main thread */
	/* The watchdog thread: cuts connections past their deadline, retires the old daemon. */
	pthread_t watchdog;
	bool watchdog_running;
	pthread_mutex_t lock; /* cur, old, stop */
	pthread_cond_t wake;
	bool stop;
};

/*
 * Serve on @listen_fd (taken over). @wc (may be NULL: plain HTTP, no auth) is moved into the
 * server, which frees it; the caller's copy is zeroed.
 */
int http_start(struct http_server *s, int listen_fd, const struct http_route *routes,
	       size_t n_routes, struct webconfig *wc, void *userdata);
/*
 * Apply a new web config: a new daemon takes the socket, the old one finishes the requests it
 * has. @wc is moved in on success only; on failure the old configuration keeps serving. @wc
 * keeps the running config's credential cache when the users are the same. -EBUSY while the
 * daemon of the reload before is still finishing its requests: try again once
 * http_reloading() says it is done.
 */
int http_reload(struct http_server *s, struct webconfig *wc);
/* Whether the daemon a reload replaced still has requests to finish (it is stopped once not). */
bool http_reloading(struct http_server *s);
/* The running web config; main thread only (reloads replace it). NULL before http_start(). */
const struct webconfig *http_webconfig(const struct http_server *s);
/* Stop accepting; requests under way still complete. */
void http_quiesce(struct http_server *s);
unsigned http_in_flight(const struct http_server *s);
void http_stop(struct http_server *s);

/* Open a listening TCP socket for --web.listen-address; @ret_desc gets "ip:port". */
int http_listen(const char *host, const char *port, int *ret_fd, char *ret_desc, size_t desc_size);

#endif
