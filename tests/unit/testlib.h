/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_TESTLIB_H
#define NFCE_TESTLIB_H

#include <check.h>
#include <stddef.h>

/* Absolute path of a file under tests/fixtures, from $NFCE_FIXTURES. */
const char *fixture_path(const char *rel);
/* Whole fixture file into a malloc'd buffer; *len gets its size. */
char *fixture_read(const char *rel, size_t *len);
/* O_PATH fd of a fixture directory. */
int fixture_dir(const char *rel);
/* Run one suite; the process exit status of a test main(). */
int run_suite(Suite *s);

#endif
