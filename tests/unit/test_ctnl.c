// SPDX-License-Identifier: GPL-2.0-or-later
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>

#include "attr.h"
#include "ctnl.h"
#include "testlib.h"
#include "util.h"

static char buf[4096];

/* A reply the way ctnetlink builds it: nlmsghdr, nfgenmsg with the CPU in res_id, attributes. */
static struct nlmsghdr *msg_start(uint8_t subsys, uint8_t type, uint16_t cpu)
{
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;

	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (uint16_t)(subsys << 8 | type);
	nlh->nlmsg_flags = NLM_F_MULTI;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(cpu);
	return nlh;
}

START_TEST(cpu_stats_message)
{
	struct nlmsghdr *nlh = msg_start(CTNL_SUBSYS_CT, CTNL_MSG_CT_GET_STATS_CPU, 3);
	struct ctnl_cpu m;

	mnl_attr_put_u32(nlh, 2, htonl(1000)); /* FOUND */
	mnl_attr_put_u32(nlh, 10, htonl(0xffffffff)); /* DROP */
	mnl_attr_put_u32(nlh, 15, htonl(7)); /* CHAIN_TOOLONG */
	ck_assert(ctnl_msg_ok(buf, nlh->nlmsg_len));
	ck_assert_int_eq(ctnl_parse_cpu(nlh, 15, &m), 0);
	ck_assert_uint_eq(m.cpu, 3);
	ck_assert_uint_eq(m.present, (1u << 2) | (1u << 10) | (1u << 15));
	ck_assert_uint_eq(m.value[2], 1000);
	ck_assert_uint_eq(m.value[10], 0xffffffffu);
	ck_assert_uint_eq(m.value[15], 7);
}
END_TEST

START_TEST(unknown_attributes_are_skipped)
{
	struct nlmsghdr *nlh = msg_start(CTNL_SUBSYS_CT, CTNL_MSG_CT_GET_STATS_CPU, 0);
	struct ctnl_cpu m;
	uint64_t big = 42;

	/* A future kernel's attribute, even of another size, must not break parsing. */
	mnl_attr_put(nlh, 16, sizeof(big), &big);
	mnl_attr_put(nlh, 40, sizeof(big), &big);
	mnl_attr_put_u32(nlh, 200, htonl(5));
	mnl_attr_put_u32(nlh, 4, htonl(9)); /* INVALID */
	ck_assert_int_eq(ctnl_parse_cpu(nlh, 15, &m), 0);
	ck_assert_uint_eq(m.present, 1u << 4);
	ck_assert_uint_eq(m.value[4], 9);
}
END_TEST

START_TEST(known_attribute_with_wrong_size)
{
	struct nlmsghdr *nlh = msg_start(CTNL_SUBSYS_CT, CTNL_MSG_CT_GET_STATS_CPU, 0);
	struct ctnl_global g;
	struct ctnl_cpu m;

	/* A known statistic is exactly a u32: shorter or longer is an error, not a u16 or a u64. */
	mnl_attr_put_u16(nlh, 10, 1);
	ck_assert_int_eq(ctnl_parse_cpu(nlh, 15, &m), -EINVAL);
	nlh = msg_start(CTNL_SUBSYS_CT, CTNL_MSG_CT_GET_STATS_CPU, 0);
	mnl_attr_put_u64(nlh, 10, 1);
	ck_assert_int_eq(ctnl_parse_cpu(nlh, 15, &m), -EINVAL);
	nlh = msg_start(CTNL_SUBSYS_CT, CTNL_MSG_CT_GET_STATS, 0);
	mnl_attr_put_u8(nlh, CTNL_STATS_GLOBAL_ENTRIES, 1);
	ck_assert_int_eq(ctnl_parse_global(nlh, &g), -EINVAL);
	/* The same size on a type above the ones we know is a newer kernel's business. */
	nlh = msg_start(CTNL_SUBSYS_CT, CTNL_MSG_CT_GET_STATS, 0);
	mnl_attr_put_u8(nlh, CTNL_STATS_GLOBAL_MAX_ENTRIES + 1, 1);
	ck_assert_int_eq(ctnl_parse_global(nlh, &g), 0);
	ck_assert(!g.has_entries);
}
END_TEST

