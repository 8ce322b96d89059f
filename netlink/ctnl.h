/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_CTNL_H
#define NFCE_CTNL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/netlink.h>

/*
 * ctnetlink requests for the statistics messages. Attribute numbers are written out here
 * rather than taken from <linux/netfilter/nfnetlink_conntrack.h> so that building on older
 * headers still understands what newer kernels send.
 */

#define CTNL_SUBSYS_CT 1 /* NFNL_SUBSYS_CTNETLINK */
#define CTNL_SUBSYS_EXP 2 /* NFNL_SUBSYS_CTNETLINK_EXP */
#define CTNL_MSG_CT_GET_STATS_CPU 4
#define CTNL_MSG_CT_GET_STATS 5
#define CTNL_MSG_EXP_GET_STATS_CPU 3

#define CTNL_STATS_GLOBAL_ENTRIES 1
#define CTNL_STATS_GLOBAL_MAX_ENTRIES 2

/* Attribute type numbers of one per-CPU statistics message can't exceed this. */
#define CTNL_CPU_ATTR_MAX 63

struct ctnl_global {
	uint64_t entries;
	uint64_t max_entries;
	bool has_entries;
	bool has_max_entries;
};

struct ctnl_cpu {
	unsigned cpu;
	uint64_t present; /* bit n: attribute type n was in the message */
	uint32_t value[CTNL_CPU_ATTR_MAX + 1];
};

struct nlattr;
typedef int (*ctnl_attr_fn)(const struct nlattr *attr, void *data);

/*
 * Walk the attributes in exactly @len bytes at @p, calling @fn on each. Unlike libmnl's
 * iterators, which bound the walk by the 4-byte-aligned message length and so may read a few
 * bytes past an unaligned end (valgrind found it), bytes left that make no whole attribute make
 * the message malformed (-EBADMSG) rather than silently shorter.
 */
int ctnl_attr_walk(const void *p, size_t len, ctnl_attr_fn fn, void *data);
/* The attributes of a message after its nfgenmsg header. */
int ctnl_msg_walk(const struct nlmsghdr *nlh, ctnl_attr_fn fn, void *data);

/* The message after @nlh among the *@left bytes that start at it, or NULL; *@left shrinks. */
const struct nlmsghdr *ctnl_msg_next(const struct nlmsghdr *nlh, size_t *left);

/* True if @len bytes at @buf hold one whole netlink message with a nfgenmsg header. */
bool ctnl_msg_ok(const void *buf, size_t len);
/* Parsers for a message already checked with ctnl_msg_ok(): -EBADMSG when malformed. */
int ctnl_parse_global(const struct nlmsghdr *nlh, struct ctnl_global *ret);
/* Attributes above @max_known are a newer kernel's and skipped whatever their shape. */
int ctnl_parse_cpu(const struct nlmsghdr *nlh, unsigned max_known, struct ctnl_cpu *ret);

struct mnl_socket;

struct ctnl {
	struct mnl_socket *nl;
	bool refused; /* EPERM is for the life of the process: stop asking */
	unsigned portid;
	uint32_t seq;
	char *buf;
	size_t buf_size;
};

typedef int (*ctnl_msg_fn)(const struct nlmsghdr *nlh, void *userdata);

/* -errno: EPROTONOSUPPORT without nfnetlink, EPERM/EACCES when refused. */
int ctnl_open(struct ctnl *c);
void ctnl_close(struct ctnl *c);
/*
 * Send one GET request and hand each reply message to @fn. Opens the socket when it is not
 * (nfnetlink may be loaded after we started), and after an EPERM answers -EPERM at once. A request for a subsystem that
 * isn't there fails with -EOPNOTSUPP; without CAP_NET_ADMIN with -EPERM; a kernel that doesn't
 * answer within a second with -ETIMEDOUT.
 */
int ctnl_request(struct ctnl *c, uint8_t subsys, uint8_t type, bool dump, ctnl_msg_fn fn,
		 void *userdata);
/* IPCTNL_MSG_CT_GET_STATS: entries and (on newer kernels) the limit. */
int ctnl_get_global(struct ctnl *c, struct ctnl_global *ret);

#endif
