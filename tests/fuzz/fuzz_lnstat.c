// SPDX-License-Identifier: GPL-2.0-or-later
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz.h"
#include "percpu.h"

struct ctx {
	struct percpu_stats st;
	const struct lnstat_header *h;
};

static int feed(void *userdata, unsigned row, const uint64_t *values, unsigned n)
{
	struct ctx *c = userdata;
	static const char *const names[] = { "a", "b", "c", "d" };

	/* Nothing wider than the kernel's type for its column gets through. */
	for (unsigned i = 0; i < n; i++)
		if (values[i] > UINT32_MAX && !c->h->col[i].wide)
			abort();
	for (unsigned i = 0; i < n && i < 4; i++) {
		int slot = percpu_slot(&c->st, names[i], 1);

		if (slot >= 0)
			percpu_update(&c->st, row, (unsigned)slot, values[i]);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lnstat_header h;
	struct ctx c = { .h = &h };

	lnstat_parse((const char *)data, size, &h, feed, &c);
	/* A sum never wraps below what one CPU counted. */
	for (unsigned s = 0; s < c.st.n_slots; s++)
		for (unsigned cpu = 0; cpu < c.st.n_cpus; cpu++)
			if (percpu_sum(&c.st, s) <
			    c.st.ctr[(size_t)cpu * STAT_MAX_FIELDS + s].total)
				abort();
	percpu_free(&c.st);
	return 0;
}
