// SPDX-License-Identifier: GPL-2.0-or-later
/* The events collector's record of live flows and its counts: see flows.h. */
#include "flows.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>

#include <linux/netfilter/nf_conntrack_common.h>

#include "util.h"

const double flows_lifetime_bounds[FLOWS_N_BOUNDS] = {
	0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400,
};

const char *const flows_state_names[FLOW_N_STATES] = {
	"none",	     "syn_sent", "syn_recv",  "established", "fin_wait", "close_wait", "last_ack",
	"time_wait", "close",	 "syn_sent2", "unreplied",   "replied",	 "assured",
};

const char *const flows_age_names[FLOWS_N_AGES] = {
	"under_10s",
	"10s_to_1m",
	"1m_to_10m",
	"over_10m",
};

/* Indexed by protocol number: a scrape names 256 protocols per namespace, by lookup. */
static const char *const proto_names[256] = {
	[1] = "icmp", [6] = "tcp",     [17] = "udp",   [33] = "dccp",
	[47] = "gre", [58] = "icmpv6", [132] = "sctp", [136] = "udplite",
};

const char *flows_proto_name(unsigned proto, char buf[static 4])
{
	proto &= 0xff;
	if (proto_names[proto])
		return proto_names[proto];
	snprintf(buf, 4, "%u", proto);
	return buf;
}

bool flows_proto_named(unsigned proto)
{
	return proto_names[proto & 0xff] != NULL;
}

#define ZONE_LIVE_SIZE (65536 * sizeof(uint32_t))

