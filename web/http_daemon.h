/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_HTTP_DAEMON_H
#define NFCE_HTTP_DAEMON_H

/*
 * Inside libweb only: one libmicrohttpd daemon, shared by http.c (starting, reloading and
 * stopping daemons, their connections and watchdog) and request.c (answering a request).
 */
#include <stdbool.h>
#include <stdint.h>

#include <microhttpd.h>

#include "auth.h"
#include "conns.h"
#include "http.h"
#include "webconfig.h"

#if MHD_VERSION >= 0x00097002
typedef enum MHD_Result mhd_result;
#else
typedef int mhd_result;
#endif

/* One MHD daemon and the web config it was started with. */
struct http_daemon {
	struct auth_limiter fails; /* only MHD's thread touches it */
	struct MHD_Daemon *mhd;
	struct http_server *s;
	struct webconfig wc;
	char priorities[128];
	unsigned in_flight; /* requests begun and not completed; atomic */
	bool retiring; /* atomic: replaced by a reload */
	bool quiesced; /* the listening socket was handed back */
	uint64_t retired_us;
	struct conn_table conns;
};

/* MHD's callbacks for requests, with the daemon as their closure (request.c). */
mhd_result http_on_request(void *cls, struct MHD_Connection *conn, const char *url,
			   const char *method, const char *version, const char *upload_data,
			   size_t *upload_data_size, void **req_cls);
void http_on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
		       enum MHD_RequestTerminationCode toe);
size_t http_unescape(void *cls, struct MHD_Connection *conn, char *val);

/* Our state of an MHD connection, set by http.c when it opened. */
static inline struct http_conn *http_conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

static inline void http_client_addr(struct MHD_Connection *conn, uint8_t addr[AUTH_ADDR_SIZE])
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	auth_addr_key(ci ? ci->client_addr : NULL, addr);
}

#endif
