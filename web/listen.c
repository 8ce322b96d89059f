// SPDX-License-Identifier: GPL-2.0-or-later
/* --web.listen-address: the listening socket libmicrohttpd is given. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"

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
