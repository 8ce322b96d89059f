// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The status page's "What fills the table" (issue 13): the events collector's attribution
 * families, kept in bounded rows (status.h) and shown as tables, and as "attribution" in
 * status.json. Every label value goes through the HTML or JSON formatter: addresses are safe,
 * but namespace names are not.
 */
#include "status.h"

#include "charts.h"
#include "metric_names.h"
#include "text.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum attr_kind {
	AK_NONE,
	AK_TOP_SOURCE,
	AK_TOP_DESTINATION,
	AK_TOP_DNAT_TARGET,
	AK_SNAT,
	AK_SNAT_BUSIEST,
	AK_SNAT_RATIO,
	AK_SNAT_PORTS,
	AK_UNREPLIED,
	AK_UNREPLIED_ENDED,
	AK_ERROR,
};

int status_attrib_kind(const char *family)
{
	static const struct {
		const char *name;
		enum attr_kind kind;
	} known[] = {
		{ MN_TOP_SOURCE_ENTRIES, AK_TOP_SOURCE },
		{ MN_TOP_DESTINATION_ENTRIES, AK_TOP_DESTINATION },
		{ MN_TOP_DNAT_TARGET_ENTRIES, AK_TOP_DNAT_TARGET },
		{ MN_SNAT_ENTRIES, AK_SNAT },
		{ MN_SNAT_BUSIEST_DESTINATION_ENTRIES, AK_SNAT_BUSIEST },
		{ MN_SNAT_PORT_USAGE_RATIO, AK_SNAT_RATIO },
		{ MN_SNAT_PORT_RANGE_PORTS, AK_SNAT_PORTS },
		{ MN_UNREPLIED_ENTRIES, AK_UNREPLIED },
		{ MN_UNREPLIED_ENDED_TOTAL, AK_UNREPLIED_ENDED },
		{ MN_ATTRIBUTION_ERROR_ENTRIES, AK_ERROR },
	};

	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (strcmp(family, known[i].name) == 0)
			return known[i].kind;
	return AK_NONE;
}

void status_attrib_reset(struct status_attrib *a)
{
	*a = (struct status_attrib){ .snat_ports = NAN };
	for (unsigned i = 0; i < SA_FAMILIES; i++)
		a->error[i] = NAN;
}

#define COPY(dst, src) snprintf((dst), sizeof(dst), "%s", (src))

static bool same_row(const struct status_attr_row *r, const struct status_attr_row *k)
{
	return strcmp(r->address, k->address) == 0 && strcmp(r->port, k->port) == 0 &&
	       strcmp(r->protocol, k->protocol) == 0 && strcmp(r->netns, k->netns) == 0 &&
	       strcmp(r->owner, k->owner) == 0;
}

/* As top_insert(): keep the biggest rows, biggest first; "other" is what the total leaves. */
static void attr_insert(struct status_attr_row *rows, unsigned *n, const struct status_attr_row *k)
{
	unsigned i;

	if (!(k->value > 0))
		return;
	for (i = 0; i < *n; i++)
		if (same_row(&rows[i], k))
			return; /* written once per scrape and namespace: a repeat is no news */
	for (i = *n; i > 0 && rows[i - 1].value < k->value; i--)
		if (i < STATUS_ATTR_ROWS)
			rows[i] = rows[i - 1];
	if (i >= STATUS_ATTR_ROWS)
		return;
	rows[i] = *k;
	if (*n < STATUS_ATTR_ROWS)
		(*n)++;
}

/*
 * The row of an SNAT address, made when new. Only its entries may push out the smallest row
 * when all are taken: its busiest destination and port usage come with an address shown.
 */
static struct status_snat_row *snat_row(struct status_attrib *a, const char *netns,
					const char *address, double entries)
{
	struct status_snat_row *r = NULL;

	for (unsigned i = 0; i < a->n_snat; i++)
		if (strcmp(a->snat[i].address, address) == 0 &&
		    strcmp(a->snat[i].netns, netns) == 0)
			return &a->snat[i];
	if (a->n_snat < STATUS_ATTR_ROWS) {
		r = &a->snat[a->n_snat++];
	} else if (!isnan(entries)) {
		for (unsigned i = 0; i < a->n_snat; i++)
			if (!(a->snat[i].entries >= entries) &&
			    (!r || !(a->snat[i].entries >= r->entries)))
				r = &a->snat[i];
		if (!r)
			return NULL;
	} else {
		return NULL;
	}
	*r = (struct status_snat_row){ .entries = NAN, .ratio = NAN };
	COPY(r->netns, netns);
	COPY(r->address, address);
	return r;
}

