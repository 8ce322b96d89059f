// SPDX-License-Identifier: GPL-2.0-or-later
#include "attr.h"

#include <errno.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>

int ctnl_attr_walk(const void *p, size_t len, ctnl_attr_fn fn, void *data)
{
	const char *cur = p, *end = (const char *)p + len;

	while (cur < end) {
		const struct nlattr *a = (const struct nlattr *)cur;
		size_t left = (size_t)(end - cur), step;
		int r;

		if (left < sizeof(*a) || a->nla_len < sizeof(*a) || a->nla_len > left)
			return -EBADMSG;
		r = fn(a, data);
		if (r < 0)
			return r;
		step = MNL_ALIGN(a->nla_len);
		if (step >= left)
			break;
		cur += step;
	}
	return 0;
}

/* The framing alone, as ctnl_attr_walk() checks it, without a call per attribute. */
static int frame(const char *cur, size_t left)
{
	while (left) {
		const struct nlattr *a = (const struct nlattr *)cur;
		size_t step;

		if (left < sizeof(*a) || a->nla_len < sizeof(*a) || a->nla_len > left)
			return -EBADMSG;
		step = MNL_ALIGN(a->nla_len);
		if (step >= left)
			break;
		cur += step;
		left -= step;
	}
	return 0;
}

/* On the hot path of every event: inline, no libmnl calls. */
static inline int validate(const struct nlattr *a, enum ctnl_attr_kind kind)
{
	size_t len = ctnl_attr_len(a);
	const char *payload = ctnl_attr_payload(a);

	switch (kind) {
	case CTNL_ATTR_U8:
		return len == 1 ? 0 : -EINVAL;
	case CTNL_ATTR_U16:
		return len == 2 ? 0 : -EINVAL;
	case CTNL_ATTR_U32:
		return len == 4 ? 0 : -EINVAL;
	case CTNL_ATTR_U64:
		return len == 8 ? 0 : -EINVAL;
	case CTNL_ATTR_IN6:
		return len == 16 ? 0 : -EINVAL;
	case CTNL_ATTR_NESTED:
		/*
		 * Empty is fine (libmnl agrees); else something smaller than a header is no nest.
		 * One level only, not recursively (a 64 KiB message could nest 16k deep): a parser
		 * that descends further validates the next level with its own policy.
		 */
		if (len && len < sizeof(struct nlattr))
			return -EINVAL;
		return frame(payload, len);
	case CTNL_ATTR_STRING:
		return len && payload[len - 1] == '\0' ? 0 : -EINVAL;
	case CTNL_ATTR_UNKNOWN:
	default:
		return 0;
	}
}

int ctnl_attr_validate(const struct nlattr *a, enum ctnl_attr_kind kind)
{
	return validate(a, kind);
}

int ctnl_attr_parse(const void *p, size_t len, const enum ctnl_attr_kind *policy, unsigned max,
		    const struct nlattr **ret_tb)
{
	const struct nlattr *tb[CTNL_ATTR_TB_MAX + 1];
	const char *cur = p;
	size_t left = len;

	if (max > CTNL_ATTR_TB_MAX)
		return -E2BIG;
	memset(tb, 0, (max + 1) * sizeof(tb[0]));
	/* ctnl_attr_walk()'s loop, with the policy applied in place of a callback. */
	while (left) {
		const struct nlattr *a = (const struct nlattr *)cur;
		unsigned type;
		size_t step;

		if (left < sizeof(*a) || a->nla_len < sizeof(*a) || a->nla_len > left)
			return -EBADMSG;
		type = a->nla_type & NLA_TYPE_MASK;
		if (type <= max && policy[type] != CTNL_ATTR_UNKNOWN) {
			int r = validate(a, policy[type]);

			if (r < 0)
				return r;
			tb[type] = a;
		}
		step = MNL_ALIGN(a->nla_len);
		if (step >= left)
			break;
		cur += step;
		left -= step;
	}
	memcpy(ret_tb, tb, (max + 1) * sizeof(tb[0]));
	return 0;
}

int ctnl_attr_parse_nested(const struct nlattr *a, const enum ctnl_attr_kind *policy, unsigned max,
			   const struct nlattr **ret_tb)
{
	return ctnl_attr_parse(ctnl_attr_payload(a), ctnl_attr_len(a), policy, max, ret_tb);
}

int ctnl_msg_parse(const struct nlmsghdr *nlh, const enum ctnl_attr_kind *policy, unsigned max,
		   const struct nlattr **ret_tb)
{
	size_t off = MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg));

	if (nlh->nlmsg_len < off)
		return -EBADMSG;
	return ctnl_attr_parse((const char *)nlh + off, nlh->nlmsg_len - off, policy, max, ret_tb);
}
