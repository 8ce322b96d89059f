/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_HTTP_H
#define NFCE_HTTP_H

#include <stdbool.h>
#include <stddef.h>

/*
 * libmicrohttpd in external-epoll mode: the daemon's epoll fd joins our event loop and every
 * request runs on the loop's one thread, so a scrape never races the collectors' state.
 */

typedef int (*http_scrape_fn)(void *userdata, const char **ret_body, size_t *ret_len);

struct MHD_Daemon;

struct http_server {
	struct MHD_Daemon *daemon;
	int listen_fd;
	const char *telemetry_path;
	http_scrape_fn scrape;
	void *userdata;
	char *landing_page;
	size_t landing_len;
	unsigned in_flight; /* requests answered but not yet fully sent */
	bool draining;
};

int http_start(struct http_server *s, int listen_fd, const char *telemetry_path,
	       http_scrape_fn scrape, void *userdata);
int http_epoll_fd(const struct http_server *s);
/* Milliseconds until MHD needs to run for its timeouts, -1 for none. */
int http_timeout_ms(const struct http_server *s);
void http_run(struct http_server *s);
/* Stop accepting; answered requests still complete. */
void http_quiesce(struct http_server *s);
void http_stop(struct http_server *s);

/* Open a listening TCP socket for --web.listen-address; @ret_desc gets "ip:port". */
int http_listen(const char *host, const char *port, int *ret_fd, char *ret_desc, size_t desc_size);

#endif