static const char *const age_bands[SA_AGES] = { "under_10s", "10s_to_1m", "1m_to_10m", "over_10m" };
static const char *const error_families[SA_FAMILIES] = { "source", "destination", "dnat_target",
							 "snat", "snat_destination" };

static void unreplied_add(struct status_attrib *a, const char *protocol, const char *age, double v)
{
	unsigned b, i;

	for (b = 0; b < SA_AGES && strcmp(age, age_bands[b]) != 0; b++)
		;
	if (b == SA_AGES)
		return;
	for (i = 0; i < a->n_unreplied && strcmp(a->unreplied[i].protocol, protocol) != 0; i++)
		;
	if (i == a->n_unreplied) {
		if (i == STATUS_ATTR_PROTOS)
			return;
		a->n_unreplied++;
		memset(&a->unreplied[i], 0, sizeof(a->unreplied[i]));
		COPY(a->unreplied[i].protocol, protocol);
	}
	a->unreplied[i].age[b] += v;
}

/* The attribution families; with --netns, each namespace's rows compete for the same slots. */
void status_attrib_sample(struct status *st, int kind, const struct mw_sample *m)
{
	struct status_attrib *a = &st->attrib_next;
	struct status_attr_row k = { .value = m->value };
	char netns[STATUS_LABEL], address[sizeof(k.address)];
	struct status_snat_row *r;
	enum status_attr_table t;
	unsigned i;

	/* Saved once per collector, and only for the one writing these (see status.h). */
	if (!st->attrib_saved) {
		st->attrib_part = *a;
		st->attrib_saved = true;
	}
	a->seen = true;
	/* As kept: a long name is compared as cut, like the rows it is compared with. */
	COPY(netns, m->const_label ? m->const_label : "");
	COPY(address, mw_sample_label(m, ML_ADDRESS));
	switch (kind) {
	case AK_TOP_SOURCE:
	case AK_TOP_DESTINATION:
	case AK_TOP_DNAT_TARGET:
		t = kind == AK_TOP_SOURCE	 ? SA_SOURCE
		    : kind == AK_TOP_DESTINATION ? SA_DESTINATION
						 : SA_DNAT_TARGET;
		a->total[t] += m->value;
		COPY(k.address, mw_sample_label(m, t == SA_SOURCE	 ? ML_SOURCE
						   : t == SA_DESTINATION ? ML_DESTINATION
									 : ML_TARGET));
		if (strcmp(k.address, "other") == 0)
			break;
		COPY(k.netns, netns);
		COPY(k.owner, mw_sample_label(m, ML_OWNER_NETNS));
		COPY(k.protocol, mw_sample_label(m, ML_PROTOCOL));
		COPY(k.port, mw_sample_label(m, ML_PORT));
		attr_insert(a->rows[t], &a->n[t], &k);
		break;
	case AK_SNAT:
		a->total[SA_SNAT] += m->value;
		if (strcmp(address, "other") != 0 && m->value > 0 &&
		    (r = snat_row(a, netns, address, m->value)))
			r->entries = m->value;
		break;
	case AK_SNAT_BUSIEST:
		if ((r = snat_row(a, netns, address, NAN))) {
			COPY(r->busiest.protocol, mw_sample_label(m, ML_PROTOCOL));
			COPY(r->busiest.address, mw_sample_label(m, ML_DESTINATION));
			COPY(r->busiest.port, mw_sample_label(m, ML_PORT));
			r->busiest.value = m->value;
		}
		break;
	case AK_SNAT_RATIO:
		if ((r = snat_row(a, netns, address, NAN)))
			r->ratio = m->value;
		break;
	case AK_SNAT_PORTS:
		a->snat_ports = m->value;
		break;
	case AK_UNREPLIED:
		unreplied_add(a, mw_sample_label(m, ML_PROTOCOL), mw_sample_label(m, ML_AGE),
			      m->value);
		break;
	case AK_UNREPLIED_ENDED:
		if (strcmp(mw_sample_label(m, ML_SERVICE), "dns") == 0)
			a->ended_dns += m->value;
		else
			a->ended_other += m->value;
		break;
	case AK_ERROR:
		for (i = 0; i < SA_FAMILIES; i++)
			if (strcmp(mw_sample_label(m, ML_FAMILY), error_families[i]) == 0 &&
			    !(a->error[i] >= m->value))
				a->error[i] = m->value;
		break;
	default:
		break;
	}
}

static void json_field(struct metric_writer *w, const char *name, const char *value)
{
	mw_printf(w, "\"%s\":\"", name);
	mw_escape(w, TEXT_JSON, value);
	mw_puts(w, "\",");
}

