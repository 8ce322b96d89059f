/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_DOCTOR_REPORT_H
#define NFCE_DOCTOR_REPORT_H

/* Inside doctor: what it found (doctor.c) and how it is printed (doctor_report.c). */

#include <stdbool.h>
#include <stddef.h>

#include "metric_writer.h"
#include "netns.h"

#define MAX_FINDINGS 24

enum severity {
	SEV_INFO,
	SEV_WARN,
	SEV_RISK,
};

struct finding {
	enum severity sev;
	char title[256];
	char why[400];
	char fix[480]; /* with an example rule, addresses filled in */
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

/*
 * What fills the table, from the events collector's attribution families (doctor_attrib.c):
 * the few biggest of each, which is all a finding names.
 */
#define ATTR_KEPT 5

struct attr_source {
	char source[48]; /* an address, or a prefix as 10.1.2.0/24 */
	double entries;
};

struct attr_snat {
	char address[48], protocol[16], destination[48], port[8]; /* its busiest destination */
	double entries, busiest, ratio; /* NAN until written */
};

struct attrib_facts {
	bool seen;
	struct attr_source sources[ATTR_KEPT]; /* biggest first */
	unsigned n_sources;
	struct attr_snat snat[ATTR_KEPT]; /* most entries first */
	unsigned n_snat;
	double snat_ports; /* the configured range's size */
	double unreplied, stale; /* never replied; of those, over a minute old */
	struct {
		char protocol[16];
		double entries, stale;
	} protos[10]; /* unreplied by protocol */
	unsigned n_protos;
	double dnat; /* DNAT'ed entries (the DNAT targets' total) */
	double ended_dns, ended_other; /* never-replied entries ended, since the collector began */
	double err_source, err_snat; /* the sketches' error: source, snat_destination; NAN: none */
};

void attrib_begin(struct attrib_facts *a);
void attrib_sample(struct attrib_facts *a, const struct mw_sample *s);
/* Findings on @a (the second sample; @a0 the first, @dt s before) for a table of @limit. */
void examine_attrib(const struct attrib_facts *a, const struct attrib_facts *a0, double entries,
		    double limit, double dt, struct report *r);

/* An address and port as typed: [v6]:port, or the address alone without a port. */
void attr_endpoint(char *buf, size_t size, const char *address, const char *port);

/* One finding; past MAX_FINDINGS, dropped. @fix may be NULL. */
void report_add(struct report *r, enum severity sev, const char *fix, const char *why,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

struct facts {
	double entries, entries0, limit, buckets, dt, growth, to_full;
	double drop, drop0, early_drop, insert_failed, chaintoolong;
	double mem_now, mem_full, ram;
	/* With --netns: every namespace, fullest first; entries above are the fullest one's. */
	struct ns_fill *ns;
	size_t n_ns;
	const struct attrib_facts *attrib; /* NULL or not seen: not shown */
};

double kernel_default_max(double ram);
void human_bytes(char *buf, size_t size, double v);
void human_seconds(char *buf, size_t size, double s);
void print_json(const struct facts *x, const struct report *r, bool risk);
void print_text(const struct facts *x, const struct report *r, bool risk);

#endif
