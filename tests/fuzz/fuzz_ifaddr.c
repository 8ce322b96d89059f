// SPDX-License-Identifier: GPL-2.0-or-later
/* RTM_NEWADDR dump datagrams on noise: each message alone, then the whole as a reply. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/netlink.h>

#include "fuzz.h"
#include "ifaddr.h"

static int check(void *userdata, const struct ifaddr *a)
{
	(void)userdata;
	if ((a->family != AF_INET && a->family != AF_INET6) ||
	    a->prefixlen > (a->family == AF_INET ? 32u : 128u))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy: a read past @size is a heap overflow that ASan reports. */
	struct nlmsghdr *buf = malloc(size ? size : 1);
	struct ifaddr a;
	uint32_t seq = 0;
	int r;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	r = ifaddr_parse(buf, size, &a);
	if (r == 0)
		check(NULL, &a);
	else if (r != -EBADMSG && r != -EINVAL && r != -ENOENT)
		abort();
	/* The first message's sequence number, so that the walk does not skip them all. */
	if (size >= sizeof(*buf))
		seq = buf->nlmsg_seq;
	ifaddr_reply_parse(buf, size, seq, 0, check, NULL);
	free(buf);
	return 0;
}
