// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Instructions per message of the whole per-event path, ct_event_parse() + flows_apply(), over
 * the captured corpus (each round's ids shifted so every round brings new flows), for
 * callgrind. Build it against any tree's libraries; -DNO_ATTRIB for a tree before issue 13.
 *
 *   cc -O2 -I collectors -I netlink -I common bench/ctparse/applycount.c \
 *      BUILD/collectors/libcollectors.a BUILD/netlink/libnetlink.a BUILD/common/libcommon.a \
 *      -lmnl -o /tmp/applycount
 *   valgrind --tool=callgrind /tmp/applycount bench/ctparse/corpus.bin 1 50   # 1: attribution on
 *
 * Instructions per message = callgrind's total / the count printed (51,200 for 50 rounds).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include "ctevent.h"
#include "flows.h"
int main(int argc, char **argv)
{
	FILE *fp = argc == 4 ? fopen(argv[1], "rb") : NULL;
	static char buf[1 << 20];
	size_t n, off;
	int attrib, reps;
	struct flows f;
#ifndef NO_ATTRIB
	struct attrib_cfg ac = { .slots = 1024, .prefix4 = 32, .prefix6 = 64 };
#endif
	uint32_t now = 6001;
	long ok = 0;

	if (!fp) {
		fprintf(stderr, "usage: %s CORPUS ATTRIB(0|1) ROUNDS\n", argv[0]);
		return 2;
	}
	n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	attrib = atoi(argv[2]);
	reps = atoi(argv[3]);
	flows_init(&f);
#ifndef NO_ATTRIB
	if (attrib)
		flows_attrib_init(&f, &ac);
#else
	(void)attrib;
#endif
	flows_dump_begin(&f);
	flows_dump_end(&f);
	for (int r = 0; r < reps; r++)
		for (off = 0; off + 4 <= n;) {
			uint32_t len;
			struct ct_event ev;

			memcpy(&len, buf + off, 4);
			if (ct_event_parse((const struct nlmsghdr *)(buf + off + 4), &ev) == 0) {
				ev.id += (uint32_t)r * 100000; /* distinct flows per round */
				if (flows_apply(&f, &ev, false, now++ / 100) == 0)
					ok++;
			}
			off += 4 + len;
		}
	printf("%ld\n", ok);
	flows_fini(&f);
	return 0;
}
