/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_CTEVENT_H
#define NFCE_CTEVENT_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/netlink.h>

/*
 * The parts of a ctnetlink conntrack message (an event, or one entry of a dump) that the
 * events collector keeps: who the flow is, its protocol and zone, and its state.
 */

enum ct_event_type {
	CT_EVENT_NEW,
	CT_EVENT_UPDATE,
	CT_EVENT_DESTROY,
	_CT_EVENT_MAX,
};

/*
 * One direction's tuple. Addresses in network order, an IPv4 one in the first 4 bytes and the
 * rest zero, so that a tuple compares and hashes the same whatever the family.
 */
struct ct_tuple {
	uint8_t src[16], dst[16];
	uint16_t sport, dport; /* host order; 0 without ports (icmp, gre...) */
	uint8_t family; /* AF_INET or AF_INET6 */
	bool has_ports;
};

/* enum tcp_conntrack of the kernel, the states that an entry keeps. */
#define CT_TCP_STATE_MAX 9

struct ct_event {
	enum ct_event_type type;
	uint32_t id; /* CTA_ID */
	uint16_t thash; /* hash of the original tuple: ids are hashes, and can collide */
	uint16_t zone; /* CTA_ZONE, else the original or the reply tuple's zone, else 0 */
	uint8_t l4proto; /* CTA_PROTO_NUM of the original tuple */
	uint8_t tcp_state; /* valid if has_tcp_state */
	bool has_tcp_state;
	bool has_status;
	bool has_reply; /* @reply was read: the entry is NAT'ed (IPS_SRC_NAT or IPS_DST_NAT) */
	uint32_t status; /* CTA_STATUS: IPS_* bits */
	bool has_tstart;
	uint64_t
		tstart_ns; /* CTA_TIMESTAMP_START (nf_conntrack_timestamp=1): birth, CLOCK_REALTIME */
	uint32_t age_ds; /* not parsed: the reader's, from tstart_ns (0: unknown) */
	struct ct_tuple orig, reply;
};

/*
 * Parse one message checked with ctnl_msg_ok(). A dump entry parses as CT_EVENT_NEW.
 * -ENOMSG: not a conntrack entry message (another subsystem or type); -EBADMSG: malformed
 * framing (see attr.h), or lacking the id, the original tuple, its protocol or its addresses
 * (an empty CTA_TUPLE_ORIG among them), or a tuple whose addresses are not one source and
 * one destination of the message's family (IPv4 or IPv6; any other family), the reply tuple
 * being read only for a NAT'ed entry; -EINVAL: an
 * attribute we read of the wrong size (CTA_ID, CTA_STATUS, CTA_IP_V4_*: u32; CTA_IP_V6_*: 16
 * bytes; CTA_ZONE, CTA_TUPLE_ZONE, CTA_PROTO_*_PORT: u16; CTA_PROTO_NUM,
 * CTA_PROTOINFO_TCP_STATE: u8).
 */
int ct_event_parse(const struct nlmsghdr *nlh, struct ct_event *ret);

#endif
