/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_SLABINFO_H
#define NFCE_SLABINFO_H

#include <stddef.h>
#include <stdint.h>

struct slab_cache {
	char name[64];
	uint64_t active_objs;
	uint64_t num_objs;
	uint64_t objsize;
};

typedef int (*slab_fn)(void *userdata, const struct slab_cache *c);

/*
 * /proc/slabinfo, version 2.x: its second line names the columns ("# name <active_objs>
 * <num_objs> <objsize> ..."), and we find ours by those names. -EBADMSG when malformed or
 * of another version; -ENODATA when it has no header.
 */
int slabinfo_parse(const char *buf, size_t len, slab_fn fn, void *userdata);

#endif