START_TEST(global_stats)
{
	struct nlmsghdr *nlh = msg_start(CTNL_SUBSYS_CT, CTNL_MSG_CT_GET_STATS, 0);
	struct ctnl_global g;

	mnl_attr_put_u32(nlh, CTNL_STATS_GLOBAL_ENTRIES, htonl(12345));
	mnl_attr_put_u32(nlh, CTNL_STATS_GLOBAL_MAX_ENTRIES, htonl(262144));
	ck_assert_int_eq(ctnl_parse_global(nlh, &g), 0);
	ck_assert(g.has_entries && g.has_max_entries);
	ck_assert_uint_eq(g.entries, 12345);
	ck_assert_uint_eq(g.max_entries, 262144);

	/* Older kernels send no limit: the collector must then read the sysctl. */
	nlh = msg_start(CTNL_SUBSYS_CT, CTNL_MSG_CT_GET_STATS, 0);
	mnl_attr_put_u32(nlh, CTNL_STATS_GLOBAL_ENTRIES, htonl(1));
	ck_assert_int_eq(ctnl_parse_global(nlh, &g), 0);
	ck_assert(g.has_entries);
	ck_assert(!g.has_max_entries);
}
END_TEST

START_TEST(truncated_messages)
{
	struct nlmsghdr *nlh = msg_start(CTNL_SUBSYS_CT, CTNL_MSG_CT_GET_STATS_CPU, 0);
	struct nlattr *attr;
	struct ctnl_cpu m;
	uint32_t full;

	mnl_attr_put_u32(nlh, 2, htonl(1));
	mnl_attr_put_u32(nlh, 8, htonl(2));
	full = nlh->nlmsg_len;
	ck_assert(ctnl_msg_ok(buf, full));
	/* Fewer bytes than the header claims. */
	ck_assert(!ctnl_msg_ok(buf, full - 1));
	ck_assert(!ctnl_msg_ok(buf, sizeof(struct nlmsghdr) - 1));
	ck_assert(!ctnl_msg_ok(buf, 0));
	/* A header claiming less than a nfgenmsg. */
	nlh->nlmsg_len = sizeof(struct nlmsghdr) + 2;
	ck_assert(!ctnl_msg_ok(buf, full));
	/* An attribute whose length runs past the message end. */
	nlh->nlmsg_len = full;
	attr = (struct nlattr *)((char *)nlh + full - 8);
	attr->nla_len = 200;
	ck_assert_int_eq(ctnl_parse_cpu(nlh, 15, &m), -EBADMSG);
	/* An attribute length shorter than its own header. */
	attr->nla_len = 2;
	ck_assert_int_eq(ctnl_parse_cpu(nlh, 15, &m), -EBADMSG);
	/* Junk shorter than an attribute header after the last attribute. */
	attr->nla_len = 8;
	nlh->nlmsg_len = full + 2;
	ck_assert_int_eq(ctnl_parse_cpu(nlh, 15, &m), -EBADMSG);
	nlh->nlmsg_len = full;
	ck_assert_int_eq(ctnl_parse_cpu(nlh, 15, &m), 0);
	ck_assert_uint_eq(m.present, (1u << 2) | (1u << 8));
}
END_TEST

START_TEST(expect_stats_message)
{
	struct nlmsghdr *nlh = msg_start(CTNL_SUBSYS_EXP, CTNL_MSG_EXP_GET_STATS_CPU, 1);
	struct ctnl_cpu m;

	mnl_attr_put_u32(nlh, 1, htonl(4)); /* EXP_NEW */
	mnl_attr_put_u32(nlh, 2, htonl(5)); /* EXP_CREATE */
	mnl_attr_put_u32(nlh, 3, htonl(6)); /* EXP_DELETE */
	ck_assert_int_eq(ctnl_parse_cpu(nlh, 15, &m), 0);
	ck_assert_uint_eq(m.cpu, 1);
	ck_assert_uint_eq(m.value[1] + m.value[2] + m.value[3], 15);
}
END_TEST

/* Attributes in a bare buffer, for the attribute parser alone. */
static char abuf[512] __attribute__((aligned(4)));
static size_t alen;

static void aput(uint16_t type, const void *p, size_t len)
{
	struct nlattr *a = (struct nlattr *)(abuf + alen);

	a->nla_type = type;
	a->nla_len = (uint16_t)(sizeof(*a) + len);
	memcpy(a + 1, p, len);
	alen += MNL_ALIGN(a->nla_len);
}

enum { T_U8 = 1, T_U16, T_U32, T_U64, T_NEST, T_STR, T_SKIP, T_MAX = T_SKIP };
static const enum ctnl_attr_kind policy[T_MAX + 1] = {
	[T_U8] = CTNL_ATTR_U8,	      [T_U16] = CTNL_ATTR_U16,	   [T_U32] = CTNL_ATTR_U32,
	[T_U64] = CTNL_ATTR_U64,      [T_NEST] = CTNL_ATTR_NESTED, [T_STR] = CTNL_ATTR_STRING,
	[T_SKIP] = CTNL_ATTR_UNKNOWN,
};

