// SPDX-License-Identifier: GPL-2.0-or-later
#include <stddef.h>
#include <stdint.h>

#include "fuzz.h"
#include "percpu.h"

static int feed(void *userdata, unsigned row, const uint64_t *values, unsigned n)
{
	struct percpu_stats *st = userdata;
	static const char *const names[] = { "a", "b", "c", "d" };

	for (unsigned i = 0; i < n && i < 4; i++) {
		int slot = percpu_slot(st, names[i], 1);

		if (slot >= 0)
			percpu_update(st, row, (unsigned)slot, values[i]);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct percpu_stats st = { 0 };
	struct lnstat_header h;

	lnstat_parse((const char *)data, size, &h, feed, &st);
	percpu_free(&st);
	return 0;
}