static const char *const json_tables[SA_TABLES] = { "top_sources", "top_destinations",
						    "top_dnat_targets" };

/* "attribution": the rows of the page, for scripts; null until the families are written. */
void status_attrib_json(const struct status *st, struct metric_writer *w)
{
	const struct status_attrib *a = &st->attrib;

	if (!a->seen) {
		mw_puts(w, ",\"attribution\":null");
		return;
	}
	mw_puts(w, ",\"attribution\":{");
	for (unsigned t = 0; t < SA_TABLES; t++) {
		mw_printf(w, "%s\"%s\":[", t ? "," : "", json_tables[t]);
		for (unsigned i = 0; i < a->n[t]; i++) {
			const struct status_attr_row *r = &a->rows[t][i];

			mw_puts(w, i ? ",{" : "{");
			if (r->netns[0])
				json_field(w, "netns", r->netns);
			if (t == SA_SOURCE) {
				json_field(w, "source", r->address);
				json_field(w, "owner_netns", r->owner);
			} else {
				json_field(w, "protocol", r->protocol);
				json_field(w, t == SA_DESTINATION ? "destination" : "target",
					   r->address);
				json_field(w, "port", r->port);
			}
			mw_puts(w, "\"entries\":");
			status_put_num(w, r->value);
			mw_puts(w, "}");
		}
		mw_printf(w, "],\"%s_total\":", json_tables[t]);
		status_put_num(w, a->total[t]);
	}
	mw_puts(w, ",\"snat\":[");
	for (unsigned i = 0; i < a->n_snat; i++) {
		const struct status_snat_row *r = &a->snat[i];

		mw_puts(w, i ? ",{" : "{");
		if (r->netns[0])
			json_field(w, "netns", r->netns);
		json_field(w, "address", r->address);
		mw_puts(w, "\"entries\":");
		status_put_num(w, r->entries);
		mw_puts(w, ",\"busiest_destination\":{");
		json_field(w, "protocol", r->busiest.protocol);
		json_field(w, "destination", r->busiest.address);
		json_field(w, "port", r->busiest.port);
		mw_puts(w, "\"entries\":");
		status_put_num(w, r->busiest.address[0] ? r->busiest.value : NAN);
		mw_puts(w, "},\"port_usage_ratio\":");
		status_put_num(w, r->ratio);
		mw_puts(w, "}");
	}
	mw_puts(w, "],\"snat_port_range_ports\":");
	status_put_num(w, a->snat_ports);
	mw_puts(w, ",\"unreplied\":[");
	for (unsigned i = 0; i < a->n_unreplied; i++) {
		mw_puts(w, i ? ",{" : "{");
		json_field(w, "protocol", a->unreplied[i].protocol);
		for (unsigned b = 0; b < SA_AGES; b++) {
			mw_printf(w, "%s\"%s\":", b ? "," : "", age_bands[b]);
			status_put_num(w, a->unreplied[i].age[b]);
		}
		mw_puts(w, "}");
	}
	mw_puts(w, "],\"unreplied_ended\":{\"dns\":");
	status_put_num(w, a->ended_dns);
	mw_puts(w, ",\"other\":");
	status_put_num(w, a->ended_other);
	mw_puts(w, "},\"error\":{");
	for (unsigned i = 0; i < SA_FAMILIES; i++) {
		mw_printf(w, "%s\"%s\":", i ? "," : "", error_families[i]);
		status_put_num(w, a->error[i]);
	}
	mw_puts(w, "}}");
}

/* "exact", or by how much a shown count may be too high; nothing when not written. */
static void html_accuracy(struct metric_writer *w, double error)
{
	if (isnan(error))
		return;
	if (error == 0) {
		mw_puts(w, " (exact)");
		return;
	}
	mw_puts(w, " (&plusmn; ");
	status_put_num(w, error);
	mw_puts(w, ")");
}

static void html_cell(struct metric_writer *w, const char *s)
{
	mw_puts(w, "<td>");
	mw_escape(w, TEXT_HTML, s);
	mw_puts(w, "</td>");
}

static void html_share(struct metric_writer *w, double v, double limit, bool bar)
{
	if (!(limit > 0)) {
		mw_puts(w, "<td>n/a</td>");
		if (bar)
			mw_puts(w, "<td></td>");
		return;
	}
	mw_printf(w, "<td>%.1f %%</td>", 100 * v / limit);
	if (bar) {
		mw_puts(w, "<td>");
		status_fill_bar(w, v / limit);
		mw_puts(w, "</td>");
	}
}

