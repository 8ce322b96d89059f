// SPDX-License-Identifier: GPL-2.0-or-later
#include "ctevent.h"
#include "ctnl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

static int walk_nested(const struct nlattr *a, ctnl_attr_fn fn, void *data)
{
	return ctnl_attr_walk(mnl_attr_get_payload(a), mnl_attr_get_payload_len(a), fn, data);
}

static bool is_u8(const struct nlattr *a)
{
	return mnl_attr_get_payload_len(a) >= 1;
}

static bool is_u16(const struct nlattr *a)
{
	return mnl_attr_get_payload_len(a) >= 2;
}

static bool is_u32(const struct nlattr *a)
{
	return mnl_attr_get_payload_len(a) >= 4;
}

/* FNV-1a: deterministic, so the same tuple hashes the same in every message. */
static uint32_t fnv1a(uint32_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

struct parse_state {
	struct ct_event *ev;
	uint32_t tuple_hash;
	bool has_id, has_proto, has_zone, has_tuple_zone;
	uint16_t tuple_zone;
};

static int proto_cb(const struct nlattr *a, void *data)
{
	struct parse_state *st = data;

	if (mnl_attr_get_type(a) == CTA_PROTO_NUM) {
		if (!is_u8(a))
			return -EBADMSG;
		st->ev->l4proto = mnl_attr_get_u8(a);
		st->has_proto = true;
	}
	return 0;
}

static int tuple_cb(const struct nlattr *a, void *data)
{
	struct parse_state *st = data;

	switch (mnl_attr_get_type(a)) {
	case CTA_TUPLE_IP:
		st->tuple_hash =
			fnv1a(st->tuple_hash, mnl_attr_get_payload(a), mnl_attr_get_payload_len(a));
		return 0;
	case CTA_TUPLE_PROTO:
		st->tuple_hash =
			fnv1a(st->tuple_hash, mnl_attr_get_payload(a), mnl_attr_get_payload_len(a));
		return walk_nested(a, proto_cb, st);
	case CTA_TUPLE_ZONE:
		if (!is_u16(a))
			return -EBADMSG;
		st->tuple_zone = ntohs(mnl_attr_get_u16(a));
		st->has_tuple_zone = true;
		return 0;
	default:
		return 0;
	}
}

static int tcp_cb(const struct nlattr *a, void *data)
{
	struct parse_state *st = data;

	if (mnl_attr_get_type(a) == CTA_PROTOINFO_TCP_STATE) {
		if (!is_u8(a))
			return -EBADMSG;
		st->ev->tcp_state = mnl_attr_get_u8(a);
		st->ev->has_tcp_state = true;
	}
	return 0;
}

static int protoinfo_cb(const struct nlattr *a, void *data)
{
	if (mnl_attr_get_type(a) == CTA_PROTOINFO_TCP)
		return walk_nested(a, tcp_cb, data);
	return 0;
}

static int top_cb(const struct nlattr *a, void *data)
{
	struct parse_state *st = data;

	switch (mnl_attr_get_type(a)) {
	case CTA_TUPLE_ORIG:
		return walk_nested(a, tuple_cb, st);
	case CTA_STATUS:
		if (!is_u32(a))
			return -EBADMSG;
		st->ev->status = ntohl(mnl_attr_get_u32(a));
		st->ev->has_status = true;
		return 0;
	case CTA_PROTOINFO:
		return walk_nested(a, protoinfo_cb, st);
	case CTA_ID:
		if (!is_u32(a))
			return -EBADMSG;
		st->ev->id = ntohl(mnl_attr_get_u32(a));
		st->has_id = true;
		return 0;
	case CTA_ZONE:
		if (!is_u16(a))
			return -EBADMSG;
		st->ev->zone = ntohs(mnl_attr_get_u16(a));
		st->has_zone = true;
		return 0;
	default:
		return 0;
	}
}

int ct_event_parse(const struct nlmsghdr *nlh, struct ct_event *ret)
{
	struct ct_event ev = { 0 };
	struct parse_state st = { .ev = &ev, .tuple_hash = 2166136261u };
	int r;

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
	r = ctnl_msg_walk(nlh, top_cb, &st);
	if (r < 0)
		return r;
	if (!st.has_id || !st.has_proto)
		return -EBADMSG;
	if (!st.has_zone && st.has_tuple_zone)
		ev.zone = st.tuple_zone;
	ev.thash = (uint16_t)(st.tuple_hash ^ st.tuple_hash >> 16);
	*ret = ev;
	return 0;
}
