// SPDX-License-Identifier: GPL-2.0-or-later
#include "status.h"

#include "charts.h"
#include "metric_names.h"
#include "text.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Keep the @cap biggest, biggest first. With --netns the same state comes once per
 * namespace: add it to its entry (approximate once one was pushed out of the top).
 */
static void top_insert(struct status_top *top, unsigned *n, unsigned cap, const char *a,
		       const char *b, double value)
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
		if (i < cap)
			top[i] = top[i - 1];
	if (i >= cap)
		return;
	snprintf(top[i].label[0], sizeof(top[i].label[0]), "%s", a);
	snprintf(top[i].label[1], sizeof(top[i].label[1]), "%s", b);
	top[i].value = value;
	if (*n < cap)
		(*n)++;
}

void status_begin(struct status *st)
{
	st->next = (struct status_view){ .now.events = NAN };
	status_attrib_reset(&st->attrib_next);
	st->attrib_saved = false;
}

/* The families the page reads; the rest are skipped after one look per family. */
enum status_family {
	SF_OTHER,
	SF_ENTRIES,
	SF_LIMIT,
	SF_BUCKETS,
	SF_DROP,
	SF_EARLY_DROP,
	SF_INSERT_FAILED,
	SF_STATES,
	SF_ZONES,
	SF_EVENTS,
	SF_COLLECTOR_SUCCESS,
	SF_ATTRIB, /* status_attrib.c's, its kind in st->attrib_kind */
};

static enum status_family classify(const char *f)
{
	static const struct {
		const char *name;
		enum status_family kind;
	} known[] = {
		{ MN_ENTRIES, SF_ENTRIES },
		{ MN_ENTRIES_LIMIT, SF_LIMIT },
		{ MN_BUCKETS, SF_BUCKETS },
		{ MN_STAT_DROP, SF_DROP },
		{ MN_STAT_EARLY_DROP, SF_EARLY_DROP },
		{ MN_STAT_INSERT_FAILED, SF_INSERT_FAILED },
		{ MN_STATE_ENTRIES, SF_STATES },
		{ MN_ZONE_ENTRIES, SF_ZONES },
		{ MN_EVENTS_TOTAL, SF_EVENTS },
		{ MN_COLLECTOR_SUCCESS, SF_COLLECTOR_SUCCESS },
	};

	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (strcmp(f, known[i].name) == 0)
			return known[i].kind;
	return SF_OTHER;
}

void status_sample(struct status *st, const struct mw_sample *m)
{
	struct status_view *v = &st->next;
	struct status_sample *s = &v->now;

	if (m->family_id != st->family_id) {
		st->family_id = m->family_id;
		st->family_kind = classify(m->family);
		st->attrib_kind = status_attrib_kind(m->family);
		if (st->attrib_kind)
			st->family_kind = SF_ATTRIB;
	}
	switch ((enum status_family)st->family_kind) {
	case SF_OTHER:
		break;
	case SF_ENTRIES:
		/* With --netns, the fullest namespace is the one at risk. */
		if (!v->have_table || m->value > s->entries)
			s->entries = m->value;
		v->have_table = true;
		if (m->const_label)
			top_insert(v->netns, &v->n_netns, STATUS_TOP_NETNS, m->const_label, "",
				   m->value);
		break;
	case SF_LIMIT:
		s->limit = m->value;
		break;
	case SF_BUCKETS:
		v->buckets = m->value;
		break;
	case SF_DROP:
		s->drop += m->value;
		v->have_stat = true;
		break;
	case SF_EARLY_DROP:
		s->early_drop += m->value;
		break;
	case SF_INSERT_FAILED:
		s->insert_failed += m->value;
		break;
	case SF_STATES:
		v->have_states = true;
		top_insert(v->states, &v->n_states, STATUS_TOP, mw_sample_label(m, ML_PROTOCOL),
			   mw_sample_label(m, ML_STATE), m->value);
		break;
	case SF_ZONES:
		v->have_zones = true;
		top_insert(v->zones, &v->n_zones, STATUS_TOP, mw_sample_label(m, ML_ZONE), "",
			   m->value);
		break;
	case SF_EVENTS:
		s->events = (isnan(s->events) ? 0 : s->events) + m->value;
		break;
	case SF_COLLECTOR_SUCCESS:
		v->collectors++;
		v->collectors_ok += m->value == 1;
		break;
	case SF_ATTRIB:
		status_attrib_sample(st, st->attrib_kind, m);
		break;
	}
}

void status_part_begin(struct status *st)
{
	st->part = st->next;
	st->attrib_saved = false;
}

void status_part_end(struct status *st, bool kept)
{
	if (!kept) {
		st->next = st->part;
		if (st->attrib_saved)
			st->attrib_next = st->attrib_part;
	}
	st->attrib_saved = false;
}

