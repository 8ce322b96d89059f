/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_CONNS_H
#define NFCE_CONNS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth.h"

/*
 * The connections of one HTTP daemon, oldest first, and which of them to cut when room is
 * needed: none of this knows libmicrohttpd, which only reports connections opening, requests
 * beginning and ending, and connections closing. A cut connection is shut down; its owner sees
 * the end of the stream and closes it, and only then removes it from the table.
 */
struct http_conn {
	struct http_conn *next;
	int fd;
	uint8_t addr[AUTH_ADDR_SIZE];
	uint64_t since_us; /* connected, or the last request completed */
	bool receiving; /* its request line arrived, the request is not answered yet */
	bool busy; /* a complete request is being answered */
	bool served; /* a request was answered on it: between requests it is idle */
	bool cut; /* shut down by us; its owner closes it next */
};

struct conn_table {
	pthread_mutex_t lock;
	struct http_conn *head; /* oldest first */
	unsigned n; /* not cut */
};

void conn_table_init(struct conn_table *t);
/* The connections themselves are their owner's: all removed by then. */
void conn_table_fini(struct conn_table *t);

/*
 * Whether a new connection from @addr may be accepted. Below @per_addr connections (not cut)
 * from that address, yes; at it, the address's connection idle longest (no request under way,
 * nothing unread) is cut to make room, so that a neighbour's idle keep-alive connections
 * behind the same NAT address cannot lock Prometheus out. No if none is idle.
 */
bool conn_table_admit(struct conn_table *t, const uint8_t addr[AUTH_ADDR_SIZE], unsigned per_addr);

/*
 * Append @hc. Above @evict_above connections, the oldest one that has not sent a complete
 * request (nothing unread either: that may be a request just accepted) is cut first.
 */
void conn_table_add(struct conn_table *t, struct http_conn *hc, unsigned evict_above);
void conn_table_remove(struct conn_table *t, struct http_conn *hc);

/* The request line of a request arrived on @hc. */
void conn_table_receiving(struct conn_table *t, struct http_conn *hc);
/* A complete request: the deadline restarts with it. */
void conn_table_begin(struct conn_table *t, struct http_conn *hc, uint64_t now);
/* The request was answered (or abandoned): @hc is idle from @now. */
void conn_table_end(struct conn_table *t, struct http_conn *hc, uint64_t now);

/* Cut the connections whose request has taken longer than @deadline_us. */
void conn_table_sweep(struct conn_table *t, uint64_t now, uint64_t deadline_us);

/*
 * Whether no connection has a request to be answered or on its way: none is receiving or
 * answering one or has bytes unread, each was answered more than @linger_us ago (a client that
 * scrapes again at once sends its next request on the kept-alive connection) and each that was
 * never answered has been silent since it connected for more than @grace_us (a TLS handshake,
 * a request line in transit). Closing the connections then cuts no request.
 */
bool conn_table_idle(struct conn_table *t, uint64_t now, uint64_t linger_us, uint64_t grace_us);

#endif
