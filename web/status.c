// SPDX-License-Identifier: GPL-2.0-or-later
#include "status.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LABELS_MAX 4

struct sample_line {
	char name[96];
	unsigned n_labels;
	char key[LABELS_MAX][32];
	char val[LABELS_MAX][64];
	double value;
};

/* One sample line of our own exposition; 0 on success. Not a general parser: no timestamps. */
static int parse_line(const char *p, const char *end, struct sample_line *out)
{
	size_t n = 0;
	char num[64];

	out->n_labels = 0;
	while (p < end && *p != '{' && *p != ' ' && n < sizeof(out->name) - 1)
		out->name[n++] = *p++;
	out->name[n] = '\0';
	if (p < end && *p == '{') {
		p++;
		while (p < end && *p != '}') {
			unsigned i = out->n_labels;
			size_t k = 0, v = 0;

			if (i == LABELS_MAX)
				return -1;
			while (p < end && *p != '=' && k < sizeof(out->key[i]) - 1)
				out->key[i][k++] = *p++;
			out->key[i][k] = '\0';
			if (end - p < 2 || p[0] != '=' || p[1] != '"')
				return -1;
			for (p += 2; p < end && *p != '"'; p++) {
				if (*p == '\\' && p + 1 < end)
					p++;
				if (v < sizeof(out->val[i]) - 1)
					out->val[i][v++] = *p;
			}
			out->val[i][v] = '\0';
			if (p == end)
				return -1;
			p++;
			if (p < end && *p == ',')
				p++;
			out->n_labels++;
		}
		if (p == end)
			return -1; /* no closing brace */
		p++;
	}
	while (p < end && *p == ' ')
		p++;
	n = (size_t)(end - p) < sizeof(num) - 1 ? (size_t)(end - p) : sizeof(num) - 1;
	memcpy(num, p, n);
	num[n] = '\0';
	out->value = strtod(num, NULL);
	return 0;
}

static const char *label(const struct sample_line *l, const char *key)
{
	for (unsigned i = 0; i < l->n_labels; i++)
		if (strcmp(l->key[i], key) == 0)
			return l->val[i];
	return "";
}

/*
 * Keep the @STATUS_TOP biggest, biggest first. With --netns the same state comes once per
 * namespace: add it to its entry (approximate once one was pushed out of the top).
 */
static void top_insert(struct status_top *top, unsigned *n, const char *a, const char *b,
		       double value)
{
	unsigned i;

	if (value <= 0)
		return;
	for (i = 0; i < *n; i++)
		if (strcmp(top[i].label[0], a) == 0 && strcmp(top[i].label[1], b) == 0) {
			struct status_top t = top[i];

			t.value += value;
			for (; i > 0 && top[i - 1].value < t.value; i--)
				top[i] = top[i - 1];
			top[i] = t;
			return;
		}
	for (i = *n; i > 0 && top[i - 1].value < value; i--)
		if (i < STATUS_TOP)
			top[i] = top[i - 1];
	if (i >= STATUS_TOP)
		return;
	snprintf(top[i].label[0], sizeof(top[i].label[0]), "%s", a);
	snprintf(top[i].label[1], sizeof(top[i].label[1]), "%s", b);
	top[i].value = value;
	if (*n < STATUS_TOP)
		(*n)++;
}

