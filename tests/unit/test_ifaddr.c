// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * RTM_NEWADDR parsing: IPv4 and IPv6, IFA_LOCAL over IFA_ADDRESS, messages that carry no
 * address skipped, malformed ones refused; a whole dump datagram; and a live dump of this
 * process's namespace.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

#include "ifaddr.h"
#include "testlib.h"

static char buf[8192] __attribute__((aligned(4)));

static struct nlmsghdr *addr_msg(void *at, uint16_t type, int family, unsigned prefix,
				 unsigned scope, unsigned index, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(at);
	struct ifaddrmsg *ifa;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_MULTI;
	nlh->nlmsg_seq = seq;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (unsigned char)family;
	ifa->ifa_prefixlen = (unsigned char)prefix;
	ifa->ifa_scope = (unsigned char)scope;
	ifa->ifa_index = index;
	return nlh;
}

static void put_in(struct nlmsghdr *nlh, uint16_t type, int family, const char *s)
{
	unsigned char a[16];

	ck_assert_int_eq(inet_pton(family, s, a), 1);
	mnl_attr_put(nlh, type, family == AF_INET ? 4 : 16, a);
}

/* Parse from an exact-size copy: a read past the message is a heap overflow. */
static int parse(const struct nlmsghdr *nlh, struct ifaddr *ret)
{
	void *copy = malloc(nlh->nlmsg_len);
	int r;

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, nlh, nlh->nlmsg_len);
	r = ifaddr_parse(copy, nlh->nlmsg_len, ret);
	free(copy);
	return r;
}

static const char *str(const struct ifaddr *a)
{
	static char s[INET6_ADDRSTRLEN];

	return inet_ntop(a->family, a->addr, s, sizeof(s));
}

START_TEST(ipv4_and_ipv6)
{
	struct nlmsghdr *nlh;
	struct ifaddr a;

	memset(buf, 0, sizeof(buf));
	nlh = addr_msg(buf, RTM_NEWADDR, AF_INET, 24, RT_SCOPE_UNIVERSE, 7, 1);
	put_in(nlh, IFA_ADDRESS, AF_INET, "198.18.0.2");
	put_in(nlh, IFA_LOCAL, AF_INET, "198.18.0.2");
	mnl_attr_put_strz(nlh, IFA_LABEL, "veth0");
	mnl_attr_put_u32(nlh, IFA_FLAGS, 0x80);
	ck_assert_int_eq(parse(nlh, &a), 0);
	ck_assert_int_eq(a.family, AF_INET);
	ck_assert_str_eq(str(&a), "198.18.0.2");
	ck_assert_uint_eq(a.prefixlen, 24);
	ck_assert_uint_eq(a.ifindex, 7);
	ck_assert_uint_eq(a.scope, RT_SCOPE_UNIVERSE);

	memset(buf, 0, sizeof(buf));
	nlh = addr_msg(buf, RTM_NEWADDR, AF_INET6, 64, RT_SCOPE_LINK, 3, 1);
	put_in(nlh, IFA_ADDRESS, AF_INET6, "fe80::1");
	ck_assert_int_eq(parse(nlh, &a), 0);
	ck_assert_str_eq(str(&a), "fe80::1");
	ck_assert_uint_eq(a.scope, RT_SCOPE_LINK);
}
END_TEST

START_TEST(local_over_peer)
{
	struct nlmsghdr *nlh;
	struct ifaddr a;

	/* Point-to-point: IFA_ADDRESS is the other end, IFA_LOCAL ours, in either order. */
	memset(buf, 0, sizeof(buf));
	nlh = addr_msg(buf, RTM_NEWADDR, AF_INET, 32, RT_SCOPE_UNIVERSE, 2, 1);
	put_in(nlh, IFA_LOCAL, AF_INET, "10.0.0.1");
	put_in(nlh, IFA_ADDRESS, AF_INET, "10.0.0.2");
	ck_assert_int_eq(parse(nlh, &a), 0);
	ck_assert_str_eq(str(&a), "10.0.0.1");
}
END_TEST

START_TEST(no_address)
{
	struct nlmsghdr *nlh;
	struct ifaddr a = { .ifindex = 99 };

	memset(buf, 0, sizeof(buf));
	nlh = addr_msg(buf, RTM_NEWLINK, AF_INET, 0, 0, 1, 1);
	ck_assert_int_eq(parse(nlh, &a), -ENOENT);
	memset(buf, 0, sizeof(buf));
	nlh = addr_msg(buf, RTM_NEWADDR, AF_PACKET, 0, 0, 1, 1);
	mnl_attr_put_u32(nlh, IFA_ADDRESS, 1);
	ck_assert_int_eq(parse(nlh, &a), -ENOENT);
	memset(buf, 0, sizeof(buf));
	nlh = addr_msg(buf, RTM_NEWADDR, AF_INET, 8, 0, 1, 1);
	mnl_attr_put_strz(nlh, IFA_LABEL, "lo");
	ck_assert_int_eq(parse(nlh, &a), -ENOENT);
	ck_assert_uint_eq(a.ifindex, 99); /* untouched */
}
END_TEST

