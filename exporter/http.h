/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_HTTP_H
#define NFCE_HTTP_H

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

/* A path answered to GET and HEAD; others get 404, other methods 405. First match wins. */
struct http_route {
	const char *path;
	const char *content_type;
	http_render_fn render;
};

struct MHD_Daemon;

struct http_server {
	struct MHD_Daemon *daemon;
	int listen_fd;
	const struct http_route *routes;
	size_t n_routes;
	void *userdata;
	unsigned in_flight; /* requests begun and not completed; atomic, read by the main thread */
	bool draining; /* atomic: set by the main thread */
};

int http_start(struct http_server *s, int listen_fd, const struct http_route *routes,
	       size_t n_routes, void *userdata);
/* Stop accepting; requests under way still complete. */
void http_quiesce(struct http_server *s);
unsigned http_in_flight(const struct http_server *s);
void http_stop(struct http_server *s);

/* Open a listening TCP socket for --web.listen-address; @ret_desc gets "ip:port". */
int http_listen(const char *host, const char *port, int *ret_fd, char *ret_desc, size_t desc_size);

#endif
