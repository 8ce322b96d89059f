// SPDX-License-Identifier: GPL-2.0-or-later
#include "collector.h"

#include "util.h"

/* Listed by hand: the order here is the order of --help and of /metrics. */
/* clang-format off */
const struct collector_ops *const collector_registry[] = {
	&table_collector,
	&stat_collector,
	&timeouts_collector,
	&lnstat_collector,
	&events_collector,
	&kernel_collector,
};
/* clang-format on */

const size_t collector_registry_size = ARRAY_SIZE(collector_registry);
_Static_assert(ARRAY_SIZE(collector_registry) <= COLLECTORS_MAX, "raise COLLECTORS_MAX");

int collector_refresh(struct collector *c)
{
	int r = c->ops->refresh(c);

	/* A failed read is retried at the next scrape, not served as fresh for the period. */
	c->refreshed_us = r < 0 ? 0 : now_monotonic_us();
	return r;
}

int collector_fresh_enough(struct collector *c)
{
	uint64_t now = now_monotonic_us();

	if (!c->refreshed_us || now - c->refreshed_us > 2ull * c->ops->refresh_s * 1000000)
		return collector_refresh(c);
	return 0; /* read, and read well: a failed read leaves refreshed_us 0 */
}
