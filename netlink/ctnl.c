// SPDX-License-Identifier: GPL-2.0-or-later
#include "ctnl.h"
#include "attr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>

#define CTNL_BUF_SIZE (32 * 1024)
#define CTNL_DUMP_RETRIES 3

/*
 * mnl_nlmsg_ok() compares (int)nlmsg_len with the bytes left, so a length of 0xffffffff
 * passes it as -1 (found by fuzz_ctnl). Compare unsigned.
 */
static bool nlmsg_fits(const struct nlmsghdr *nlh, size_t len)
{
	return len >= sizeof(*nlh) && nlh->nlmsg_len >= sizeof(*nlh) && nlh->nlmsg_len <= len;
}

const struct nlmsghdr *ctnl_msg_next(const struct nlmsghdr *nlh, size_t *left)
{
	size_t step = MNL_ALIGN(nlh->nlmsg_len);

	if (step >= *left)
		return NULL;
	*left -= step;
	return (const struct nlmsghdr *)((const char *)nlh + step);
}

bool ctnl_msg_ok(const void *buf, size_t len)
{
	const struct nlmsghdr *nlh = buf;

	return nlmsg_fits(nlh, len) &&
	       nlh->nlmsg_len >= MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg));
}

/* Every statistic is a u32; type 0 is no statistic. */
static const enum ctnl_attr_kind stats_policy[CTNL_ATTR_TB_MAX + 1] = {
	[1 ... CTNL_ATTR_TB_MAX] = CTNL_ATTR_U32,
};

int ctnl_parse_global(const struct nlmsghdr *nlh, struct ctnl_global *ret)
{
	const struct nlattr *tb[CTNL_STATS_GLOBAL_MAX_ENTRIES + 1];
	const struct nlattr *e, *m;
	int r;

	r = ctnl_msg_parse(nlh, stats_policy, CTNL_STATS_GLOBAL_MAX_ENTRIES, tb);
	if (r < 0)
		return r;
	e = tb[CTNL_STATS_GLOBAL_ENTRIES];
	m = tb[CTNL_STATS_GLOBAL_MAX_ENTRIES];
	*ret = (struct ctnl_global){
		.entries = e ? ntohl(mnl_attr_get_u32(e)) : 0,
		.max_entries = m ? ntohl(mnl_attr_get_u32(m)) : 0,
		.has_entries = e,
		.has_max_entries = m,
	};
	return 0;
}

int ctnl_parse_cpu(const struct nlmsghdr *nlh, unsigned max_known, struct ctnl_cpu *ret)
{
	const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[CTNL_CPU_ATTR_MAX + 1];
	struct ctnl_cpu m = { 0 };
	unsigned max = max_known < CTNL_CPU_ATTR_MAX ? max_known : CTNL_CPU_ATTR_MAX;
	int r;

	/* A type above @max_known is a newer kernel's: skipped whatever its shape. */
	r = ctnl_msg_parse(nlh, stats_policy, max, tb);
	if (r < 0)
		return r;
	for (unsigned t = 1; t <= max; t++) {
		if (!tb[t])
			continue;
		m.value[t] = ntohl(mnl_attr_get_u32(tb[t]));
		m.present |= UINT64_C(1) << t;
	}
	m.cpu = ntohs(nfg->res_id); /* the kernel puts the CPU number there */
	*ret = m;
	return 0;
}

int ctnl_open(struct ctnl *c)
{
	struct timeval tv = { .tv_sec = 1 };
	int r;

	*c = (struct ctnl){ 0 };
	c->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!c->nl)
		return -errno;
	if (mnl_socket_bind(c->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		goto close_sock;
	}
	/* The kernel answers at once; the timeout only keeps a scrape from hanging on a bug. */
	if (setsockopt(mnl_socket_get_fd(c->nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		r = -errno;
		goto close_sock;
	}
	c->portid = mnl_socket_get_portid(c->nl);
	c->seq = (uint32_t)time(NULL);
	return 0;

close_sock:
	mnl_socket_close(c->nl);
	c->nl = NULL;
	return r;
}

void ctnl_close(struct ctnl *c)
{
	if (!c)
		return;
	if (c->nl)
		mnl_socket_close(c->nl);
	*c = (struct ctnl){ 0 };
}

int ctnl_error(int err)
{
	switch (err) {
	case EAGAIN:
#if EWOULDBLOCK != EAGAIN
	case EWOULDBLOCK:
#endif
		return -ETIMEDOUT;
	case EOPNOTSUPP:
	case ENOENT: /* nfnetlink without the ctnetlink subsystem */
		return -EOPNOTSUPP;
	default:
		return -err;
	}
}

struct nlmsghdr *ctnl_put_request(void *buf, uint8_t subsys, uint8_t type, bool dump, uint32_t seq)
{
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;

	memset(buf, 0, CTNL_REQUEST_SIZE);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (uint16_t)(subsys << 8 | type);
	nlh->nlmsg_flags = NLM_F_REQUEST | (dump ? NLM_F_DUMP : 0);
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	return nlh;
}

int ctnl_send_request(struct mnl_socket *nl, uint8_t subsys, uint8_t type, bool dump, uint32_t seq)
{
	union {
		char buf[CTNL_REQUEST_SIZE];
		struct nlmsghdr align;
	} u;
	struct nlmsghdr *nlh = ctnl_put_request(u.buf, subsys, type, dump, seq);

	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return ctnl_error(errno);
	return 0;
}

/* The largest errno the kernel returns (include/linux/err.h). */
#define MAX_ERRNO 4095

/* NLMSG_DONE carries the dump's last return value: negative when the dump failed part-way. */
static int done_status(const struct nlmsghdr *nlh)
{
	int32_t err;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(err))
		return 1;
	memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
	if (err < -MAX_ERRNO)
		return -EBADMSG; /* no errno, and INT_MIN would not even negate */
	return err < 0 ? ctnl_error(-err) : 1;
}

int ctnl_reply_walk(const void *buf, size_t len, uint32_t seq, uint32_t portid, ctnl_msg_fn fn,
		    void *userdata)
{
	const struct nlmsghdr *nlh = buf;
	size_t left = len;
	int r;

	for (; nlh && nlmsg_fits(nlh, left); nlh = ctnl_msg_next(nlh, &left)) {
		/* Leftovers of an earlier, abandoned request. */
		if (nlh->nlmsg_seq != seq || (nlh->nlmsg_pid && nlh->nlmsg_pid != portid))
			continue;
		if (nlh->nlmsg_type == NLMSG_DONE)
			return done_status(nlh);
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

			if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e))
				return -EBADMSG;
			/* The kernel's errors are small negative errnos: anything else is no answer. */
			if (e->error > 0 || e->error < -MAX_ERRNO)
				return -EBADMSG;
			return e->error ? ctnl_error(-e->error) : 1;
		}
		if (nlh->nlmsg_type == NLMSG_NOOP)
			continue;
		if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
			return -EINTR;
		if (!ctnl_msg_ok(nlh, left))
			return -EBADMSG;
		r = fn(nlh, userdata);
		if (r != 0)
			return r < 0 ? r : 1;
	}
	return 0;
}

