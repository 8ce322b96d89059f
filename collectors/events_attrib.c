// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What a scrape shows of attribution (attrib.h, kept by flows.c): the top K of each family
 * and the rest as "other", SNAT port usage, unreplied entries by age. O(K + sketch size).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "events_priv.h"
#include "metric_names.h"

#define LABELS_MAX 5

/* A sample's labels, with owner_netns last when --netns can say who owns an address. */
struct labels {
	struct mw_label l[LABELS_MAX];
	size_t n;
};

static void add(struct labels *ls, const char *name, const char *value)
{
	ls->l[ls->n++] = (struct mw_label){ name, value };
}

static void addr_str(const struct attrib_key *k, const uint8_t *addr, char *buf, size_t size)
{
	if (!inet_ntop(k->family == AF_INET6 ? AF_INET6 : AF_INET, addr, buf, (socklen_t)size))
		snprintf(buf, size, "?");
}

static void owner(struct labels *ls, const struct config *cfg, const struct attrib_key *k,
		  const uint8_t *addr)
{
	const char *o = NULL;

	if (!cfg->addr_owner)
		return;
	if (addr)
		o = cfg->addr_owner(cfg->addr_owner_ctx, k->family == AF_INET6 ? AF_INET6 : AF_INET,
				    addr);
	add(ls, ML_OWNER_NETNS, o ? o : "");
}

static const char *proto_of(const struct attrib_key *k, char pb[static 4])
{
	return flows_proto_name(k->proto, pb);
}

/* "other" for every label of the family, and what the shown ones leave of @total. */
static void write_other(struct metric_writer *w, const char *name, const char *const *names,
			size_t n_names, bool owned, uint64_t total, uint64_t shown)
{
	struct labels ls = { .n = 0 };

	if (total <= shown)
		return; /* nothing left over, or counts above the truth by their error */
	for (size_t i = 0; i < n_names; i++)
		add(&ls, names[i], "other");
	if (owned)
		add(&ls, ML_OWNER_NETNS, ""); /* the family's label set, whoever owns the rest */
	mw_u64(w, name, ls.l, ls.n, total - shown);
}

static uint32_t write_top(struct metric_writer *w, const struct config *cfg,
			  const struct attrib_set *s, enum attrib_family f)
{
	static const char *const src_labels[] = { ML_SOURCE };
	static const char *const dst_labels[] = { ML_PROTOCOL, ML_DESTINATION, ML_PORT };
	static const char *const dnat_labels[] = { ML_PROTOCOL, ML_TARGET, ML_PORT };
	static const char *const snat_labels[] = { ML_ADDRESS };
	struct attrib_top top[100];
	const char *name;
	const char *const *other;
	size_t n_other;
	uint64_t shown = 0;
	uint32_t err = 0;
	size_t n;

	switch (f) {
	case ATTRIB_SOURCE:
		name = MN_TOP_SOURCE_ENTRIES;
		other = src_labels;
		n_other = 1;
		mw_family(
			w, name, METRIC_GAUGE,
			"Live conntrack entries by original source address (prefix-aggregated): the top ones, the rest as \"other\".");
		break;
	case ATTRIB_DESTINATION:
		name = MN_TOP_DESTINATION_ENTRIES;
		other = dst_labels;
		n_other = 3;
		mw_family(
			w, name, METRIC_GAUGE,
			"Live conntrack entries by original destination address, protocol and port: the top ones, the rest as \"other\".");
		break;
	case ATTRIB_DNAT:
		name = MN_TOP_DNAT_TARGET_ENTRIES;
		other = dnat_labels;
		n_other = 3;
		mw_family(
			w, name, METRIC_GAUGE,
			"Live DNAT'ed entries by the real backend (reply source address and port): the top ones, the rest as \"other\".");
		break;
	default:
		name = MN_SNAT_ENTRIES;
		other = snat_labels;
		n_other = 1;
		mw_family(
			w, name, METRIC_GAUGE,
			"Live SNAT'ed or masqueraded entries by translated source address: the top ones, the rest as \"other\".");
		break;
	}
	n = ss_top(&s->ss[f], top, cfg->attrib.top_k < 100 ? cfg->attrib.top_k : 100);
	for (size_t i = 0; i < n; i++) {
		const struct attrib_key *k = &top[i].key;
		struct labels ls = { .n = 0 };
		char a[INET6_ADDRSTRLEN + 8], pb[4], port[8];

		addr_str(k, k->addr, a, sizeof(a));
		snprintf(port, sizeof(port), "%u", k->port);
		switch (f) {
		case ATTRIB_SOURCE:
			if (k->prefix < (k->family == AF_INET6 ? 128 : 32))
				snprintf(a + strlen(a), sizeof(a) - strlen(a), "/%u", k->prefix);
			add(&ls, ML_SOURCE, a);
			break;
		case ATTRIB_DESTINATION:
		case ATTRIB_DNAT:
			add(&ls, ML_PROTOCOL, proto_of(k, pb));
			add(&ls, f == ATTRIB_DNAT ? ML_TARGET : ML_DESTINATION, a);
			add(&ls, ML_PORT, attrib_proto_has_ports(k->proto) ? port : "");
			break;
		default:
			add(&ls, ML_ADDRESS, a);
			break;
		}
		/* An aggregated source may span namespaces: owned only at full length. */
		if (f != ATTRIB_SNAT)
			owner(&ls, cfg, k,
			      f == ATTRIB_SOURCE && k->prefix < (k->family == AF_INET6 ? 128 : 32)
				      ? NULL
				      : k->addr);
		mw_u64(w, name, ls.l, ls.n, top[i].count);
		shown += top[i].count;
		if (top[i].err > err)
			err = top[i].err;
	}
	write_other(w, name, other, n_other, f != ATTRIB_SNAT && cfg->addr_owner, s->total[f],
		    shown);
	return err > s->ss[f].evicted_max ? err : s->ss[f].evicted_max;
}

