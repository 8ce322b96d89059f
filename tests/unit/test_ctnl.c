// SPDX-License-Identifier: GPL-2.0-or-later
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>

#include "ctnl.h"
#include "testlib.h"

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
	struct ctnl_cpu m;

	mnl_attr_put_u16(nlh, 10, 1);
	ck_assert_int_eq(ctnl_parse_cpu(nlh, 15, &m), -EBADMSG);
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
	suite_add_tcase(s, tc);
	return run_suite(s);
}