void status_update(struct status *st, const char *text, size_t len, double now)
{
	const char *p = text, *end = text + len;
	struct status_sample s = { .t = now };
	const struct status_sample *last;

	st->have_table = st->have_stat = st->have_states = st->have_zones = false;
	st->n_states = st->n_zones = 0;
	st->collectors = st->collectors_ok = 0;
	st->buckets = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		struct sample_line l;

		if (*p != '#' && e > p && parse_line(p, e, &l) == 0) {
			/* With --netns, the fullest namespace is the one at risk. */
			if (strcmp(l.name, "nf_conntrack_entries") == 0) {
				if (!st->have_table || l.value > s.entries)
					s.entries = l.value;
				st->have_table = true;
			} else if (strcmp(l.name, "nf_conntrack_entries_limit") == 0) {
				s.limit = l.value;
			} else if (strcmp(l.name, "nf_conntrack_buckets") == 0) {
				st->buckets = l.value;
			} else if (strcmp(l.name, "nf_conntrack_stat_drop_total") == 0) {
				s.drop += l.value;
				st->have_stat = true;
			} else if (strcmp(l.name, "nf_conntrack_stat_early_drop_total") == 0) {
				s.early_drop += l.value;
			} else if (strcmp(l.name, "nf_conntrack_stat_insert_failed_total") == 0) {
				s.insert_failed += l.value;
			} else if (strcmp(l.name, "nf_conntrack_state_entries") == 0) {
				st->have_states = true;
				top_insert(st->states, &st->n_states, label(&l, "protocol"),
					   label(&l, "state"), l.value);
			} else if (strcmp(l.name, "nf_conntrack_zone_entries") == 0) {
				st->have_zones = true;
				top_insert(st->zones, &st->n_zones, label(&l, "zone"), "", l.value);
			} else if (strcmp(l.name, "nf_conntrack_exporter_collector_success") == 0) {
				st->collectors++;
				st->collectors_ok += l.value == 1;
			}
		}
		p = e + 1;
	}
	st->now = s;
	last = st->n ? &st->ring[(st->head + STATUS_SAMPLES - 1) % STATUS_SAMPLES] : NULL;
	if (!last || now - last->t >= STATUS_SAMPLE_EVERY_S) {
		st->ring[st->head] = s;
		st->head = (st->head + 1) % STATUS_SAMPLES;
		if (st->n < STATUS_SAMPLES)
			st->n++;
	}
}

/* The oldest sample within the window, or NULL. */
static const struct status_sample *window_start(const struct status *st)
{
	const struct status_sample *best = NULL;

	for (unsigned i = 0; i < st->n; i++) {
		const struct status_sample *s =
			&st->ring[(st->head + STATUS_SAMPLES - st->n + i) % STATUS_SAMPLES];

		if (st->now.t - s->t <= STATUS_WINDOW_S) {
			best = s;
			break;
		}
	}
	return best;
}

struct derived {
	double fill; /* NaN without a limit */
	double headroom; /* entries */
	double window; /* seconds the rates cover, 0 if none */
	double growth; /* entries per second */
	double to_full; /* seconds, NaN when not filling */
	double drops, early_drops, insert_failed;
};

static struct derived derive(const struct status *st)
{
	const struct status_sample *o = window_start(st), *c = &st->now;
	struct derived d = { .fill = NAN, .to_full = NAN };

	if (c->limit > 0)
		d.fill = c->entries / c->limit;
	d.headroom = c->limit > c->entries ? c->limit - c->entries : 0;
	if (o && c->t - o->t >= 1) {
		d.window = c->t - o->t;
		d.growth = (c->entries - o->entries) / d.window;
		/* A namespace gone with its counters is no negative drop. */
		d.drops = fmax(0, c->drop - o->drop);
		d.early_drops = fmax(0, c->early_drop - o->early_drop);
		d.insert_failed = fmax(0, c->insert_failed - o->insert_failed);
		if (d.growth > 0 && c->limit > 0)
			d.to_full = d.headroom / d.growth;
	}
	return d;
}

static void put(struct metric_writer *w, const char *s)
{
	mw_append(w, s, strlen(s));
}

