// SPDX-License-Identifier: GPL-2.0-or-later
/* The conntrack event parser and the flow table behind the events collector. */
#include <arpa/inet.h>
#include <endian.h>
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
	int tuple_zone; /* 0: no CTA_TUPLE_ZONE in the original tuple, else the zone + 1 */
	int reply_zone; /* 0: no reply tuple, else one with CTA_TUPLE_ZONE of the zone - 1 (0: none) */
};

/* A message shaped as ctnetlink_conntrack_event() builds it. */
static struct nlmsghdr *build(const struct spec *s)
{
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;
	struct nlattr *orig, *reply, *ip, *proto, *pinfo, *tcp;

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
	if (s->tuple_zone)
		mnl_attr_put_u16(nlh, CTA_TUPLE_ZONE, htons((uint16_t)(s->tuple_zone - 1)));
	mnl_attr_nest_end(nlh, orig);
	if (s->reply_zone) {
		reply = mnl_attr_nest_start(nlh, CTA_TUPLE_REPLY);
		ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
		mnl_attr_put_u32(nlh, CTA_IP_V4_SRC, htonl(0x7f000002));
		mnl_attr_put_u32(nlh, CTA_IP_V4_DST, htonl(0x7f000001));
		mnl_attr_nest_end(nlh, ip);
		proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
		mnl_attr_put_u8(nlh, CTA_PROTO_NUM, s->proto);
		mnl_attr_nest_end(nlh, proto);
		if (s->reply_zone > 1)
			mnl_attr_put_u16(nlh, CTA_TUPLE_ZONE, htons((uint16_t)(s->reply_zone - 2)));
		mnl_attr_nest_end(nlh, reply);
	}
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
	struct spec s = {
		IPCTNL_MSG_CT_NEW, NLM_F_CREATE | NLM_F_EXCL, 77, 6, 1234, 1, 0, 5, 0, 0
	};
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
	struct spec s = { IPCTNL_MSG_CT_NEW, NLM_F_MULTI, 9, 17, 53, -1, IPS_SEEN_REPLY, -1, 0, 0 };
	struct ct_event e;

	ck_assert_int_eq(ct_event_parse(build(&s), &e), 0);
	ck_assert_int_eq(e.type, CT_EVENT_NEW);
	ck_assert_uint_eq(e.zone, 0);
}
END_TEST

START_TEST(rejects)
{
	struct spec s = { IPCTNL_MSG_CT_NEW, 0, 1, 6, 1, 3, 0, -1, 0, 0 };
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

	/* An id of the wrong size: exactly a u32, or an error. */
	nlh = build(&s);
	mnl_attr_put_u16(nlh, CTA_ID, 1);
	ck_assert_int_eq(ct_event_parse(nlh, &e), -EINVAL);

	/* No id at all: a flow we could never find again. */
	nlh = build(&s);
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg));
	ck_assert_int_eq(ct_event_parse(nlh, &e), -EBADMSG);
}
END_TEST

/* The attribute of @type at the top level of @nlh (after the nfgenmsg). */
static struct nlattr *top_attr(struct nlmsghdr *nlh, uint16_t type)
{
	struct nlattr *a;

	mnl_attr_for_each(a, nlh,
			  sizeof(struct nfgenmsg)) if (mnl_attr_get_type(a) == type) return a;
	return NULL;
}

/* The first attribute of @type inside the nest @nest. */
static struct nlattr *nested_attr(struct nlattr *nest, uint16_t type)
{
	struct nlattr *a;

	mnl_attr_for_each_nested(a, nest) if (mnl_attr_get_type(a) == type) return a;
	return NULL;
}

