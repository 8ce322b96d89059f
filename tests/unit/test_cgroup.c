// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Pod identity from /proc/PID/cgroup: the kubelet's systemd and cgroupfs drivers, the three
 * runtimes, cgroup v1, v2 and hybrid files, and junk that must be refused without a read past
 * its end (each input is parsed from an exact-size copy, so ASan and valgrind see one).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "testlib.h"

#define UID_DASHED "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
#define UID_UNDER "1b4e28ba_2fa1_11d2_883f_0016d3cca427"
#define CID "3f2a9c0d1e4b5a6978c0d1e2f3a4b5c6d7e8f90112233445566778899aabbccd"
#define CID2 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static int parse(const char *s, struct pod_id *ret)
{
	size_t n = strlen(s);
	char *copy = malloc(n ? n : 1);
	int r;

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, s, n);
	r = cgroup_pod_parse(copy, n, ret);
	free(copy);
	return r;
}

static void expect(const char *file, const char *uid, const char *cid)
{
	struct pod_id id;

	memset(&id, 'x', sizeof(id));
	ck_assert_msg(parse(file, &id) == 0, "%s", file);
	ck_assert_str_eq(id.uid, uid);
	ck_assert_str_eq(id.container_id, cid);
}

static void refuse(const char *file, int err)
{
	struct pod_id id;

	memset(&id, 'x', sizeof(id));
	ck_assert_int_eq(parse(file, &id), err);
	/* Written only on success. */
	ck_assert_int_eq(id.uid[0], 'x');
}

START_TEST(systemd_driver)
{
	expect("0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_UNDER
	       ".slice/cri-containerd-" CID ".scope\n",
	       UID_DASHED, CID);
	expect("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_UNDER
	       ".slice/crio-" CID ".scope\n",
	       UID_DASHED, CID);
	/* Guaranteed pods sit right under kubepods.slice. */
	expect("0::/kubepods.slice/kubepods-pod" UID_UNDER ".slice/docker-" CID ".scope\n",
	       UID_DASHED, CID);
	/* The pod's own cgroup: a UID, no container. */
	expect("0::/kubepods.slice/kubepods-pod" UID_UNDER ".slice\n", UID_DASHED, "");
	/* Upper-case hex and a missing newline at the end. */
	expect("0::/kubepods.slice/kubepods-pod1B4E28BA_2FA1_11D2_883F_0016D3CCA427.slice",
	       UID_DASHED, "");
	/* A static pod's UID is its config hash, 32 hex. */
	expect("0::/kubepods.slice/kubepods-burstable.slice/"
	       "kubepods-burstable-pod0123456789abcdef0123456789abcdef.slice/cri-containerd-" CID
	       ".scope\n",
	       "0123456789abcdef0123456789abcdef", CID);
	/* Below the test's own cgroup, or seen from a cgroup namespace. */
	expect("0::/user.slice/session-3.scope/kubepods.slice/kubepods-besteffort.slice/"
	       "kubepods-besteffort-pod" UID_UNDER ".slice/cri-containerd-" CID ".scope\n",
	       UID_DASHED, CID);
	expect("0::/../../kubepods-besteffort-pod" UID_UNDER ".slice/cri-containerd-" CID
	       ".scope\n",
	       UID_DASHED, CID);
	/* A container ID with a non-hex digit: the UID alone, nothing half-written (fuzz_cgroup). */
	expect("0::/kubepods.slice/kubepods-pod" UID_UNDER
	       ".slice/docker-3f2a9c0d1e4b5a6978c0d1e2f3a4b5c6d7e8f90112233445566578899aabjccd.scope\n",
	       UID_DASHED, "");
	/* crio's conmon is not the container. */
	expect("0::/kubepods.slice/kubepods-pod" UID_UNDER ".slice/crio-conmon-" CID ".scope\n",
	       UID_DASHED, "");
}
END_TEST

START_TEST(cgroupfs_driver)
{
	expect("0::/kubepods/besteffort/pod" UID_DASHED "/" CID "\n", UID_DASHED, CID);
	expect("0::/kubepods/burstable/pod" UID_DASHED "/" CID "\n", UID_DASHED, CID);
	expect("0::/kubepods/pod" UID_DASHED "/" CID "\n", UID_DASHED, CID);
	expect("0::/kubepods/pod" UID_DASHED "\n", UID_DASHED, "");
	/* Not under kubepods: a directory named pod<uid> is nobody's pod. */
	refuse("0::/elsewhere/pod" UID_DASHED "/" CID "\n", -ENOENT);
	/* A bare ID counts only right below a pod. */
	refuse("0::/system.slice/" CID "\n", -ENOENT);
}
END_TEST

