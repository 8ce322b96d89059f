// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What a scrape shows of the events collector's record: the counts flows.c keeps, written
 * whole, or with config.basic within a followed namespace's series budget.
 */
#include <stdio.h>

#include "events_priv.h"
#include "metric_names.h"

static const char *const resync_names[] = { "startup", "overrun", "periodic", "attribution" };
static const char *const event_names[] = { "new", "update", "destroy" };

static int write_zones(struct events_priv *p, struct metric_writer *w)
{
	const struct zone_count *z;
	size_t n;
	uint64_t other;
	char num[8];
	int r;

	r = flows_zones(&p->flows, p->max_zones, &p->rx->zones, &p->rx->zones_cap, &n, &other);
	if (r < 0)
		return r;
	z = p->rx->zones;
	mw_family(
		w, MN_ZONE_ENTRIES, METRIC_GAUGE,
		"Live conntrack entries per conntrack zone; zones past the cap are summed as \"other\".");
	for (size_t i = 0; i < n; i++) {
		snprintf(num, sizeof(num), "%u", z[i].zone);
		mw_u64(w, MN_ZONE_ENTRIES, MW_LABELS({ ML_ZONE, num }), z[i].n);
	}
	/* Zones left out each hold a flow at least: "other" is not 0 when there are any. */
	if (other)
		mw_u64(w, MN_ZONE_ENTRIES, MW_LABELS({ ML_ZONE, "other" }), other);
	return 0;
}

static void write_histograms(struct events_priv *p, struct metric_writer *w)
{
	mw_family(w, "nf_conntrack_flow_lifetime_seconds", METRIC_HISTOGRAM,
		  "How long flows lived, from NEW to DESTROY, for flows whose NEW event was seen.");
	for (unsigned proto = 0; proto < 256; proto++) {
		char pb[4], le[24];
		const char *pn;

		const struct flows_hist *h = flows_hist(&p->flows, proto);

		if (!h)
			continue;
		pn = flows_proto_name(proto, pb);
		for (size_t i = 0; i < FLOWS_N_BOUNDS; i++) {
			fmt_double(le, sizeof(le), flows_lifetime_bounds[i]);
			mw_u64(w, "nf_conntrack_flow_lifetime_seconds_bucket",
			       MW_LABELS({ ML_PROTOCOL, pn }, { "le", le }), h->bucket[i]);
		}
		mw_u64(w, "nf_conntrack_flow_lifetime_seconds_bucket",
		       MW_LABELS({ ML_PROTOCOL, pn }, { "le", "+Inf" }), h->count);
		mw_double(w, "nf_conntrack_flow_lifetime_seconds_sum",
			  MW_LABELS({ ML_PROTOCOL, pn }), h->sum);
		mw_u64(w, "nf_conntrack_flow_lifetime_seconds_count",
		       MW_LABELS({ ML_PROTOCOL, pn }), h->count);
	}
}

/*
 * config.basic: state series within the namespace's budget of NETNS_BASIC_SERIES, after
 * entries, five statistics, overruns, bad messages, netns_info and three collector_success.
 */
#define BASIC_STATE_SERIES (NETNS_BASIC_SERIES - 12)

static void state_family(struct metric_writer *w)
{
	mw_family(
		w, MN_STATE_ENTRIES, METRIC_GAUGE,
		"Live conntrack entries by protocol and state (TCP states, else unreplied/replied/assured).");
}

/*
 * The non-zero states only, and when there are more than fit, the largest and the rest as
 * protocol="other",state="other": the family still sums to the entries the events know.
 */
static void write_states_basic(struct events_priv *p, struct metric_writer *w)
{
	struct state_count top[BASIC_STATE_SERIES];
	uint64_t rest;
	size_t n = flows_top_states(&p->flows, top, BASIC_STATE_SERIES, &rest);

	state_family(w);
	for (size_t i = 0; i < n; i++) {
		char pb[4];

		mw_u64(w, MN_STATE_ENTRIES,
		       MW_LABELS({ ML_PROTOCOL, flows_proto_name(top[i].proto, pb) },
				 { ML_STATE, flows_state_names[top[i].state] }),
		       top[i].n);
	}
	if (rest)
		mw_u64(w, MN_STATE_ENTRIES,
		       MW_LABELS({ ML_PROTOCOL, "other" }, { ML_STATE, "other" }), rest);
}