/* For each SNAT address shown: its busiest destination, and what share of the ports it uses. */
static uint32_t write_snat_usage(struct metric_writer *w, const struct config *cfg,
				 const struct attrib_set *s)
{
	struct attrib_top top[100];
	const struct ss_slot *busiest[100];
	size_t n =
		ss_top(&s->ss[ATTRIB_SNAT], top, cfg->attrib.top_k < 100 ? cfg->attrib.top_k : 100);
	uint32_t err = 0;

	/* Each a walk of the summary: once per address, for both families. */
	for (size_t i = 0; i < n; i++)
		busiest[i] = ss_busiest_for(&s->ss[ATTRIB_SNAT_DEST], &top[i].key);

	mw_family(
		w, MN_SNAT_PORT_RANGE_PORTS, METRIC_GAUGE,
		"Source ports an SNAT may choose from, as --collector.attribution.snat-port-range says.");
	mw_u64(w, MN_SNAT_PORT_RANGE_PORTS, MW_NO_LABELS, cfg->attrib.snat_ports);
	mw_family(
		w, MN_SNAT_BUSIEST_DESTINATION_ENTRIES, METRIC_GAUGE,
		"For each SNAT address shown, its busiest destination (reply source address, protocol, port) and the entries, each with its own source port, it holds.");
	for (size_t i = 0; i < n; i++) {
		const struct ss_slot *b = busiest[i];
		char a[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN], pb[4], port[8];

		if (!b)
			continue;
		addr_str(&b->key, b->key.addr, a, sizeof(a));
		addr_str(&b->key, b->key.addr2, d, sizeof(d));
		snprintf(port, sizeof(port), "%u", b->key.port);
		mw_u64(w, MN_SNAT_BUSIEST_DESTINATION_ENTRIES,
		       MW_LABELS({ ML_ADDRESS, a }, { ML_PROTOCOL, proto_of(&b->key, pb) },
				 { ML_DESTINATION, d },
				 { ML_PORT, attrib_proto_has_ports(b->key.proto) ? port : "" }),
		       b->count);
		if (b->err > err)
			err = b->err;
	}
	if (s->ss[ATTRIB_SNAT_DEST].evicted_max > err)
		err = s->ss[ATTRIB_SNAT_DEST].evicted_max;
	mw_family(
		w, MN_SNAT_PORT_USAGE_RATIO, METRIC_GAUGE,
		"For each SNAT address shown, its busiest destination's entries over the source ports it may use: 1 is exhaustion.");
	for (size_t i = 0; i < n; i++) {
		const struct ss_slot *b = busiest[i];
		char a[INET6_ADDRSTRLEN];

		if (!b)
			continue;
		addr_str(&b->key, b->key.addr, a, sizeof(a));
		mw_double(w, MN_SNAT_PORT_USAGE_RATIO, MW_LABELS({ ML_ADDRESS, a }),
			  (double)b->count / cfg->attrib.snat_ports);
	}
	return err;
}