START_TEST(v1_and_hybrid)
{
	/* cgroup v1: the first line with most wins. */
	expect("12:pids:/kubepods/besteffort/pod" UID_DASHED "\n"
	       "11:cpu,cpuacct:/kubepods/besteffort/pod" UID_DASHED "/" CID "\n"
	       "10:memory:/kubepods/besteffort/pod" UID_DASHED "/" CID2 "\n"
	       "1:name=systemd:/kubepods/besteffort/pod" UID_DASHED "/" CID "\n",
	       UID_DASHED, CID);
	/* Hybrid: the unified line says nothing, the v1 ones do. */
	expect("1:name=systemd:/kubepods.slice/kubepods-pod" UID_UNDER ".slice/cri-containerd-" CID
	       ".scope\n0::/\n",
	       UID_DASHED, CID);
	/* A unified line that names a pod is preferred to a fuller v1 line. */
	expect("3:memory:/kubepods/pod" UID_DASHED "/" CID "\n"
	       "0::/kubepods.slice/kubepods-pod" UID_UNDER ".slice\n",
	       UID_DASHED, "");
}
END_TEST

START_TEST(outside_pods)
{
	/* A container of a runtime's own: its ID without a UID. */
	expect("0::/system.slice/docker-" CID ".scope\n", "", CID);
	refuse("0::/\n", -ENOENT);
	refuse("0::/user.slice/user-1000.slice/session-2.scope\n", -ENOENT);
	refuse("12:pids:/\n11:cpu:/\n0::/init.scope\n", -ENOENT);
	/* Almost: one hex digit short, a separator out of place, a non-hex digit. */
	refuse("0::/kubepods.slice/kubepods-pod1b4e28ba_2fa1_11d2_883f_0016d3cca42.slice\n",
	       -ENOENT);
	refuse("0::/kubepods.slice/kubepods-pod1b4e28ba2_fa1_11d2_883f_0016d3cca427.slice\n",
	       -ENOENT);
	refuse("0::/kubepods.slice/kubepods-pod1b4e28ba_2fa1_11d2_883f_0016d3cca42g.slice\n",
	       -ENOENT);
	refuse("0::/system.slice/docker-" CID "0.scope\n", -ENOENT);
	refuse("0::/kubepods.slice/kubepods-pod.slice\n", -ENOENT);
	refuse("0::/kubepods.slice/kubepods-besteffort-pod.slice\n", -ENOENT);
}
END_TEST

START_TEST(junk)
{
	struct pod_id id;

	refuse("", -EINVAL);
	refuse("\n", -EINVAL);
	refuse("0::/a\n\n0::/b\n", -EINVAL);
	refuse("hello world", -EINVAL);
	refuse("0:/kubepods\n", -EINVAL);
	refuse("x::/kubepods\n", -EINVAL);
	refuse("::/kubepods\n", -EINVAL);
	refuse("0::kubepods\n", -EINVAL);
	refuse("0::\n", -EINVAL);
	refuse("12345678901::/\n", -EINVAL);
	/* A good line does not excuse a bad one. */
	refuse("0::/kubepods/pod" UID_DASHED "\ngarbage\n", -EINVAL);
	/* A NUL inside. */
	ck_assert_int_eq(cgroup_pod_parse("0::/\0/kubepods", 15, &id), -EINVAL);
	ck_assert_int_eq(cgroup_pod_parse(NULL, 0, &id), -EINVAL);
	/* The length, not the NUL, ends the input: the UID is cut short here. */
	ck_assert_int_eq(cgroup_pod_parse("0::/kubepods/pod" UID_DASHED, 30, &id), -ENOENT);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cgroup");
	TCase *tc = tcase_create("cgroup");

	tcase_add_test(tc, systemd_driver);
	tcase_add_test(tc, cgroupfs_driver);
	tcase_add_test(tc, v1_and_hybrid);
	tcase_add_test(tc, outside_pods);
	tcase_add_test(tc, junk);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