static void putf(struct metric_writer *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void putf(struct metric_writer *w, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		mw_append(w, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static void put_num(struct metric_writer *w, double v)
{
	char buf[40];

	if (isnan(v) || isinf(v)) {
		put(w, "null");
		return;
	}
	mw_append(w, buf, fmt_double(buf, sizeof(buf), v));
}

/* Strings here are label values from our own output: escape what JSON and HTML need. */
static void put_escaped(struct metric_writer *w, const char *s, bool html)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (html && (c == '<' || c == '>' || c == '&' || c == '"'))
			putf(w, "&#%u;", c);
		else if (!html && (c == '"' || c == '\\'))
			putf(w, "\\%c", c);
		else if (!html && c < 0x20)
			putf(w, "\\u%04x", c);
		else
			mw_append(w, s, 1);
	}
}

void status_json(const struct status *st, struct metric_writer *w)
{
	struct derived d = derive(st);

	put(w, "{\"entries\":");
	put_num(w, st->have_table ? st->now.entries : NAN);
	put(w, ",\"limit\":");
	put_num(w, st->have_table ? st->now.limit : NAN);
	put(w, ",\"buckets\":");
	put_num(w, st->buckets > 0 ? st->buckets : NAN);
	put(w, ",\"fill_ratio\":");
	put_num(w, d.fill);
	put(w, ",\"headroom\":");
	put_num(w, st->have_table ? d.headroom : NAN);
	put(w, ",\"window_seconds\":");
	put_num(w, round(d.window));
	put(w, ",\"growth_per_second\":");
	put_num(w, d.window > 0 ? d.growth : NAN);
	put(w, ",\"seconds_to_full\":");
	put_num(w, d.to_full);
	put(w, ",\"drops\":");
	put_num(w, st->have_stat && d.window > 0 ? d.drops : NAN);
	put(w, ",\"early_drops\":");
	put_num(w, st->have_stat && d.window > 0 ? d.early_drops : NAN);
	put(w, ",\"insert_failed\":");
	put_num(w, st->have_stat && d.window > 0 ? d.insert_failed : NAN);
	put(w, ",\"top_states\":[");
	for (unsigned i = 0; i < st->n_states; i++) {
		put(w, i ? ",{\"protocol\":\"" : "{\"protocol\":\"");
		put_escaped(w, st->states[i].label[0], false);
		put(w, "\",\"state\":\"");
		put_escaped(w, st->states[i].label[1], false);
		put(w, "\",\"entries\":");
		put_num(w, st->states[i].value);
		put(w, "}");
	}
	put(w, "],\"top_zones\":[");
	for (unsigned i = 0; i < st->n_zones; i++) {
		put(w, i ? ",{\"zone\":\"" : "{\"zone\":\"");
		put_escaped(w, st->zones[i].label[0], false);
		put(w, "\",\"entries\":");
		put_num(w, st->zones[i].value);
		put(w, "}");
	}
	putf(w, "],\"collectors\":%u,\"collectors_ok\":%u}\n", st->collectors, st->collectors_ok);
}

static void html_duration(struct metric_writer *w, double s)
{
	if (isnan(s))
		put(w, "not filling");
	else if (s < 120)
		putf(w, "%.0f s", s);
	else if (s < 7200)
		putf(w, "%.0f min", s / 60);
	else if (s < 172800)
		putf(w, "%.1f h", s / 3600);
	else
		putf(w, "%.1f days", s / 86400);
}

/* Inline, no external assets: fetch status.json and refill the same ids the server filled. */
static const char page_script[] =
	"<script>\n"
	"function fmtDur(s){if(s===null)return 'not filling';if(s<120)return Math.round(s)+' s';"
	"if(s<7200)return Math.round(s/60)+' min';if(s<172800)return (s/3600).toFixed(1)+' h';"
	"return (s/86400).toFixed(1)+' days';}\n"
	"function num(v){return v===null?'n/a':String(v);}\n"
	"function set(id,t){var e=document.getElementById(id);if(e)e.textContent=t;}\n"
	"function rows(id,list,f){var t=document.getElementById(id);if(!t)return;"
	"while(t.rows.length>1)t.deleteRow(1);list.forEach(function(x){var r=t.insertRow();"
	"f(x).forEach(function(c){r.insertCell().textContent=c;});});}\n"
	"function refresh(){fetch('status.json',{cache:'no-store'}).then(function(r){return r.json();})"
	".then(function(s){"
	"set('fill',s.fill_ratio===null?'n/a':(100*s.fill_ratio).toFixed(1)+' %');"
	"set('entries',num(s.entries));set('limit',num(s.limit));set('headroom',num(s.headroom));"
	"set('buckets',num(s.buckets));set('to_full',fmtDur(s.seconds_to_full));"
	"set('window',num(s.window_seconds));set('drops',num(s.drops));"
	"set('early_drops',num(s.early_drops));set('insert_failed',num(s.insert_failed));"
	"set('collectors',s.collectors_ok+' of '+s.collectors+' collectors ok');"
	"rows('states',s.top_states,function(x){return [x.protocol,x.state,String(x.entries)];});"
	"rows('zones',s.top_zones,function(x){return [x.zone,String(x.entries)];});"
	"set('updated',new Date().toISOString());})"
	".catch(function(){set('updated','(update failed)');});}\n"
	"setInterval(refresh,5000);refresh();\n"
	"</script>\n";

static void html_value(struct metric_writer *w, const char *id, double v)
{
	putf(w, "<span id=\"%s\">", id);
	if (isnan(v))
		put(w, "n/a");
	else
		put_num(w, v);
	put(w, "</span>");
}

void status_html(const struct status *st, struct metric_writer *w, const char *telemetry_path)
{
	struct derived d = derive(st);
	bool win = d.window > 0 && st->have_stat;

	put(w, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	       "<title>nf_conntrack exporter</title>\n"
	       "<style>body{font-family:sans-serif;margin:2em;max-width:50em}"
	       "td,th{padding:.2em .8em;text-align:left}.big{font-size:2em}</style>\n"
	       "</head>\n<body>\n<h1>nf_conntrack exporter</h1>\n");
	put(w, "<p>Conntrack table of this host's network namespace. "
	       "<a href=\"");
	put_escaped(w, telemetry_path, true);
	put(w, "\">Metrics</a> &middot; <a href=\"status.json\">status.json</a></p>\n");

	put(w, "<h2>Table fill</h2>\n<p class=\"big\"><span id=\"fill\">");
	if (isnan(d.fill))
		put(w, "n/a");
	else
		putf(w, "%.1f %%", 100 * d.fill);
	put(w, "</span></p>\n<table>\n<tr><th>entries</th><td>");
	html_value(w, "entries", st->have_table ? st->now.entries : NAN);
	put(w, "</td></tr>\n<tr><th>limit (nf_conntrack_max)</th><td>");
	html_value(w, "limit", st->have_table ? st->now.limit : NAN);
	put(w, "</td></tr>\n<tr><th>headroom</th><td>");
	html_value(w, "headroom", st->have_table ? d.headroom : NAN);
	put(w, "</td></tr>\n<tr><th>hash buckets</th><td>");
	html_value(w, "buckets", st->buckets > 0 ? st->buckets : NAN);
	put(w, "</td></tr>\n<tr><th>time to full</th><td><span id=\"to_full\">");
	html_duration(w, d.to_full);
	put(w, "</span></td></tr>\n</table>\n");

	put(w, "<h2>Drops over the last <span id=\"window\">");
	if (d.window > 0)
		put_num(w, round(d.window));
	else
		put(w, "n/a");
	put(w, "</span> seconds</h2>\n<table>\n<tr><th>packets dropped (table full)</th><td>");
	html_value(w, "drops", win ? d.drops : NAN);
	put(w, "</td></tr>\n<tr><th>early drops (evictions)</th><td>");
	html_value(w, "early_drops", win ? d.early_drops : NAN);
	put(w, "</td></tr>\n<tr><th>insert failures</th><td>");
	html_value(w, "insert_failed", win ? d.insert_failed : NAN);
	put(w, "</td></tr>\n</table>\n");

	put(w, "<h2>Top states</h2>\n<table id=\"states\">\n"
	       "<tr><th>protocol</th><th>state</th><th>entries</th></tr>\n");
	for (unsigned i = 0; i < st->n_states; i++) {
		put(w, "<tr><td>");
		put_escaped(w, st->states[i].label[0], true);
		put(w, "</td><td>");
		put_escaped(w, st->states[i].label[1], true);
		put(w, "</td><td>");
		put_num(w, st->states[i].value);
		put(w, "</td></tr>\n");
	}
	put(w, "</table>\n<h2>Top zones</h2>\n<table id=\"zones\">\n"
	       "<tr><th>zone</th><th>entries</th></tr>\n");
	for (unsigned i = 0; i < st->n_zones; i++) {
		put(w, "<tr><td>");
		put_escaped(w, st->zones[i].label[0], true);
		put(w, "</td><td>");
		put_num(w, st->zones[i].value);
		put(w, "</td></tr>\n");
	}
	putf(w,
	     "</table>\n<p><span id=\"collectors\">%u of %u collectors ok</span>; "
	     "updated <span id=\"updated\">at page load</span></p>\n",
	     st->collectors_ok, st->collectors);
	put(w, page_script);
	put(w, "</body></html>\n");
}
