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
#define CTNL_MSG_CT_GET 1 /* a dump of the table */
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

/* The message after @nlh among the *@left bytes that start at it, or NULL; *@left shrinks. */
const struct nlmsghdr *ctnl_msg_next(const struct nlmsghdr *nlh, size_t *left);

/* True if @len bytes at @buf hold one whole netlink message with a nfgenmsg header. */
bool ctnl_msg_ok(const void *buf, size_t len);
/*
 * Parsers for a message already checked with ctnl_msg_ok(), the attributes validated as in
 * attr.h (every known statistic is exactly a u32): -EBADMSG when the message is malformed,
 * -EINVAL when a known attribute has the wrong size.
 */
int ctnl_parse_global(const struct nlmsghdr *nlh, struct ctnl_global *ret);
/* Attributes above @max_known are a newer kernel's and skipped whatever their shape. */
int ctnl_parse_cpu(const struct nlmsghdr *nlh, unsigned max_known, struct ctnl_cpu *ret);

/*
 * Netlink conditions and the errno each becomes, for every request this program makes (the
 * statistics requests below and the events collector's dumps), whether the kernel says it in
 * an NLMSG_ERROR, in the error code an NLMSG_DONE carries, or the socket says it:
 *
 *   EPERM, EACCES        -EPERM, -EACCES: refused (no CAP_NET_ADMIN in the namespace's
 *                        user namespace); ctnl_request() stops asking for good
 *   ENOENT, EOPNOTSUPP   -EOPNOTSUPP: nfnetlink has no such subsystem (nf_conntrack_netlink
 *                        not loaded); EPROTONOSUPPORT from socket(): no nfnetlink at all
 *   EAGAIN, EWOULDBLOCK  -ETIMEDOUT: no answer within the blocking socket's SO_RCVTIMEO
 *   ENOBUFS              -ENOBUFS: the kernel dropped messages for us (event overrun): count
 *                        it and resync, never hide it
 *   NLM_F_DUMP_INTR      -EINTR: the table changed under the dump, which is inconsistent:
 *                        restart it (ctnl_request() does, three times; events re-dumps)
 *   malformed reply      -EBADMSG
 *   anything else        -errno as it came
 */
int ctnl_error(int err);

/* Bytes a request built by ctnl_put_request() needs. */
#define CTNL_REQUEST_SIZE 32

/*
 * Build in @buf (CTNL_REQUEST_SIZE bytes, aligned) a GET request of message @type of subsystem
 * @subsys for every family, a dump when @dump, with sequence number @seq.
 */
struct nlmsghdr *ctnl_put_request(void *buf, uint8_t subsys, uint8_t type, bool dump, uint32_t seq);

struct mnl_socket;

/* Build and send such a request on @nl: 0 or -errno as mapped above. */
int ctnl_send_request(struct mnl_socket *nl, uint8_t subsys, uint8_t type, bool dump, uint32_t seq);

typedef int (*ctnl_msg_fn)(const struct nlmsghdr *nlh, void *userdata);

/*
 * Hand @fn each message in the @len bytes at @buf (one datagram) that answers request @seq
 * from port @portid, checked with ctnl_msg_ok(); others (an abandoned request's leftovers,
 * NLMSG_NOOP) are skipped. 1: the request is finished (NLMSG_DONE, an ACK, or @fn returned a
 * positive value to stop); 0: more to read; -errno: an error reply or an NLMSG_DONE carrying
 * one, NLM_F_DUMP_INTR, a malformed message (mapped as above), or @fn's own error.
 */
int ctnl_reply_walk(const void *buf, size_t len, uint32_t seq, uint32_t portid, ctnl_msg_fn fn,
		    void *userdata);

/*
 * A non-blocking socket that listens to the multicast @groups (NF_NETLINK_CONNTRACK_*), its
 * receive buffer sized to @bufsize with SO_RCVBUFFORCE (SO_RCVBUF without CAP_NET_ADMIN);
 * *@ret_rcvbuf gets the size in force. -errno as mapped above (-EPERM: not allowed to listen).
 */
int ctnl_listen(unsigned groups, size_t bufsize, struct mnl_socket **ret, int *ret_rcvbuf);
/*
 * A non-blocking socket of its own with a dump of the conntrack table under way (request
 * @seq): read it with ctnl_reply_walk(), close it to abandon the dump.
 */
int ctnl_dump_open(uint32_t seq, struct mnl_socket **ret);

struct ctnl {
	struct mnl_socket *nl;
	bool refused; /* EPERM is for the life of the process: stop asking */
	unsigned portid;
	uint32_t seq;
};

/* -errno: EPROTONOSUPPORT without nfnetlink, EPERM/EACCES when refused. */
int ctnl_open(struct ctnl *c);
void ctnl_close(struct ctnl *c);
/*
 * Send one GET request and hand each reply message to @fn. Opens the socket when it is not
 * (nfnetlink may be loaded after we started), and after an EPERM, or when @c is NULL,
 * answers -EPERM at once.
 * Errors as in the table above.
 */
int ctnl_request(struct ctnl *c, uint8_t subsys, uint8_t type, bool dump, ctnl_msg_fn fn,
		 void *userdata);
/* IPCTNL_MSG_CT_GET_STATS: entries and (on newer kernels) the limit. */
int ctnl_get_global(struct ctnl *c, struct ctnl_global *ret);

#endif
