// SPDX-License-Identifier: GPL-2.0-or-later
/* The conntrack event parser and the flow table behind the events collector. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "ctevent.h"
#include "ctnl.h"
#include "flowtable.h"
#include "testlib.h"

static char buf[4096];

struct spec {
	uint8_t msg; /* IPCTNL_MSG_CT_NEW or _DELETE */
	uint16_t flags; /* NLM_F_CREATE|NLM_F_EXCL for a new entry's event */
	uint32_t id;
	uint8_t proto;
	uint16_t sport;
	int tcp_state; /* -1: no protoinfo */
	int status; /* -1: no CTA_STATUS */
	int zone; /* -1: no CTA_ZONE */
};

/* A message shaped as ctnetlink_conntrack_event() builds it. */
static struct nlmsghdr *build(const struct spec *s)
{
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;
	struct nlattr *orig, *ip, *proto, *pinfo, *tcp;

	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NFNL_SUBSYS_CTNETLINK << 8 | s->msg;
	nlh->nlmsg_flags = s->flags;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_INET;
	orig = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
	ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	mnl_attr_put_u32(nlh, CTA_IP_V4_SRC, htonl(0x7f000001));
	mnl_attr_put_u32(nlh, CTA_IP_V4_DST, htonl(0x7f000002));
	mnl_attr_nest_end(nlh, ip);
	proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(nlh, CTA_PROTO_NUM, s->proto);
	mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(s->sport));
	mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(80));
	mnl_attr_nest_end(nlh, proto);
	mnl_attr_nest_end(nlh, orig);
	if (s->zone >= 0)
		mnl_attr_put_u16(nlh, CTA_ZONE, htons((uint16_t)s->zone));
	mnl_attr_put_u32(nlh, CTA_ID, htonl(s->id));
	if (s->status >= 0)
		mnl_attr_put_u32(nlh, CTA_STATUS, htonl((uint32_t)s->status));
	if (s->tcp_state >= 0) {
		pinfo = mnl_attr_nest_start(nlh, CTA_PROTOINFO);
		tcp = mnl_attr_nest_start(nlh, CTA_PROTOINFO_TCP);
		mnl_attr_put_u8(nlh, CTA_PROTOINFO_TCP_STATE, (uint8_t)s->tcp_state);
		mnl_attr_nest_end(nlh, tcp);
		mnl_attr_nest_end(nlh, pinfo);
	}
	return nlh;
}

START_TEST(new_update_destroy)
{
	struct spec s = { IPCTNL_MSG_CT_NEW, NLM_F_CREATE | NLM_F_EXCL, 77, 6, 1234, 1, 0, 5 };
	struct ct_event a, b;

	ck_assert(ctnl_msg_ok(build(&s), build(&s)->nlmsg_len));
	ck_assert_int_eq(ct_event_parse(build(&s), &a), 0);
	ck_assert_int_eq(a.type, CT_EVENT_NEW);
	ck_assert_uint_eq(a.id, 77);
	ck_assert_uint_eq(a.l4proto, 6);
	ck_assert(a.has_tcp_state);
	ck_assert_uint_eq(a.tcp_state, 1);
	ck_assert_uint_eq(a.zone, 5);

	s.flags = 0;
	s.tcp_state = -1; /* an UPDATE for a status change carries no protoinfo */
	s.status = IPS_SEEN_REPLY | IPS_ASSURED;
	ck_assert_int_eq(ct_event_parse(build(&s), &b), 0);
	ck_assert_int_eq(b.type, CT_EVENT_UPDATE);
	ck_assert(!b.has_tcp_state);
	ck_assert(b.has_status);
	ck_assert_uint_eq(b.status, IPS_SEEN_REPLY | IPS_ASSURED);
	/* The same flow hashes the same in every message. */
	ck_assert_uint_eq(a.thash, b.thash);

	s.msg = IPCTNL_MSG_CT_DELETE;
	ck_assert_int_eq(ct_event_parse(build(&s), &b), 0);
	ck_assert_int_eq(b.type, CT_EVENT_DESTROY);
	ck_assert_uint_eq(a.thash, b.thash);

	/* Another tuple with the same id: same id, different hash. */
	s.sport = 1235;
	ck_assert_int_eq(ct_event_parse(build(&s), &b), 0);
	ck_assert_uint_ne(a.thash, b.thash);
}
END_TEST

START_TEST(dump_entries_are_new)
{
	struct spec s = { IPCTNL_MSG_CT_NEW, NLM_F_MULTI, 9, 17, 53, -1, IPS_SEEN_REPLY, -1 };
	struct ct_event e;

	ck_assert_int_eq(ct_event_parse(build(&s), &e), 0);
	ck_assert_int_eq(e.type, CT_EVENT_NEW);
	ck_assert_uint_eq(e.zone, 0);
}
END_TEST

