// SPDX-License-Identifier: GPL-2.0-or-later
/* HTTP Accept negotiation, and OpenMetrics's rewriting of "le" label values, on noise. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "metric_writer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy: a read past @size is a heap overflow that ASan reports. */
	char *buf = malloc(size ? size : 1);
	struct metric_writer w;
	enum mw_format f;
	char *le;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	f = mw_negotiate(buf, size);
	if (f != MW_FORMAT_TEXT && f != MW_FORMAT_OPENMETRICS)
		abort();
	free(buf);

	le = strndup((const char *)data, size);
	if (!le)
		return 0;
	mw_init(&w, 1 << 16);
	mw_set_format(&w, MW_FORMAT_OPENMETRICS);
	mw_u64(&w, "h_bucket", MW_LABELS({ "le", le }), 1);
	mw_finish(&w);
	if (!mw_error(&w) && (w.len < 16 || memcmp(w.buf + w.len - 6, "# EOF\n", 6) != 0))
		abort();
	mw_free(&w);
	free(le);
	return 0;
}