/* What the alerts on the events collector itself read: in basic and full alike. */
static void write_health(const struct events_priv *p, struct metric_writer *w)
{
	mw_family(
		w, "nf_conntrack_event_overruns_total", METRIC_COUNTER,
		"Times the kernel dropped events for the exporter because its socket buffer was full (ENOBUFS).");
	mw_u64(w, "nf_conntrack_event_overruns_total", MW_NO_LABELS, p->overruns);
	mw_family(w, "nf_conntrack_event_bad_messages_total", METRIC_COUNTER,
		  "Event and dump messages the exporter could not parse, or that were truncated.");
	mw_u64(w, "nf_conntrack_event_bad_messages_total", MW_NO_LABELS, p->bad_messages);
}

/* config.basic: what the alerts read of the events, and the largest states. */
static int events_collect_basic(struct events_priv *p, struct metric_writer *w)
{
	write_health(p, w);
	if (p->synced)
		write_states_basic(p, w);
	return 0;
}

int events_render(struct collector *c, struct metric_writer *w)
{
	struct events_priv *p = c->priv;
	int r;

	if (p->ev_err)
		return p->ev_err;
	if (c->cfg->basic)
		return events_collect_basic(p, w);

	mw_family(w, "nf_conntrack_events_total", METRIC_COUNTER,
		  "Conntrack events received from the kernel, by type and protocol.");
	for (unsigned t = 0; t < _CT_EVENT_MAX; t++)
		for (unsigned proto = 0; proto < 256; proto++) {
			char pb[4];

			if (p->flows.proto[proto] && flows_events(&p->flows, t, proto))
				mw_u64(w, "nf_conntrack_events_total",
				       MW_LABELS({ "type", event_names[t] },
						 { ML_PROTOCOL, flows_proto_name(proto, pb) }),
				       flows_events(&p->flows, t, proto));
		}
	write_health(p, w);
	mw_family(
		w, "nf_conntrack_event_silent_entries", METRIC_GAUGE,
		"Live entries known only from a dump, that send no events; periodic resyncs keep them right.");
	mw_u64(w, "nf_conntrack_event_silent_entries", MW_NO_LABELS, p->flows.silent);
	mw_family(w, "nf_conntrack_event_socket_buffer_bytes", METRIC_GAUGE,
		  "Receive buffer of the event socket, as the kernel accounts it.");
	mw_u64(w, "nf_conntrack_event_socket_buffer_bytes", MW_NO_LABELS, (uint64_t)p->rcvbuf);
	mw_family(w, "nf_conntrack_resyncs_total", METRIC_COUNTER,
		  "Dumps of the conntrack table that rebuilt the exporter's record of live flows.");
	for (unsigned i = 0; i < _RESYNC_MAX; i++)
		mw_u64(w, "nf_conntrack_resyncs_total", MW_LABELS({ "reason", resync_names[i] }),
		       p->resyncs[i]);
	mw_family(w, "nf_conntrack_resync_duration_seconds", METRIC_GAUGE,
		  "How long the last resync took.");
	mw_double(w, "nf_conntrack_resync_duration_seconds", MW_NO_LABELS, p->resync_duration);
	write_histograms(p, w);

	/* Until the first dump is in, per-state counts would be partial: say nothing. */
	if (!p->synced)
		return 0;
	state_family(w);
	for (unsigned proto = 0; proto < 256; proto++) {
		char pb[4];
		const char *pn = NULL; /* named when first needed: most protocols have nothing */
		bool named = flows_proto_named(proto);

		if (!named && !p->flows.proto[proto])
			continue;
		for (unsigned st = 0; st < FLOW_N_STATES; st++) {
			bool tcp_state = st <= CT_TCP_STATE_MAX;
			uint32_t n = flows_live(&p->flows, proto, st);

			/* Named protocols always show their states (0 too): series don't come and go. */
			if (!n && (!named || st == FLOW_ST_TCP_NONE ||
				   tcp_state != (proto == FLOW_PROTO_TCP)))
				continue;
			if (!pn)
				pn = flows_proto_name(proto, pb);
			mw_u64(w, MN_STATE_ENTRIES,
			       MW_LABELS({ ML_PROTOCOL, pn }, { ML_STATE, flows_state_names[st] }),
			       n);
		}
	}
	r = write_zones(p, w);
	if (r < 0)
		return r;
	if (p->flows.attrib_on)
		events_render_attrib(p, c->cfg, w);
	return 0;
}