/* Every attribute we read must have its kernel size exactly; a size off either way is -EINVAL. */
START_TEST(wrong_sizes)
{
	struct spec s = { IPCTNL_MSG_CT_NEW, NLM_F_CREATE | NLM_F_EXCL, 7, 6, 1, 3, 0, 5, 0, 0 };
	struct nlmsghdr *nlh;
	struct nlattr *a;
	struct ct_event e;

	/* A 4-byte CTA_ZONE is an error, not a u16 (nor a zone read from its first bytes). */
	nlh = build(&s);
	mnl_attr_put_u32(nlh, CTA_ZONE, htonl(5));
	ck_assert_int_eq(ct_event_parse(nlh, &e), -EINVAL);
	nlh = build(&s);
	mnl_attr_put_u8(nlh, CTA_ZONE, 5);
	ck_assert_int_eq(ct_event_parse(nlh, &e), -EINVAL);
	/* CTA_STATUS: a u32. */
	nlh = build(&s);
	mnl_attr_put_u64(nlh, CTA_STATUS, 0);
	ck_assert_int_eq(ct_event_parse(nlh, &e), -EINVAL);
	/* CTA_PROTO_NUM: a u8 (turned into a u16 of the same nest length). */
	nlh = build(&s);
	a = nested_attr(nested_attr(top_attr(nlh, CTA_TUPLE_ORIG), CTA_TUPLE_PROTO), CTA_PROTO_NUM);
	ck_assert_ptr_nonnull(a);
	a->nla_len = sizeof(*a) + 2;
	ck_assert_int_eq(ct_event_parse(nlh, &e), -EINVAL);
	/* CTA_PROTOINFO_TCP_STATE: a u8. */
	nlh = build(&s);
	a = nested_attr(nested_attr(top_attr(nlh, CTA_PROTOINFO), CTA_PROTOINFO_TCP),
			CTA_PROTOINFO_TCP_STATE);
	ck_assert_ptr_nonnull(a);
	a->nla_len = sizeof(*a) + 3;
	ck_assert_int_eq(ct_event_parse(nlh, &e), -EINVAL);
	/* A nest that is too short to hold anything. */
	nlh = build(&s);
	a = mnl_attr_nest_start(nlh, CTA_PROTOINFO);
	mnl_attr_put(nlh, 0, 0, NULL);
	a->nla_len = sizeof(*a) + 2;
	nlh->nlmsg_len = (uint32_t)((char *)a - (char *)nlh) + 8;
	ck_assert_int_eq(ct_event_parse(nlh, &e), -EINVAL);
}
END_TEST

START_TEST(nested_overruns)
{
	struct spec s = { IPCTNL_MSG_CT_NEW, NLM_F_CREATE | NLM_F_EXCL, 7, 6, 1, 3, 0, 5, 0, 0 };
	struct nlmsghdr *nlh;
	struct nlattr *a;
	struct ct_event e;

	/* An attribute inside the tuple running past the tuple's end (but not the message's). */
	nlh = build(&s);
	a = nested_attr(top_attr(nlh, CTA_TUPLE_ORIG), CTA_TUPLE_PROTO);
	a->nla_len += 4;
	ck_assert_int_eq(ct_event_parse(nlh, &e), -EBADMSG);
	/* Inside the addresses, which we only hash: still checked. */
	nlh = build(&s);
	a = nested_attr(nested_attr(top_attr(nlh, CTA_TUPLE_ORIG), CTA_TUPLE_IP), CTA_IP_V4_DST);
	a->nla_len = 0xff;
	ck_assert_int_eq(ct_event_parse(nlh, &e), -EBADMSG);
	/* Two levels down, in the TCP protoinfo. */
	nlh = build(&s);
	a = nested_attr(nested_attr(top_attr(nlh, CTA_PROTOINFO), CTA_PROTOINFO_TCP),
			CTA_PROTOINFO_TCP_STATE);
	a->nla_len = 3;
	ck_assert_int_eq(ct_event_parse(nlh, &e), -EBADMSG);
	/* The message cut anywhere inside its last attribute, the 16-byte protoinfo. */
	for (uint32_t cut = 1; cut < 16; cut++) {
		nlh = build(&s);
		nlh->nlmsg_len -= cut;
		ck_assert_msg(ct_event_parse(nlh, &e) < 0, "cut %u", cut);
	}
}
END_TEST

