// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The small text parsers (sysctl numbers, timeout sysctl names, /proc/self/stat, btime), and the
 * one formatter: whatever the bytes, every kind of escape comes out valid UTF-8.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "process_metrics.h"
#include "slabinfo.h"
#include "text.h"
#include "timeouts.h"
#include "util.h"

struct out {
	char *buf;
	size_t len;
};

static void sink(void *p, const char *s, size_t n)
{
	struct out *o = p;

	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

/* Each input byte becomes at most 6 output bytes (\u00XX, \ufffd, &quot;). */
static void check_escapes(const char *s, size_t size)
{
	struct out o = { .buf = malloc(size * 6 + 1) };

	if (!o.buf)
		return;
	for (int kind = TEXT_LABEL; kind <= TEXT_PLAIN; kind++) {
		o.len = 0;
		text_escape((enum text_kind)kind, s, size, sink, &o);
		if (o.len > size * 6 || !text_utf8_valid(o.buf, o.len))
			abort();
		/* Nothing raw that would end a quoted value or a line. */
		if (kind != TEXT_HTML && kind != TEXT_PLAIN && kind != TEXT_HELP)
			for (size_t i = 0; i < o.len; i++)
				if (o.buf[i] == '\n' ||
				    (o.buf[i] == '"' && (i == 0 || o.buf[i - 1] != '\\')))
					abort();
	}
	free(o.buf);
}

static int slab_ignore(void *userdata, const struct slab_cache *c)
{
	(void)userdata;
	(void)c;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct proc_self_stat st;
	struct timeout_name tn;
	uint64_t v;
	char *name;

	check_escapes(s, size);
	parse_u64(s, size, &v);
	slabinfo_parse(s, size, slab_ignore, NULL);
	proc_self_stat_parse(s, size, &st);
	proc_stat_btime_parse(s, size, &v);
	name = strndup(s, size);
	if (name) {
		timeout_sysctl_parse(name, &tn);
		free(name);
	}
	return 0;
}
