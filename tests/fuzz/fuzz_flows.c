// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The events collector's bookkeeping (collectors/flows.c) against an obviously correct model.
 *
 * The input drives a small simulated kernel: flows on a few keys (each key one id and tuple
 * hash; ids collide across keys, and so do tuple hashes) are created, change state and die,
 * each change queueing an event, unless the flow is one of the silent flows that lived before
 * the exporter listened. A dump walks the keys in order and queues what it reads; events and
 * dump entries reach the bookkeeping in their own order, as from two sockets. An overrun (or a
 * full queue) loses an event, and then, as the kernel does (NETLINK_S_CONGESTED), every event
 * until the queue has been read empty; dumps are interrupted and restarted.
 *
 * The model is a plain array of the kernel's flows. The bookkeeping claims to be exact after a
 * dump whose generation saw no event lost and no silent flow changed after the dump read it,
 * and which began after the queue was drained of a loss, and to stay exact while
 * every event arrives (flows.h): whenever it claims so and no event is
 * queued, its counts per protocol and state, per zone, its flow count and its silent count
 * must be the model's. Its internal sums must agree with its own record after every step.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter/nf_conntrack_common.h>

#include "flows.h"
#include "fuzz.h"

#define NKEYS 12
#define EVQ_MAX 32

static const uint16_t zones[] = { 0, 1, 2, 3, 100, 4095, 65534, 65535 };
#define NZONES (sizeof(zones) / sizeof(zones[0]))
static const uint8_t protos[] = { 6, 17, 1, 132, 6, 17, 47, 0 };

struct kflow {
	bool live;
	bool silent; /* sends no events: lived before the exporter listened */
	bool read; /* read by a dump of the current generation */
	uint8_t proto;
	uint16_t zone;
	uint8_t tcp; /* TCP state, 0..CT_TCP_STATE_MAX */
	uint32_t status; /* IPS_SEEN_REPLY, IPS_ASSURED */
};

static int trace = -1; /* FUZZ_FLOWS_TRACE=1: the operations, to read a crash */

struct sim {
	const uint8_t *p, *end;
	struct kflow k[NKEYS];
	struct ct_event evq[EVQ_MAX], dq[NKEYS];
	unsigned evq_head, evq_len, dq_head, dq_len;
	bool overflow; /* the next event finds the socket buffer full */
	bool congested; /* events are lost until the queue has been read empty */
	bool dump_on; /* the kernel is walking the table for a dump */
	unsigned cursor;
	bool abandoned; /* the last dump was abandoned: the next keeps the generation */
	bool chain_clean; /* since this generation's first dump began: nothing lost or unseen */
	bool exact; /* the bookkeeping claims to be exact */
	bool ever_lost;
	uint64_t delivered;
	uint32_t now;
};

static struct flows fl;

static uint8_t next(struct sim *s)
{
	return s->p < s->end ? *s->p++ : 0;
}

static uint32_t key_id(unsigned k)
{
	return (k % 4) * 0x9e3779b1u; /* three keys share each id */
}

static uint16_t key_thash(unsigned k)
{
	return (uint16_t)(k / 4 + (k % 2) * 0x100); /* and tuple hashes repeat across ids */
}

static unsigned slot_of(const struct kflow *f)
{
	if (f->proto == FLOW_PROTO_TCP)
		return f->tcp;
	if (f->status & IPS_ASSURED)
		return FLOW_ST_ASSURED;
	return f->status & IPS_SEEN_REPLY ? FLOW_ST_REPLIED : FLOW_ST_UNREPLIED;
}

/* Attribution: a key's source (5 of them), its DNAT backend (2) or SNAT address (1), if any. */
static uint8_t key_source(unsigned k)
{
	return (uint8_t)(k % 5);
}

static uint32_t key_nat(unsigned k)
{
	return k % 4 == 1 ? IPS_DST_NAT : k % 4 == 2 ? IPS_SRC_NAT : 0;
}

