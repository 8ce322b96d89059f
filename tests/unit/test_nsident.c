// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Who a followed namespace is: the one /proc walk that finds a process in each namespace (over
 * a made-up procfs whose entries point at this process's real namespace), and the address map
 * behind the addr_owner hook (an address of two namespaces is nobody's).
 */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netns.h"
#include "testlib.h"

static void sh(const char *cmd)
{
	ck_assert_msg(system(cmd) == 0, "%s", cmd);
}

START_TEST(find_pids)
{
	char root[] = "/tmp/nfce-nsident-XXXXXX", cmd[512];
	struct netns_key keys[2];
	struct stat own;
	int fd;

	ck_assert_int_eq(stat("/proc/self/ns/net", &own), 0);
	ck_assert_ptr_nonnull(mkdtemp(root));
	/* 300 and 301 in our namespace, 299's ns/net no namespace, 42x and acpi no processes. */
	snprintf(cmd, sizeof(cmd),
		 "cd %s && mkdir -p 299/ns 300/ns 301/ns 42x/ns acpi && touch 299/ns/net && "
		 "ln -s /proc/self/ns/net 301/ns/net && ln -s /proc/self/ns/net 300/ns/net && "
		 "ln -s /proc/self/ns/net 42x/ns/net",
		 root);
	sh(cmd);
	fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	/* Unsorted on purpose: sorted inside, the caller's index kept. */
	keys[0] =
		(struct netns_key){ .dev = own.st_dev, .ino = own.st_ino + 1, .user = 7, .pid = 9 };
	keys[1] = (struct netns_key){ .dev = own.st_dev, .ino = own.st_ino, .user = 3 };
	ck_assert_int_eq(netns_find_pids(fd, keys, 2), 0);
	for (int i = 0; i < 2; i++) {
		if (keys[i].user == 3)
			ck_assert_int_eq(keys[i].pid, 300);
		else
			ck_assert_int_eq(keys[i].pid,
					 0); /* no process in it: 0, not left as it was */
	}
	ck_assert_int_eq(netns_find_pids(fd, keys, 0), 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	sh(cmd);
}
END_TEST

static void add(struct ns_addrmap *m, const char *s, uint32_t slot)
{
	unsigned char a[16];
	int family = strchr(s, ':') ? AF_INET6 : AF_INET;

	ck_assert_int_eq(inet_pton(family, s, a), 1);
	ck_assert_int_eq(ns_addrmap_add(m, family, a, slot, slot + 100), 0);
}

static int owner(const struct ns_addrmap *m, const char *s)
{
	unsigned char a[16];
	int family = strchr(s, ':') ? AF_INET6 : AF_INET;
	const struct ns_addr *hit;

	ck_assert_int_eq(inet_pton(family, s, a), 1);
	hit = ns_addrmap_find(m, family, a);
	if (!hit)
		return -1;
	ck_assert_uint_eq(hit->gen, hit->slot + 100);
	return (int)hit->slot;
}

START_TEST(addrmap)
{
	struct ns_addrmap m = { 0 };
	unsigned char v4[4] = { 10, 0, 0, 1 };

	ck_assert_ptr_null(ns_addrmap_find(&m, AF_INET, v4));
	add(&m, "10.0.0.2", 1);
	add(&m, "2001:db8::2", 1);
	add(&m, "10.0.0.3", 2);
	add(&m, "10.0.0.1", 2);
	/* The same address twice in one namespace (two interfaces) is still its own... */
	add(&m, "10.0.0.3", 2);
	/* ...in two, nobody's: overlapping pod networks must not name the wrong pod. */
	add(&m, "192.0.2.9", 1);
	add(&m, "192.0.2.9", 3);
	add(&m, "192.0.2.9", 2);
	ns_addrmap_seal(&m);
	ck_assert_int_eq(owner(&m, "10.0.0.1"), 2);
	ck_assert_int_eq(owner(&m, "10.0.0.2"), 1);
	ck_assert_int_eq(owner(&m, "10.0.0.3"), 2);
	ck_assert_int_eq(owner(&m, "2001:db8::2"), 1);
	ck_assert_int_eq(owner(&m, "192.0.2.9"), -1);
	ck_assert_int_eq(owner(&m, "10.0.0.4"), -1);
	/* 10.0.0.2 as the first 4 bytes of an IPv6 address is another address. */
	ck_assert_int_eq(owner(&m, "a00:2::"), -1);
	ck_assert_ptr_null(ns_addrmap_find(&m, AF_UNIX, v4));
	ck_assert_uint_eq(m.n, 4);
	ns_addrmap_free(&m);
	ns_addrmap_free(&m); /* twice is fine */
	ns_addrmap_seal(&m); /* empty */
	ck_assert_uint_eq(m.n, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("nsident");
	TCase *tc = tcase_create("nsident");

	tcase_add_test(tc, find_pids);
	tcase_add_test(tc, addrmap);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