/* The view's numbers as the history keeps them: counters as totals, states by name. */
static void history_add(struct status *st)
{
	const struct status_view *v = &st->v;
	struct history_state states[STATUS_TOP];
	char names[STATUS_TOP][HISTORY_NAME];
	struct history_input in = {
		.t = v->now.t,
		.entries = v->have_table ? v->now.entries : NAN,
		.limit = v->have_table && v->now.limit > 0 ? v->now.limit : NAN,
		.counters = { [HC_DROP] = v->have_stat ? v->now.drop : NAN,
			      [HC_EARLY_DROP] = v->have_stat ? v->now.early_drop : NAN,
			      [HC_INSERT_FAILED] = v->have_stat ? v->now.insert_failed : NAN,
			      [HC_EVENTS] = v->now.events },
		.states = states,
		.n_states = v->n_states,
	};

	for (unsigned i = 0; i < v->n_states; i++) {
		snprintf(names[i], sizeof(names[i]), "%s %s", v->states[i].label[0],
			 v->states[i].label[1]);
		states[i] = (struct history_state){ names[i], v->states[i].value };
	}
	history_push(&st->hist, &in);
}

void status_end(struct status *st, bool ok, double now)
{
	const struct status_sample *last;

	if (!ok)
		return;
	st->next.now.t = now;
	st->v = st->next;
	st->attrib = st->attrib_next;
	history_add(st);
	last = st->n ? &st->ring[(st->head + STATUS_SAMPLES - 1) % STATUS_SAMPLES] : NULL;
	if (!last || now - last->t >= STATUS_SAMPLE_EVERY_S) {
		st->ring[st->head] = st->v.now;
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

		if (st->v.now.t - s->t <= STATUS_WINDOW_S) {
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
	const struct status_sample *o = window_start(st), *c = &st->v.now;
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

void status_put_num(struct metric_writer *w, double v)
{
	char buf[40];

	if (isnan(v) || isinf(v)) {
		mw_puts(w, "null");
		return;
	}
	mw_append(w, buf, fmt_double(buf, sizeof(buf), v));
}

static void put_escaped(struct metric_writer *w, const char *s, bool html)
{
	mw_escape(w, html ? TEXT_HTML : TEXT_JSON, s);
}

void status_json(const struct status *st, struct metric_writer *w)
{
	struct derived d = derive(st);

	mw_puts(w, "{\"entries\":");
	status_put_num(w, st->v.have_table ? st->v.now.entries : NAN);
	mw_puts(w, ",\"limit\":");
	status_put_num(w, st->v.have_table ? st->v.now.limit : NAN);
	mw_puts(w, ",\"buckets\":");
	status_put_num(w, st->v.buckets > 0 ? st->v.buckets : NAN);
	mw_puts(w, ",\"fill_ratio\":");
	status_put_num(w, d.fill);
	mw_puts(w, ",\"headroom\":");
	status_put_num(w, st->v.have_table ? d.headroom : NAN);
	mw_puts(w, ",\"window_seconds\":");
	status_put_num(w, round(d.window));
	mw_puts(w, ",\"growth_per_second\":");
	status_put_num(w, d.window > 0 ? d.growth : NAN);
	mw_puts(w, ",\"seconds_to_full\":");
	status_put_num(w, d.to_full);
	mw_puts(w, ",\"drops\":");
	status_put_num(w, st->v.have_stat && d.window > 0 ? d.drops : NAN);
	mw_puts(w, ",\"early_drops\":");
	status_put_num(w, st->v.have_stat && d.window > 0 ? d.early_drops : NAN);
	mw_puts(w, ",\"insert_failed\":");
	status_put_num(w, st->v.have_stat && d.window > 0 ? d.insert_failed : NAN);
	mw_puts(w, ",\"top_states\":[");
	for (unsigned i = 0; i < st->v.n_states; i++) {
		mw_puts(w, i ? ",{\"protocol\":\"" : "{\"protocol\":\"");
		put_escaped(w, st->v.states[i].label[0], false);
		mw_puts(w, "\",\"state\":\"");
		put_escaped(w, st->v.states[i].label[1], false);
		mw_puts(w, "\",\"entries\":");
		status_put_num(w, st->v.states[i].value);
		mw_puts(w, "}");
	}
	mw_puts(w, "],\"top_zones\":[");
	for (unsigned i = 0; i < st->v.n_zones; i++) {
		mw_puts(w, i ? ",{\"zone\":\"" : "{\"zone\":\"");
		put_escaped(w, st->v.zones[i].label[0], false);
		mw_puts(w, "\",\"entries\":");
		status_put_num(w, st->v.zones[i].value);
		mw_puts(w, "}");
	}
	mw_puts(w, "]");
	status_attrib_json(st, w);
	mw_printf(w, ",\"collectors\":%u,\"collectors_ok\":%u}\n", st->v.collectors,
		  st->v.collectors_ok);
}

static void html_duration(struct metric_writer *w, double s)
{
	if (isnan(s))
		mw_puts(w, "not filling");
	else if (s < 120)
		mw_printf(w, "%.0f s", s);
	else if (s < 7200)
		mw_printf(w, "%.0f min", s / 60);
	else if (s < 172800)
		mw_printf(w, "%.1f h", s / 3600);
	else
		mw_printf(w, "%.1f days", s / 86400);
}

/*
 * Light and dark from the reader's setting; the charts take their colours from classes, so one
 * SVG serves both. Colours chosen to read on white and on near-black alike.
 */
#define page_css                                                                                   \
	"body{font-family:sans-serif;margin:2em;max-width:50em;background:#fff;color:#222}"        \
	"td,th{padding:.2em .8em;text-align:left}.big{font-size:2em;margin:.2em 0}"                \
	"a{color:#1d4ed8}svg.chart{width:100%;height:auto;display:block}"                          \
	"svg text{fill:currentColor;font-size:11px}.grid{stroke:#ccc;stroke-width:1}"              \
	".now{stroke-dasharray:2 3}.track{fill:#e5e7eb}.bar.ok{fill:#16a34a}"                      \
	".bar.warn{fill:#d97706}.bar.crit{fill:#dc2626}.mark{stroke-width:2;stroke-dasharray:4 3}" \
	".mark.warn{stroke:#d97706}.mark.crit{stroke:#dc2626}.line{fill:none;stroke-width:2}"      \
	".proj{stroke:#dc2626;stroke-dasharray:6 4}"                                               \
	".s0{stroke:#2563eb;fill:#2563eb}.s1{stroke:#d97706;fill:#d97706}"                         \
	".s2{stroke:#9333ea;fill:#9333ea}.s3{stroke:#0d9488;fill:#0d9488}"                         \
	".s4{stroke:#9ca3af;fill:#9ca3af}.line.s0,.line.s1,.line.s2,.line.s3{fill:none}"           \
	".area{stroke:none}"                                                                       \
	"@media (prefers-color-scheme:dark){body{background:#15171a;color:#e5e7eb}"                \
	"a{color:#93c5fd}.grid{stroke:#3f444b}.track{fill:#30343a}"                                \
	".s0{stroke:#60a5fa;fill:#60a5fa}.s2{stroke:#c084fc;fill:#c084fc}"                         \
	".s3{stroke:#2dd4bf;fill:#2dd4bf}.s4{stroke:#6b7280;fill:#6b7280}}"

/*
 * Inline, no external assets: fetch status.json and refill the same ids the server filled;
 * fetch the page itself and swap in its charts (drawn by the server, like the numbers).
 */
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
	".catch(function(){set('updated','(update failed)');});"
	"fetch(location.pathname,{cache:'no-store'}).then(function(r){return r.text();})"
	".then(function(t){var d=new DOMParser().parseFromString(t,'text/html');"
	"['charts','netns','attrib'].forEach(function(id){var n=d.getElementById(id),"
	"o=document.getElementById(id);if(n&&o)o.replaceWith(n);});}).catch(function(){});}\n"
	"setInterval(refresh,5000);refresh();\n"
	"</script>\n";

static void html_value(struct metric_writer *w, const char *id, double v)
{
	mw_printf(w, "<span id=\"%s\">", id);
	if (isnan(v))
		mw_puts(w, "n/a");
	else
		status_put_num(w, v);
	mw_puts(w, "</span>");
}

/* With --netns: the fullest namespaces now, fullest first, each with its fill drawn. */
static void netns_table(const struct status *st, struct metric_writer *w)
{
	double limit = st->v.now.limit;

	mw_puts(w, "<h2>Fullest namespaces</h2>\n<table id=\"netns\">\n"
		   "<tr><th>namespace</th><th>entries</th><th>fill</th><th></th></tr>\n");
	for (unsigned i = 0; i < st->v.n_netns; i++) {
		double fill = limit > 0 ? st->v.netns[i].value / limit : NAN;

		mw_puts(w, "<tr><td>");
		put_escaped(w, st->v.netns[i].label[0], true);
		mw_puts(w, "</td><td>");
		status_put_num(w, st->v.netns[i].value);
		mw_puts(w, "</td><td>");
		if (isnan(fill))
			mw_puts(w, "n/a</td><td>");
		else {
			mw_printf(w, "%.1f %%</td><td>", 100 * fill);
			status_fill_bar(w, fill);
		}
		mw_puts(w, "</td></tr>\n");
	}
	mw_puts(w, "</table>\n");
}

void status_html(const struct status *st, struct metric_writer *w, const char *telemetry_path)
{
	struct derived d = derive(st);
	bool win = d.window > 0 && st->v.have_stat;

	mw_puts(w, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
		   "<title>nf_conntrack exporter</title>\n"
		   "<style>" page_css "</style>\n"
		   "</head>\n<body>\n<h1>nf_conntrack exporter</h1>\n");
	mw_puts(w, "<p>Conntrack table of this host's network namespace. "
		   "<a href=\"");
	put_escaped(w, telemetry_path, true);
	mw_puts(w, "\">Metrics</a> &middot; <a href=\"status.json\">status.json</a></p>\n");

	mw_puts(w, "<h2>Table fill</h2>\n<p class=\"big\"><span id=\"fill\">");
	if (isnan(d.fill))
		mw_puts(w, "n/a");
	else
		mw_printf(w, "%.1f %%", 100 * d.fill);
	mw_puts(w, "</span></p>\n");
	status_charts(w, &st->hist,
		      &(struct status_chart_now){
			      .t = st->v.now.t,
			      .entries = st->v.have_table ? st->v.now.entries : NAN,
			      .limit = st->v.have_table ? st->v.now.limit : NAN,
			      .growth = d.growth,
			      .to_full = d.to_full,
			      .have_states = st->v.have_states,
			      .have_events = !isnan(st->v.now.events),
		      });
	mw_puts(w, "<h2>Now</h2>\n<table>\n<tr><th>entries</th><td>");
	html_value(w, "entries", st->v.have_table ? st->v.now.entries : NAN);
	mw_puts(w, "</td></tr>\n<tr><th>limit (nf_conntrack_max)</th><td>");
	html_value(w, "limit", st->v.have_table ? st->v.now.limit : NAN);
	mw_puts(w, "</td></tr>\n<tr><th>headroom</th><td>");
	html_value(w, "headroom", st->v.have_table ? d.headroom : NAN);
	mw_puts(w, "</td></tr>\n<tr><th>hash buckets</th><td>");
	html_value(w, "buckets", st->v.buckets > 0 ? st->v.buckets : NAN);
	mw_puts(w, "</td></tr>\n<tr><th>time to full</th><td><span id=\"to_full\">");
	html_duration(w, d.to_full);
	mw_puts(w, "</span></td></tr>\n</table>\n");

	mw_puts(w, "<h2>Drops over the last <span id=\"window\">");
	if (d.window > 0)
		status_put_num(w, round(d.window));
	else
		mw_puts(w, "n/a");
	mw_puts(w, "</span> seconds</h2>\n<table>\n<tr><th>packets dropped (table full)</th><td>");
	html_value(w, "drops", win ? d.drops : NAN);
	mw_puts(w, "</td></tr>\n<tr><th>early drops (evictions)</th><td>");
	html_value(w, "early_drops", win ? d.early_drops : NAN);
	mw_puts(w, "</td></tr>\n<tr><th>insert failures</th><td>");
	html_value(w, "insert_failed", win ? d.insert_failed : NAN);
	mw_puts(w, "</td></tr>\n</table>\n");

	mw_puts(w, "<h2>Top states</h2>\n<table id=\"states\">\n"
		   "<tr><th>protocol</th><th>state</th><th>entries</th></tr>\n");
	for (unsigned i = 0; i < st->v.n_states; i++) {
		mw_puts(w, "<tr><td>");
		put_escaped(w, st->v.states[i].label[0], true);
		mw_puts(w, "</td><td>");
		put_escaped(w, st->v.states[i].label[1], true);
		mw_puts(w, "</td><td>");
		status_put_num(w, st->v.states[i].value);
		mw_puts(w, "</td></tr>\n");
	}
	mw_puts(w, "</table>\n<h2>Top zones</h2>\n<table id=\"zones\">\n"
		   "<tr><th>zone</th><th>entries</th></tr>\n");
	for (unsigned i = 0; i < st->v.n_zones; i++) {
		mw_puts(w, "<tr><td>");
		put_escaped(w, st->v.zones[i].label[0], true);
		mw_puts(w, "</td><td>");
		status_put_num(w, st->v.zones[i].value);
		mw_puts(w, "</td></tr>\n");
	}
	mw_puts(w, "</table>\n");
	if (st->v.n_netns)
		netns_table(st, w);
	status_attrib_html(st, w);
	mw_printf(w,
		  "<p><span id=\"collectors\">%u of %u collectors ok</span>; "
		  "updated <span id=\"updated\">at page load</span></p>\n",
		  st->v.collectors_ok, st->v.collectors);
	mw_puts(w, page_script);
	mw_puts(w, "</body></html>\n");
}