START_TEST(malformed)
{
	struct nlmsghdr *nlh;
	struct ifaddr a;

	/* An IPv4 address of 16 bytes, an IPv6 one of 4. */
	memset(buf, 0, sizeof(buf));
	nlh = addr_msg(buf, RTM_NEWADDR, AF_INET, 24, 0, 1, 1);
	put_in(nlh, IFA_ADDRESS, AF_INET6, "::1");
	ck_assert_int_eq(parse(nlh, &a), -EINVAL);
	memset(buf, 0, sizeof(buf));
	nlh = addr_msg(buf, RTM_NEWADDR, AF_INET6, 64, 0, 1, 1);
	put_in(nlh, IFA_ADDRESS, AF_INET, "1.2.3.4");
	ck_assert_int_eq(parse(nlh, &a), -EINVAL);
	/* A prefix longer than the address. */
	memset(buf, 0, sizeof(buf));
	nlh = addr_msg(buf, RTM_NEWADDR, AF_INET, 33, 0, 1, 1);
	put_in(nlh, IFA_ADDRESS, AF_INET, "1.2.3.4");
	ck_assert_int_eq(parse(nlh, &a), -EINVAL);
	/* An attribute longer than the message. */
	memset(buf, 0, sizeof(buf));
	nlh = addr_msg(buf, RTM_NEWADDR, AF_INET, 24, 0, 1, 1);
	put_in(nlh, IFA_ADDRESS, AF_INET, "1.2.3.4");
	((struct nlattr *)((char *)nlh + MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct ifaddrmsg))))
		->nla_len = 200;
	ck_assert_int_eq(parse(nlh, &a), -EBADMSG);
	/* Shorter than its ifaddrmsg; a length beyond the buffer; less than a header. */
	memset(buf, 0, sizeof(buf));
	nlh = addr_msg(buf, RTM_NEWADDR, AF_INET, 24, 0, 1, 1);
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN + 4;
	ck_assert_int_eq(parse(nlh, &a), -EBADMSG);
	nlh->nlmsg_len = 64;
	ck_assert_int_eq(ifaddr_parse(buf, 40, &a), -EBADMSG);
	ck_assert_int_eq(ifaddr_parse(buf, 8, &a), -EBADMSG);
}
END_TEST

struct seen {
	int n;
	char s[8][INET6_ADDRSTRLEN];
};

static int collect(void *userdata, const struct ifaddr *a)
{
	struct seen *s = userdata;

	if (s->n < 8)
		inet_ntop(a->family, a->addr, s->s[s->n++], INET6_ADDRSTRLEN);
	return 0;
}

static int refuse(void *userdata, const struct ifaddr *a)
{
	(void)userdata;
	(void)a;
	return -ECANCELED;
}

START_TEST(dump_datagram)
{
	struct nlmsghdr *nlh;
	struct seen s = { 0 };
	size_t off = 0;

	memset(buf, 0, sizeof(buf));
	nlh = addr_msg(buf, RTM_NEWADDR, AF_INET, 8, RT_SCOPE_HOST, 1, 5);
	put_in(nlh, IFA_LOCAL, AF_INET, "127.0.0.1");
	off += MNL_ALIGN(nlh->nlmsg_len);
	/* Another request's leftover: skipped. */
	nlh = addr_msg(buf + off, RTM_NEWADDR, AF_INET, 24, 0, 2, 4);
	put_in(nlh, IFA_LOCAL, AF_INET, "192.0.2.1");
	off += MNL_ALIGN(nlh->nlmsg_len);
	nlh = addr_msg(buf + off, RTM_NEWADDR, AF_INET6, 128, RT_SCOPE_HOST, 1, 5);
	put_in(nlh, IFA_ADDRESS, AF_INET6, "::1");
	off += MNL_ALIGN(nlh->nlmsg_len);
	ck_assert_int_eq(ifaddr_reply_parse(buf, off, 5, 0, collect, &s), 0);
	ck_assert_int_eq(s.n, 2);
	ck_assert_str_eq(s.s[0], "127.0.0.1");
	ck_assert_str_eq(s.s[1], "::1");
	ck_assert_int_eq(ifaddr_reply_parse(buf, off, 5, 0, refuse, NULL), -ECANCELED);
	nlh = mnl_nlmsg_put_header(buf + off);
	nlh->nlmsg_type = NLMSG_DONE;
	nlh->nlmsg_seq = 5;
	mnl_nlmsg_put_extra_header(nlh, 4);
	off += MNL_ALIGN(nlh->nlmsg_len);
	ck_assert_int_eq(ifaddr_reply_parse(buf, off, 5, 0, collect, &s), 1);
	/* Interrupted: the addresses changed under the dump. */
	((struct nlmsghdr *)buf)->nlmsg_flags |= NLM_F_DUMP_INTR;
	ck_assert_int_eq(ifaddr_reply_parse(buf, off, 5, 0, collect, &s), -EINTR);
}
END_TEST

START_TEST(live_dump)
{
	struct seen s = { 0 };
	int r = ifaddr_dump(collect, &s);

	/* Where no route netlink is allowed (a sandbox), say so rather than pass on nothing. */
	if (r == -EPROTONOSUPPORT || r == -EPERM || r == -EACCES)
		return;
	ck_assert_int_eq(r, 0);
	for (int i = 0; i < s.n; i++)
		ck_assert(strchr(s.s[i], '.') || strchr(s.s[i], ':'));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ifaddr");
	TCase *tc = tcase_create("ifaddr");

	tcase_add_test(tc, ipv4_and_ipv6);
	tcase_add_test(tc, local_over_peer);
	tcase_add_test(tc, no_address);
	tcase_add_test(tc, malformed);
	tcase_add_test(tc, dump_datagram);
	tcase_add_test(tc, live_dump);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