static int parse_one(uint16_t type, const void *p, size_t len)
{
	const struct nlattr *tb[T_MAX + 1];

	alen = 0;
	aput(type, p, len);
	return ctnl_attr_parse(abuf, alen, policy, T_MAX, tb);
}

START_TEST(attr_exact_sizes)
{
	static const char zero[16];
	static const struct {
		uint16_t type;
		size_t ok, bad[3];
	} cases[] = {
		{ T_U8, 1, { 0, 2, 4 } },
		{ T_U16, 2, { 0, 1, 4 } }, /* a 4-byte CTA_ZONE is no u16 */
		{ T_U32, 4, { 2, 3, 8 } },
		{ T_U64, 8, { 4, 7, 12 } },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		ck_assert_int_eq(parse_one(cases[i].type, zero, cases[i].ok), 0);
		for (size_t j = 0; j < 3; j++)
			ck_assert_msg(parse_one(cases[i].type, zero, cases[i].bad[j]) == -EINVAL,
				      "type %u, %zu bytes", cases[i].type, cases[i].bad[j]);
	}
	/* Strings: not empty, NUL-terminated. */
	ck_assert_int_eq(parse_one(T_STR, "tcp", 4), 0);
	ck_assert_int_eq(parse_one(T_STR, "tcp", 3), -EINVAL);
	ck_assert_int_eq(parse_one(T_STR, "", 0), -EINVAL);
	/* Unknown types and types above the policy: any shape at all. */
	ck_assert_int_eq(parse_one(T_SKIP, zero, 3), 0);
	ck_assert_int_eq(parse_one(T_MAX + 1, zero, 5), 0);
	ck_assert_int_eq(parse_one(0x3fff, zero, 0), 0);
}
END_TEST

START_TEST(attr_nests)
{
	const struct nlattr *tb[T_MAX + 1], *inner[T_MAX + 1];
	char nest[32] __attribute__((aligned(4))) = { 0 };
	struct nlattr *child = (struct nlattr *)nest;
	uint32_t v = 7;

	/* Empty is a nest; two bytes are not. */
	ck_assert_int_eq(parse_one(T_NEST, nest, 0), 0);
	ck_assert_int_eq(parse_one(T_NEST, nest, 2), -EINVAL);
	/* A nest holding one u32. */
	child->nla_type = T_U32;
	child->nla_len = 8;
	memcpy(child + 1, &v, 4);
	alen = 0;
	aput(T_NEST | NLA_F_NESTED, nest, 8);
	ck_assert_int_eq(ctnl_attr_parse(abuf, alen, policy, T_MAX, tb), 0);
	ck_assert_ptr_nonnull(tb[T_NEST]);
	ck_assert_int_eq(ctnl_attr_parse_nested(tb[T_NEST], policy, T_MAX, inner), 0);
	ck_assert_uint_eq(mnl_attr_get_u32(inner[T_U32]), 7);
	/* The child claims more than the nest holds: an overrun, -EBADMSG. */
	child->nla_len = 12;
	ck_assert_int_eq(parse_one(T_NEST, nest, 8), -EBADMSG);
	/* A child shorter than its own header. */
	child->nla_len = 3;
	ck_assert_int_eq(parse_one(T_NEST, nest, 8), -EBADMSG);
	/* Bytes after the last child that make no attribute. */
	child->nla_len = 8;
	ck_assert_int_eq(parse_one(T_NEST, nest, 10), -EBADMSG);
	/* Inside the nest, the child's size is checked when parsed with its policy. */
	child->nla_len = 6;
	ck_assert_int_eq(parse_one(T_NEST, nest, 8), 0);
	alen = 0;
	aput(T_NEST, nest, 8);
	ck_assert_int_eq(ctnl_attr_parse(abuf, alen, policy, T_MAX, tb), 0);
	ck_assert_int_eq(ctnl_attr_parse_nested(tb[T_NEST], policy, T_MAX, inner), -EINVAL);
}
END_TEST