static struct ct_event event_of(unsigned k, const struct kflow *f, enum ct_event_type type,
				bool protoinfo)
{
	struct ct_event ev = {
		.type = type,
		.id = key_id(k),
		.thash = key_thash(k),
		.zone = f->zone,
		.l4proto = f->proto,
		.tcp_state = f->tcp,
		.has_tcp_state = protoinfo && f->proto == FLOW_PROTO_TCP,
		.has_status = true,
		.has_reply = true,
		.status = f->status | key_nat(k),
		.orig = { .src = { 10, 0, 0, key_source(k) },
			  .dst = { 10, 0, 9, (uint8_t)(k % 3) },
			  .sport = (uint16_t)(1000 + k),
			  .dport = 53,
			  .family = 2 /* AF_INET */,
			  .has_ports = true },
	};

	ev.reply = (struct ct_tuple){ .family = 2, .has_ports = true };
	memcpy(ev.reply.src, ev.orig.dst, 4);
	memcpy(ev.reply.dst, ev.orig.src, 4);
	ev.reply.sport = ev.orig.dport;
	ev.reply.dport = ev.orig.sport;
	if (key_nat(k) == IPS_DST_NAT)
		ev.reply.src[2] = (uint8_t)(20 + k % 2);
	if (key_nat(k) == IPS_SRC_NAT)
		ev.reply.dst[2] = 30;
	return ev;
}

/*
 * The kernel reports the first loss (ENOBUFS) and drops the rest silently until the queue has
 * been read empty: a dump's generation is known to be unclean by that first loss alone.
 */
static void lose(struct sim *s)
{
	if (!s->congested)
		s->chain_clean = false;
	s->congested = true;
	s->exact = false;
	s->ever_lost = true;
}

static void emit(struct sim *s, const struct ct_event *ev)
{
	/* A full socket buffer: ENOBUFS, and nothing more until the reader has caught up. */
	if (s->congested || s->overflow || s->evq_len == EVQ_MAX) {
		s->overflow = false;
		lose(s);
		return;
	}
	s->evq[(s->evq_head + s->evq_len++) % EVQ_MAX] = *ev;
}

/* A flow that sends no events changed: unseen until a dump reads it again. */
static void silent_change(struct sim *s, struct kflow *f)
{
	s->exact = false;
	if (f->read)
		s->chain_clean = false;
}

static void random_state(struct sim *s, struct kflow *f)
{
	uint8_t b = next(s);

	if (f->proto == FLOW_PROTO_TCP)
		f->tcp = (uint8_t)(b % (CT_TCP_STATE_MAX + 1));
	else
		f->status = (b & 1 ? IPS_SEEN_REPLY : 0) | (b & 2 ? IPS_ASSURED : 0);
}

static void create(struct sim *s, unsigned k, bool silent)
{
	struct kflow *f = &s->k[k];
	uint8_t b = next(s);
	struct ct_event ev;

	if (f->live)
		return;
	*f = (struct kflow){ .live = true, .silent = silent, .read = f->read };
	f->proto = protos[b & 7];
	if (f->proto == 0)
		f->proto = next(s);
	f->zone = zones[(b >> 3) & 7];
	random_state(s, f);
	if (silent)
		return;
	ev = event_of(k, f, CT_EVENT_NEW, true);
	emit(s, &ev);
}

static void update(struct sim *s, unsigned k)
{
	struct kflow *f = &s->k[k];
	uint8_t b = next(s);
	struct ct_event ev;

	if (!f->live)
		return;
	if (b & 1) {
		unsigned before = slot_of(f);

		random_state(s, f);
		if (f->silent && slot_of(f) != before)
			silent_change(s, f);
	}
	if (f->silent)
		return;
	/* A change of state carries protoinfo; a status, mark or helper update doesn't. */
	ev = event_of(k, f, CT_EVENT_UPDATE, b & 1);
	emit(s, &ev);
}

static void destroy(struct sim *s, unsigned k)
{
	struct kflow *f = &s->k[k];
	struct ct_event ev;

	if (!f->live)
		return;
	f->live = false;
	if (f->silent) {
		silent_change(s, f);
		return;
	}
	ev = event_of(k, f, CT_EVENT_DESTROY, false);
	emit(s, &ev);
}

static void apply(struct sim *s, const struct ct_event *ev, bool from_dump)
{
	const struct flow *r;

	if (flows_apply(&fl, ev, from_dump, ++s->now) < 0)
		abort(); /* no allocation failures here */
	if (!trace)
		return;
	r = ft_find(&fl.ft, ev->id, ev->thash);
	fprintf(stderr, "  %s %u id %x/%x proto %u zone %u state %d: flow %s state %u gen %u\n",
		from_dump ? "dump" : "event", ev->type, ev->id, ev->thash, ev->l4proto, ev->zone,
		ev->has_tcp_state ? ev->tcp_state : -1, r ? "present" : "absent",
		r ? (r->state & FLOW_STATE_MASK) - 1u : 0, r ? !!(r->state & FLOW_GEN) : 0);
}

