// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ctbench: the cost of parsing ctnetlink conntrack messages with our parser (ct_event_parse(),
 * netlink/ctevent.c) and with libnetfilter_conntrack's (nfct_nlmsg_parse() into one reused
 * struct nf_conntrack, then nfct_get_attr_*()), alone and followed by flows_apply() (the rest
 * of the events collector's per-event work), on a corpus recorded by ctcapture.
 *
 *   ctbench time CORPUS [RUNS [MSGS_PER_RUN]]   timings, side by side in each run
 *   ctbench count CORPUS SET [PASSES]           untimed passes, for callgrind (SET: all,
 *                                               udp-new-destroy)
 *   ctbench check CORPUS                        both parsers extract the same, message by message
 *   ctbench malformed CORPUS [nosizes]          truncated and mis-sized messages through both
 *                                               (nosizes: not the mis-sized ones, which fork)
 *
 * Variants, each run in turn in every run (the order rotates), timed with the thread's CPU
 * clock and reported as the median over the runs of ns per message:
 *   ours        ct_event_parse()
 *   nfct        nfct_nlmsg_parse() into the reused object, then the getters
 *   nfct+reset  the same, the object reset first (nfct_copy() from a blank one): without it,
 *               an attribute a message lacks keeps the previous message's value
 *   ours+apply  ct_event_parse() + flows_apply() (attribution on, as by default)
 *   nfct+apply  nfct+reset, a struct ct_event filled from the getters, flows_apply()
 * over the whole corpus and over its unreplied-UDP NEW and DESTROY events alone (what the
 * events benchmark's full-rate generator makes).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "ctevent.h"
#include "ctnl.h"
#include "flows.h"

enum kind { K_NEW, K_UPDATE, K_DESTROY, K_DUMP, N_KINDS };
static const char *const kind_names[N_KINDS] = { "new", "update", "destroy", "dump" };

struct msg {
	const struct nlmsghdr *nlh;
	enum kind kind;
	uint8_t family, l4proto;
	uint32_t status;
};

struct corpus {
	unsigned char *arena; /* the messages back to back, aligned, as in a recv() buffer */
	struct msg *m;
	size_t n;
};

static int load(const char *path, struct corpus *c)
{
	FILE *f = fopen(path, "rb");
	unsigned char le[4];
	size_t cap = 0, used = 0, size;

	if (!f)
		return -errno;
	fseek(f, 0, SEEK_END);
	size = (size_t)ftell(f);
	rewind(f);
	c->arena = aligned_alloc(64, (size + 4096) / 64 * 64 * 2);
	c->m = NULL;
	c->n = 0;
	while (fread(le, 1, 4, f) == 4) {
		uint32_t len = le[0] | le[1] << 8 | le[2] << 16 | (uint32_t)le[3] << 24;
		unsigned char *p = c->arena + used;

		if (len < NLMSG_HDRLEN || used + NLMSG_ALIGN(len) > (size + 4096) / 64 * 64 * 2 ||
		    fread(p, 1, len, f) != len) {
			fclose(f);
			return -EBADMSG;
		}
		if (c->n == cap) {
			cap = cap ? 2 * cap : 1024;
			c->m = realloc(c->m, cap * sizeof(*c->m));
		}
		c->m[c->n++] = (struct msg){ .nlh = (const struct nlmsghdr *)p };
		used += NLMSG_ALIGN(len);
	}
	fclose(f);
	for (size_t i = 0; i < c->n; i++) {
		struct msg *m = &c->m[i];
		const struct nfgenmsg *g = mnl_nlmsg_get_payload(m->nlh);
		struct ct_event ev;

		if (!ctnl_msg_ok(m->nlh, m->nlh->nlmsg_len) || ct_event_parse(m->nlh, &ev) < 0) {
			fprintf(stderr, "message %zu does not parse\n", i);
			return -EBADMSG;
		}
		m->family = g->nfgen_family;
		m->l4proto = ev.l4proto;
		m->status = ev.status;
		m->kind = m->nlh->nlmsg_flags & NLM_F_MULTI ? K_DUMP : (enum kind)ev.type;
	}
	return 0;
}

/* What the attribution work needs of one message, as the nfct getters give it. */
struct tuples {
	uint8_t l3, l4;
	uint32_t id, status;
	uint16_t zone;
	int tcp_state; /* -1: absent */
	unsigned char osrc[16], odst[16], rsrc[16], rdst[16];
	uint16_t osport, odport, rsport, rdport;
};

static void get_addr(const struct nf_conntrack *ct, enum nf_conntrack_attr a, size_t n,
		     unsigned char *out)
{
	const void *p = nfct_get_attr(ct, a);

	/* Zero-filled like struct ct_tuple: an IPv4 address in the first 4 bytes of 16. */
	memset(out, 0, 16);
	if (p)
		memcpy(out, p, n);
}

static void nfct_read(const struct nf_conntrack *ct, struct tuples *t)
{
	t->l3 = nfct_get_attr_u8(ct, ATTR_L3PROTO);
	t->l4 = nfct_get_attr_u8(ct, ATTR_L4PROTO);
	if (t->l3 == AF_INET6) {
		get_addr(ct, ATTR_ORIG_IPV6_SRC, 16, t->osrc);
		get_addr(ct, ATTR_ORIG_IPV6_DST, 16, t->odst);
		get_addr(ct, ATTR_REPL_IPV6_SRC, 16, t->rsrc);
		get_addr(ct, ATTR_REPL_IPV6_DST, 16, t->rdst);
	} else {
		get_addr(ct, ATTR_ORIG_IPV4_SRC, 4, t->osrc);
		get_addr(ct, ATTR_ORIG_IPV4_DST, 4, t->odst);
		get_addr(ct, ATTR_REPL_IPV4_SRC, 4, t->rsrc);
		get_addr(ct, ATTR_REPL_IPV4_DST, 4, t->rdst);
	}
	t->osport = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_SRC));
	t->odport = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST));
	t->rsport = ntohs(nfct_get_attr_u16(ct, ATTR_REPL_PORT_SRC));
	t->rdport = ntohs(nfct_get_attr_u16(ct, ATTR_REPL_PORT_DST));
	t->id = nfct_get_attr_u32(ct, ATTR_ID);
	t->zone = nfct_get_attr_u16(ct, ATTR_ZONE);
	t->status = nfct_get_attr_u32(ct, ATTR_STATUS);
	t->tcp_state = nfct_attr_is_set(ct, ATTR_TCP_STATE) > 0
			       ? nfct_get_attr_u8(ct, ATTR_TCP_STATE)
			       : -1;
}

