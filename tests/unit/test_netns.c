// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Namespace discovery over a made-up procfs and run directory whose entries point at this
 * process's real network namespace (the one nsfs file every test can stat), next to decoys
 * that are not namespaces: plain files, a dangling link, non-numeric names.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metric_writer.h"
#include "netns.h"
#include "testlib.h"

struct tree {
	char root[64];
	char proc[96];
	char run[96];
	int proc_fd;
};

static void mkpath(const char *path)
{
	ck_assert_msg(mkdir(path, 0755) == 0, "mkdir %s", path);
}

static void put_link(const char *target, const char *path)
{
	ck_assert_msg(symlink(target, path) == 0, "symlink %s", path);
}

static void put_file(const char *path)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fclose(f);
}

static void tree_make(struct tree *t)
{
	char p[160];

	snprintf(t->root, sizeof(t->root), "/tmp/nfce-netns-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(t->root));
	snprintf(t->proc, sizeof(t->proc), "%s/proc", t->root);
	snprintf(t->run, sizeof(t->run), "%s/run", t->root);
	mkpath(t->proc);
	mkpath(t->run);
	/* self/ns/net tells discovery which device is nsfs. */
	snprintf(p, sizeof(p), "%s/self", t->proc);
	put_link("/proc/self", p);
	/* Two processes in our namespace, one whose ns/net is no namespace, a name to skip. */
	for (int pid = 300; pid <= 302; pid++) {
		snprintf(p, sizeof(p), "%s/%d", t->proc, pid);
		mkpath(p);
		snprintf(p, sizeof(p), "%s/%d/ns", t->proc, pid);
		mkpath(p);
		snprintf(p, sizeof(p), "%s/%d/ns/net", t->proc, pid);
		if (pid == 302)
			put_file(p);
		else
			put_link("/proc/self/ns/net", p);
	}
	snprintf(p, sizeof(p), "%s/acpi", t->proc);
	mkpath(p);
	/* ip netns add: "b" is mounted (here: a link to a namespace), "a" not yet, "c" dangles. */
	snprintf(p, sizeof(p), "%s/b", t->run);
	put_link("/proc/self/ns/net", p);
	snprintf(p, sizeof(p), "%s/zz", t->run);
	put_link("/proc/self/ns/net", p);
	snprintf(p, sizeof(p), "%s/a", t->run);
	put_file(p);
	snprintf(p, sizeof(p), "%s/c", t->run);
	put_link("/nonexistent", p);
	t->proc_fd = open(t->proc, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(t->proc_fd, 0);
}

static void tree_remove(struct tree *t)
{
	char cmd[128];

	close(t->proc_fd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->root);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(scan_all)
{
	struct netns_scan s = { 0 };
	struct tree t;
	struct stat own;

	ck_assert_int_eq(stat("/proc/self/ns/net", &own), 0);
	tree_make(&t);
	ck_assert_int_eq(netns_scan(&s, t.proc_fd, t.run, NULL, 0), 0);
	/* One namespace however many ways lead to it: lowest pid, smallest name. */
	ck_assert_uint_eq(s.n, 1);
	ck_assert_uint_eq(s.v[0].ino, own.st_ino);
	ck_assert_int_eq(s.v[0].pid, 300);
	ck_assert_str_eq(s.v[0].name, "b");
	/* Scanning again reuses the array and finds the same. */
	ck_assert_int_eq(netns_scan(&s, t.proc_fd, t.run, NULL, 0), 0);
	ck_assert_uint_eq(s.n, 1);
	netns_scan_free(&s);
	tree_remove(&t);
}
END_TEST

START_TEST(scan_named)
{
	const char *names[] = { "a", "zz", "../b", "missing", "c" };
	struct netns_scan s = { 0 };
	struct tree t;
	int fd;

	tree_make(&t);
	ck_assert_int_eq(netns_scan(&s, t.proc_fd, t.run, names, 5), 0);
	/* Only "zz": "a" is not mounted, "../b" is no name, "c" dangles. Processes unscanned. */
	ck_assert_uint_eq(s.n, 1);
	ck_assert_str_eq(s.v[0].name, "zz");
	ck_assert_int_eq(s.v[0].pid, 0);
	fd = netns_open(&s.v[0], t.proc_fd, t.run);
	ck_assert_int_ge(fd, 0);
	close(fd);
	/* What a path leads to now must still be the namespace that was seen. */
	s.v[0].ino++;
	ck_assert_int_eq(netns_open(&s.v[0], t.proc_fd, t.run), -ESTALE);
	netns_scan_free(&s);
	/* No run directory at all: nothing named, not an error. */
	ck_assert_int_eq(netns_scan(&s, t.proc_fd, "/nonexistent", names, 5), 0);
	ck_assert_uint_eq(s.n, 0);
	netns_scan_free(&s);
	tree_remove(&t);
}
END_TEST

START_TEST(const_label)
{
	struct metric_writer w;
	char *out;

	mw_init(&w, 1 << 16);
	mw_set_const_label(&w, "netns", "a\"b\\c\nd");
	mw_u64(&w, "x", MW_NO_LABELS, 1);
	mw_u64(&w, "y", MW_LABELS({ "k", "v" }), 2);
	mw_set_const_label(&w, NULL, NULL);
	mw_u64(&w, "z", MW_NO_LABELS, 3);
	ck_assert_int_eq(mw_error(&w), 0);
	out = strndup(w.buf, w.len);
	ck_assert_str_eq(out, "x{netns=\"a\\\"b\\\\c\\nd\"} 1\n"
			      "y{netns=\"a\\\"b\\\\c\\nd\",k=\"v\"} 2\n"
			      "z 3\n");
	free(out);
	mw_free(&w);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("netns");
	TCase *tc = tcase_create("netns");

	tcase_add_test(tc, scan_all);
	tcase_add_test(tc, scan_named);
	tcase_add_test(tc, const_label);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
