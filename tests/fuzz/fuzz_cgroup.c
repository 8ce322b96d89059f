// SPDX-License-Identifier: GPL-2.0-or-later
/* /proc/PID/cgroup on noise: refused or a well-formed identity, never a read past the end. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "fuzz.h"

static void check_hex(const char *s, size_t n, int dashes)
{
	for (size_t i = 0; i < n; i++) {
		int dash = dashes && (i == 8 || i == 13 || i == 18 || i == 23);

		if (dash ? s[i] != '-'
			 : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy: a read past @size is a heap overflow that ASan reports. */
	char *buf = malloc(size ? size : 1);
	struct pod_id id;
	size_t u, c;
	int r;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	r = cgroup_pod_parse(buf, size, &id);
	free(buf);
	if (r == -EINVAL || r == -ENOENT)
		return 0;
	if (r != 0)
		abort();
	u = strnlen(id.uid, sizeof(id.uid));
	c = strnlen(id.container_id, sizeof(id.container_id));
	if ((u != 0 && u != 32 && u != 36) || (c != 0 && c != CONTAINER_ID_LEN) || (!u && !c))
		abort();
	check_hex(id.uid, u, u == 36);
	check_hex(id.container_id, c, 0);
	return 0;
}
