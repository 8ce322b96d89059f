/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_DOCTOR_REPORT_H
#define NFCE_DOCTOR_REPORT_H

/* Inside doctor: what it found (doctor.c) and how it is printed (doctor_report.c). */

#include <stdbool.h>
#include <stddef.h>

#include "netns.h"

#define MAX_FINDINGS 16

enum severity {
	SEV_INFO,
	SEV_WARN,
	SEV_RISK,
};

struct finding {
	enum severity sev;
	char title[160];
	char why[320];
	char fix[200];
};

struct report {
	struct finding f[MAX_FINDINGS];
	unsigned n;
	char unseen[8][96];
	unsigned n_unseen;
};

/* One namespace's figures, with --netns. */
struct ns_fill {
	char netns[NETNS_NAME_MAX + 1];
	double entries, drop;
};

struct facts {
	double entries, entries0, limit, buckets, dt, growth, to_full;
	double drop, drop0, early_drop, insert_failed, chaintoolong;
	double mem_now, mem_full, ram;
	/* With --netns: every namespace, fullest first; entries above are the fullest one's. */
	struct ns_fill *ns;
	size_t n_ns;
};

double kernel_default_max(double ram);
void human_bytes(char *buf, size_t size, double v);
void human_seconds(char *buf, size_t size, double s);
void print_json(const struct facts *x, const struct report *r, bool risk);
void print_text(const struct facts *x, const struct report *r, bool risk);

#endif