static uint64_t fold(const struct tuples *t)
{
	uint64_t h = t->l3 ^ (uint64_t)t->l4 << 8 ^ (uint64_t)t->id << 16 ^ t->status ^ t->zone;

	h ^= (uint64_t)t->osport << 1 ^ (uint64_t)t->odport << 3 ^ (uint64_t)t->rsport << 5 ^
	     (uint64_t)t->rdport << 7 ^ (uint64_t)(t->tcp_state + 1) << 40;
	h ^= t->osrc[0] ^ t->odst[3] ^ t->rsrc[15] ^ t->rdst[7];
	return h;
}

static uint32_t fnv1a(uint32_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

/*
 * The struct ct_event the events collector would get if libnetfilter_conntrack parsed for it:
 * the same checks as ct_event_parse() (a conntrack message, with an id and an original tuple
 * with its protocol), the tuple hash from the getters' addresses and ports.
 */
static void tuple_from_nfct(const struct nf_conntrack *ct, const struct tuples *t, bool reply,
			    struct ct_tuple *ret)
{
	size_t alen = t->l3 == AF_INET6 ? 16 : 4;

	memset(ret, 0, sizeof(*ret));
	memcpy(ret->src, reply ? t->rsrc : t->osrc, alen);
	memcpy(ret->dst, reply ? t->rdst : t->odst, alen);
	ret->family = t->l3;
	if (nfct_attr_is_set(ct, reply ? ATTR_REPL_PORT_SRC : ATTR_ORIG_PORT_SRC) > 0 &&
	    nfct_attr_is_set(ct, reply ? ATTR_REPL_PORT_DST : ATTR_ORIG_PORT_DST) > 0) {
		ret->sport = reply ? t->rsport : t->osport;
		ret->dport = reply ? t->rdport : t->odport;
		ret->has_ports = true;
	}
}

/*
 * The struct ct_event the events collector would get if libnetfilter_conntrack parsed for it:
 * the same checks as ct_event_parse() (a conntrack message, with an id and an original tuple
 * with its protocol and addresses), the tuple hash from the getters' addresses and ports.
 */
static int ev_from_nfct(const struct nlmsghdr *nlh, const struct nf_conntrack *ct,
			const struct tuples *t, struct ct_event *ret)
{
	struct ct_event ev = { 0 };
	size_t alen = t->l3 == AF_INET6 ? 16 : 4;
	uint32_t h;

	switch (NFNL_MSG_TYPE(nlh->nlmsg_type)) {
	case IPCTNL_MSG_CT_NEW:
		ev.type = nlh->nlmsg_flags & (NLM_F_CREATE | NLM_F_EXCL | NLM_F_MULTI)
				  ? CT_EVENT_NEW
				  : CT_EVENT_UPDATE;
		break;
	case IPCTNL_MSG_CT_DELETE:
		ev.type = CT_EVENT_DESTROY;
		break;
	default:
		return -ENOMSG;
	}
	if (nfct_attr_is_set(ct, ATTR_ID) <= 0 || nfct_attr_is_set(ct, ATTR_ORIG_L4PROTO) <= 0 ||
	    (t->l3 != AF_INET && t->l3 != AF_INET6) ||
	    nfct_attr_is_set(ct, t->l3 == AF_INET ? ATTR_ORIG_IPV4_SRC : ATTR_ORIG_IPV6_SRC) <= 0 ||
	    nfct_attr_is_set(ct, t->l3 == AF_INET ? ATTR_ORIG_IPV4_DST : ATTR_ORIG_IPV6_DST) <= 0)
		return -EBADMSG;
	ev.id = t->id;
	ev.l4proto = t->l4;
	tuple_from_nfct(ct, t, false, &ev.orig);
	/* As ct_event_parse() since c8d8060: the reply tuple only for a NAT'ed entry. */
	if ((t->status & (IPS_SRC_NAT | IPS_DST_NAT)) &&
	    nfct_attr_is_set(ct, t->l3 == AF_INET ? ATTR_REPL_IPV4_SRC : ATTR_REPL_IPV6_SRC) > 0) {
		tuple_from_nfct(ct, t, true, &ev.reply);
		ev.has_reply = true;
	}
	h = fnv1a(fnv1a(2166136261u, t->osrc, alen), t->odst, alen);
	h = fnv1a(fnv1a(h, &t->osport, 2), &t->odport, 2);
	ev.thash = (uint16_t)(h ^ h >> 16);
	if (nfct_attr_is_set(ct, ATTR_ZONE) > 0)
		ev.zone = t->zone;
	else if (nfct_attr_is_set(ct, ATTR_ORIG_ZONE) > 0)
		ev.zone = nfct_get_attr_u16(ct, ATTR_ORIG_ZONE);
	else if (nfct_attr_is_set(ct, ATTR_REPL_ZONE) > 0)
		ev.zone = nfct_get_attr_u16(ct, ATTR_REPL_ZONE);
	if (nfct_attr_is_set(ct, ATTR_STATUS) > 0) {
		ev.status = t->status;
		ev.has_status = true;
	}
	if (t->tcp_state >= 0) {
		ev.tcp_state = (uint8_t)t->tcp_state;
		ev.has_tcp_state = true;
	}
	*ret = ev;
	return 0;
}

static bool tuple_eq(const struct ct_tuple *a, const struct ct_tuple *b)
{
	return !memcmp(a->src, b->src, 16) && !memcmp(a->dst, b->dst, 16) &&
	       a->family == b->family && a->has_ports == b->has_ports && a->sport == b->sport &&
	       a->dport == b->dport;
}

/* ---- the timed loops ---- */

struct ctx {
	struct nf_conntrack *ct, *blank;
	struct flows ours_flows, nfct_flows;
	uint32_t now;
};

static __attribute__((noinline)) uint64_t v_ours(struct ctx *x, const struct msg *const *m,
						 size_t n)
{
	uint64_t s = 0;

	(void)x;
	for (size_t i = 0; i < n; i++) {
		struct ct_event ev;

		if (ct_event_parse(m[i]->nlh, &ev) == 0)
			s += ev.id ^ ev.status ^ ev.l4proto ^ ev.zone ^ ev.thash ^ ev.tcp_state ^
			     ev.orig.sport ^ ev.reply.dport ^ ev.orig.src[0] ^ ev.reply.dst[3];
	}
	return s;
}

static __attribute__((noinline)) uint64_t v_nfct(struct ctx *x, const struct msg *const *m,
						 size_t n)
{
	uint64_t s = 0;

	for (size_t i = 0; i < n; i++) {
		struct tuples t;

		if (nfct_nlmsg_parse(m[i]->nlh, x->ct) == 0) {
			nfct_read(x->ct, &t);
			s += fold(&t);
		}
	}
	return s;
}

static __attribute__((noinline)) uint64_t v_nfct_reset(struct ctx *x, const struct msg *const *m,
						       size_t n)
{
	uint64_t s = 0;

	for (size_t i = 0; i < n; i++) {
		struct tuples t;

		nfct_copy(x->ct, x->blank, NFCT_CP_OVERRIDE);
		if (nfct_nlmsg_parse(m[i]->nlh, x->ct) == 0) {
			nfct_read(x->ct, &t);
			s += fold(&t);
		}
	}
	return s;
}

static __attribute__((noinline)) uint64_t v_ours_apply(struct ctx *x, const struct msg *const *m,
						       size_t n)
{
	uint64_t s = 0;

	for (size_t i = 0; i < n; i++) {
		struct ct_event ev;

		if (ct_event_parse(m[i]->nlh, &ev) == 0)
			s += flows_apply(&x->ours_flows, &ev, m[i]->kind == K_DUMP, ++x->now) == 0;
	}
	return s;
}

static __attribute__((noinline)) uint64_t v_nfct_apply(struct ctx *x, const struct msg *const *m,
						       size_t n)
{
	uint64_t s = 0;

	for (size_t i = 0; i < n; i++) {
		struct ct_event ev;
		struct tuples t;

		nfct_copy(x->ct, x->blank, NFCT_CP_OVERRIDE);
		if (nfct_nlmsg_parse(m[i]->nlh, x->ct) < 0)
			continue;
		nfct_read(x->ct, &t);
		if (ev_from_nfct(m[i]->nlh, x->ct, &t, &ev) == 0)
			s += flows_apply(&x->nfct_flows, &ev, m[i]->kind == K_DUMP, ++x->now) == 0;
	}
	return s;
}

struct variant {
	const char *name;
	uint64_t (*fn)(struct ctx *x, const struct msg *const *m, size_t n);
};

static const struct variant variants[] = {
	{ "ours", v_ours },
	{ "nfct", v_nfct },
	{ "nfct+reset", v_nfct_reset },
	{ "ours+apply", v_ours_apply },
	{ "nfct+apply", v_nfct_apply },
};
#define N_VARIANTS (sizeof(variants) / sizeof(variants[0]))

static double now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void time_set(struct ctx *x, const char *set, const struct msg *const *m, size_t n,
		     unsigned runs, size_t per_run)
{
	size_t passes = (per_run + n - 1) / n;
	double *cpu = calloc(N_VARIANTS * runs, sizeof(double));
	double *wall = calloc(N_VARIANTS * runs, sizeof(double));
	uint64_t sink = 0;

	for (size_t v = 0; v < N_VARIANTS; v++) /* warm-up: caches, the flow records' growth */
		for (size_t p = 0; p < passes / 10 + 1; p++)
			sink += variants[v].fn(x, m, n);
	for (unsigned r = 0; r < runs; r++) {
		for (size_t k = 0; k < N_VARIANTS; k++) {
			size_t v = (k + r) % N_VARIANTS;
			double c0 = now_ns(CLOCK_THREAD_CPUTIME_ID), w0 = now_ns(CLOCK_MONOTONIC);

			for (size_t p = 0; p < passes; p++)
				sink += variants[v].fn(x, m, n);
			cpu[v * runs + r] = (now_ns(CLOCK_THREAD_CPUTIME_ID) - c0) / (passes * n);
			wall[v * runs + r] = (now_ns(CLOCK_MONOTONIC) - w0) / (passes * n);
		}
	}
	for (size_t v = 0; v < N_VARIANTS; v++) {
		double *c = cpu + v * runs, *w = wall + v * runs;

		for (unsigned r = 0; r < runs; r++)
			printf("raw\t%s\t%s\t%u\t%.2f\t%.2f\n", set, variants[v].name, r, c[r],
			       w[r]);
	}
	printf("# set=%s messages=%zu passes=%zu runs=%u (%zu messages per variant)\n", set, n,
	       passes, runs, passes * n * runs);
	printf("# set\tvariant\tcpu_ns_median\tcpu_ns_min\tcpu_ns_max\twall_ns_median\n");
	for (size_t v = 0; v < N_VARIANTS; v++) {
		double *c = cpu + v * runs, *w = wall + v * runs;

		qsort(c, runs, sizeof(double), cmp_double);
		qsort(w, runs, sizeof(double), cmp_double);
		printf("median\t%s\t%s\t%.1f\t%.1f\t%.1f\t%.1f\n", set, variants[v].name,
		       c[runs / 2], c[0], c[runs - 1], w[runs / 2]);
	}
	printf("# sink %llu\n", (unsigned long long)sink);
	free(cpu);
	free(wall);
}

static int do_time(const struct corpus *c, unsigned runs, size_t per_run, const char *count_set)
{
	const struct msg **all = calloc(c->n, sizeof(*all)), **udp = calloc(c->n, sizeof(*udp));
	size_t n_udp = 0, by_kind[N_KINDS] = { 0 }, by_fam[3] = { 0 }, nat = 0;
	struct ctx x = { 0 };

	for (size_t i = 0; i < c->n; i++) {
		const struct msg *m = &c->m[i];

		all[i] = m;
		by_kind[m->kind]++;
		by_fam[m->family == AF_INET ? 0 : m->family == AF_INET6 ? 1 : 2]++;
		nat += !!(m->status & (IPS_SRC_NAT | IPS_DST_NAT));
		/* The full-rate generator's events: unreplied UDP, created and destroyed. */
		if (m->l4proto == IPPROTO_UDP && !(m->status & IPS_SEEN_REPLY) &&
		    (m->kind == K_NEW || m->kind == K_DESTROY))
			udp[n_udp++] = m;
	}
	printf("# corpus: %zu messages: new %zu, update %zu, destroy %zu, dump %zu; "
	       "ipv4 %zu, ipv6 %zu, other %zu; nat %zu; unreplied udp new+destroy %zu\n",
	       c->n, by_kind[K_NEW], by_kind[K_UPDATE], by_kind[K_DESTROY], by_kind[K_DUMP],
	       by_fam[0], by_fam[1], by_fam[2], nat, n_udp);
	x.ct = nfct_new();
	x.blank = nfct_new();
	if (!x.ct || !x.blank || flows_init(&x.ours_flows) < 0 || flows_init(&x.nfct_flows) < 0)
		return -ENOMEM;
	/*
	 * Attribution as the events collector has it by default (its flag defaults: 1024 slots,
	 * prefixes 32 and 64), live from the end of a first dump on, as after startup.
	 */
	{
		struct attrib_cfg ac = { .slots = 1024, .prefix4 = 32, .prefix6 = 64 };

		if (flows_attrib_init(&x.ours_flows, &ac) < 0 ||
		    flows_attrib_init(&x.nfct_flows, &ac) < 0 ||
		    flows_dump_begin(&x.ours_flows) < 0 || flows_dump_begin(&x.nfct_flows) < 0)
			return -ENOMEM;
		flows_dump_end(&x.ours_flows);
		flows_dump_end(&x.nfct_flows);
	}
	if (count_set) { /* untimed, for callgrind: each variant @runs passes over one set */
		bool u = !strcmp(count_set, "udp-new-destroy");
		uint64_t sink = 0;

		for (size_t v = 0; v < N_VARIANTS; v++)
			for (unsigned p = 0; p < runs; p++)
				sink += variants[v].fn(&x, u ? udp : all, u ? n_udp : c->n);
		printf("# count set=%s messages=%zu passes=%u sink=%llu\n", count_set,
		       u ? n_udp : c->n, runs, (unsigned long long)sink);
	} else {
		time_set(&x, "all", all, c->n, runs, per_run);
		time_set(&x, "udp-new-destroy", udp, n_udp, runs, per_run);
	}
	printf("# flows live after the runs: ours %u, nfct %u (udp) \n",
	       flows_live(&x.ours_flows, IPPROTO_UDP, FLOW_ST_UNREPLIED),
	       flows_live(&x.nfct_flows, IPPROTO_UDP, FLOW_ST_UNREPLIED));
	flows_fini(&x.ours_flows);
	flows_fini(&x.nfct_flows);
	nfct_destroy(x.ct);
	nfct_destroy(x.blank);
	free(all);
	free(udp);
	return 0;
}

/* ---- check: the two parsers agree, and what reuse without a reset leaves behind ---- */

static int nfct_try(const struct nlmsghdr *nlh, uint64_t saw[static 2]);

static int do_check(const struct corpus *c)
{
	struct nf_conntrack *fresh = nfct_new(), *reused = nfct_new();
	size_t differ = 0, stale = 0, stale_kind[N_KINDS] = { 0 }, left[128] = { 0 };

	for (size_t i = 0; i < c->n; i++) {
		const struct nlmsghdr *nlh = c->m[i].nlh;
		struct ct_event ours, theirs;
		struct tuples t, tr;
		uint64_t saw[2];

		nfct_destroy(fresh);
		fresh = nfct_new();
		if (ct_event_parse(nlh, &ours) < 0 || nfct_nlmsg_parse(nlh, fresh) < 0 ||
		    nfct_nlmsg_parse(nlh, reused) < 0) {
			printf("message %zu: a parser refused it\n", i);
			differ++;
			continue;
		}
		nfct_read(fresh, &t);
		nfct_read(reused, &tr);
		if (ev_from_nfct(nlh, fresh, &t, &theirs) < 0 || ours.type != theirs.type ||
		    ours.id != theirs.id || ours.l4proto != theirs.l4proto ||
		    ours.zone != theirs.zone || ours.has_status != theirs.has_status ||
		    ours.status != theirs.status || ours.has_tcp_state != theirs.has_tcp_state ||
		    ours.tcp_state != theirs.tcp_state || ours.has_reply != theirs.has_reply ||
		    !tuple_eq(&ours.orig, &theirs.orig) || !tuple_eq(&ours.reply, &theirs.reply)) {
			printf("message %zu (%s): ours and nfct's differ\n", i,
			       kind_names[c->m[i].kind]);
			differ++;
		}
		/* What the reused object still says that this message did not. */
		nfct_try(nlh, saw);
		for (int a = 0; a < ATTR_MAX && a < 128; a++)
			left[a] += nfct_attr_is_set(reused, a) > 0 && !(saw[a / 64] >> a % 64 & 1);
		if (t.tcp_state != tr.tcp_state || fold(&t) != fold(&tr)) {
			stale++;
			stale_kind[c->m[i].kind]++;
		}
	}
	printf("check: %zu messages, %zu where ours and nfct (fresh object) differ\n", c->n,
	       differ);
	printf("reused object, no reset: %zu messages read with another message's value in a field "
	       "we read (new %zu, update %zu, destroy %zu, dump %zu)\n",
	       stale, stale_kind[K_NEW], stale_kind[K_UPDATE], stale_kind[K_DESTROY],
	       stale_kind[K_DUMP]);
	printf("reused object, no reset: attributes (enum nf_conntrack_attr) set but not in the "
	       "message:");
	for (int a = 0; a < 128; a++)
		if (left[a])
			printf(" %d:%zu", a, left[a]);
	printf("\n");
	nfct_destroy(fresh);
	nfct_destroy(reused);
	return differ ? 1 : 0;
}

/* ---- malformed input ---- */

struct verdicts {
	size_t tried, ours_ok, nfct_ok, nfct_more; /* nfct_more: nfct saw what ours could not */
};

/* nfct's result on a fresh object; in @saw, a bit for each attribute it reports set. */
static int nfct_try(const struct nlmsghdr *nlh, uint64_t saw[static 2])
{
	struct nf_conntrack *ct = nfct_new();
	int r = nfct_nlmsg_parse(nlh, ct);

	saw[0] = saw[1] = 0;
	for (int a = 0; a < ATTR_MAX && a < 128; a++)
		if (nfct_attr_is_set(ct, a) > 0)
			saw[a / 64] |= 1ull << a % 64;
	nfct_destroy(ct);
	return r;
}

static int ours_try(const struct nlmsghdr *nlh)
{
	struct ct_event ev;

	return ctnl_msg_ok(nlh, nlh->nlmsg_len) ? ct_event_parse(nlh, &ev) : -EBADMSG;
}

/* The first attribute @type at the top level (@outer 0), or in @outer (@inner 0), or deeper. */
static struct nlattr *find_attr(struct nlmsghdr *nlh, uint16_t outer, uint16_t inner, uint16_t type)
{
	struct nlattr *a, *b, *c;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
	{
		if (!outer && mnl_attr_get_type(a) == type)
			return a;
		if (mnl_attr_get_type(a) != outer)
			continue;
		mnl_attr_for_each_nested(b, a)
		{
			if (!inner && mnl_attr_get_type(b) == type)
				return b;
			if (mnl_attr_get_type(b) != inner)
				continue;
			mnl_attr_for_each_nested(c, b) if (mnl_attr_get_type(c) == type) return c;
		}
	}
	return NULL;
}

static int do_malformed(const struct corpus *c, bool sizes)
{
	struct verdicts trunc = { 0 }, cut = { 0 };
	size_t stride = c->n > 200 ? c->n / 200 : 1;

	/*
	 * 1. Truncated: the first k bytes of a message, nlmsg_len saying k, in a buffer of
	 * exactly k bytes (under valgrind, a read past it shows).
	 */
	for (size_t i = 0; i < c->n; i += stride) {
		const struct nlmsghdr *src = c->m[i].nlh;

		for (uint32_t k = NLMSG_HDRLEN + sizeof(struct nfgenmsg); k < src->nlmsg_len; k++) {
			struct nlmsghdr *nlh = malloc(k);
			uint64_t sn[2];
			int ro, rn;

			memcpy(nlh, src, k);
			nlh->nlmsg_len = k;
			ro = ours_try(nlh);
			rn = nfct_try(nlh, sn);
			trunc.tried++;
			trunc.ours_ok += ro == 0;
			trunc.nfct_ok += rn == 0;
			free(nlh);
		}
	}
	printf("truncated: %zu messages (every %zu-th), %zu truncations: ours accepted %zu, "
	       "nfct accepted %zu (no crash)\n",
	       (c->n + stride - 1) / stride, stride, trunc.tried, trunc.ours_ok, trunc.nfct_ok);

	/*
	 * 2. Cut at a top-level attribute boundary (a well-formed shorter message), once with the
	 * rest of the original behind it in the buffer, as in a recv() batch, once alone in a
	 * buffer of its size: a parser that stays within nlmsg_len sees the same in both.
	 */
	for (size_t i = 0; i < c->n; i++) {
		const struct nlmsghdr *src = c->m[i].nlh;
		unsigned char *buf = malloc(src->nlmsg_len);
		struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
		const struct nlattr *a;

		memcpy(buf, src, src->nlmsg_len);
		mnl_attr_for_each(a, src, sizeof(struct nfgenmsg))
		{
			uint32_t off =
				(uint32_t)((const unsigned char *)a - (const unsigned char *)src);
			struct nlmsghdr *alone = malloc(off);
			uint64_t s1[2], s2[2];
			int ro, r1, r2;

			nlh->nlmsg_len = off;
			memcpy(alone, nlh, off);
			ro = ours_try(nlh);
			r1 = nfct_try(nlh, s1);
			r2 = nfct_try(alone, s2);
			cut.tried++;
			cut.ours_ok += ro == 0;
			cut.nfct_ok += r1 == 0;
			cut.nfct_more += r1 != r2 || s1[0] != s2[0] || s1[1] != s2[1];
			free(alone);
		}
		free(buf);
	}
	printf("cut before an attribute: %zu cuts: ours accepted %zu, nfct accepted %zu; nfct saw "
	       "something else with the rest of the message behind it in %zu\n",
	       cut.tried, cut.ours_ok, cut.nfct_ok, cut.nfct_more);

	/*
	 * 3. One attribute of the wrong size, the framing intact (its length one byte more, or
	 * less where more would move the next attribute). nfct runs in a child per message:
	 * libnetfilter_conntrack calls exit() on what it takes for a kernel ABI breakage.
	 */
	static const struct {
		const char *name;
		uint16_t outer, inner, type;
	} wrong[] = {
		{ "CTA_ID", 0, 0, CTA_ID },
		{ "CTA_STATUS", 0, 0, CTA_STATUS },
		{ "CTA_PROTO_NUM", CTA_TUPLE_ORIG, CTA_TUPLE_PROTO, CTA_PROTO_NUM },
		{ "CTA_PROTO_SRC_PORT", CTA_TUPLE_ORIG, CTA_TUPLE_PROTO, CTA_PROTO_SRC_PORT },
		{ "CTA_PROTOINFO_TCP_STATE", CTA_PROTOINFO, CTA_PROTOINFO_TCP,
		  CTA_PROTOINFO_TCP_STATE },
	};
	fflush(stdout);
	for (size_t w = 0; sizes && w < sizeof(wrong) / sizeof(wrong[0]); w++) {
		size_t tried = 0, ours_ok = 0, nfct_ok = 0, nfct_err = 0, nfct_exit = 0,
		       nfct_sig = 0;
		size_t nfct_state = 0;

		for (size_t i = 0; i < c->n; i++) {
			const struct nlmsghdr *src = c->m[i].nlh;
			struct nlmsghdr *nlh = malloc(src->nlmsg_len);
			struct nlattr *a;
			uint64_t sn[2];
			int ro, status;
			pid_t pid;

			memcpy(nlh, src, src->nlmsg_len);
			a = find_attr(nlh, wrong[w].outer, wrong[w].inner, wrong[w].type);
			if (!a) {
				free(nlh);
				continue;
			}
			a->nla_len = NLA_ALIGN(a->nla_len + 1) == NLA_ALIGN(a->nla_len)
					     ? a->nla_len + 1
					     : a->nla_len - 1;
			ro = ours_try(nlh);
			tried++;
			ours_ok += ro == 0;
			pid = fork();
			if (pid == 0) {
				if (nfct_exit || nfct_ok ||
				    nfct_err) /* its message once is enough */
					freopen("/dev/null", "w", stderr);
				_exit(nfct_try(nlh, sn) == 0
					      ? (sn[ATTR_TCP_STATE / 64] >> ATTR_TCP_STATE % 64 & 1
							 ? 10
							 : 11)
					      : 12);
			}
			waitpid(pid, &status, 0);
			if (WIFEXITED(status) && WEXITSTATUS(status) >= 10) {
				nfct_ok += WEXITSTATUS(status) != 12;
				nfct_state += WEXITSTATUS(status) == 10;
				nfct_err += WEXITSTATUS(status) == 12;
			} else if (WIFEXITED(status)) {
				nfct_exit++;
			} else {
				nfct_sig++;
			}
			free(nlh);
		}
		printf("wrong size %s: %zu messages: ours accepted %zu; nfct accepted %zu%s, "
		       "returned an error %zu, called exit() %zu, died of a signal %zu\n",
		       wrong[w].name, tried, ours_ok, nfct_ok,
		       nfct_ok && w == sizeof(wrong) / sizeof(wrong[0]) - 1
			       ? (nfct_state ? " (with a state)" : " (the state dropped silently)")
			       : "",
		       nfct_err, nfct_exit, nfct_sig);
		fflush(stdout);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct corpus c;
	int r;

	if (argc < 3) {
		fprintf(stderr, "usage: %s time|check|malformed CORPUS [RUNS [MSGS_PER_RUN]]\n",
			argv[0]);
		return 2;
	}
	r = load(argv[2], &c);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", argv[2], strerror(-r));
		return 1;
	}
	if (!strcmp(argv[1], "time"))
		r = do_time(&c, argc > 3 ? (unsigned)atoi(argv[3]) : 21,
			    argc > 4 ? (size_t)atol(argv[4]) : 500000, NULL);
	else if (!strcmp(argv[1], "count") && argc > 3)
		r = do_time(&c, argc > 4 ? (unsigned)atoi(argv[4]) : 20, 0, argv[3]);
	else if (!strcmp(argv[1], "check"))
		r = do_check(&c);
	else if (!strcmp(argv[1], "malformed"))
		r = do_malformed(&c, !(argc > 3 && !strcmp(argv[3], "nosizes")));
	else
		r = 2;
	free(c.m);
	free(c.arena);
	return r < 0 ? 1 : r;
}