static void write_unreplied(struct events_priv *p, struct metric_writer *w)
{
	uint64_t bands[FLOWS_N_AGES], other[FLOWS_N_AGES] = { 0 };
	uint64_t other_ended[2] = { 0 };
	bool any_other = false;
	uint32_t now = now_ds(p);

	mw_family(
		w, MN_UNREPLIED_ENTRIES, METRIC_GAUGE,
		"Live entries that never saw a reply, by protocol and age (from the NEW event, or for older entries from the dump that first saw them).");
	for (unsigned proto = 0; proto < 256; proto++) {
		char pb[4];

		if (!flows_unreplied(&p->flows, proto, now, bands))
			continue;
		if (!flows_proto_named(proto)) {
			for (unsigned b = 0; b < FLOWS_N_AGES; b++)
				other[b] += bands[b];
			any_other = true;
			continue;
		}
		for (unsigned b = 0; b < FLOWS_N_AGES; b++)
			mw_u64(w, MN_UNREPLIED_ENTRIES,
			       MW_LABELS({ ML_PROTOCOL, flows_proto_name(proto, pb) },
					 { ML_AGE, flows_age_names[b] }),
			       bands[b]);
	}
	for (unsigned b = 0; any_other && b < FLOWS_N_AGES; b++)
		mw_u64(w, MN_UNREPLIED_ENTRIES,
		       MW_LABELS({ ML_PROTOCOL, "other" }, { ML_AGE, flows_age_names[b] }),
		       other[b]);

	mw_family(
		w, MN_UNREPLIED_ENDED_TOTAL, METRIC_COUNTER,
		"Entries that ended without ever seeing a reply, by protocol; service=\"dns\": UDP or TCP to port 53.");
	for (unsigned proto = 0; proto < 256; proto++) {
		const struct flows_proto *fp = p->flows.proto[proto];
		char pb[4];

		if (!fp || !fp->unrep)
			continue;
		if (!flows_proto_named(proto)) {
			other_ended[0] += fp->unrep_ended[0];
			other_ended[1] += fp->unrep_ended[1];
			continue;
		}
		mw_u64(w, MN_UNREPLIED_ENDED_TOTAL,
		       MW_LABELS({ ML_PROTOCOL, flows_proto_name(proto, pb) },
				 { ML_SERVICE, "other" }),
		       fp->unrep_ended[0]);
		if (proto == 6 || proto == 17)
			mw_u64(w, MN_UNREPLIED_ENDED_TOTAL,
			       MW_LABELS({ ML_PROTOCOL, flows_proto_name(proto, pb) },
					 { ML_SERVICE, "dns" }),
			       fp->unrep_ended[1]);
	}
	if (any_other)
		mw_u64(w, MN_UNREPLIED_ENDED_TOTAL,
		       MW_LABELS({ ML_PROTOCOL, "other" }, { ML_SERVICE, "other" }),
		       other_ended[0] + other_ended[1]);
}

void events_render_attrib(struct events_priv *p, const struct config *cfg, struct metric_writer *w)
{
	const struct attrib_set *s = p->flows.acur;
	uint32_t err[_ATTRIB_MAX];

	/* Before the first dump, or with events lost since the last one began: nothing, not wrong. */
	if (!s || !p->synced || p->repaired_losses != p->losses)
		return;
	err[ATTRIB_SOURCE] = write_top(w, cfg, s, ATTRIB_SOURCE);
	err[ATTRIB_DESTINATION] = write_top(w, cfg, s, ATTRIB_DESTINATION);
	err[ATTRIB_DNAT] = write_top(w, cfg, s, ATTRIB_DNAT);
	err[ATTRIB_SNAT] = write_top(w, cfg, s, ATTRIB_SNAT);
	err[ATTRIB_SNAT_DEST] = write_snat_usage(w, cfg, s);
	write_unreplied(p, w);
	mw_family(
		w, MN_ATTRIBUTION_ERROR_ENTRIES, METRIC_GAUGE,
		"How far a shown count of the family may be from the truth: 0 when every one is exact.");
	for (unsigned f = 0; f < _ATTRIB_MAX; f++)
		mw_u64(w, MN_ATTRIBUTION_ERROR_ENTRIES,
		       MW_LABELS({ ML_FAMILY, attrib_family_names[f] }), err[f]);
}