/* A NAT'ed flow's message: both tuples of @family, as ctnetlink_dump_tuples() writes them. */
static struct nlmsghdr *build_tuples(int family, const void *osrc, const void *odst,
				     const void *rsrc, const void *rdst, size_t alen)
{
	const void *addr[2][2] = { { osrc, odst }, { rsrc, rdst } };
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;

	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_NEW;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = (uint8_t)family;
	for (int dir = 0; dir < 2; dir++) {
		struct nlattr *t = mnl_attr_nest_start(nlh, dir ? CTA_TUPLE_REPLY : CTA_TUPLE_ORIG);
		struct nlattr *n = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
		bool v6 = alen == 16 || alen == 8; /* 8: a short IPv6 one */

		mnl_attr_put(nlh, v6 ? CTA_IP_V6_SRC : CTA_IP_V4_SRC, alen, addr[dir][0]);
		mnl_attr_put(nlh, v6 ? CTA_IP_V6_DST : CTA_IP_V4_DST, alen, addr[dir][1]);
		mnl_attr_nest_end(nlh, n);
		n = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
		mnl_attr_put_u8(nlh, CTA_PROTO_NUM, 17);
		mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(dir ? 53 : 40000));
		mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(dir ? 61000 : 5353));
		mnl_attr_nest_end(nlh, n);
		mnl_attr_nest_end(nlh, t);
	}
	mnl_attr_put_u32(nlh, CTA_ID, htonl(5));
	mnl_attr_put_u32(nlh, CTA_STATUS, htonl(IPS_SRC_NAT | IPS_DST_NAT));
	return nlh;
}

START_TEST(tuples)
{
	const uint8_t a4[4] = { 10, 1, 2, 3 }, b4[4] = { 198, 51, 100, 10 },
		      c4[4] = { 10, 0, 0, 7 }, d4[4] = { 203, 0, 113, 7 };
	uint8_t a6[16] = { 0xfd, 0, [15] = 1 }, b6[16] = { 0xfd, 0, [15] = 2 };
	uint8_t want[16] = { 0 };
	struct ct_event e;

	ck_assert_int_eq(ct_event_parse(build_tuples(AF_INET, a4, b4, c4, d4, 4), &e), 0);
	ck_assert_uint_eq(e.orig.family, AF_INET);
	memcpy(want, a4, 4);
	ck_assert_mem_eq(e.orig.src, want, 16); /* the rest of an IPv4 address is zero */
	memcpy(want, b4, 4);
	ck_assert_mem_eq(e.orig.dst, want, 16);
	ck_assert(e.orig.has_ports);
	ck_assert_uint_eq(e.orig.sport, 40000);
	ck_assert_uint_eq(e.orig.dport, 5353);
	ck_assert(e.has_reply);
	memcpy(want, c4, 4);
	ck_assert_mem_eq(e.reply.src, want, 16); /* the real backend of a DNAT */
	memcpy(want, d4, 4);
	ck_assert_mem_eq(e.reply.dst, want, 16); /* the address an SNAT chose */
	ck_assert_uint_eq(e.reply.sport, 53);
	ck_assert_uint_eq(e.reply.dport, 61000);
	ck_assert_uint_eq(e.status, IPS_SRC_NAT | IPS_DST_NAT);

	ck_assert_int_eq(ct_event_parse(build_tuples(AF_INET6, a6, b6, b6, a6, 16), &e), 0);
	ck_assert_uint_eq(e.orig.family, AF_INET6);
	ck_assert_mem_eq(e.orig.src, a6, 16);
	ck_assert_mem_eq(e.reply.dst, a6, 16);

	/* Addresses of the other family than the message's, or of none we know: malformed. */
	ck_assert_int_eq(ct_event_parse(build_tuples(AF_INET6, a4, b4, c4, d4, 4), &e), -EBADMSG);
	ck_assert_int_eq(ct_event_parse(build_tuples(AF_INET, a6, b6, b6, a6, 16), &e), -EBADMSG);
	ck_assert_int_eq(ct_event_parse(build_tuples(AF_BRIDGE, a4, b4, c4, d4, 4), &e), -EBADMSG);
	ck_assert_int_eq(ct_event_parse(build_tuples(AF_UNSPEC, a4, b4, c4, d4, 4), &e), -EBADMSG);
	/* Zero-length and short addresses: the wrong size. */
	ck_assert_int_eq(ct_event_parse(build_tuples(AF_INET, a4, b4, c4, d4, 0), &e), -EINVAL);
	ck_assert_int_eq(ct_event_parse(build_tuples(AF_INET6, a6, b6, b6, a6, 8), &e), -EINVAL);
}
END_TEST