START_TEST(attr_tb)
{
	const struct nlattr *tb[T_MAX + 1];
	const struct nlattr *sentinel = (const struct nlattr *)abuf;
	uint32_t a = 1, b = 2;
	uint16_t bad = 3;

	/* The last of two counts; absent types are NULL. */
	alen = 0;
	aput(T_U32, &a, 4);
	aput(T_U32, &b, 4);
	ck_assert_int_eq(ctnl_attr_parse(abuf, alen, policy, T_MAX, tb), 0);
	ck_assert_uint_eq(mnl_attr_get_u32(tb[T_U32]), 2);
	ck_assert_ptr_null(tb[T_U8]);
	/* On failure, tb[] is left alone. */
	for (size_t i = 0; i <= T_MAX; i++)
		tb[i] = sentinel;
	aput(T_U32, &bad, 2);
	ck_assert_int_eq(ctnl_attr_parse(abuf, alen, policy, T_MAX, tb), -EINVAL);
	for (size_t i = 0; i <= T_MAX; i++)
		ck_assert_ptr_eq(tb[i], sentinel);
	/* Truncated: the walk covers exactly the bytes given. */
	ck_assert_int_eq(ctnl_attr_parse(abuf, 6, policy, T_MAX, tb), -EBADMSG);
	ck_assert_int_eq(ctnl_attr_parse(abuf, 2, policy, T_MAX, tb), -EBADMSG);
	ck_assert_int_eq(ctnl_attr_parse(abuf, 0, policy, T_MAX, tb), 0);
}
END_TEST

START_TEST(error_mapping)
{
	ck_assert_int_eq(ctnl_error(EPERM), -EPERM);
	ck_assert_int_eq(ctnl_error(EACCES), -EACCES);
	ck_assert_int_eq(ctnl_error(ENOENT), -EOPNOTSUPP);
	ck_assert_int_eq(ctnl_error(EOPNOTSUPP), -EOPNOTSUPP);
	ck_assert_int_eq(ctnl_error(EAGAIN), -ETIMEDOUT);
	ck_assert_int_eq(ctnl_error(ENOBUFS), -ENOBUFS);
	ck_assert_int_eq(ctnl_error(EINTR), -EINTR);
	ck_assert_int_eq(ctnl_error(EBUSY), -EBUSY);
}
END_TEST

START_TEST(request)
{
	char req[CTNL_REQUEST_SIZE] __attribute__((aligned(4)));
	struct nlmsghdr *nlh;
	const struct nfgenmsg *nfg;

	nlh = ctnl_put_request(req, CTNL_SUBSYS_CT, CTNL_MSG_CT_GET, true, 42);
	ck_assert_uint_eq(nlh->nlmsg_len, MNL_NLMSG_HDRLEN + sizeof(struct nfgenmsg));
	ck_assert_uint_le(nlh->nlmsg_len, CTNL_REQUEST_SIZE);
	ck_assert_uint_eq(nlh->nlmsg_type, NFNL_SUBSYS_CTNETLINK << 8 | 1);
	ck_assert_uint_eq(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
	ck_assert_uint_eq(nlh->nlmsg_seq, 42);
	nfg = mnl_nlmsg_get_payload(nlh);
	ck_assert_uint_eq(nfg->nfgen_family, AF_UNSPEC);
	ck_assert_uint_eq(nfg->version, NFNETLINK_V0);
	ck_assert_uint_eq(nfg->res_id, 0);
	nlh = ctnl_put_request(req, CTNL_SUBSYS_EXP, CTNL_MSG_EXP_GET_STATS_CPU, false, 7);
	ck_assert_uint_eq(nlh->nlmsg_type, NFNL_SUBSYS_CTNETLINK_EXP << 8 | 3);
	ck_assert_uint_eq(nlh->nlmsg_flags, NLM_F_REQUEST);
}
END_TEST

/* A datagram of replies, one message after another. */
static char rbuf[4096] __attribute__((aligned(4)));
static size_t rlen;

static struct nlmsghdr *rput(uint16_t type, uint16_t flags, uint32_t seq, uint32_t pid)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(rbuf + rlen);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	nlh->nlmsg_seq = seq;
	nlh->nlmsg_pid = pid;
	return nlh;
}

static void rdone(struct nlmsghdr *nlh)
{
	rlen += MNL_ALIGN(nlh->nlmsg_len);
}

static void rput_stats(uint32_t seq, uint32_t pid, uint16_t flags, uint32_t entries)
{
	struct nlmsghdr *nlh = rput(CTNL_SUBSYS_CT << 8 | CTNL_MSG_CT_GET_STATS, flags, seq, pid);
	struct nfgenmsg *nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));

	nfg->version = NFNETLINK_V0;
	mnl_attr_put_u32(nlh, CTNL_STATS_GLOBAL_ENTRIES, htonl(entries));
	rdone(nlh);
}

static void rput_error(uint32_t seq, int err)
{
	struct nlmsghdr *nlh = rput(NLMSG_ERROR, 0, seq, 100);
	struct nlmsgerr *e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));

	e->error = err;
	rdone(nlh);
}