int flows_init(struct flows *f)
{
	*f = (struct flows){ 0 };
	/*
	 * A page per zone range that has flows, not 256 KiB per namespace: mmap() rather than
	 * calloc(), whose memory comes from the heap (and is cleared, so resident) once glibc's
	 * mmap threshold has risen past this size after a free.
	 */
	f->zone_live = mmap(NULL, ZONE_LIVE_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (f->zone_live == MAP_FAILED) {
		f->zone_live = NULL;
		return -ENOMEM;
	}
	return ft_init(&f->ft, 0);
}

int flows_attrib_init(struct flows *f, const struct attrib_cfg *cfg)
{
	if (!cfg->slots || cfg->slots > ATTRIB_MAX_SLOTS || cfg->prefix4 > 32 || cfg->prefix6 > 128)
		return -EINVAL;
	f->acfg = *cfg;
	f->attrib_on = true;
	return 0;
}

void flows_fini(struct flows *f)
{
	if (!f)
		return;
	ft_free(&f->ft);
	ft_free(&f->tombs);
	if (f->zone_live)
		munmap(f->zone_live, ZONE_LIVE_SIZE);
	for (size_t i = 0; i < ARRAY_SIZE(f->proto); i++) {
		if (f->proto[i])
			free(f->proto[i]->unrep);
		free(f->proto[i]);
	}
	attrib_set_free(f->acur);
	attrib_set_free(f->anext);
	*f = (struct flows){ 0 };
}

/* A protocol's row, at its first flow; with attribution, its unreplied ring too. */
static int proto_row(struct flows *f, uint8_t proto)
{
	struct flows_proto *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	if (f->attrib_on) {
		p->unrep = calloc(FLOWS_UNREP_SECONDS, sizeof(*p->unrep));
		if (!p->unrep) {
			free(p);
			return -ENOMEM;
		}
		f->unrep_protos[f->n_unrep_protos++] = proto;
	}
	f->proto[proto] = p;
	return 0;
}

static uint32_t second_of(uint32_t ds)
{
	return ds ? (ds - 1) / 10 : 0;
}

/*
 * Move the rings on to second @now: what was born FLOWS_UNREP_SECONDS ago leaves its slot,
 * which the births of this second take, for the older count.
 */
static void unrep_advance(struct flows *f, uint32_t now)
{
	uint32_t steps;

	if (now <= f->unrep_s)
		return;
	steps = now - f->unrep_s < FLOWS_UNREP_SECONDS ? now - f->unrep_s : FLOWS_UNREP_SECONDS;
	for (unsigned i = 0; i < f->n_unrep_protos; i++) {
		struct flows_proto *p = f->proto[f->unrep_protos[i]];

		for (uint32_t t = now - steps + 1; t <= now; t++) {
			p->unrep_older += p->unrep[t % FLOWS_UNREP_SECONDS];
			p->unrep[t % FLOWS_UNREP_SECONDS] = 0;
		}
	}
	f->unrep_s = now;
}

bool flows_unreplied(struct flows *f, unsigned proto, uint32_t now_ds, uint64_t ret[FLOWS_N_AGES])
{
	static const uint32_t band_end[] = { 10, 60, FLOWS_UNREP_SECONDS };
	struct flows_proto *p = f->proto[proto & 0xff];
	uint32_t age = 0;

	if (!p || !p->unrep)
		return false;
	unrep_advance(f, second_of(now_ds));
	for (unsigned b = 0; b < ARRAY_SIZE(band_end); b++) {
		ret[b] = 0;
		/* Nothing was born before second 0. */
		for (; age < band_end[b] && age <= f->unrep_s; age++)
			ret[b] += p->unrep[(f->unrep_s - age) % FLOWS_UNREP_SECONDS];
	}
	ret[FLOWS_AGE_OLDER] = p->unrep_older;
	return true;
}

unsigned flows_state_of(const struct ct_event *ev, int old)
{
	if (ev->l4proto == FLOW_PROTO_TCP) {
		if (ev->has_tcp_state && ev->tcp_state <= CT_TCP_STATE_MAX)
			return ev->tcp_state;
		/* UPDATEs without a state change, and DESTROYs, carry no protoinfo. */
		return old >= 0 && old <= CT_TCP_STATE_MAX ? (unsigned)old : FLOW_ST_TCP_NONE;
	}
	if (!ev->has_status)
		return old >= FLOW_ST_UNREPLIED ? (unsigned)old : FLOW_ST_UNREPLIED;
	if (ev->status & IPS_ASSURED)
		return FLOW_ST_ASSURED;
	return ev->status & IPS_SEEN_REPLY ? FLOW_ST_REPLIED : FLOW_ST_UNREPLIED;
}

static void count(struct flows *f, const struct flow *fl, int delta)
{
	unsigned st = (fl->state & FLOW_STATE_MASK) - 1u;

	/* Every flow's protocol has its row: flows_apply() made it first. */
	struct flows_proto *p = f->proto[fl->proto];

	p->live[st] += (uint32_t)delta;
	f->zone_live[fl->zone] += (uint32_t)delta;
	if ((fl->state & FLOW_UNREPLIED) && p->unrep) {
		/* In its birth second's slot while that is within the rings' ten minutes. */
		uint32_t born = second_of(fl->start);

		if (f->unrep_s - born < FLOWS_UNREP_SECONDS)
			p->unrep[born % FLOWS_UNREP_SECONDS] += (uint32_t)delta;
		else
			p->unrep_older += (uint64_t)(int64_t)delta;
	}
	if (fl->zone >= f->zone_top)
		f->zone_top = fl->zone + 1u;
}

static void observe_lifetime(struct flows *f, const struct flow *fl, uint32_t now_ds)
{
	struct flows_hist *h = &f->proto[fl->proto]->hist;
	double life;

	if (!(fl->state & FLOW_BORN))
		return; /* seen in a dump, not born under our eyes */
	life = (double)(now_ds - fl->start) / 10.0;
	for (size_t i = 0; i < FLOWS_N_BOUNDS; i++)
		if (life <= flows_lifetime_bounds[i])
			h->bucket[i]++;
	h->count++;
	h->sum += life;
}

static void forget(struct flows *f, struct flow *fl)
{
	if (!(fl->state & FLOW_EVENTS))
		f->silent--;
	count(f, fl, -1);
	ft_delete(&f->ft, fl);
}

/* Whether @ev says the flow's state, or only that it lives (a TCP update without protoinfo). */
static bool says_state(const struct ct_event *ev)
{
	if (ev->l4proto == FLOW_PROTO_TCP)
		return ev->has_tcp_state && ev->tcp_state <= CT_TCP_STATE_MAX;
	return ev->has_status;
}

/* Whether @ev says the flow never saw a reply; @fl: what we knew of it, or NULL. */
static bool unreplied(const struct ct_event *ev, const struct flow *fl, unsigned st)
{
	if (ev->has_status)
		return !(ev->status & IPS_SEEN_REPLY);
	if (fl)
		return fl->state & FLOW_UNREPLIED;
	return st == FLOW_ST_UNREPLIED || (ev->l4proto == FLOW_PROTO_TCP && st == 1 /* syn_sent */);
}

/* A DESTROY of an entry that never saw a reply: by protocol, DNS apart. */
static void count_ended(struct flows *f, const struct ct_event *ev, const struct flow *fl)
{
	bool dns = (ev->l4proto == FLOW_PROTO_TCP || ev->l4proto == 17) && ev->orig.has_ports &&
		   ev->orig.dport == 53;

	if (unreplied(ev, fl, FLOW_ST_REPLIED))
		f->proto[ev->l4proto]->unrep_ended[dns]++;
}

/* Count @ev's entry in or out of the summaries: @cur, and @next if the flow is @marked. */
static void attrib(struct flows *f, const struct ct_event *ev, bool cur, bool next, int delta)
{
	if (cur && f->acur)
		attrib_set_count(f->acur, &f->acfg, ev, delta);
	if (next && f->anext)
		attrib_set_count(f->anext, &f->acfg, ev, delta);
}

int flows_apply(struct flows *f, const struct ct_event *ev, bool from_dump, uint32_t now_ds)
{
	struct flow *fl = ft_find(&f->ft, ev->id, ev->thash);
	/*
	 * While a dump runs, an event that doesn't say the state must not mark the flow as
	 * known to this generation: the dump's entry would be ignored, and a state missed in an
	 * overrun would stay wrong after the resync meant to repair it (found by fuzz_flows).
	 * Left unmarked, the flow takes the dump's state; if the dump doesn't bring it, it died
	 * and its DESTROY was lost with the rest. The same between an abandoned dump and its
	 * restart, which keeps the generation. Between dumps there is nothing to wait for.
	 */
	bool mark = from_dump || !(f->dump_active || f->dump_abandoned) || says_state(ev);
	unsigned st;
	uint8_t ur;
	int r;

	if (!f->proto[ev->l4proto] && (r = proto_row(f, ev->l4proto)) < 0)
		return r;
	unrep_advance(f, second_of(now_ds));
	if (!from_dump) {
		f->proto[ev->l4proto]->events[ev->type]++;
		f->events_seen++;
	}
	if (ev->type == CT_EVENT_DESTROY) {
		if (!from_dump)
			count_ended(f, ev, fl);
		if (fl) {
			observe_lifetime(f, fl, now_ds);
			/* In @anext only if marked: the unmarked were never counted there. */
			attrib(f, ev, true, (fl->state & FLOW_GEN) == f->gen, -1);
			forget(f, fl);
		}
		/* The dump under way may still bring this flow, from before its death: ignore it. */
		if (f->dump_active && !ft_find(&f->tombs, ev->id, ev->thash)) {
			struct flow t = { .id = ev->id, .thash = ev->thash, .state = 1 };

			/* No room: the dump may bring it back, a phantom until a resync. */
			r = ft_insert(&f->tombs, &t);
			if (r < 0)
				return r;
		}
		return 0;
	}
	if (from_dump && ((fl && (fl->state & FLOW_GEN) == f->gen) ||
			  (!fl && ft_find(&f->tombs, ev->id, ev->thash))))
		return 0; /* an event of this dump's time already said more, or the flow died */
	st = flows_state_of(ev, fl ? (int)(fl->state & FLOW_STATE_MASK) - 1 : -1);
	ur = unreplied(ev, fl, st) ? FLOW_UNREPLIED : 0;
	if (fl) {
		const uint8_t shown = FLOW_STATE_MASK | FLOW_UNREPLIED;
		uint8_t keep = fl->state & (FLOW_EVENTS | FLOW_BORN);
		bool was_marked = (fl->state & FLOW_GEN) == f->gen;
		/* Taken before the state is rewritten below, generation bit and all. */
		uint8_t gen = mark ? f->gen : fl->state & FLOW_GEN;

		if ((fl->state & shown) != ((st + 1) | ur) || fl->zone != ev->zone ||
		    fl->proto != ev->l4proto) {
			count(f, fl, -1);
			fl->state = (uint8_t)((fl->state & ~shown) | (st + 1) | ur);
			fl->zone = ev->zone;
			fl->proto = ev->l4proto;
			count(f, fl, +1);
		}
		if (!(keep & FLOW_EVENTS) && !from_dump)
			f->silent--;
		fl->state =
			(uint8_t)((fl->state & shown) | gen | keep | (from_dump ? 0 : FLOW_EVENTS));
		/* Marked now, and not before: the dump's view gains it. */
		if (!was_marked && gen == f->gen)
			attrib(f, ev, false, true, +1);
		return 0;
	}
	{
		bool born = ev->type == CT_EVENT_NEW && !from_dump;
		struct flow nf = {
			.id = ev->id,
			.thash = ev->thash,
			.zone = ev->zone,
			.proto = ev->l4proto,
			.state = (uint8_t)((st + 1) | ur | (mark ? f->gen : f->gen ^ FLOW_GEN) |
					   (from_dump ? 0 : FLOW_EVENTS) | (born ? FLOW_BORN : 0)),
			/*
			 * For unreplied ages too: an entry first seen in a dump is as old as the
			 * kernel's timestamp says (nf_conntrack_timestamp=1), else as that dump.
			 */
			.start = ev->age_ds < now_ds ? now_ds - ev->age_ds : 1,
		};

		r = ft_insert(&f->ft, &nf);
		if (r < 0)
			return r;
		count(f, &nf, +1);
		if (from_dump)
			f->silent++;
		attrib(f, ev, true, mark, +1);
	}
	return 0;
}

int flows_dump_begin(struct flows *f)
{
	bool fresh = !f->dump_abandoned;
	int r;

	/* A restart keeps what the abandoned dump's marks counted, as it keeps the marks. */
	if (f->attrib_on && (fresh || !f->anext)) {
		struct attrib_set *next;

		r = attrib_set_new(&f->acfg, &next);
		if (r < 0)
			return r;
		attrib_set_free(f->anext);
		f->anext = next;
	}
	r = ft_init(&f->tombs, 0);
	if (r < 0)
		return r;
	/* Flows the dump doesn't mention, and no event touches meanwhile, are gone. */
	if (fresh)
		f->gen ^= FLOW_GEN;
	f->dump_abandoned = false;
	f->dump_active = true;
	return 0;
}

void flows_dump_abort(struct flows *f)
{
	/* Unfinished: the next dump keeps this generation, or flows it never saw would survive. */
	f->dump_abandoned |= f->dump_active; /* again, or after the end: no change */
	f->dump_active = false;
	ft_free(&f->tombs);
}

void flows_dump_end(struct flows *f)
{
	/* Sweep; a deletion shifts the next flow into slot i, so look at i again. */
	for (size_t i = 0; i < f->ft.cap;) {
		struct flow *fl = &f->ft.slots[i];

		if ((fl->state & FLOW_STATE_MASK) && (fl->state & FLOW_GEN) != f->gen)
			forget(f, fl);
		else
			i++;
	}
	f->dump_active = false; /* finished, not abandoned */
	f->dump_abandoned = false;
	ft_free(&f->tombs);
	/* What the dump and the events since its start counted is the record now. */
	if (f->anext) {
		attrib_set_free(f->acur);
		f->acur = f->anext;
		f->anext = NULL;
	}
}

void flows_fit(struct flows *f, uint64_t entries)
{
	size_t want = (size_t)entries + (size_t)entries / 16;

	if (want > f->ft.cap || want * 4 < f->ft.cap)
		(void)ft_resize(&f->ft, want); /* on failure the table still grows as it goes */
}

static int by_count_desc(const void *a, const void *b)
{
	const struct zone_count *x = a, *y = b;

	return x->n != y->n ? (x->n < y->n ? 1 : -1) : (x->zone > y->zone) - (x->zone < y->zone);
}

static int by_zone(const void *a, const void *b)
{
	const struct zone_count *x = a, *y = b;

	return (x->zone > y->zone) - (x->zone < y->zone);
}

int flows_zones(const struct flows *f, unsigned max, struct zone_count **buf, size_t *cap,
		size_t *ret_n, uint64_t *ret_other)
{
	struct zone_count *z;
	size_t n = 0, shown;
	uint64_t other = 0;
	/* Most hosts use zone 0 alone: with one namespace per pod, scanning 64k is the cost. */
	int r = GROW_ARRAY(*buf, *cap, (size_t)f->zone_top + 1, 16);

	if (r < 0)
		return r;
	z = *buf;
	for (unsigned i = 0; i < f->zone_top; i++)
		if (f->zone_live[i])
			z[n++] = (struct zone_count){ (uint16_t)i, f->zone_live[i] };
	/* The biggest zones get their own series: the one gone wild is what matters. */
	shown = n;
	if (n > max) {
		qsort(z, n, sizeof(*z), by_count_desc);
		shown = max;
		for (size_t i = shown; i < n; i++)
			other += z[i].n;
		qsort(z, shown, sizeof(*z), by_zone);
	}
	*ret_n = shown;
	*ret_other = other;
	return 0;
}

/* Index of the smallest of @n counts; among equals the last (the latest in table order). */
static size_t smallest(const struct state_count *v, size_t n)
{
	size_t k = 0;

	for (size_t i = 1; i < n; i++)
		if (v[i].n <= v[k].n)
			k = i;
	return k;
}

size_t flows_top_states(const struct flows *f, struct state_count *top, size_t k,
			uint64_t *ret_rest)
{
	uint64_t total = 0, kept = 0;
	size_t n = 0, i;
	bool over = false;

	for (unsigned proto = 0; proto < 256; proto++)
		for (unsigned st = 0; f->proto[proto] && st < FLOW_N_STATES; st++) {
			struct state_count x = { f->proto[proto]->live[st], (uint8_t)proto,
						 (uint8_t)st };

			if (!x.n)
				continue;
			total += x.n;
			if (n < k) {
				top[n++] = x;
				continue;
			}
			over = true;
			/* The smallest makes way for a larger one; the rest keep table order. */
			i = smallest(top, n);
			if (x.n > top[i].n) {
				memmove(&top[i], &top[i + 1], (n - i - 1) * sizeof(top[0]));
				top[n - 1] = x;
			}
		}
	/* One slot goes to the remainder. */
	if (over) {
		i = smallest(top, n);
		memmove(&top[i], &top[i + 1], (n - i - 1) * sizeof(top[0]));
		n--;
	}
	for (i = 0; i < n; i++)
		kept += top[i].n;
	*ret_rest = total - kept;
	return n;
}
