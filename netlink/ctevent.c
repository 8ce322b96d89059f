// SPDX-License-Identifier: GPL-2.0-or-later
#include "ctevent.h"
#include "attr.h"
#include "ctnl.h"
#include "util.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

/*
 * What each level of a conntrack message must look like, for the attributes we read or descend
 * into; the rest (counters, timeouts, NAT, labels, a newer kernel's) are skipped unchecked.
 * Sizes are the kernel's: nla_put_u8/be16/be32 in ctnetlink_dump_*().
 */
static const enum ctnl_attr_kind top_policy[] = {
	[CTA_TUPLE_ORIG] = CTNL_ATTR_NESTED,
	[CTA_TUPLE_REPLY] = CTNL_ATTR_NESTED,
	[CTA_STATUS] = CTNL_ATTR_U32,
	[CTA_PROTOINFO] = CTNL_ATTR_NESTED,
	[CTA_ID] = CTNL_ATTR_U32,
	[CTA_ZONE] = CTNL_ATTR_U16,
	[CTA_TIMESTAMP] = CTNL_ATTR_NESTED,
};
#define TOP_MAX (ARRAY_SIZE(top_policy) - 1)

static const enum ctnl_attr_kind tuple_policy[] = {
	[CTA_TUPLE_IP] = CTNL_ATTR_NESTED,
	[CTA_TUPLE_PROTO] = CTNL_ATTR_NESTED,
	[CTA_TUPLE_ZONE] = CTNL_ATTR_U16,
};
#define TUPLE_MAX (ARRAY_SIZE(tuple_policy) - 1)

static const enum ctnl_attr_kind ip_policy[] = {
	[CTA_IP_V4_SRC] = CTNL_ATTR_U32,
	[CTA_IP_V4_DST] = CTNL_ATTR_U32,
	[CTA_IP_V6_SRC] = CTNL_ATTR_IN6,
	[CTA_IP_V6_DST] = CTNL_ATTR_IN6,
};
#define IP_MAX (ARRAY_SIZE(ip_policy) - 1)

static const enum ctnl_attr_kind proto_policy[] = {
	[CTA_PROTO_NUM] = CTNL_ATTR_U8,
	[CTA_PROTO_SRC_PORT] = CTNL_ATTR_U16,
	[CTA_PROTO_DST_PORT] = CTNL_ATTR_U16,
};
#define PROTO_MAX (ARRAY_SIZE(proto_policy) - 1)

static const enum ctnl_attr_kind tstamp_policy[] = {
	[CTA_TIMESTAMP_START] = CTNL_ATTR_U64,
};
#define TSTAMP_MAX (ARRAY_SIZE(tstamp_policy) - 1)

static const enum ctnl_attr_kind protoinfo_policy[] = {
	[CTA_PROTOINFO_TCP] = CTNL_ATTR_NESTED,
};
#define PROTOINFO_MAX (ARRAY_SIZE(protoinfo_policy) - 1)

static const enum ctnl_attr_kind tcp_policy[] = {
	[CTA_PROTOINFO_TCP_STATE] = CTNL_ATTR_U8,
};
#define TCP_MAX (ARRAY_SIZE(tcp_policy) - 1)

