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

static int frame_only(const struct nlattr *a, void *data)
{
	(void)a;
	(void)data;
	return 0;
}

int ctnl_attr_validate(const struct nlattr *a, enum ctnl_attr_kind kind)
{
	size_t len = mnl_attr_get_payload_len(a);
	const char *payload = mnl_attr_get_payload(a);

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
		return ctnl_attr_walk(payload, len, frame_only, NULL);
	case CTNL_ATTR_STRING:
		return len && payload[len - 1] == '\0' ? 0 : -EINVAL;
	case CTNL_ATTR_UNKNOWN:
	default:
		return 0;
	}
}

struct parse {
	const enum ctnl_attr_kind *policy;
	unsigned max;
	const struct nlattr **tb;
};

static int parse_cb(const struct nlattr *a, void *data)
{
	struct parse *ps = data;
	unsigned type = mnl_attr_get_type(a);
	int r;

	if (type > ps->max || ps->policy[type] == CTNL_ATTR_UNKNOWN)
		return 0;
	r = ctnl_attr_validate(a, ps->policy[type]);
	if (r < 0)
		return r;
	ps->tb[type] = a;
	return 0;
}

int ctnl_attr_parse(const void *p, size_t len, const enum ctnl_attr_kind *policy, unsigned max,
		    const struct nlattr **ret_tb)
{
	const struct nlattr *tb[CTNL_ATTR_TB_MAX + 1] = { 0 };
	struct parse ps = { .policy = policy, .max = max, .tb = tb };
	int r;

	if (max > CTNL_ATTR_TB_MAX)
		return -E2BIG;
	r = ctnl_attr_walk(p, len, parse_cb, &ps);
	if (r < 0)
		return r;
	memcpy(ret_tb, tb, (max + 1) * sizeof(tb[0]));
	return 0;
}

int ctnl_attr_parse_nested(const struct nlattr *a, const enum ctnl_attr_kind *policy, unsigned max,
			   const struct nlattr **ret_tb)
{
	return ctnl_attr_parse(mnl_attr_get_payload(a), mnl_attr_get_payload_len(a), policy, max,
			       ret_tb);
}

int ctnl_msg_parse(const struct nlmsghdr *nlh, const enum ctnl_attr_kind *policy, unsigned max,
		   const struct nlattr **ret_tb)
{
	size_t off = MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg));

	if (nlh->nlmsg_len < off)
		return -EBADMSG;
	return ctnl_attr_parse((const char *)nlh + off, nlh->nlmsg_len - off, policy, max, ret_tb);
}
