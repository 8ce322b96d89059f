// SPDX-License-Identifier: GPL-2.0-or-later
/* Conntrack event and dump messages, one netlink message per input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctevent.h"
#include "ctnl.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ct_event ev;
	void *buf;

	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (ctnl_msg_ok(buf, size))
		ct_event_parse(buf, &ev);
	free(buf);
	return 0;
}
