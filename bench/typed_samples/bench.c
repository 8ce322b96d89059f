// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What the typed sample path saves per scrape, measured alone: N namespaces' collectors on a
 * captured /proc tree, rendered with the netns label as --netns does, then
 *   regroup: the old text scan for "# HELP" vs mw_regroup() on recorded marks;
 *   status:  rendering with no consumer, with the status page's tap, and with no tap plus the
 *            old status page's parse of the finished text.
 * Prints the minimum over ROUNDS of the mean time per scrape, in microseconds. With a MODE
 * (old_regroup, regroup, render, render_tap, render_old_parse), runs only that ITERATIONS
 * times and prints nothing: for counting instructions under callgrind, which a busy machine
 * does not disturb.
 * Usage: bench FIXTURE_DIR [N] [ITERATIONS] [MODE]
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collector.h"
#include "metric_names.h"
#include "old.h"
#include "status.h"

#define ROUNDS 5

static const struct collector_ops *const ops[] = { &table_collector, &stat_collector,
						   &lnstat_collector };

struct inst {
	struct config cfg;
	struct collector c[3];
	char label[32];
};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void render(struct inst *v, size_t n, struct metric_writer *w)
{
	mw_reset(w);
	for (size_t k = 0; k < n; k++) {
		mw_set_const_label(w, ML_NETNS, v[k].label);
		for (size_t i = 0; i < 3; i++)
			v[k].c[i].ops->collect(&v[k].c[i], w);
	}
	mw_set_const_label(w, NULL, NULL);
}

static void tap(void *ctx, const struct mw_sample *s)
{
	status_sample(ctx, s);
}

int main(int argc, char **argv)
{
	size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 200;
	unsigned iters = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 50;
	struct metric_writer nsw, out;
	struct old_merge om = { 0 };
	static struct status st;
	struct inst *v;
	double best[5] = { 1e18, 1e18, 1e18, 1e18, 1e18 }, sink = 0;
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FIXTURE_DIR [N] [ITERATIONS]\n", argv[0]);
		return 2;
	}
	fd = open(argv[1], O_PATH | O_DIRECTORY | O_CLOEXEC);
	v = calloc(n, sizeof(*v));
	if (fd < 0 || !v)
		return 1;
	for (size_t k = 0; k < n; k++) {
		v[k].cfg = (struct config){ .scope = SCOPE_NETNS,
					    .net_dir = "net",
					    .procfs = argv[1],
					    .procfs_fd = fd,
					    .sysfs_fd = -1,
					    .no_netlink = true };
		snprintf(v[k].label, sizeof(v[k].label), "ns-%zu", k);
		for (size_t i = 0; i < 3; i++) {
			v[k].c[i] = (struct collector){ .ops = ops[i],
							.cfg = &v[k].cfg,
							.enabled = true };
			v[k].c[i].priv = calloc(1, ops[i]->priv_size);
			if (ops[i]->init && ops[i]->init(&v[k].c[i], &v[k].cfg) < 0)
				return 1;
		}
	}
	mw_init(&nsw, 256u << 20);
	mw_init(&out, 256u << 20);
	mw_track_families(&nsw, true);
	render(v, n, &nsw); /* warm: first reads, buffer sizes */
	if (argc > 4) {
		const char *mode = argv[4];

		if (strcmp(mode, "render_tap") == 0)
			mw_set_tap(&nsw, tap, &st);
		for (unsigned i = 0; i < iters; i++) {
			mw_reset(&out);
			if (strcmp(mode, "old_regroup") == 0)
				old_merge(&om, &out, &nsw);
			else if (strcmp(mode, "regroup") == 0)
				mw_regroup(&out, &nsw);
			else if (strncmp(mode, "render", 6) == 0)
				render(v, n, &nsw);
			if (strcmp(mode, "render_old_parse") == 0)
				sink += old_status_pass(nsw.buf, nsw.len);
		}
		return sink < 0;
	}
	for (int r = 0; r < ROUNDS; r++) {
		double t[6];

		t[0] = now_us();
		for (unsigned i = 0; i < iters; i++) {
			mw_reset(&out);
			old_merge(&om, &out, &nsw);
		}
		t[1] = now_us();
		for (unsigned i = 0; i < iters; i++) {
			mw_reset(&out);
			mw_regroup(&out, &nsw);
		}
		t[2] = now_us();
		for (unsigned i = 0; i < iters; i++)
			render(v, n, &nsw);
		t[3] = now_us();
		mw_set_tap(&nsw, tap, &st);
		for (unsigned i = 0; i < iters; i++) {
			status_begin(&st);
			render(v, n, &nsw);
			status_end(&st, true, i);
		}
		mw_set_tap(&nsw, NULL, NULL);
		t[4] = now_us();
		for (unsigned i = 0; i < iters; i++) {
			render(v, n, &nsw);
			sink += old_status_pass(nsw.buf, nsw.len);
		}
		t[5] = now_us();
		for (int k = 0; k < 5; k++)
			if ((t[k + 1] - t[k]) / iters < best[k])
				best[k] = (t[k + 1] - t[k]) / iters;
	}
	printf("namespaces\t%zu\nbody_bytes\t%zu\n", n, out.len);
	printf("regroup_old_text_scan_us\t%.1f\nregroup_marks_us\t%.1f\n", best[0], best[1]);
	printf("render_us\t%.1f\nrender_with_status_tap_us\t%.1f\n", best[2], best[3]);
	printf("render_then_old_status_parse_us\t%.1f\n", best[4]);
	printf("status_tap_cost_us\t%.1f\nold_status_parse_cost_us\t%.1f\n", best[3] - best[2],
	       best[4] - best[2]);
	return sink < 0;
}
