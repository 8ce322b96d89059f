/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_STATUS_H
#define NFCE_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "history.h"
#include "metric_writer.h"

/*
 * The status page: a human summary of this host for people without Grafana. It takes the
 * samples of every scrape typed from the metric writer's tap (the same values Prometheus
 * reads), keeps five minutes of them for rates and the time to full and an hour for the
 * charts (history.h: 45 KiB, fixed), and renders HTML (numbers and SVG charts filled in
 * server-side, so text browsers see them) and the JSON that the page's script polls.
 */

#define STATUS_SAMPLES 64
#define STATUS_WINDOW_S 300.0
#define STATUS_SAMPLE_EVERY_S 5.0
#define STATUS_TOP 5
#define STATUS_TOP_NETNS 10 /* with --netns, the fullest namespaces in the table */

struct status_sample {
	double t;
	double entries, limit, drop, early_drop, insert_failed;
	double events; /* NAN without the events collector */
};

struct status_top {
	char label[2][64]; /* protocol, state; or zone; or namespace */
	double value;
};

/* What one scrape showed. */
struct status_view {
	struct status_sample now;
	bool have_table, have_stat, have_states, have_zones;
	double buckets;
	struct status_top states[STATUS_TOP];
	unsigned n_states;
	struct status_top zones[STATUS_TOP];
	unsigned n_zones;
	struct status_top netns[STATUS_TOP_NETNS]; /* fullest first, with --netns */
	unsigned n_netns;
	unsigned collectors_ok, collectors;
};

/*
 * What fills the table (issue 13), from the events collector's attribution families: bounded
 * rows, filled in place, no allocation per sample. Kept apart from struct status_view, which is
 * copied around every collector: this is copied only around a collector that writes it.
 */
#define STATUS_ATTR_ROWS 10 /* rows per table; the rest of each family is shown as "other" */
#define STATUS_ATTR_PROTOS 10 /* protocols with unreplied entries (the spec's nine and "other") */
#define STATUS_LABEL 64 /* longer label values are cut (names only: addresses fit) */

enum status_attr_table {
	SA_SOURCE,
	SA_DESTINATION,
	SA_DNAT_TARGET,
	SA_TABLES, /* the tables of plain rows; the error families go on: */
	SA_SNAT = SA_TABLES,
	SA_SNAT_DESTINATION,
	SA_FAMILIES,
};

enum status_age { SA_AGE_10S, SA_AGE_1M, SA_AGE_10M, SA_AGE_OVER, SA_AGES };

/* One row: a source (with its owner namespace), or a protocol, address and port. */
struct status_attr_row {
	char netns[STATUS_LABEL]; /* with --netns: the namespace whose table it is in */
	char owner[STATUS_LABEL]; /* sources: owner_netns */
	char protocol[16];
	char address[48]; /* source, destination or target; an IPv6 prefix fits */
	char port[8];
	double value;
};

struct status_snat_row {
	char netns[STATUS_LABEL];
	char address[48];
	struct status_attr_row
		busiest; /* protocol, address, port, value: its busiest destination */
	double entries, ratio; /* NAN until written */
};

struct status_attrib {
	bool seen; /* any attribution family in this scrape */
	struct status_attr_row rows[SA_TABLES][STATUS_ATTR_ROWS]; /* biggest first */
	unsigned n[SA_TABLES];
	double total[SA_TABLES + 1]; /* every sample of the family, "other" included; + snat */
	struct status_snat_row snat[STATUS_ATTR_ROWS];
	unsigned n_snat;
	double snat_ports; /* NAN until written */
	struct {
		char protocol[16];
		double age[SA_AGES];
	} unreplied[STATUS_ATTR_PROTOS];
	unsigned n_unreplied;
	double ended_dns, ended_other; /* never-replied entries ended, since start */
	double error[SA_FAMILIES]; /* the largest over-count of a shown count; NAN: not written */
};

struct status {
	struct status_sample ring[STATUS_SAMPLES];
	unsigned head, n;
	struct status_view v; /* the last complete scrape's */
	struct status_view next; /* being filled by the scrape under way */
	struct status_view part; /* next as it was before the collector under way */
	uint64_t family_id; /* the family of the last sample, and what it is to the page */
	int family_kind;
	struct history hist; /* the last hour, for the charts */
	struct status_attrib attrib; /* the last complete scrape's */
	struct status_attrib attrib_next, attrib_part; /* as next and part above */
	bool attrib_saved; /* attrib_part holds attrib_next as before the collector under way */
	int attrib_kind; /* of the family of the last sample, when an attribution family */
};

/*
 * One scrape: begin, every sample from the writer's tap, end. A failed scrape (@ok false)
 * leaves the last view as it was; a good one replaces it, and is kept every few seconds.
 */
void status_begin(struct status *st);
void status_sample(struct status *st, const struct mw_sample *s);
/* Around each collector: a failed one's samples are forgotten, as the exposition drops them. */
void status_part_begin(struct status *st);
void status_part_end(struct status *st, bool kept);
void status_end(struct status *st, bool ok, double now);
void status_json(const struct status *st, struct metric_writer *w);
void status_html(const struct status *st, struct metric_writer *w, const char *telemetry_path);

/* Inside the page: status.c hands the attribution families to status_attrib.c. */
void status_put_num(struct metric_writer *w, double v); /* null for NaN, as JSON wants */
int status_attrib_kind(const char *family); /* 0: not an attribution family */
void status_attrib_reset(struct status_attrib *a);
void status_attrib_sample(struct status *st, int kind, const struct mw_sample *m);
void status_attrib_html(const struct status *st, struct metric_writer *w);
void status_attrib_json(const struct status *st, struct metric_writer *w);

#endif