/* nf_conntrack_timestamp=1: the birth time, a big-endian u64 in a nest; checked like the rest. */
START_TEST(timestamp)
{
	struct spec s = { IPCTNL_MSG_CT_NEW, NLM_F_MULTI, 7, 17, 1, -1, 0, -1, 0, 0 };
	struct nlmsghdr *nlh = build(&s);
	struct nlattr *n;
	struct ct_event e;

	ck_assert_int_eq(ct_event_parse(nlh, &e), 0);
	ck_assert(!e.has_tstart);
	n = mnl_attr_nest_start(nlh, CTA_TIMESTAMP);
	mnl_attr_put_u64(nlh, CTA_TIMESTAMP_START, htobe64(1764680000123456789ull));
	mnl_attr_put_u64(nlh, CTA_TIMESTAMP_STOP, 0);
	mnl_attr_nest_end(nlh, n);
	ck_assert_int_eq(ct_event_parse(nlh, &e), 0);
	ck_assert(e.has_tstart);
	ck_assert_uint_eq(e.tstart_ns, 1764680000123456789ull);
	ck_assert_uint_eq(e.age_ds, 0); /* the reader's to fill */

	nlh = build(&s);
	n = mnl_attr_nest_start(nlh, CTA_TIMESTAMP);
	mnl_attr_put_u32(nlh, CTA_TIMESTAMP_START, 5);
	mnl_attr_nest_end(nlh, n);
	ck_assert_int_eq(ct_event_parse(nlh, &e), -EINVAL);
}
END_TEST

START_TEST(forward_compatible)
{
	struct spec s = { IPCTNL_MSG_CT_NEW, NLM_F_CREATE | NLM_F_EXCL, 7, 17, 1, -1, 0, -1, 0, 0 };
	struct nlmsghdr *nlh;
	struct nlattr *a;
	struct ct_event e;
	char junk[5] = "abcd";

	/* Attributes we don't read, at every level, any shape: skipped. */
	nlh = build(&s);
	mnl_attr_put(nlh, CTA_TIMEOUT, 1, junk); /* a u32 in the kernel: not ours to check */
	mnl_attr_put(nlh, 200, sizeof(junk), junk);
	a = mnl_attr_nest_start(nlh, CTA_TUPLE_REPLY);
	mnl_attr_put(nlh, 77, 3, junk);
	mnl_attr_nest_end(nlh, a);
	ck_assert_int_eq(ct_event_parse(nlh, &e), 0);
	ck_assert_uint_eq(e.id, 7);
	ck_assert_uint_eq(e.l4proto, 17);

	/* The original tuple's zone, when there is no CTA_ZONE; CTA_ZONE wins over it. */
	s.tuple_zone = 9 + 1;
	ck_assert_int_eq(ct_event_parse(build(&s), &e), 0);
	ck_assert_uint_eq(e.zone, 9);
	s.zone = 4;
	ck_assert_int_eq(ct_event_parse(build(&s), &e), 0);
	ck_assert_uint_eq(e.zone, 4);
	/* A tuple zone of the wrong size. */
	s.zone = -1;
	nlh = build(&s);
	a = nested_attr(top_attr(nlh, CTA_TUPLE_ORIG), CTA_TUPLE_ZONE);
	ck_assert_ptr_nonnull(a);
	a->nla_len = sizeof(*a) + 1;
	ck_assert_int_eq(ct_event_parse(nlh, &e), -EINVAL);
}
END_TEST

