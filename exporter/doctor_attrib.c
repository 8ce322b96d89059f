// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * doctor: what fills the table (issue 13). The events collector's attribution families, taken
 * from the writer's tap like every other figure, and the findings that name the culprit (a
 * source, an SNAT address and destination, entries that never saw a reply) with the fix that
 * applies to it, addresses filled in.
 */
#include "doctor_report.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metric_names.h"
#include "util.h"

#define SOURCE_WARN 0.25 /* of the limit */
#define SOURCE_RISK 0.5
#define SNAT_WARN 0.8 /* of the source ports */
#define SNAT_RISK 0.95
#define SNAT_FINDINGS 3
#define STALE_SHARE 0.1 /* of the entries: never replied, over a minute old */
#define UNREPLIED_SHARE 0.25 /* of the entries: never replied, of any age */
#define FULL_RANGE 64512 /* 1024-65535, the kernel's choice without an explicit range */

#define COPY(dst, src) snprintf((dst), sizeof(dst), "%s", (src))

void attrib_begin(struct attrib_facts *a)
{
	*a = (struct attrib_facts){ .snat_ports = NAN, .err_source = NAN, .err_snat = NAN };
}

static void source_add(struct attrib_facts *a, const char *source, double v)
{
	unsigned i;

	if (!(v > 0) || strcmp(source, "other") == 0)
		return;
	for (i = a->n_sources; i > 0 && a->sources[i - 1].entries < v; i--)
		if (i < ATTR_KEPT)
			a->sources[i] = a->sources[i - 1];
	if (i >= ATTR_KEPT)
		return;
	COPY(a->sources[i].source, source);
	a->sources[i].entries = v;
	if (a->n_sources < ATTR_KEPT)
		a->n_sources++;
}

/* The row of an SNAT address; only its entries push out the smallest when all are taken. */
static struct attr_snat *snat_row(struct attrib_facts *a, const char *address, double entries)
{
	struct attr_snat *r = NULL;

	if (strcmp(address, "other") == 0)
		return NULL;
	for (unsigned i = 0; i < a->n_snat; i++)
		if (strcmp(a->snat[i].address, address) == 0)
			return &a->snat[i];
	if (a->n_snat < ATTR_KEPT) {
		r = &a->snat[a->n_snat++];
	} else {
		for (unsigned i = 0; i < a->n_snat; i++)
			if (!(a->snat[i].entries >= entries) &&
			    (!r || !(a->snat[i].entries >= r->entries)))
				r = &a->snat[i];
		if (!r)
			return NULL;
	}
	*r = (struct attr_snat){ .entries = NAN, .busiest = NAN, .ratio = NAN };
	COPY(r->address, address);
	return r;
}

static void unreplied_add(struct attrib_facts *a, const char *protocol, const char *age, double v)
{
	bool stale = strcmp(age, "1m_to_10m") == 0 || strcmp(age, "over_10m") == 0;
	unsigned i;

	a->unreplied += v;
	a->stale += stale ? v : 0;
	for (i = 0; i < a->n_protos && strcmp(a->protos[i].protocol, protocol) != 0; i++)
		;
	if (i == ARRAY_SIZE(a->protos))
		return;
	if (i == a->n_protos) {
		a->n_protos++;
		COPY(a->protos[i].protocol, protocol);
		a->protos[i].entries = a->protos[i].stale = 0;
	}
	a->protos[i].entries += v;
	a->protos[i].stale += stale ? v : 0;
}

void attrib_sample(struct attrib_facts *a, const struct mw_sample *s)
{
	const char *f = s->family;
	struct attr_snat *r;

	/* doctor follows no namespace with the events collector: the own one's, only. */
	if (s->const_label || strncmp(f, "nf_conntrack_", 13) != 0)
		return;
	if (strcmp(f, MN_TOP_SOURCE_ENTRIES) == 0) {
		source_add(a, mw_sample_label(s, ML_SOURCE), s->value);
	} else if (strcmp(f, MN_TOP_DESTINATION_ENTRIES) == 0) {
		/* no finding of its own: a busy server is no culprit */
	} else if (strcmp(f, MN_TOP_DNAT_TARGET_ENTRIES) == 0) {
		a->dnat += s->value;
	} else if (strcmp(f, MN_SNAT_ENTRIES) == 0) {
		if (s->value > 0 && (r = snat_row(a, mw_sample_label(s, ML_ADDRESS), s->value)))
			r->entries = s->value;
	} else if (strcmp(f, MN_SNAT_BUSIEST_DESTINATION_ENTRIES) == 0) {
		if ((r = snat_row(a, mw_sample_label(s, ML_ADDRESS), NAN))) {
			COPY(r->protocol, mw_sample_label(s, ML_PROTOCOL));
			COPY(r->destination, mw_sample_label(s, ML_DESTINATION));
			COPY(r->port, mw_sample_label(s, ML_PORT));
			r->busiest = s->value;
		}
	} else if (strcmp(f, MN_SNAT_PORT_USAGE_RATIO) == 0) {
		if ((r = snat_row(a, mw_sample_label(s, ML_ADDRESS), NAN)))
			r->ratio = s->value;
	} else if (strcmp(f, MN_SNAT_PORT_RANGE_PORTS) == 0) {
		a->snat_ports = s->value;
	} else if (strcmp(f, MN_UNREPLIED_ENTRIES) == 0) {
		unreplied_add(a, mw_sample_label(s, ML_PROTOCOL), mw_sample_label(s, ML_AGE),
			      s->value);
	} else if (strcmp(f, MN_UNREPLIED_ENDED_TOTAL) == 0) {
		if (strcmp(mw_sample_label(s, ML_SERVICE), "dns") == 0)
			a->ended_dns += s->value;
		else
			a->ended_other += s->value;
	} else if (strcmp(f, MN_ATTRIBUTION_ERROR_ENTRIES) == 0) {
		if (strcmp(mw_sample_label(s, ML_FAMILY), "source") == 0)
			a->err_source = s->value;
		else if (strcmp(mw_sample_label(s, ML_FAMILY), "snat_destination") == 0)
			a->err_snat = s->value;
	} else {
		return;
	}
	a->seen = true;
}