static void deliver_events(struct sim *s, unsigned n)
{
	for (; n && s->evq_len; n--, s->evq_len--) {
		const struct ct_event *ev = &s->evq[s->evq_head];

		s->evq_head = (s->evq_head + 1) % EVQ_MAX;
		apply(s, ev, false);
		s->delivered++;
	}
	/* A read that leaves the queue empty (or finds it so) ends the congestion. */
	if (!s->evq_len)
		s->congested = false;
}

static void dump_read(struct sim *s, unsigned n)
{
	for (; n && s->dump_on && s->cursor < NKEYS; s->cursor++) {
		struct kflow *f = &s->k[s->cursor];

		if (!f->live)
			continue;
		s->dq[(s->dq_head + s->dq_len++) % NKEYS] =
			event_of(s->cursor, f, CT_EVENT_NEW, true);
		f->read = true;
		n--;
	}
}

static void deliver_dump(struct sim *s, unsigned n)
{
	for (; n && s->dq_len; n--, s->dq_len--) {
		const struct ct_event *ev = &s->dq[s->dq_head];

		s->dq_head = (s->dq_head + 1) % NKEYS;
		apply(s, ev, true);
	}
}

static void dump_begin(struct sim *s)
{
	if (fl.dump_active)
		return;
	if (flows_dump_begin(&fl) < 0)
		abort();
	if (!s->abandoned) { /* a new generation */
		/*
		 * Begun before the queue was drained of a loss, a dump can't be exact: an event
		 * older than the loss, read after the dump began, can keep alive a flow whose
		 * DESTROY was lost; and a flow born while the kernel still drops events, in a part
		 * of the table the dump has read, is in neither. events.c waits for the drain (up
		 * to a second in a flood that never lets the queue empty).
		 */
		s->chain_clean = !s->congested;
		for (unsigned k = 0; k < NKEYS; k++)
			s->k[k].read = false;
	}
	s->abandoned = false;
	s->dump_on = true;
	s->cursor = 0;
	s->dq_head = s->dq_len = 0;
}

static void dump_interrupt(struct sim *s)
{
	if (!fl.dump_active)
		return;
	flows_dump_abort(&fl);
	s->abandoned = true;
	s->dump_on = false;
	s->dq_len = 0;
}

static void dump_end(struct sim *s)
{
	if (!fl.dump_active)
		return;
	dump_read(s, NKEYS);
	deliver_dump(s, NKEYS);
	flows_dump_end(&fl);
	s->dump_on = false;
	s->abandoned = false;
	s->exact = s->chain_clean;
}