/* FNV-1a: deterministic, so the same tuple hashes the same in every message. */
static uint32_t fnv1a(uint32_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static uint32_t hash_attr(uint32_t h, const struct nlattr *a)
{
	return a ? fnv1a(h, ctnl_attr_payload(a), ctnl_attr_len(a)) : h;
}

/* A tuple's addresses: one source and one destination of @family, nothing else. */
static int parse_addrs(const struct nlattr *ipa, int family, struct ct_tuple *t)
{
	const struct nlattr *tb[IP_MAX + 1];
	int r;

	r = ctnl_attr_parse_nested(ipa, ip_policy, IP_MAX, tb);
	if (r < 0)
		return r;
	if (family == AF_INET && tb[CTA_IP_V4_SRC] && tb[CTA_IP_V4_DST] && !tb[CTA_IP_V6_SRC] &&
	    !tb[CTA_IP_V6_DST]) {
		memcpy(t->src, ctnl_attr_payload(tb[CTA_IP_V4_SRC]), 4);
		memcpy(t->dst, ctnl_attr_payload(tb[CTA_IP_V4_DST]), 4);
	} else if (family == AF_INET6 && tb[CTA_IP_V6_SRC] && tb[CTA_IP_V6_DST] &&
		   !tb[CTA_IP_V4_SRC] && !tb[CTA_IP_V4_DST]) {
		memcpy(t->src, ctnl_attr_payload(tb[CTA_IP_V6_SRC]), 16);
		memcpy(t->dst, ctnl_attr_payload(tb[CTA_IP_V6_DST]), 16);
	} else {
		return -EBADMSG;
	}
	t->family = (uint8_t)family;
	return 0;
}

/*
 * One direction's tuple: its zone, which goes to *@zone when there is one, and with @t its
 * addresses, protocol and ports. A tuple without addresses or protocol is -EBADMSG; or, for
 * a reply tuple (@t->family stays 0), a newer kernel's we can still take the rest from.
 */
static int parse_tuple(const struct nlattr *nest, int family, struct ct_tuple *t, uint8_t *l4proto,
		       uint16_t *zone, const struct nlattr **ret_ip,
		       const struct nlattr **ret_proto)
{
	const struct nlattr *tb[TUPLE_MAX + 1], *ptb[PROTO_MAX + 1];
	int r;

	r = ctnl_attr_parse_nested(nest, tuple_policy, TUPLE_MAX, tb);
	if (r < 0)
		return r;
	if (tb[CTA_TUPLE_ZONE])
		*zone = ntohs(ctnl_attr_u16(tb[CTA_TUPLE_ZONE]));
	if (!t)
		return 0;
	if (!tb[CTA_TUPLE_PROTO] || !tb[CTA_TUPLE_IP])
		return ret_ip ? -EBADMSG : 0;
	r = ctnl_attr_parse_nested(tb[CTA_TUPLE_PROTO], proto_policy, PROTO_MAX, ptb);
	if (r < 0)
		return r;
	if (!ptb[CTA_PROTO_NUM])
		return -EBADMSG;
	r = parse_addrs(tb[CTA_TUPLE_IP], family, t);
	if (r < 0)
		return r;
	*l4proto = ctnl_attr_u8(ptb[CTA_PROTO_NUM]);
	if (ptb[CTA_PROTO_SRC_PORT] && ptb[CTA_PROTO_DST_PORT]) {
		t->sport = ntohs(ctnl_attr_u16(ptb[CTA_PROTO_SRC_PORT]));
		t->dport = ntohs(ctnl_attr_u16(ptb[CTA_PROTO_DST_PORT]));
		t->has_ports = true;
	}
	if (ret_ip) {
		*ret_ip = tb[CTA_TUPLE_IP];
		*ret_proto = tb[CTA_TUPLE_PROTO];
	}
	return 0;
}

static int parse_protoinfo(const struct nlattr *pinfo, struct ct_event *ev)
{
	const struct nlattr *tb[PROTOINFO_MAX + 1], *ttb[TCP_MAX + 1];
	int r;

	r = ctnl_attr_parse_nested(pinfo, protoinfo_policy, PROTOINFO_MAX, tb);
	if (r < 0 || !tb[CTA_PROTOINFO_TCP])
		return r;
	r = ctnl_attr_parse_nested(tb[CTA_PROTOINFO_TCP], tcp_policy, TCP_MAX, ttb);
	if (r < 0)
		return r;
	if (ttb[CTA_PROTOINFO_TCP_STATE]) {
		ev->tcp_state = ctnl_attr_u8(ttb[CTA_PROTOINFO_TCP_STATE]);
		ev->has_tcp_state = true;
	}
	return 0;
}

int ct_event_parse(const struct nlmsghdr *nlh, struct ct_event *ret)
{
	const struct nlattr *tb[TOP_MAX + 1], *ipa, *proto;
	struct ct_event ev = { 0 };
	uint16_t reply_zone = 0;
	uint8_t reply_proto;
	int family, r;
	uint32_t h;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_CTNETLINK)
		return -ENOMSG;
	switch (NFNL_MSG_TYPE(nlh->nlmsg_type)) {
	case IPCTNL_MSG_CT_NEW:
		/* The kernel marks a new entry's event with CREATE|EXCL; dumps carry neither. */
		ev.type = (nlh->nlmsg_flags & (NLM_F_CREATE | NLM_F_EXCL)) ||
					  (nlh->nlmsg_flags & NLM_F_MULTI)
				  ? CT_EVENT_NEW
				  : CT_EVENT_UPDATE;
		break;
	case IPCTNL_MSG_CT_DELETE:
		ev.type = CT_EVENT_DESTROY;
		break;
	default:
		return -ENOMSG;
	}
	r = ctnl_msg_parse(nlh, top_policy, TOP_MAX, tb);
	if (r < 0)
		return r;
	/* ctnl_msg_parse() checked that the nfgenmsg header is there. */
	family = ((const struct nfgenmsg *)mnl_nlmsg_get_payload(nlh))->nfgen_family;
	/* Without the id or the original tuple, a flow we could never find again. */
	if (!tb[CTA_ID] || !tb[CTA_TUPLE_ORIG])
		return -EBADMSG;
	ev.id = ntohl(ctnl_attr_u32(tb[CTA_ID]));
	r = parse_tuple(tb[CTA_TUPLE_ORIG], family, &ev.orig, &ev.l4proto, &ev.zone, &ipa, &proto);
	if (r < 0)
		return r;
	/* The kernel puts the addresses before the ports: hash them in that order. */
	h = hash_attr(hash_attr(2166136261u, ipa), proto);
	ev.thash = (uint16_t)(h ^ h >> 16);
	if (tb[CTA_STATUS]) {
		ev.status = ntohl(ctnl_attr_u32(tb[CTA_STATUS]));
		ev.has_status = true;
	}
	/*
	 * The reply tuple says more than the original's inverse only after NAT: read in full
	 * then, else for its zone alone (a third of the parsing of most events).
	 */
	if (tb[CTA_TUPLE_REPLY]) {
		bool nat = ev.status & (IPS_SRC_NAT | IPS_DST_NAT);

		r = parse_tuple(tb[CTA_TUPLE_REPLY], family, nat ? &ev.reply : NULL, &reply_proto,
				&reply_zone, NULL, NULL);
		if (r < 0)
			return r;
		ev.has_reply = ev.reply.family != 0;
	}
	if (tb[CTA_PROTOINFO]) {
		r = parse_protoinfo(tb[CTA_PROTOINFO], &ev);
		if (r < 0)
			return r;
	}
	if (tb[CTA_TIMESTAMP]) {
		const struct nlattr *ttb[TSTAMP_MAX + 1];

		r = ctnl_attr_parse_nested(tb[CTA_TIMESTAMP], tstamp_policy, TSTAMP_MAX, ttb);
		if (r < 0)
			return r;
		if (ttb[CTA_TIMESTAMP_START]) {
			ev.tstart_ns = be64toh(ctnl_attr_u64(ttb[CTA_TIMESTAMP_START]));
			ev.has_tstart = true;
		}
	}
	/*
	 * The entry's one zone id, whichever directions it applies to: CTA_ZONE (both), else
	 * the original tuple's or the reply tuple's (a zone for that direction only), else 0.
	 * The kernel sends exactly one of the three for an entry outside zone 0.
	 */
	if (tb[CTA_ZONE])
		ev.zone = ntohs(ctnl_attr_u16(tb[CTA_ZONE]));
	else if (!ev.zone)
		ev.zone = reply_zone;
	*ret = ev;
	return 0;
}