/*
 * A zone set for one direction (ct original/reply zone set, -j CT --zone-orig/--zone-reply)
 * comes as CTA_TUPLE_ZONE of that direction's tuple, without CTA_ZONE: counted under its
 * number either way (conntrack -L prints zone-orig=N or zone-reply=N).
 */
START_TEST(zone_one_direction)
{
	struct spec s = { IPCTNL_MSG_CT_NEW, NLM_F_CREATE | NLM_F_EXCL, 7, 17, 1, -1, 0, -1, 0, 1 };
	struct nlmsghdr *nlh;
	struct nlattr *a;
	struct ct_event e;

	ck_assert_int_eq(ct_event_parse(build(&s), &e), 0);
	ck_assert_uint_eq(e.zone, 0);
	s.reply_zone = 7 + 2;
	ck_assert_int_eq(ct_event_parse(build(&s), &e), 0);
	ck_assert_uint_eq(e.zone, 7);
	s.reply_zone = 1;
	s.tuple_zone = 9 + 1;
	ck_assert_int_eq(ct_event_parse(build(&s), &e), 0);
	ck_assert_uint_eq(e.zone, 9);
	/* Both directions: CTA_ZONE, and no tuple zone. */
	s.tuple_zone = 0;
	s.zone = 5;
	ck_assert_int_eq(ct_event_parse(build(&s), &e), 0);
	ck_assert_uint_eq(e.zone, 5);
	/* A reply tuple zone of the wrong size. */
	s.zone = -1;
	s.reply_zone = 7 + 2;
	nlh = build(&s);
	a = nested_attr(top_attr(nlh, CTA_TUPLE_REPLY), CTA_TUPLE_ZONE);
	ck_assert_ptr_nonnull(a);
	a->nla_len = sizeof(*a) + 1;
	ck_assert_int_eq(ct_event_parse(nlh, &e), -EINVAL);
}
END_TEST

START_TEST(missing_parts)
{
	struct spec s = { IPCTNL_MSG_CT_NEW, 0, 1, 6, 1, 3, 0, -1, 0, 0 };
	struct nlmsghdr *nlh;
	struct nlattr *a;
	struct ct_event e;

	/* A tuple without its protocol number. */
	nlh = build(&s);
	a = nested_attr(nested_attr(top_attr(nlh, CTA_TUPLE_ORIG), CTA_TUPLE_PROTO), CTA_PROTO_NUM);
	a->nla_type = 99; /* now an attribute we don't know */
	ck_assert_int_eq(ct_event_parse(nlh, &e), -EBADMSG);
	/* No original tuple at all. */
	nlh = build(&s);
	top_attr(nlh, CTA_TUPLE_ORIG)->nla_type = 99;
	ck_assert_int_eq(ct_event_parse(nlh, &e), -EBADMSG);
	/* A TCP protoinfo without a state: fine, the state is just not known. */
	nlh = build(&s);
	a = nested_attr(nested_attr(top_attr(nlh, CTA_PROTOINFO), CTA_PROTOINFO_TCP),
			CTA_PROTOINFO_TCP_STATE);
	a->nla_type = 99;
	ck_assert_int_eq(ct_event_parse(nlh, &e), 0);
	ck_assert(!e.has_tcp_state);
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
	tcase_add_test(tc, wrong_sizes);
	tcase_add_test(tc, nested_overruns);
	tcase_add_test(tc, forward_compatible);
	tcase_add_test(tc, tuples);
	tcase_add_test(tc, timestamp);
	tcase_add_test(tc, zone_one_direction);
	tcase_add_test(tc, missing_parts);
	tcase_add_test(tc, flowtable_basics);
	tcase_add_test(tc, flowtable_against_oracle);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
