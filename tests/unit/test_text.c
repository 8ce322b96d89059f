// SPDX-License-Identifier: GPL-2.0-or-later
/* The one formatter: every kind's escapes, and never an invalid UTF-8 byte out. */
#include <stdlib.h>
#include <string.h>

#include "metric_writer.h"
#include "testlib.h"
#include "text.h"

struct out {
	char buf[4096];
	size_t len;
};

static void sink(void *p, const char *s, size_t n)
{
	struct out *o = p;

	ck_assert_uint_le(o->len + n, sizeof(o->buf) - 1);
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static const char *esc(enum text_kind kind, const char *s, size_t n)
{
	static struct out o;

	o.len = 0;
	o.buf[0] = '\0';
	text_escape(kind, s, n, sink, &o);
	ck_assert(text_utf8_valid(o.buf, o.len));
	return o.buf;
}

#define ESC(kind, lit) esc(kind, lit, sizeof(lit) - 1)

START_TEST(label_value)
{
	ck_assert_str_eq(ESC(TEXT_LABEL, "a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
	ck_assert_str_eq(ESC(TEXT_LABEL, "tab\there"), "tab\there");
	ck_assert_str_eq(ESC(TEXT_LABEL, "bad\xffname"), "bad\xef\xbf\xbdname");
	ck_assert_str_eq(ESC(TEXT_LABEL, "caf\xc3\xa9"), "caf\xc3\xa9");
	ck_assert_str_eq(ESC(TEXT_HELP, "say \"hi\"\n"), "say \"hi\"\\n");
	ck_assert_str_eq(ESC(TEXT_HELP_OM, "say \"hi\"\n"), "say \\\"hi\\\"\\n");
}
END_TEST

START_TEST(json_html_logfmt_plain)
{
	ck_assert_str_eq(ESC(TEXT_JSON, "a\"\\\n\t\r\x01\x7f"), "a\\\"\\\\\\n\\t\\r\\u0001\\u007f");
	ck_assert_str_eq(ESC(TEXT_JSON, "x\xc0\xafy"), "x\\ufffd\\ufffdy");
	ck_assert_str_eq(ESC(TEXT_HTML, "<a href='x'>&\"</a>"),
			 "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
	ck_assert_str_eq(ESC(TEXT_LOGFMT, "a \"b\"\\\n\x1b"), "a \\\"b\\\"\\\\\\n\\x1b");
	ck_assert_str_eq(ESC(TEXT_PLAIN, "ns \"q\"\n\x1b[2J"), "ns \"q\"\\x0a\\x1b[2J");
	/* C1 controls (CSI is U+009B) are escaped for terminals and logs, kept elsewhere. */
	ck_assert_str_eq(ESC(TEXT_PLAIN, "a\xc2\x9b"
					 "2Jb\xc2\xa0"),
			 "a\\u009b2Jb\xc2\xa0");
	ck_assert_str_eq(ESC(TEXT_LOGFMT, "\xc2\x85"), "\\u0085");
	ck_assert_str_eq(ESC(TEXT_LABEL, "\xc2\x85"), "\xc2\x85");
	ck_assert(text_logfmt_bare("plain", 5));
	ck_assert(!text_logfmt_bare("", 0));
	ck_assert(!text_logfmt_bare("a b", 3));
	ck_assert(!text_logfmt_bare("caf\xc3\xa9", 5));
}
END_TEST

/* Each ill-formed sequence of Unicode's table 3-8 examples: one U+FFFD per bad byte. */
START_TEST(utf8_edges)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "\xc0\x80", "\xef\xbf\xbd\xef\xbf\xbd" }, /* overlong NUL */
		{ "\xe0\x80\xaf", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* overlong '/' */
		{ "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* surrogate */
		{ "\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "\xe2\x82", "\xef\xbf\xbd\xef\xbf\xbd" }, /* truncated at the end */
		{ "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80" }, /* 4 bytes, valid */
		{ "\xef\xbf\xbd", "\xef\xbf\xbd" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_str_eq(esc(TEXT_LABEL, cases[i].in, strlen(cases[i].in)), cases[i].want);
	ck_assert(!text_utf8_valid("\xff", 1));
	ck_assert(text_utf8_valid("", 0));
}
END_TEST

/* Every byte string of up to 3 bytes from a set of interesting bytes comes out valid. */
START_TEST(always_valid)
{
	static const unsigned char bytes[] = { 0x00, 0x0a, 0x22, 0x5c, 0x41, 0x7f, 0x80, 0xbf,
					       0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xff };
	size_t nb = sizeof(bytes);

	for (int kind = TEXT_LABEL; kind <= TEXT_PLAIN; kind++)
		for (size_t a = 0; a < nb; a++)
			for (size_t b = 0; b < nb; b++)
				for (size_t c = 0; c < nb; c++) {
					char s[3] = { (char)bytes[a], (char)bytes[b],
						      (char)bytes[c] };

					esc((enum text_kind)kind, s, 3); /* asserts validity */
				}
}
END_TEST

START_TEST(writer_label_is_valid)
{
	struct metric_writer w;

	mw_init(&w, 1 << 16);
	mw_set_const_label(&w, "netns", "bad\xffname");
	mw_u64(&w, "x", MW_LABELS({ "k", "\xc3" }), 1);
	ck_assert_int_eq(mw_error(&w), 0);
	ck_assert_uint_eq(w.len, strlen("x{netns=\"bad\xef\xbf\xbdname\",k=\"\xef\xbf\xbd\"} 1\n"));
	ck_assert(memcmp(w.buf, "x{netns=\"bad\xef\xbf\xbdname\",k=\"\xef\xbf\xbd\"} 1\n", w.len) ==
		  0);
	mw_free(&w);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("text");
	TCase *tc = tcase_create("text");

	tcase_add_test(tc, label_value);
	tcase_add_test(tc, json_html_logfmt_plain);
	tcase_add_test(tc, utf8_edges);
	tcase_add_test(tc, always_valid);
	tcase_add_test(tc, writer_label_is_valid);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