int ctnl_listen(unsigned groups, size_t bufsize, struct mnl_socket **ret, int *ret_rcvbuf)
{
	int fd, rcvbuf, size = bufsize > INT32_MAX / 2 ? INT32_MAX / 2 : (int)bufsize;
	socklen_t sl = sizeof(rcvbuf);
	struct mnl_socket *nl;
	int r;

	nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!nl)
		return ctnl_error(errno);
	fd = mnl_socket_get_fd(nl);
	/* FORCE passes rmem_max with CAP_NET_ADMIN; without it we get what rmem_max allows. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &sl) < 0)
		rcvbuf = 0;
	if (mnl_socket_bind(nl, groups, MNL_SOCKET_AUTOPID) < 0) {
		r = ctnl_error(errno);
		mnl_socket_close(nl);
		return r;
	}
	*ret = nl;
	*ret_rcvbuf = rcvbuf;
	return 0;
}

int ctnl_dump_open(uint32_t seq, struct mnl_socket **ret)
{
	struct mnl_socket *nl;
	int r;

	nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!nl)
		return ctnl_error(errno);
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = ctnl_error(errno);
		goto close_sock;
	}
	r = ctnl_send_request(nl, CTNL_SUBSYS_CT, CTNL_MSG_CT_GET, true, seq);
	if (r < 0)
		goto close_sock;
	*ret = nl;
	return 0;
close_sock:
	mnl_socket_close(nl);
	return r;
}

struct once {
	ctnl_msg_fn fn;
	void *userdata;
};

/* A request that is no dump has one answer: stop after it. */
static int once_cb(const struct nlmsghdr *nlh, void *userdata)
{
	struct once *o = userdata;
	int r = o->fn(nlh, o->userdata);

	return r < 0 ? r : 1;
}

static int request_once(struct ctnl *c, uint8_t subsys, uint8_t type, bool dump, ctnl_msg_fn fn,
			void *userdata)
{
	/* On the stack: a buffer per socket cost 32 KiB of RSS per followed namespace. */
	char buf[CTNL_BUF_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct once o = { fn, userdata };
	int r;

	r = ctnl_send_request(c->nl, subsys, type, dump, ++c->seq);
	if (r < 0)
		return r;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(c->nl, buf, sizeof(buf));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return ctnl_error(errno);
		}
		r = ctnl_reply_walk(buf, (size_t)n, c->seq, c->portid, dump ? fn : once_cb,
				    dump ? userdata : &o);
		if (r != 0)
			return r < 0 ? r : 0;
	}
}

int ctnl_request(struct ctnl *c, uint8_t subsys, uint8_t type, bool dump, ctnl_msg_fn fn,
		 void *userdata)
{
	int r = -EINTR;

	if (!c || c->refused)
		return -EPERM;
	for (int i = 0; i < CTNL_DUMP_RETRIES && r == -EINTR; i++) {
		if (!c->nl && (r = ctnl_open(c)) < 0)
			goto out;
		r = request_once(c, subsys, type, dump, fn, userdata);
		/*
		 * A dump left unfinished keeps the socket busy (the kernel runs one dump per
		 * socket, -EBUSY to the next): start again on a fresh one.
		 */
		if (r < 0)
			ctnl_close(c);
	}
out:
	if (r == -EPERM || r == -EACCES)
		c->refused = true;
	return r;
}

static int global_cb(const struct nlmsghdr *nlh, void *userdata)
{
	return ctnl_parse_global(nlh, userdata);
}

int ctnl_get_global(struct ctnl *c, struct ctnl_global *ret)
{
	struct ctnl_global g = { 0 };
	int r;

	r = ctnl_request(c, CTNL_SUBSYS_CT, CTNL_MSG_CT_GET_STATS, false, global_cb, &g);
	if (r < 0)
		return r;
	*ret = g;
	return 0;
}