/*
 * How to list and how to cap one source, an address or a prefix ("10.1.2.0/24"): conntrack's
 * --mask-src takes a mask, nft the prefix as it is.
 */
static void source_fix(char *buf, size_t size, const char *source, double limit)
{
	char addr[48], mask[INET6_ADDRSTRLEN] = "", *slash;
	bool v6 = strchr(source, ':') != NULL;
	unsigned char m[16] = { 0 };

	COPY(addr, source);
	slash = strchr(addr, '/');
	if (slash) {
		unsigned bits = (unsigned)strtoul(slash + 1, NULL, 10);

		*slash = 0;
		for (unsigned i = 0; i < bits && i < (v6 ? 128u : 32u); i++)
			m[i / 8] |= (unsigned char)(0x80 >> (i % 8));
		inet_ntop(v6 ? AF_INET6 : AF_INET, m, mask, sizeof(mask));
	}
	snprintf(
		buf, size,
		"see its entries: conntrack -L%s -s %s%s%s; cap them with a rule in the input chain "
		"(forward, if it is routed through), e.g. nft add rule inet filter input %s saddr "
		"%s ct state new ct count over %.0f counter reject; or shorten the timeout of the "
		"state they are in (the listing shows it)",
		v6 ? " -f ipv6" : "", addr, mask[0] ? " --mask-src " : "", mask, v6 ? "ip6" : "ip",
		source, fmax(1, floor(limit / 10)));
}

void attr_endpoint(char *buf, size_t size, const char *address, const char *port)
{
	if (!port[0])
		snprintf(buf, size, "%s", address);
	else if (strchr(address, ':'))
		snprintf(buf, size, "[%s]:%s", address, port);
	else
		snprintf(buf, size, "%s:%s", address, port);
}

static void examine_sources(const struct attrib_facts *a, double limit, struct report *r)
{
	double err = isnan(a->err_source) ? 0 : a->err_source;
	char fix[sizeof(r->f[0].fix)], count[64];

	for (unsigned i = 0; i < a->n_sources; i++) {
		const struct attr_source *s = &a->sources[i];
		/* Decided on what it holds at least: the sketch may count a little high. */
		double least = (s->entries - err) / limit;

		if (least <= SOURCE_WARN)
			break;
		if (err > 0)
			snprintf(count, sizeof(count), "%.0f ± %.0f", s->entries, err);
		else
			snprintf(count, sizeof(count), "%.0f", s->entries);
		source_fix(fix, sizeof(fix), s->source, limit);
		report_add(
			r, least > SOURCE_RISK ? SEV_RISK : SEV_WARN, fix,
			"One client's entries count against the limit every connection of this "
			"host shares: when they fill it, everyone's new connections are dropped.",
			"%s holds %.0f %% of the table (%s of %.0f)", s->source,
			100 * s->entries / limit, count, limit);
	}
}

static int by_ratio_desc(const void *x, const void *y)
{
	const struct attr_snat *a = x, *b = y;
	double ra = isnan(a->ratio) ? -1 : a->ratio, rb = isnan(b->ratio) ? -1 : b->ratio;

	return (ra < rb) - (ra > rb);
}

