/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_PERCPU_H
#define NFCE_PERCPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The kernel keeps conntrack and lnstat statistics per CPU as 32-bit counters that wrap (the
 * neighbour tables' as unsigned long). We remember the last raw value of every (CPU,
 * statistic) and add the difference, so the sums we export are 64-bit and never go backwards.
 */

#define STAT_NAME_MAX 48
#define STAT_MAX_FIELDS 64
#define STAT_MAX_CPUS 4096

struct wrap_counter {
	uint64_t total;
	uint64_t last;
	bool seen;
};

void wrap_counter_update(struct wrap_counter *c, uint64_t cur);

struct percpu_stats {
	unsigned n_slots;
	char names[STAT_MAX_FIELDS][STAT_NAME_MAX];
	bool present[STAT_MAX_FIELDS]; /* reported by the latest read */
	unsigned n_cpus; /* rows allocated in ctr */
	struct wrap_counter *ctr; /* ctr[cpu * STAT_MAX_FIELDS + slot] */
};

void percpu_free(struct percpu_stats *s);
/* Start a new read: statistics not reported again are no longer exported. */
void percpu_begin(struct percpu_stats *s);
/* Slot of @name, added when new; -E2BIG past STAT_MAX_FIELDS, -EINVAL for a bad name. */
int percpu_slot(struct percpu_stats *s, const char *name, size_t len);
/* Slot of @name, or -ENOENT; never adds. */
int percpu_find(const struct percpu_stats *s, const char *name);
int percpu_update(struct percpu_stats *s, unsigned cpu, unsigned slot, uint64_t value);
/* The sum over CPUs; one that would pass 2^64 stays there rather than wrap to a "reset". */
uint64_t percpu_sum(const struct percpu_stats *s, unsigned slot);

/*
 * /proc/net/stat/<table>: a header line of column names, then one row of hex values per
 * possible CPU. Parsed by the header's names only; the column order is the kernel's business,
 * and so is each column's type, known by its name: 32 bits, except the unsigned long counters
 * of the neighbour tables (arp_cache, ndisc_cache), 64 bits on a 64-bit kernel.
 */
struct lnstat_column {
	const char *name; /* points into the parsed buffer, not terminated */
	size_t len;
	bool wide; /* unsigned long in the kernel; else a value past 32 bits is malformed */
};

struct lnstat_header {
	unsigned n;
	int entries_col; /* -1 when the table has no "entries" column */
	struct lnstat_column col[STAT_MAX_FIELDS];
};

typedef int (*lnstat_row_fn)(void *userdata, unsigned row, const uint64_t *values, unsigned n);

/*
 * Parse @buf of @len bytes. The whole table is validated before @row_fn sees any row, so a
 * malformed file changes no state. Returns the number of rows, or -EBADMSG (malformed, a
 * value wider than its column's kernel type among them), -E2BIG (too many columns or rows),
 * -ENODATA (no header or no rows).
 */
int lnstat_parse(const char *buf, size_t len, struct lnstat_header *hdr, lnstat_row_fn row_fn,
		 void *userdata);

#endif