START_TEST(rejects)
{
	struct spec s = { IPCTNL_MSG_CT_NEW, 0, 1, 6, 1, 3, 0, -1 };
	struct nlmsghdr *nlh;
	struct nlattr *a;
	struct ct_event e;

	/* Other subsystems and message types are not ours. */
	nlh = build(&s);
	nlh->nlmsg_type = NFNL_SUBSYS_CTNETLINK_EXP << 8 | 0;
	ck_assert_int_eq(ct_event_parse(nlh, &e), -ENOMSG);
	nlh = build(&s);
	nlh->nlmsg_type = NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_GET_STATS;
	ck_assert_int_eq(ct_event_parse(nlh, &e), -ENOMSG);

	/* Truncated in the middle of an attribute. */
	nlh = build(&s);
	nlh->nlmsg_len -= 3;
	ck_assert_int_eq(ct_event_parse(nlh, &e), -EBADMSG);

	/* An attribute longer than its nest. */
	nlh = build(&s);
	a = (struct nlattr *)((char *)mnl_nlmsg_get_payload(nlh) +
			      MNL_ALIGN(sizeof(struct nfgenmsg)));
	ck_assert_uint_eq(mnl_attr_get_type(a), CTA_TUPLE_ORIG);
	((struct nlattr *)mnl_attr_get_payload(a))->nla_len = 0xfff0;
	ck_assert_int_eq(ct_event_parse(nlh, &e), -EBADMSG);

	/* An id of the wrong size. */
	nlh = build(&s);
	mnl_attr_put_u16(nlh, CTA_ID, 1);
	ck_assert_int_eq(ct_event_parse(nlh, &e), -EBADMSG);

	/* No id at all: a flow we could never find again. */
	nlh = build(&s);
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg));
	ck_assert_int_eq(ct_event_parse(nlh, &e), -EBADMSG);
}
END_TEST

START_TEST(flowtable_basics)
{
	struct flowtable t;
	struct flow f = { .id = 1, .thash = 2, .zone = 3, .proto = 6, .state = 4 };
	struct flow *g;

	ck_assert_int_eq(ft_init(&t, 0), 0);
	ck_assert_ptr_null(ft_find(&t, 1, 2));
	ck_assert_int_eq(ft_insert(&t, &f), 0);
	g = ft_find(&t, 1, 2);
	ck_assert_ptr_nonnull(g);
	ck_assert_uint_eq(g->zone, 3);
	ck_assert_ptr_null(ft_find(&t, 1, 3));
	ck_assert_ptr_null(ft_find(&t, 2, 2));
	ft_delete(&t, g);
	ck_assert_ptr_null(ft_find(&t, 1, 2));
	ck_assert_uint_eq(t.n, 0);
	ft_free(&t);
}
END_TEST

/* Random inserts and deletes against a plain array as the oracle, through several growths. */
START_TEST(flowtable_against_oracle)
{
	enum { N = 200000 };
	struct flowtable t;
	uint32_t *ids = calloc(N, sizeof(*ids));
	bool *live = calloc(N, sizeof(*live));
	uint64_t x = 88172645463325252ull;
	size_t n_live = 0;

	ck_assert_ptr_nonnull(ids);
	ck_assert_ptr_nonnull(live);
	ck_assert_int_eq(ft_init(&t, 0), 0);
	for (size_t i = 0; i < N; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		ids[i] = (uint32_t)x;
	}
	for (size_t round = 0; round < 3 * N; round++) {
		size_t i;
		struct flow *f;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		i = (size_t)(x % N);
		f = ft_find(&t, ids[i], (uint16_t)i);
		ck_assert_msg(!!f == live[i], "round %zu: flow %zu %s", round, i,
			      live[i] ? "lost" : "appeared");
		if (f) {
			ck_assert_uint_eq(f->zone, (uint16_t)(i * 7));
			ft_delete(&t, f);
			live[i] = false;
			n_live--;
		} else {
			struct flow nf = { .id = ids[i],
					   .thash = (uint16_t)i,
					   .zone = (uint16_t)(i * 7),
					   .state = 1 };

			ck_assert_int_eq(ft_insert(&t, &nf), 0);
			live[i] = true;
			n_live++;
		}
		ck_assert_uint_eq(t.n, n_live);
	}
	for (size_t i = 0; i < N; i++)
		ck_assert(!!ft_find(&t, ids[i], (uint16_t)i) == live[i]);
	/* Full enough to have grown, never past the load limit. */
	ck_assert_uint_gt(t.cap, 1024);
	ck_assert_uint_le(t.n * 100, t.cap * 92);
	ck_assert_uint_eq(sizeof(struct flow), 14);
	ft_free(&t);
	free(ids);
	free(live);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("events");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, new_update_destroy);
	tcase_add_test(tc, dump_entries_are_new);
	tcase_add_test(tc, rejects);
	tcase_add_test(tc, flowtable_basics);
	tcase_add_test(tc, flowtable_against_oracle);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
