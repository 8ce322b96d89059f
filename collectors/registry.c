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
