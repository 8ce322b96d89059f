/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_IFADDR_H
#define NFCE_IFADDR_H

#include <stddef.h>
#include <stdint.h>

/*
 * The interface addresses of a network namespace, over rtnetlink (RTM_GETADDR): what tells
 * which namespace an address in the host's conntrack table belongs to.
 */

struct ifaddr {
	int family; /* AF_INET or AF_INET6 */
	unsigned prefixlen;
	unsigned scope; /* RT_SCOPE_*: host for loopback, link for fe80::/10 */
	unsigned ifindex;
	unsigned char addr[16]; /* the first 4 bytes for AF_INET */
};

/*
 * One RTM_NEWADDR message of @len bytes at @buf (nlmsg_len <= @len): the local address
 * (IFA_LOCAL, which on a point-to-point link differs from IFA_ADDRESS, the peer's; else
 * IFA_ADDRESS). -EBADMSG when malformed, -EINVAL when an address has the wrong size for its
 * family, -ENOENT for a message that carries no IPv4 or IPv6 address (another type or family).
 * *@ret written only on success.
 */
int ifaddr_parse(const void *buf, size_t len, struct ifaddr *ret);

typedef int (*ifaddr_fn)(void *userdata, const struct ifaddr *a);

/*
 * One datagram of a dump answering request @seq from port @portid: @fn for each address, the
 * messages that carry none skipped. 1: the dump is finished; 0: more to read; -errno as
 * ctnl_reply_walk() says (an error reply, NLM_F_DUMP_INTR as -EINTR, -EBADMSG), or the
 * first negative return of @fn.
 */
int ifaddr_reply_parse(const void *buf, size_t len, uint32_t seq, uint32_t portid, ifaddr_fn fn,
		       void *userdata);

/*
 * Dump the addresses of the calling thread's network namespace, IPv4 and IPv6, to @fn, on a
 * socket of its own opened and closed here. -EINTR after three interrupted dumps.
 */
int ifaddr_dump(ifaddr_fn fn, void *userdata);

#endif
