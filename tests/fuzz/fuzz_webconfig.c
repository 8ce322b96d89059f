// SPDX-License-Identifier: GPL-2.0-or-later
/* Input: a --web.config.file, parsed as from /etc/nfce; then one password check if it has users. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "text.h"
#include "webconfig.h"

/* The error as the logger writes it: one line of valid UTF-8, whatever the file holds. */
static void check_line(void *sink, const char *s, size_t n)
{
	(void)sink;
	if (memchr(s, '\n', n) || !text_utf8_valid(s, n))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct webconfig wc;
	char err[256];

	if (webconfig_parse((const char *)data, size, "/etc/nfce", &wc, err, sizeof(err)) < 0) {
		/* Every error is terminated; raw, it goes through text_escape() to the log. */
		if (!memchr(err, '\0', sizeof(err)))
			__builtin_trap();
		text_escape(TEXT_LOGFMT, err, strlen(err), check_line, NULL);
		return 0;
	}
	if (wc.tls && (!wc.cert_file || !wc.key_file))
		__builtin_trap();
	/* Only for cost 4, the cheapest: "$2y$14$" or "$2y$24$" would take minutes a run. */
	if (wc.n_users && wc.users[0].hash[4] == '0' && wc.users[0].hash[5] <= '4')
		webconfig_check_password(&wc, wc.users[0].name, strlen(wc.users[0].name), "x", 1);
	webconfig_free(&wc);
	return 0;
}
