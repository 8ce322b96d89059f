// SPDX-License-Identifier: GPL-2.0-or-later
#include "ctnl.h"

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

struct attr_walk {
	uint64_t present;
	uint32_t *value;
	unsigned max;
};

static int attr_cb(const struct nlattr *attr, void *data)
{
	struct attr_walk *w = data;
	unsigned type = mnl_attr_get_type(attr);

	/* A type we don't know is a newer kernel's: skip it whatever its shape. */
	if (type == 0 || type > w->max)
		return 0;
	if (mnl_attr_get_payload_len(attr) != sizeof(uint32_t))
		return -EBADMSG;
	w->value[type] = ntohl(mnl_attr_get_u32(attr));
	w->present |= UINT64_C(1) << type;
	return 0;
}

int ctnl_attr_walk(const void *p, size_t len, ctnl_attr_fn fn, void *data)
{
	const char *cur = p, *end = (const char *)p + len;

	while (cur < end) {
		const struct nlattr *a = (const struct nlattr *)cur;
		size_t left = (size_t)(end - cur), step;
		int r;

		if (left < sizeof(*a) || a->nla_len < sizeof(*a) || a->nla_len > left)
			return -EBADMSG;
		r = fn(a, data);
		if (r < 0)
			return r;
		step = MNL_ALIGN(a->nla_len);
		if (step >= left)
			break;
		cur += step;
	}
	return 0;
}

int ctnl_msg_walk(const struct nlmsghdr *nlh, ctnl_attr_fn fn, void *data)
{
	size_t off = MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg));

	if (nlh->nlmsg_len < off)
		return -EBADMSG;
	return ctnl_attr_walk((const char *)nlh + off, nlh->nlmsg_len - off, fn, data);
}

static int walk(const struct nlmsghdr *nlh, struct attr_walk *w)
{
	return ctnl_msg_walk(nlh, attr_cb, w);
}

int ctnl_parse_global(const struct nlmsghdr *nlh, struct ctnl_global *ret)
{
	uint32_t v[CTNL_STATS_GLOBAL_MAX_ENTRIES + 1] = { 0 };
	struct attr_walk w = { .value = v, .max = CTNL_STATS_GLOBAL_MAX_ENTRIES };
	int r;

	r = walk(nlh, &w);
	if (r < 0)
		return r;
	*ret = (struct ctnl_global){
		.entries = v[CTNL_STATS_GLOBAL_ENTRIES],
		.max_entries = v[CTNL_STATS_GLOBAL_MAX_ENTRIES],
		.has_entries = w.present & (UINT64_C(1) << CTNL_STATS_GLOBAL_ENTRIES),
		.has_max_entries = w.present & (UINT64_C(1) << CTNL_STATS_GLOBAL_MAX_ENTRIES),
	};
	return 0;
}

int ctnl_parse_cpu(const struct nlmsghdr *nlh, unsigned max_known, struct ctnl_cpu *ret)
{
	const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
	struct ctnl_cpu m = { 0 };
	struct attr_walk w = { .value = m.value };
	int r;

	w.max = max_known < CTNL_CPU_ATTR_MAX ? max_known : CTNL_CPU_ATTR_MAX;
	r = walk(nlh, &w);
	if (r < 0)
		return r;
	m.cpu = ntohs(nfg->res_id); /* the kernel puts the CPU number there */
	m.present = w.present;
	*ret = m;
	return 0;
}

int ctnl_open(struct ctnl *c)
{
	struct timeval tv = { .tv_sec = 1 };
	int r;

	*c = (struct ctnl){ 0 };
	c->buf = malloc(CTNL_BUF_SIZE);
	if (!c->buf)
		return -ENOMEM;
	c->buf_size = CTNL_BUF_SIZE;
	c->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!c->nl) {
		r = -errno;
		goto free_buf;
	}
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
free_buf:
	free(c->buf);
	c->buf = NULL;
	return r;
}

void ctnl_close(struct ctnl *c)
{
	if (!c)
		return;
	if (c->nl)
		mnl_socket_close(c->nl);
	free(c->buf);
	*c = (struct ctnl){ 0 };
}

/* Map what nfnetlink says to what our callers act on. */
static int map_nl_error(int err)
{
	switch (err) {
	case EAGAIN:
		return -ETIMEDOUT;
	case EOPNOTSUPP:
	case ENOENT: /* nfnetlink without the ctnetlink subsystem */
		return -EOPNOTSUPP;
	default:
		return -err;
	}
}

/* 1: request finished, 0: more to read, <0: error. */
static int handle_batch(struct ctnl *c, const char *buf, size_t len, bool dump, ctnl_msg_fn fn,
			void *userdata)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
	size_t left = len;
	int r;

	for (; nlh && nlmsg_fits(nlh, left); nlh = ctnl_msg_next(nlh, &left)) {
		/* Leftovers of an earlier, abandoned request. */
		if (nlh->nlmsg_seq != c->seq || (nlh->nlmsg_pid && nlh->nlmsg_pid != c->portid))
			continue;
		if (nlh->nlmsg_type == NLMSG_DONE)
			return 1;
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

			if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e))
				return -EBADMSG;
			return e->error ? map_nl_error(-e->error) : 1;
		}
		if (nlh->nlmsg_type == NLMSG_NOOP)
			continue;
		if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
			return -EINTR;
		if (!ctnl_msg_ok(nlh, left))
			return -EBADMSG;
		r = fn(nlh, userdata);
		if (r < 0)
			return r;
		if (!dump)
			return 1;
	}
	return 0;
}

static int request_once(struct ctnl *c, uint8_t subsys, uint8_t type, bool dump, ctnl_msg_fn fn,
			void *userdata)
{
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;
	int r;

	nlh = mnl_nlmsg_put_header(c->buf);
	nlh->nlmsg_type = (uint16_t)(subsys << 8 | type);
	nlh->nlmsg_flags = NLM_F_REQUEST | (dump ? NLM_F_DUMP : 0);
	nlh->nlmsg_seq = ++c->seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;

	if (mnl_socket_sendto(c->nl, nlh, nlh->nlmsg_len) < 0)
		return map_nl_error(errno);
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(c->nl, c->buf, c->buf_size);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return map_nl_error(errno);
		}
		r = handle_batch(c, c->buf, (size_t)n, dump, fn, userdata);
		if (r != 0)
			return r < 0 ? r : 0;
	}
}

int ctnl_request(struct ctnl *c, uint8_t subsys, uint8_t type, bool dump, ctnl_msg_fn fn,
		 void *userdata)
{
	int r = -EINTR;

	if (c->refused)
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