static void rput_done(uint32_t seq, int32_t err)
{
	struct nlmsghdr *nlh = rput(NLMSG_DONE, NLM_F_MULTI, seq, 100);
	int32_t *p = mnl_nlmsg_put_extra_header(nlh, sizeof(*p));

	*p = err;
	rdone(nlh);
}

struct seen {
	unsigned n;
	uint64_t sum;
	int ret;
};

static int seen_cb(const struct nlmsghdr *nlh, void *userdata)
{
	struct seen *s = userdata;
	struct ctnl_global g;

	ck_assert_int_eq(ctnl_parse_global(nlh, &g), 0);
	s->n++;
	s->sum += g.entries;
	return s->ret;
}

static int walk(struct seen *s)
{
	*s = (struct seen){ .ret = s->ret };
	return ctnl_reply_walk(rbuf, rlen, 5, 100, seen_cb, s);
}

START_TEST(reply_walk)
{
	struct seen s = { 0 };

	/* A dump: messages, then DONE; leftovers of request 4 and others' replies skipped. */
	rlen = 0;
	rput_stats(4, 100, NLM_F_MULTI, 1000);
	rput_stats(5, 100, NLM_F_MULTI, 1);
	rput_stats(5, 101, NLM_F_MULTI, 1000);
	rdone(rput(NLMSG_NOOP, 0, 5, 100));
	rput_stats(5, 0, NLM_F_MULTI, 2);
	ck_assert_int_eq(walk(&s), 0); /* more to come */
	ck_assert_uint_eq(s.n, 2);
	ck_assert_uint_eq(s.sum, 3);
	rput_done(5, 0);
	ck_assert_int_eq(walk(&s), 1);
	/* A callback that has had enough, or failed. */
	s.ret = 1;
	ck_assert_int_eq(walk(&s), 1);
	ck_assert_uint_eq(s.n, 1);
	s.ret = -ENOMEM;
	ck_assert_int_eq(walk(&s), -ENOMEM);
	s.ret = 0;

	/* Errors, mapped once for everyone. */
	static const struct {
		int kernel, ours;
	} errs[] = {
		{ -EPERM, -EPERM }, { -ENOENT, -EOPNOTSUPP }, { -EOPNOTSUPP, -EOPNOTSUPP },
		{ -EBUSY, -EBUSY }, { -ENOBUFS, -ENOBUFS },
	};
	for (size_t i = 0; i < ARRAY_SIZE(errs); i++) {
		rlen = 0;
		rput_error(5, errs[i].kernel);
		ck_assert_int_eq(walk(&s), errs[i].ours);
		/* The same error at the end of a dump that failed part-way. */
		rlen = 0;
		rput_stats(5, 100, NLM_F_MULTI, 1);
		rput_done(5, errs[i].kernel);
		ck_assert_int_eq(walk(&s), errs[i].ours);
		ck_assert_uint_eq(s.n, 1);
	}
	/* An ACK finishes; a truncated error message is malformed. */
	rlen = 0;
	rput_error(5, 0);
	ck_assert_int_eq(walk(&s), 1);
	rlen = 0;
	rdone(rput(NLMSG_ERROR, 0, 5, 100));
	ck_assert_int_eq(walk(&s), -EBADMSG);
	/* An error for another request is not ours. */
	rlen = 0;
	rput_error(4, -EPERM);
	ck_assert_int_eq(walk(&s), 0);

	/* NLM_F_DUMP_INTR: the dump is inconsistent, start again. */
	rlen = 0;
	rput_stats(5, 100, NLM_F_MULTI, 1);
	rput_stats(5, 100, NLM_F_MULTI | NLM_F_DUMP_INTR, 1);
	rput_done(5, 0);
	ck_assert_int_eq(walk(&s), -EINTR);
	ck_assert_uint_eq(s.n, 1);

	/* A message too short for its nfgenmsg. */
	rlen = 0;
	rdone(rput(CTNL_SUBSYS_CT << 8 | CTNL_MSG_CT_GET_STATS, NLM_F_MULTI, 5, 100));
	ck_assert_int_eq(walk(&s), -EBADMSG);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ctnl");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, cpu_stats_message);
	tcase_add_test(tc, unknown_attributes_are_skipped);
	tcase_add_test(tc, known_attribute_with_wrong_size);
	tcase_add_test(tc, global_stats);
	tcase_add_test(tc, truncated_messages);
	tcase_add_test(tc, expect_stats_message);
	tcase_add_test(tc, attr_exact_sizes);
	tcase_add_test(tc, attr_nests);
	tcase_add_test(tc, attr_tb);
	tcase_add_test(tc, error_mapping);
	tcase_add_test(tc, request);
	tcase_add_test(tc, reply_walk);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
