// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The exposition of every /proc-fed collector on every committed fixture, in both formats,
 * alone and as two labelled namespaces, compared byte for byte with tests/golden/. The files
 * were written by the code before the typed-sample restructure: any drift in names, labels,
 * types, values or order fails here. NFCE_GOLDEN_UPDATE=1 rewrites them (review the diff).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector.h"
#include "testlib.h"

static const char *const fixtures[] = {
	"linux-3.10-4cpu", "linux-4.19-8cpu",	 "linux-5.10-1cpu",
	"linux-6.18-2cpu", "future-kernel-2cpu", "wrap-2cpu-a",
};

static const struct collector_ops *const ops[] = {
	&table_collector,  &stat_collector,   &timeouts_collector,
	&lnstat_collector, &kernel_collector,
};

/* Every collector once on @fixture into @w, as one scope (with a netns label) or alone. */
static void render(struct metric_writer *w, const char *fixture, unsigned scope, const char *netns)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct config cfg = {
			.scope = scope,
			.net_dir = "net",
			.procfs = fixture,
			.procfs_fd = fixture_dir(fixture),
			.sysfs_fd = -1,
			.no_netlink = true,
		};
		struct collector c = { .ops = ops[i], .cfg = &cfg, .enabled = true };
		size_t mark = w->len;

		if (!(ops[i]->scopes & scope)) {
			close(cfg.procfs_fd);
			continue;
		}
		c.priv = calloc(1, ops[i]->priv_size ? ops[i]->priv_size : 1);
		ck_assert_ptr_nonnull(c.priv);
		if (!ops[i]->init || ops[i]->init(&c, &cfg) == 0) {
			mw_set_const_label(w, netns ? "netns" : NULL, netns);
			if (ops[i]->collect(&c, w) < 0)
				mw_truncate(w, mark);
			mw_set_const_label(w, NULL, NULL);
		}
		if (ops[i]->fini)
			ops[i]->fini(&c);
		free(c.priv);
		close(cfg.procfs_fd);
	}
	ck_assert_int_eq(mw_error(w), 0);
}

static void compare(const char *name, const char *buf, size_t len)
{
	char rel[256];
	const char *path;

	snprintf(rel, sizeof(rel), "../golden/%s", name);
	path = fixture_path(rel);
	if (getenv("NFCE_GOLDEN_UPDATE")) {
		FILE *f = fopen(path, "w");

		ck_assert_ptr_nonnull(f);
		ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
		ck_assert_int_eq(fclose(f), 0);
	} else {
		size_t glen;
		char *want = fixture_read(rel, &glen);

		ck_assert_msg(glen == len && memcmp(want, buf, len) == 0,
			      "%s differs from the golden file:\n--- got ---\n%.*s", name, (int)len,
			      buf);
		free(want);
	}
}

START_TEST(golden_alone)
{
	for (int fmt = 0; fmt < 2; fmt++) {
		struct metric_writer w;
		char name[128];

		mw_init(&w, 1 << 22);
		mw_set_format(&w, fmt ? MW_FORMAT_OPENMETRICS : MW_FORMAT_TEXT);
		render(&w, fixtures[_i], SCOPE_HOST | SCOPE_NETNS, NULL);
		mw_finish(&w);
		snprintf(name, sizeof(name), "%s.%s", fixtures[_i], fmt ? "om" : "prom");
		compare(name, w.buf, w.len);
		mw_free(&w);
	}
}
END_TEST

/* The --netns layout: host facts unlabelled, then two namespaces' series, regrouped. */
START_TEST(golden_netns)
{
	for (int fmt = 0; fmt < 2; fmt++) {
		struct metric_writer ns, out;
		char name[128];

		mw_init(&ns, 1 << 22);
		mw_track_families(&ns, true);
		mw_init(&out, 1 << 22);
		mw_set_format(&ns, fmt ? MW_FORMAT_OPENMETRICS : MW_FORMAT_TEXT);
		mw_set_format(&out, fmt ? MW_FORMAT_OPENMETRICS : MW_FORMAT_TEXT);
		render(&ns, fixtures[_i], SCOPE_HOST, NULL);
		render(&ns, fixtures[_i], SCOPE_NETNS, "a");
		render(&ns, fixtures[_i], SCOPE_NETNS, "b \"quoted\" \\ back\nslash");
		ck_assert_int_eq(mw_regroup(&out, &ns), 0);
		mw_finish(&out);
		snprintf(name, sizeof(name), "%s.netns.%s", fixtures[_i], fmt ? "om" : "prom");
		compare(name, out.buf, out.len);
		mw_free(&ns);
		mw_free(&out);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("golden");
	TCase *tc = tcase_create("golden");
	size_t n = sizeof(fixtures) / sizeof(fixtures[0]);

	tcase_add_loop_test(tc, golden_alone, 0, (int)n);
	tcase_add_loop_test(tc, golden_netns, 0, (int)n);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
