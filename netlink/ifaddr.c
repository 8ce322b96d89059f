// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * RTM_GETADDR: a namespace's interface addresses. Parsed like the ctnetlink messages
 * (attr.h's exact walk, ctnl_reply_walk()'s framing and errors), from a route socket that
 * exists only for one dump, so a followed namespace keeps no extra descriptor.
 */
#include "ifaddr.h"
#include "attr.h"
#include "ctnl.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

#define IFADDR_BUF_SIZE (32 * 1024)
#define IFADDR_DUMP_RETRIES 3

struct pick {
	const struct nlattr *address, *local;
};

static int pick_cb(const struct nlattr *a, void *data)
{
	struct pick *p = data;

	switch (mnl_attr_get_type(a)) {
	case IFA_ADDRESS:
		p->address = a;
		break;
	case IFA_LOCAL:
		p->local = a;
		break;
	default: /* labels, cache info, flags, a newer kernel's: none of our business */
		break;
	}
	return 0;
}

int ifaddr_parse(const void *buf, size_t len, struct ifaddr *ret)
{
	const struct nlmsghdr *nlh = buf;
	const struct ifaddrmsg *ifa;
	size_t off = MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(*ifa)), want;
	struct pick p = { NULL, NULL };
	const struct nlattr *a;
	struct ifaddr out = { 0 };
	int r;

	if (len < sizeof(*nlh) || nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > len)
		return -EBADMSG;
	if (nlh->nlmsg_type != RTM_NEWADDR)
		return -ENOENT;
	if (nlh->nlmsg_len < off)
		return -EBADMSG;
	ifa = mnl_nlmsg_get_payload(nlh);
	if (ifa->ifa_family == AF_INET)
		want = 4;
	else if (ifa->ifa_family == AF_INET6)
		want = 16;
	else
		return -ENOENT;
	r = ctnl_attr_walk((const char *)nlh + off, nlh->nlmsg_len - off, pick_cb, &p);
	if (r < 0)
		return r;
	a = p.local ? p.local : p.address;
	if (!a)
		return -ENOENT;
	if (mnl_attr_get_payload_len(a) != want)
		return -EINVAL;
	/* A prefix longer than the address is no address the kernel would send. */
	if (ifa->ifa_prefixlen > want * 8)
		return -EINVAL;
	out.family = ifa->ifa_family;
	out.prefixlen = ifa->ifa_prefixlen;
	out.scope = ifa->ifa_scope;
	out.ifindex = ifa->ifa_index;
	memcpy(out.addr, mnl_attr_get_payload(a), want);
	*ret = out;
	return 0;
}

struct walk {
	ifaddr_fn fn;
	void *userdata;
};

static int msg_cb(const struct nlmsghdr *nlh, void *userdata)
{
	struct walk *w = userdata;
	struct ifaddr a;
	int r = ifaddr_parse(nlh, nlh->nlmsg_len, &a);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = w->fn(w->userdata, &a);
	return r < 0 ? r : 0;
}

int ifaddr_reply_parse(const void *buf, size_t len, uint32_t seq, uint32_t portid, ifaddr_fn fn,
		       void *userdata)
{
	struct walk w = { fn, userdata };

	return ctnl_reply_walk(buf, len, seq, portid, msg_cb, &w);
}

static int dump_once(struct mnl_socket *nl, uint32_t seq, ifaddr_fn fn, void *userdata)
{
	char buf[IFADDR_BUF_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	union {
		char buf[MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct ifaddrmsg))];
		struct nlmsghdr align;
	} req;
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	uint32_t portid = mnl_socket_get_portid(nl);
	int r;

	memset(&req, 0, sizeof(req));
	nlh = mnl_nlmsg_put_header(req.buf);
	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_UNSPEC; /* both families in one dump */
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return ctnl_error(errno);
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return ctnl_error(errno);
		}
		r = ifaddr_reply_parse(buf, (size_t)n, seq, portid, fn, userdata);
		if (r != 0)
			return r < 0 ? r : 0;
	}
}

int ifaddr_dump(ifaddr_fn fn, void *userdata)
{
	struct timeval tv = { .tv_sec = 1 };
	uint32_t seq = (uint32_t)time(NULL);
	int r = -EINTR;

	for (int i = 0; i < IFADDR_DUMP_RETRIES && r == -EINTR; i++) {
		/* A fresh socket each try: an unfinished dump keeps its socket busy. */
		struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);

		if (!nl)
			return -errno;
		/* The kernel answers at once; the timeout only keeps the loop from hanging. */
		if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
		    setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
			r = -errno;
		else
			r = dump_once(nl, seq + (uint32_t)i, fn, userdata);
		mnl_socket_close(nl);
	}
	return r;
}
