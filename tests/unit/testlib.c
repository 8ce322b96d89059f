// SPDX-License-Identifier: GPL-2.0-or-later
#include "testlib.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *fixture_path(const char *rel)
{
	static char path[4096];
	const char *root = getenv("NFCE_FIXTURES");

	ck_assert_msg(root, "NFCE_FIXTURES is not set");
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return path;
}

char *fixture_read(const char *rel, size_t *len)
{
	const char *path = fixture_path(rel);
	struct stat st;
	char *buf;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "cannot open %s", path);
	ck_assert_int_eq(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(read(fd, buf, (size_t)st.st_size), st.st_size);
	buf[st.st_size] = '\0';
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

int fixture_dir(const char *rel)
{
	const char *path = fixture_path(rel);
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);

	ck_assert_msg(fd >= 0, "cannot open %s", path);
	return fd;
}

int run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
