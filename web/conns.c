// SPDX-License-Identifier: GPL-2.0-or-later
#include "conns.h"

#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "log.h"

void conn_table_init(struct conn_table *t)
{
	*t = (struct conn_table){ .head = NULL };
	pthread_mutex_init(&t->lock, NULL);
}

void conn_table_fini(struct conn_table *t)
{
	pthread_mutex_destroy(&t->lock);
}

/* With t->lock held. */
static void cut(struct conn_table *t, struct http_conn *hc)
{
	shutdown(hc->fd, SHUT_RDWR);
	hc->cut = true;
	t->n--;
}

/* Bytes not read yet may be a whole request: Prometheus's, just accepted. */
static bool unread(const struct http_conn *hc)
{
	int n = 0;

	return ioctl(hc->fd, FIONREAD, &n) == 0 && n > 0;
}

bool conn_table_admit(struct conn_table *t, const uint8_t addr[AUTH_ADDR_SIZE], unsigned per_addr)
{
	struct http_conn *idle = NULL;
	unsigned n = 0;
	bool ok;

	pthread_mutex_lock(&t->lock);
	for (struct http_conn *hc = t->head; hc; hc = hc->next) {
		if (hc->cut || memcmp(hc->addr, addr, AUTH_ADDR_SIZE) != 0)
			continue;
		n++;
		/* The one idle longest: Prometheus's own keep-alive connection is busy every
		 * scrape interval, a neighbour's forgotten ones are not. */
		if (!hc->receiving && !hc->busy && !unread(hc) &&
		    (!idle || hc->since_us < idle->since_us))
			idle = hc;
	}
	ok = n < per_addr || idle;
	if (n >= per_addr && idle) {
		log_debug("closing an idle connection of the address to make room",
			  LF_INT("connections", n));
		cut(t, idle);
	}
	pthread_mutex_unlock(&t->lock);
	return ok;
}

void conn_table_add(struct conn_table *t, struct http_conn *hc, unsigned evict_above)
{
	struct http_conn **pp;

	pthread_mutex_lock(&t->lock);
	if (t->n >= evict_above) {
		for (struct http_conn *o = t->head; o; o = o->next) {
			if (o->cut || o->busy || unread(o))
				continue;
			log_debug("closing an idle connection to make room",
				  LF_INT("connections", t->n));
			cut(t, o);
			break;
		}
	}
	for (pp = &t->head; *pp; pp = &(*pp)->next)
		;
	hc->next = NULL;
	*pp = hc;
	t->n++;
	pthread_mutex_unlock(&t->lock);
}

void conn_table_remove(struct conn_table *t, struct http_conn *hc)
{
	pthread_mutex_lock(&t->lock);
	for (struct http_conn **pp = &t->head; *pp; pp = &(*pp)->next)
		if (*pp == hc) {
			*pp = hc->next;
			if (!hc->cut)
				t->n--;
			break;
		}
	pthread_mutex_unlock(&t->lock);
}

void conn_table_receiving(struct conn_table *t, struct http_conn *hc)
{
	pthread_mutex_lock(&t->lock);
	hc->receiving = true;
	pthread_mutex_unlock(&t->lock);
}

void conn_table_begin(struct conn_table *t, struct http_conn *hc, uint64_t now)
{
	pthread_mutex_lock(&t->lock);
	hc->since_us = now;
	hc->busy = true;
	pthread_mutex_unlock(&t->lock);
}

void conn_table_end(struct conn_table *t, struct http_conn *hc, uint64_t now)
{
	pthread_mutex_lock(&t->lock);
	hc->receiving = false;
	hc->busy = false;
	hc->served = true;
	hc->since_us = now;
	pthread_mutex_unlock(&t->lock);
}

void conn_table_sweep(struct conn_table *t, uint64_t now, uint64_t deadline_us)
{
	pthread_mutex_lock(&t->lock);
	for (struct http_conn *hc = t->head; hc; hc = hc->next)
		if (!hc->cut && now - hc->since_us > deadline_us) {
			log_debug("closing a connection past its deadline", LF_INT("fd", hc->fd));
			cut(t, hc);
		}
	pthread_mutex_unlock(&t->lock);
}

bool conn_table_idle(struct conn_table *t, uint64_t now, uint64_t linger_us, uint64_t grace_us)
{
	bool idle = true;

	pthread_mutex_lock(&t->lock);
	for (struct http_conn *hc = t->head; hc && idle; hc = hc->next)
		if (!hc->cut)
			idle = !hc->receiving && !hc->busy && !unread(hc) &&
			       now - hc->since_us > (hc->served ? linger_us : grace_us);
	pthread_mutex_unlock(&t->lock);
	return idle;
}
