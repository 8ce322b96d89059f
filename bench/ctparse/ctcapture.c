// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ctcapture: record ctnetlink conntrack messages as the kernel sends them, for the parser
 * benchmark (bench/ctparse/ctbench.c).
 *
 *   ctcapture events OUT [READY_FILE]   NEW/UPDATE/DESTROY events until SIGINT/SIGTERM
 *   ctcapture dump OUT                  one dump of the namespace's table (AF_UNSPEC)
 *
 * Each message is appended to OUT as a 4-byte little-endian length followed by the message's
 * nlmsg_len bytes, untouched. READY_FILE is created once the socket is subscribed, so the
 * caller starts its traffic only when no event can be missed. Counts go to stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct counts {
	unsigned long created, update, destroy, dump, other;
};

static int put_msg(FILE *out, const struct nlmsghdr *nlh)
{
	uint32_t n = nlh->nlmsg_len;
	unsigned char le[4] = { n & 0xff, n >> 8 & 0xff, n >> 16 & 0xff, n >> 24 & 0xff };

	if (fwrite(le, 1, 4, out) != 4 || fwrite(nlh, 1, n, out) != n)
		return -EIO;
	return 0;
}

/* Record every conntrack message of one datagram; 1 when a dump's NLMSG_DONE was seen. */
static int put_batch(FILE *out, const void *buf, int len, struct counts *c)
{
	const struct nlmsghdr *nlh = buf;

	for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
		if (nlh->nlmsg_type == NLMSG_DONE)
			return 1;
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

			fprintf(stderr, "ctcapture: netlink error %d\n", e->error);
			return e->error ? e->error : 1;
		}
		if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_CTNETLINK) {
			c->other++;
			continue;
		}
		if (put_msg(out, nlh) < 0)
			return -EIO;
		if (nlh->nlmsg_flags & NLM_F_MULTI)
			c->dump++;
		else if (NFNL_MSG_TYPE(nlh->nlmsg_type) == IPCTNL_MSG_CT_DELETE)
			c->destroy++;
		else if (nlh->nlmsg_flags & (NLM_F_CREATE | NLM_F_EXCL))
			c->created++;
		else
			c->update++;
	}
	return 0;
}

static int capture_events(struct mnl_socket *nl, FILE *out, const char *ready, struct counts *c)
{
	static char buf[1 << 16];
	struct pollfd pfd = { .fd = mnl_socket_get_fd(nl), .events = POLLIN };
	int rcvbuf = 4 << 20;

	if (mnl_socket_bind(nl,
			    NF_NETLINK_CONNTRACK_NEW | NF_NETLINK_CONNTRACK_UPDATE |
				    NF_NETLINK_CONNTRACK_DESTROY,
			    MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	/* Room for a burst: a lost event (ENOBUFS, reported below) would leave a gap in the corpus. */
	setsockopt(pfd.fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	if (ready) {
		int fd = open(ready, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd < 0)
			return -errno;
		close(fd);
	}
	/* After the stop signal, drain what is queued, then leave. */
	for (int drained = 0; !drained;) {
		int r = poll(&pfd, 1, stop ? 0 : 200);

		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0) {
			drained = stop;
			continue;
		}
		r = recv(pfd.fd, buf, sizeof(buf), 0);
		if (r < 0) {
			if (errno == ENOBUFS) {
				fprintf(stderr, "ctcapture: ENOBUFS, events lost\n");
				return -ENOBUFS;
			}
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (put_batch(out, buf, r, c) < 0)
			return -EIO;
	}
	return 0;
}

static int capture_dump(struct mnl_socket *nl, FILE *out, struct counts *c)
{
	static char buf[1 << 16];
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfh;
	int r;

	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_GET;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = (uint32_t)time(NULL);
	nfh = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfh));
	nfh->nfgen_family = AF_UNSPEC;
	nfh->version = NFNETLINK_V0;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		r = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (r < 0)
			return -errno;
		r = put_batch(out, buf, r, c);
	} while (r == 0);
	return r < 0 ? r : 0;
}

int main(int argc, char **argv)
{
	struct counts c = { 0 };
	struct mnl_socket *nl;
	FILE *out;
	int r;

	if (argc < 3 || (strcmp(argv[1], "events") && strcmp(argv[1], "dump"))) {
		fprintf(stderr, "usage: %s events OUT [READY_FILE] | dump OUT\n", argv[0]);
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	out = fopen(argv[2], "ab");
	if (!out) {
		perror(argv[2]);
		return 1;
	}
	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl) {
		perror("mnl_socket_open");
		return 1;
	}
	if (!strcmp(argv[1], "events"))
		r = capture_events(nl, out, argc > 3 ? argv[3] : NULL, &c);
	else
		r = capture_dump(nl, out, &c);
	mnl_socket_close(nl);
	if (fclose(out) != 0 && r == 0)
		r = -EIO;
	fprintf(stderr, "ctcapture %s: new=%lu update=%lu destroy=%lu dump=%lu other=%lu%s%s\n",
		argv[1], c.created, c.update, c.destroy, c.dump, c.other, r ? " error=" : "",
		r ? strerror(-r) : "");
	return r ? 1 : 0;
}