/* An address and port as one would type them: [v6]:port; no port for icmp and the like. */
static void html_endpoint(struct metric_writer *w, const char *address, const char *port)
{
	bool v6 = strchr(address, ':') != NULL;

	if (!port[0]) {
		mw_escape(w, TEXT_HTML, address);
		return;
	}
	mw_puts(w, v6 ? "[" : "");
	mw_escape(w, TEXT_HTML, address);
	mw_puts(w, v6 ? "]:" : ":");
	mw_escape(w, TEXT_HTML, port);
}

static bool any_netns(const struct status_attr_row *rows, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (rows[i].netns[0])
			return true;
	return false;
}

static const char *const table_ids[SA_TABLES] = { "sources", "destinations", "dnat_targets" };
static const char *const table_titles[SA_TABLES] = { "Top sources", "Top destinations",
						     "DNAT targets (the real backends)" };

/*
 * One of the three tables of plain rows, and what the rows shown leave of the family's total
 * as "other". A namespace column with --netns, an owner column when an address has one.
 */
static void attr_table(const struct status *st, struct metric_writer *w, enum status_attr_table t)
{
	const struct status_attrib *a = &st->attrib;
	const struct status_attr_row *rows = a->rows[t];
	double limit = st->v.have_table ? st->v.now.limit : NAN, shown = 0;
	bool ns = any_netns(rows, a->n[t]), owner = false;
	unsigned cols;

	for (unsigned i = 0; i < a->n[t]; i++)
		owner |= rows[i].owner[0] != 0;
	mw_printf(w, "<h3>%s</h3>\n", table_titles[t]);
	if (!(a->total[t] > 0)) {
		mw_printf(w, "<p id=\"%s\">None.</p>\n", table_ids[t]);
		return;
	}
	mw_printf(w, "<table id=\"%s\">\n<tr>", table_ids[t]);
	if (ns)
		mw_puts(w, "<th>namespace</th>");
	if (t == SA_SOURCE)
		mw_puts(w, "<th>source</th>");
	else
		mw_printf(w, "<th>protocol</th><th>%s</th>",
			  t == SA_DESTINATION ? "destination" : "target");
	if (owner)
		mw_puts(w, "<th>owner namespace</th>");
	mw_puts(w, "<th>entries");
	html_accuracy(w, a->error[t]);
	mw_puts(w, "</th><th>of the limit</th>");
	mw_puts(w, t == SA_SOURCE ? "<th></th></tr>\n" : "</tr>\n");
	cols = ns + (t == SA_SOURCE ? 1 : 2) + owner;
	for (unsigned i = 0; i < a->n[t]; i++) {
		mw_puts(w, "<tr>");
		if (ns)
			html_cell(w, rows[i].netns);
		if (t == SA_SOURCE) {
			html_cell(w, rows[i].address);
		} else {
			html_cell(w, rows[i].protocol);
			mw_puts(w, "<td>");
			html_endpoint(w, rows[i].address, rows[i].port);
			mw_puts(w, "</td>");
		}
		if (owner)
			html_cell(w, rows[i].owner);
		mw_puts(w, "<td>");
		status_put_num(w, rows[i].value);
		mw_puts(w, "</td>");
		html_share(w, rows[i].value, limit, t == SA_SOURCE);
		mw_puts(w, "</tr>\n");
		shown += rows[i].value;
	}
	if (a->total[t] > shown) {
		mw_printf(w, "<tr class=\"other\"><td colspan=\"%u\">other</td><td>", cols);
		status_put_num(w, a->total[t] - shown);
		mw_puts(w, "</td>");
		html_share(w, a->total[t] - shown, limit, t == SA_SOURCE);
		mw_puts(w, "</tr>\n");
	}
	mw_puts(w, "</table>\n");
}

static int by_ratio_desc(const void *x, const void *y)
{
	const struct status_snat_row *a = *(const struct status_snat_row *const *)x;
	const struct status_snat_row *b = *(const struct status_snat_row *const *)y;
	double ra = isnan(a->ratio) ? -1 : a->ratio, rb = isnan(b->ratio) ? -1 : b->ratio;

	if (ra != rb)
		return (ra < rb) - (ra > rb);
	return (a->entries < b->entries) - (a->entries > b->entries);
}

