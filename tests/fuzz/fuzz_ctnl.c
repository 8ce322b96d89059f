// SPDX-License-Identifier: GPL-2.0-or-later
/* Statistics replies: one message through the parsers, the whole input through the reply walk. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctnl.h"
#include "fuzz.h"

static int parse_cb(const struct nlmsghdr *nlh, void *userdata)
{
	struct ctnl_cpu m;

	(void)userdata;
	return ctnl_parse_cpu(nlh, CTNL_CPU_ATTR_MAX, &m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctnl_global g;
	struct ctnl_cpu m;
	void *buf;

	/* Netlink messages are 4-byte aligned in the socket buffer: copy to keep that true. */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (ctnl_msg_ok(buf, size)) {
		const struct nlmsghdr *nlh = buf;

		ctnl_parse_global(buf, &g);
		ctnl_parse_cpu(buf, 15, &m);
		ctnl_parse_cpu(buf, CTNL_CPU_ATTR_MAX, &m);
		/* As a datagram answering the first message's request. */
		ctnl_reply_walk(buf, size, nlh->nlmsg_seq, nlh->nlmsg_pid, parse_cb, NULL);
	}
	free(buf);
	return 0;
}
