// SPDX-License-Identifier: GPL-2.0-or-later
/* The small text parsers: sysctl numbers, timeout sysctl names, /proc/self/stat, btime. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "process_metrics.h"
#include "slabinfo.h"
#include "timeouts.h"
#include "util.h"

static int slab_ignore(void *userdata, const struct slab_cache *c)
{
	(void)userdata;
	(void)c;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct proc_self_stat st;
	struct timeout_name tn;
	uint64_t v;
	char *name;

	parse_u64(s, size, &v);
	slabinfo_parse(s, size, slab_ignore, NULL);
	proc_self_stat_parse(s, size, &st);
	proc_stat_btime_parse(s, size, &v);
	name = strndup(s, size);
	if (name) {
		timeout_sysctl_parse(name, &tn);
		free(name);
	}
	return 0;
}