#define CHECK(cond)                                                                            \
	do {                                                                                   \
		if (!(cond)) {                                                                 \
			fprintf(stderr, "fuzz_flows: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                               \
		}                                                                              \
	} while (0)

/*
 * The checks scan the whole record after every step: coverage feedback from their loops only
 * slows the fuzzer down (to a third), and tells it nothing about the code under test.
 */
#ifdef __clang__
#define NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define NO_COVERAGE
#endif

NO_COVERAGE static bool same_live(uint32_t (*live)[FLOW_N_STATES])
{
	for (unsigned p = 0; p < 256; p++)
		for (unsigned st = 0; st < FLOW_N_STATES; st++)
			if (live[p][st] != flows_live(&fl, p, st))
				return false;
	return true;
}

NO_COVERAGE static uint32_t ss_count(const struct spacesaving *ss, const struct attrib_key *k,
				     uint32_t *err)
{
	for (uint32_t i = 0; ss->slot && i < ss->m; i++)
		if (ss->slot[i].count && !memcmp(&ss->slot[i].key, k, sizeof(*k))) {
			*err = ss->slot[i].err;
			return ss->slot[i].count;
		}
	*err = 0;
	return 0;
}

/* A summary's own order: slots in use are those counting, errors within counts, the heap. */
NO_COVERAGE static void check_summary(const struct spacesaving *ss, uint64_t total)
{
	uint64_t sum = 0;
	uint32_t n = 0;

	if (!ss->slot)
		return;
	/* Buckets by strictly rising count, none empty, every slot in its own: M slots in all. */
	for (uint32_t b = ss->head; b != SS_NIL; b = ss->bucket[b].next) {
		const struct ss_bucket *x = &ss->bucket[b];

		CHECK(x->first != SS_NIL);
		CHECK(x->prev == SS_NIL ? b == ss->head : ss->bucket[x->prev].count < x->count);
		for (uint32_t i = x->first; i != SS_NIL; i = ss->slot[i].next) {
			CHECK(ss->slot[i].bucket == b);
			CHECK(ss->slot[i].count == x->count);
			sum += x->count;
			n++;
		}
	}
	CHECK(n == ss->m);
	/* Removals of keys pushed out come off the smallest count: the family sums to its total. */
	CHECK(sum == total);
	for (uint32_t i = 0; i < ss->m; i++) {
		const struct ss_slot *x = &ss->slot[i];

		CHECK(x->err <= x->count);
	}
}

/*
 * Attribution agrees with the record: the summaries count the flows of the record (@acur) and
 * the flows marked by the dump under way (@anext); the unreplied bands, the unreplied flows.
 */
NO_COVERAGE static void check_attrib_consistent(const struct sim *s)
{
	uint32_t unrep[256] = { 0 };
	size_t marked = 0;

	for (size_t i = 0; i < fl.ft.cap; i++) {
		const struct flow *f = &fl.ft.slots[i];

		if (!(f->state & FLOW_STATE_MASK))
			continue;
		marked += (f->state & FLOW_GEN) == fl.gen;
		unrep[f->proto] += !!(f->state & FLOW_UNREPLIED);
	}
	for (unsigned p = 0; p < 256; p++) {
		uint64_t b[FLOWS_N_AGES], sum = 0;

		if (!flows_unreplied(&fl, p, s->now, b))
			continue;
		for (unsigned i = 0; i < FLOWS_N_AGES; i++)
			sum += b[i];
		CHECK(sum == unrep[p]);
	}
	if (fl.acur && !fl.dump_active && !fl.dump_abandoned)
		CHECK(fl.acur->total[ATTRIB_SOURCE] == fl.ft.n);
	if (fl.anext)
		CHECK(fl.anext->total[ATTRIB_SOURCE] == marked);
	for (unsigned f = 0; f < _ATTRIB_MAX; f++) {
		if (fl.acur)
			check_summary(&fl.acur->ss[f], fl.acur->total[f]);
		if (fl.anext)
			check_summary(&fl.anext->ss[f], fl.anext->total[f]);
	}
}

/* Claimed exact, with room for every key: each source's count is the model's, error 0. */
NO_COVERAGE static void check_attrib_exact(const struct sim *s)
{
	uint32_t want[5] = { 0 }, dnat[2] = { 0 }, snat = 0, err;

	if (!fl.acur || fl.acfg.slots < NKEYS)
		return;
	for (unsigned k = 0; k < NKEYS; k++)
		if (s->k[k].live) {
			want[key_source(k)]++;
			dnat[k % 2] += key_nat(k) == IPS_DST_NAT;
			snat += key_nat(k) == IPS_SRC_NAT;
		}
	for (uint8_t i = 0; i < 5; i++) {
		struct attrib_key key = { .addr = { 10, 0, 0, i }, .family = 2, .prefix = 32 };

		CHECK(ss_count(&fl.acur->ss[ATTRIB_SOURCE], &key, &err) == want[i]);
		CHECK(err == 0);
	}
	CHECK(fl.acur->total[ATTRIB_SNAT] == snat);
	CHECK(fl.acur->total[ATTRIB_DNAT] == dnat[0] + dnat[1]);
}

/* The bookkeeping agrees with its own record. */
NO_COVERAGE static void check_consistent(const struct sim *s)
{
	static uint32_t live[256][FLOW_N_STATES];
	uint32_t zone_n[NZONES] = { 0 }, zsum = 0;
	size_t n = 0, silent = 0;

	memset(live, 0, sizeof(live));
	for (size_t i = 0; i < fl.ft.cap; i++) {
		const struct flow *f = &fl.ft.slots[i];
		unsigned st = f->state & FLOW_STATE_MASK;

		if (!st)
			continue;
		CHECK(st <= FLOW_N_STATES);
		live[f->proto][st - 1]++;
		for (unsigned z = 0; z < NZONES; z++)
			zone_n[z] += f->zone == zones[z];
		n++;
		silent += !(f->state & FLOW_EVENTS);
	}
	CHECK(n == fl.ft.n);
	CHECK(silent == fl.silent);
	CHECK(same_live(live));
	for (unsigned z = 0; z < NZONES; z++) {
		CHECK(fl.zone_live[zones[z]] == zone_n[z]);
		zsum += fl.zone_live[zones[z]];
	}
	CHECK(zsum == n);
	CHECK(fl.events_seen == s->delivered);
	CHECK(fl.dump_active || fl.tombs.cap == 0);
	check_attrib_consistent(s);
}

/* The bookkeeping says what the model says; @max_zones >= 0: and so do the zones shown. */
NO_COVERAGE static void check_exact(const struct sim *s, int max_zones)
{
	static uint32_t live[256][FLOW_N_STATES];
	uint32_t zone_n[NZONES] = { 0 };
	size_t n = 0, silent = 0, nz = 0, zcap = 0;
	struct zone_count *z = NULL;
	uint64_t other, shown = 0;

	memset(live, 0, sizeof(live));
	for (unsigned k = 0; k < NKEYS; k++) {
		const struct kflow *f = &s->k[k];

		if (!f->live)
			continue;
		live[f->proto][slot_of(f)]++;
		for (unsigned i = 0; i < NZONES; i++)
			zone_n[i] += f->zone == zones[i];
		n++;
		silent += f->silent;
	}
	for (unsigned p = 0; trace && p < 256; p++)
		for (unsigned st = 0; st < FLOW_N_STATES; st++)
			if (live[p][st] != flows_live(&fl, p, st))
				fprintf(stderr, "proto %u state %u: model %u, flows %u\n", p, st,
					live[p][st], flows_live(&fl, p, st));
	CHECK(fl.ft.n == n);
	CHECK(same_live(live));
	for (unsigned i = 0; i < NZONES; i++)
		CHECK(fl.zone_live[zones[i]] == zone_n[i]);
	if (!s->ever_lost)
		CHECK(fl.silent == silent);
	if (max_zones < 0)
		return;
	/* The zones a scrape shows: the biggest, at most max_zones, in zone order. */
	CHECK(flows_zones(&fl, (unsigned)max_zones, &z, &zcap, &nz, &other) == 0);
	CHECK(nz <= (size_t)max_zones);
	for (size_t i = 0; i < nz; i++) {
		CHECK(i == 0 || z[i - 1].zone < z[i].zone);
		CHECK(z[i].n > 0);
		shown += z[i].n;
		for (unsigned j = 0; j < NZONES; j++) {
			bool listed = false;

			for (size_t m = 0; m < nz; m++)
				listed |= z[m].zone == zones[j];
			/* Nobody left out holds more than someone shown. */
			CHECK(listed || zone_n[j] <= z[i].n);
		}
	}
	CHECK(shown + other == n);
	free(z);
	check_attrib_exact(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sim s;
	unsigned initial;
	int max_zones;

	if (trace < 0)
		trace = getenv("FUZZ_FLOWS_TRACE") != NULL;
	memset(&s, 0, sizeof(s));
	s.p = data;
	s.end = data + size;
	if (flows_init(&fl) < 0)
		return 0;
	max_zones = next(&s) % 5;
	{
		/* Room for every key, or for 3: evictions, and errors, on the small one. */
		struct attrib_cfg ac = { .slots = max_zones & 1 ? 3 : 64, .prefix4 = 32 };

		if (flows_attrib_init(&fl, &ac) < 0)
			return 0;
	}
	/* Flows that lived before the exporter listened: they never send an event. */
	initial = next(&s) % (NKEYS / 2);
	for (unsigned i = 0; i < initial; i++)
		create(&s, next(&s) % NKEYS, true);

	while (s.p < s.end) {
		uint8_t op = next(&s), arg = next(&s);
		unsigned k = arg % NKEYS, n = arg % 8 + 1;

		if (trace)
			fprintf(stderr, "op %u key %u n %u | queued %u, exact %d, clean %d\n",
				op % 16, k, n, s.evq_len, s.exact, s.chain_clean);
		switch (op % 16) {
		case 0:
		case 1:
			create(&s, k, false);
			break;
		case 2:
		case 3:
		case 4:
			update(&s, k);
			break;
		case 5:
		case 6:
			destroy(&s, k);
			break;
		case 7:
		case 8:
		case 9:
			deliver_events(&s, n);
			break;
		case 10:
			dump_begin(&s);
			break;
		case 11:
			dump_read(&s, n);
			break;
		case 12:
			deliver_dump(&s, n);
			break;
		case 13:
			dump_end(&s);
			break;
		case 14:
			dump_interrupt(&s);
			break;
		case 15:
			/* ENOBUFS: the kernel drops what doesn't fit, and keeps what was queued. */
			s.overflow = true;
			break;
		}
		check_consistent(&s);
		if (s.exact && !s.evq_len && !fl.dump_active)
			check_exact(&s, -1);
	}
	deliver_events(&s, EVQ_MAX);
	check_consistent(&s);
	/* And what a scrape would show, zones too (a scan of 64k: once an input). */
	if (s.exact && !fl.dump_active)
		check_exact(&s, max_zones);
	flows_fini(&fl);
	return 0;
}