/* SNAT addresses, the most saturated first: each destination needs its own source port. */
static void snat_table(const struct status *st, struct metric_writer *w)
{
	const struct status_attrib *a = &st->attrib;
	const struct status_snat_row *order[STATUS_ATTR_ROWS];
	bool ns = false;

	for (unsigned i = 0; i < a->n_snat; i++) {
		order[i] = &a->snat[i];
		ns |= a->snat[i].netns[0] != 0;
	}
	if (a->n_snat)
		qsort(order, a->n_snat, sizeof(order[0]), by_ratio_desc);
	mw_puts(w, "<h3>SNAT source ports</h3>\n<p>Each connection to the same destination needs "
		   "a source port of its own");
	if (!isnan(a->snat_ports)) {
		mw_puts(w, "; <span id=\"snat_ports\">");
		status_put_num(w, a->snat_ports);
		mw_puts(w, "</span> per address and destination");
	}
	mw_puts(w, ".</p>\n");
	if (!a->n_snat) {
		mw_puts(w, "<p id=\"snat\">None.</p>\n");
		return;
	}
	mw_puts(w, "<table id=\"snat\">\n<tr>");
	if (ns)
		mw_puts(w, "<th>namespace</th>");
	mw_puts(w, "<th>address</th><th>entries");
	html_accuracy(w, a->error[SA_SNAT]);
	mw_puts(w, "</th><th>busiest destination</th><th>its entries");
	html_accuracy(w, a->error[SA_SNAT_DESTINATION]);
	mw_puts(w, "</th><th>source ports used</th><th></th></tr>\n");
	for (unsigned i = 0; i < a->n_snat; i++) {
		const struct status_snat_row *r = order[i];

		mw_puts(w, "<tr>");
		if (ns)
			html_cell(w, r->netns);
		html_cell(w, r->address);
		mw_puts(w, "<td>");
		status_put_num(w, r->entries);
		mw_puts(w, "</td><td>");
		if (r->busiest.address[0]) {
			mw_escape(w, TEXT_HTML, r->busiest.protocol);
			mw_puts(w, " ");
			html_endpoint(w, r->busiest.address, r->busiest.port);
		}
		mw_puts(w, "</td><td>");
		if (r->busiest.address[0])
			status_put_num(w, r->busiest.value);
		mw_puts(w, "</td>");
		if (isnan(r->ratio)) {
			mw_puts(w, "<td>n/a</td><td></td>");
		} else {
			mw_printf(w, "<td>%.1f %%</td><td>", 100 * r->ratio);
			status_fill_bar(w, r->ratio);
			mw_puts(w, "</td>");
		}
		mw_puts(w, "</tr>\n");
	}
	mw_puts(w, "</table>\n");
}

static void unreplied_rows(const struct status_attrib *a, struct metric_writer *w)
{
	mw_puts(w, "<table id=\"unreplied\">\n"
		   "<tr><th>protocol</th><th>under 10 s</th><th>10 s to 1 min</th>"
		   "<th>1 to 10 min</th><th>over 10 min</th></tr>\n");
	for (unsigned i = 0; i < a->n_unreplied; i++) {
		mw_puts(w, "<tr>");
		html_cell(w, a->unreplied[i].protocol);
		for (unsigned b = 0; b < SA_AGES; b++) {
			mw_puts(w, "<td>");
			status_put_num(w, a->unreplied[i].age[b]);
			mw_puts(w, "</td>");
		}
		mw_puts(w, "</tr>\n");
	}
	mw_puts(w, "</table>\n");
}

static void unreplied_table(const struct status *st, struct metric_writer *w)
{
	const struct status_attrib *a = &st->attrib;

	mw_puts(w, "<h3>Entries that never saw a reply, by age</h3>\n");
	if (!a->n_unreplied)
		mw_puts(w, "<p id=\"unreplied\">None.</p>\n");
	else
		unreplied_rows(a, w);
	mw_puts(w, "<p>Ended without a reply since the exporter started: <span id=\"ended_dns\">");
	status_put_num(w, a->ended_dns);
	mw_puts(w, "</span> DNS, <span id=\"ended_other\">");
	status_put_num(w, a->ended_other);
	mw_puts(w, "</span> other.</p>\n");
}

/* <div id="attrib">: who and what the entries are, from the events collector's attribution. */
void status_attrib_html(const struct status *st, struct metric_writer *w)
{
	mw_puts(w, "<div id=\"attrib\">\n<h2>What fills the table</h2>\n");
	if (!st->attrib.seen) {
		mw_puts(w, "<p>Not known (yet): this comes from the events collector once it has "
			   "dumped the table, and needs --collector.attribution.</p>\n</div>\n");
		return;
	}
	for (unsigned t = 0; t < SA_TABLES; t++)
		attr_table(st, w, t);
	snat_table(st, w);
	unreplied_table(st, w);
	mw_puts(w, "</div>\n");
}