static void examine_snat(const struct attrib_facts *a, struct report *r)
{
	struct attr_snat rows[ATTR_KEPT];
	char fix[sizeof(r->f[0].fix)], dest[80], ports[32] = "";
	unsigned n = 0;

	memcpy(rows, a->snat, a->n_snat * sizeof(rows[0]));
	if (a->n_snat)
		qsort(rows, a->n_snat, sizeof(rows[0]), by_ratio_desc);
	if (!isnan(a->snat_ports))
		snprintf(ports, sizeof(ports), " %.0f", a->snat_ports);
	for (unsigned i = 0; i < a->n_snat && n < SNAT_FINDINGS; i++, n++) {
		const struct attr_snat *s = &rows[i];
		bool v6 = strchr(s->address, ':') != NULL;
		size_t len;

		if (!(s->ratio > SNAT_WARN))
			break;
		attr_endpoint(dest, sizeof(dest), s->destination, s->port);
		len = (size_t)snprintf(fix, sizeof(fix),
				       "more SNAT addresses (nft: snat %s to %s-LAST_ADDRESS)",
				       v6 ? "ip6" : "ip", s->address);
		/* A wider range only where the configured one is narrower than the kernel's. */
		if (a->snat_ports < FULL_RANGE)
			len += (size_t)snprintf(
				fix + len, sizeof(fix) - len,
				"; the whole port range (snat %s to %s%s%s:1024-65535)",
				v6 ? "ip6" : "ip", v6 ? "[" : "", s->address, v6 ? "]" : "");
		len += (size_t)snprintf(fix + len, sizeof(fix) - len,
					"; reuse connections (keep-alive, connection pools)");
		if (strcmp(s->protocol, "tcp") == 0 && len < sizeof(fix))
			snprintf(fix + len, sizeof(fix) - len,
				 "; a shorter time_wait: sysctl -w "
				 "net.netfilter.nf_conntrack_tcp_timeout_time_wait=30");
		report_add(
			r, s->ratio > SNAT_RISK ? SEV_RISK : SEV_WARN, fix,
			s->ratio > 1
				? "More entries than source ports: is --collector.attribution."
				  "snat-port-range the range the SNAT rule gives?"
				: "Each connection from one SNAT address to one destination address "
				  "and port needs a source port of its own: with none left, new "
				  "connections to it are dropped (insert failures).",
			"SNAT %s -> %s (%s) uses %.0f %% of its%s source ports", s->address, dest,
			s->protocol, 100 * s->ratio, ports);
	}
}

static const char *most_unreplied(const struct attrib_facts *a, bool stale)
{
	const char *best = "";
	double most = 0;

	for (unsigned i = 0; i < a->n_protos; i++) {
		double v = stale ? a->protos[i].stale : a->protos[i].entries;

		if (v > most) {
			most = v;
			best = a->protos[i].protocol;
		}
	}
	return best;
}

static void examine_unreplied(const struct attrib_facts *a, const struct attrib_facts *a0,
			      double entries, double limit, double dt, struct report *r)
{
	double dns = a->ended_dns - (a0 && a0->seen ? a0->ended_dns : 0);
	char fix[sizeof(r->f[0].fix)], why[sizeof(r->f[0].why)];
	bool stale = a->stale >= 10 && a->stale > STALE_SHARE * entries && a->stale >= 0.01 * limit;
	bool many = a->unreplied >= 10 && a->unreplied > UNREPLIED_SHARE * entries &&
		    a->unreplied >= 0.01 * limit;
	double n = stale ? a->stale : a->unreplied;

	snprintf(fix, sizeof(fix),
		 "%sunanswered DNS: check the resolvers in /etc/resolv.conf (conntrack -L -p udp "
		 "--dport 53 | grep UNREPLIED)%s; else see who sends them: conntrack -L | grep "
		 "UNREPLIED",
		 a->dnat > 0 ? "DNAT to a backend that is gone: check the Service's endpoints "
			       "(conntrack -L -g | grep UNREPLIED); "
			     : "",
		 a->dnat > 0 ? "" : "; DNAT to a backend that is gone: check its endpoints");
	if (stale || many) {
		snprintf(why, sizeof(why),
			 "Entries that never saw a reply wait out their timeout in the table, and "
			 "are refreshed by every retry.%s",
			 dns > 0 ? " DNS queries are ending unanswered right now." : "");
		report_add(
			r, n > SOURCE_RISK * limit ? SEV_RISK : SEV_WARN, fix, why,
			"%.0f entries never saw a reply%s (%.0f %% of the entries), most of them %s",
			n, stale ? " in over a minute" : "", 100 * n / entries,
			most_unreplied(a, stale));
	} else if (dns > 0) {
		report_add(
			r, SEV_INFO,
			"check the resolvers in /etc/resolv.conf (conntrack -L -p udp --dport 53 "
			"| grep UNREPLIED)",
			"Each waited out the UDP timeout in the table; the clients waited too.",
			"%.0f DNS queries ended unanswered in the last %.0f s", dns, dt);
	}
}

void examine_attrib(const struct attrib_facts *a, const struct attrib_facts *a0, double entries,
		    double limit, double dt, struct report *r)
{
	if (!a->seen || !(limit > 0))
		return;
	examine_sources(a, limit, r);
	examine_snat(a, r);
	if (entries > 0)
		examine_unreplied(a, a0, entries, limit, dt, r);
}
