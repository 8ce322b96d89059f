// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The status page's pictures, drawn here as inline SVG so that a page without JavaScript, curl
 * and a screen reader get them too: each chart has a <title> and a <desc> that say in words
 * what it shows, and the numbers are in the text next to it. Points go straight into the
 * writer from a stack buffer; the page is bounded by the history's size (about 100 KB).
 */
#include "charts.h"

#include "text.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define W 600.0 /* viewBox of a time chart */
#define H 150.0
#define LEFT 46.0 /* room for the y labels */
#define BOTTOM 18.0 /* room for the x labels */
#define HOUR (HISTORY_SLOTS * HISTORY_EVERY_S)
#define MIN_SPAN 300.0 /* a young history still spreads over the width */

/* A number for people: 1234567 as 1.23M, small rates with a decimal. */
static void put_short(struct metric_writer *w, double v)
{
	if (isnan(v))
		mw_puts(w, "n/a");
	else if (fabs(v) >= 1e6)
		mw_printf(w, "%.2fM", v / 1e6);
	else if (fabs(v) >= 1e4)
		mw_printf(w, "%.1fk", v / 1e3);
	else if (v == floor(v))
		mw_printf(w, "%.0f", v);
	else
		mw_printf(w, "%.2f", v);
}

/* Round @v up to 1, 2 or 5 times a power of ten: the top of a y axis. */
static double nice_max(double v)
{
	double p;

	if (!(v > 0))
		return 1;
	p = pow(10, floor(log10(v)));
	if (v <= p)
		return p;
	if (v <= 2 * p)
		return 2 * p;
	if (v <= 5 * p)
		return 5 * p;
	return 10 * p;
}

struct frame {
	double t0, t1; /* time at the left and right edges */
	double now;
	double ymax;
};

/*
 * The last hour, or what there is of it: a chart of a minute's history squeezed into the right
 * edge of an hour tells nothing. @ahead: the share of the width left for the projection.
 */
static struct frame frame(const struct history *h, double now, double ahead)
{
	double span = h->n ? now - history_at(h, 0)->t : 0;

	span = fmin(fmax(span, MIN_SPAN), HOUR);
	return (struct frame){ .t0 = now - span, .t1 = now + span * ahead, .now = now };
}

static double fx(const struct frame *f, double t)
{
	return LEFT + (W - LEFT) * (t - f->t0) / (f->t1 - f->t0);
}

static double fy(const struct frame *f, double v)
{
	return (H - BOTTOM) * (1 - fmin(v, f->ymax) / f->ymax);
}

/* The svg element with its text alternatives; the caller writes the desc's words. */
static void svg_open(struct metric_writer *w, const char *id, const char *title, double h)
{
	mw_printf(w,
		  "<svg id=\"%s\" class=\"chart\" role=\"img\" aria-labelledby=\"%s-t %s-d\" "
		  "xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\">"
		  "<title id=\"%s-t\">%s</title><desc id=\"%s-d\">",
		  id, id, id, W, h, id, title, id);
}

/* The axes of a time chart: the y grid at 0, half and the top, minutes back on x. */
static void axes(struct metric_writer *w, const struct frame *f, const char *unit)
{
	for (int i = 0; i <= 2; i++) {
		double v = f->ymax * i / 2, y = fy(f, v);

		mw_printf(w,
			  "<line class=\"grid\" x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\"/>",
			  LEFT, y, W, y);
		mw_printf(w, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">", LEFT - 4,
			  y + (i == 2	? 10
			       : i == 0 ? -2
					: 4));
		put_short(w, v);
		mw_printf(w, "%s</text>", unit);
	}
	static const double steps[] = { 60, 120, 300, 600, 900 };
	double step = steps[ARRAY_SIZE(steps) - 1];

	for (size_t i = 0; i < ARRAY_SIZE(steps); i++)
		if ((f->t1 - f->t0) / steps[i] <= 6) {
			step = steps[i];
			break;
		}
	for (double t = f->now - floor((f->now - f->t0) / step) * step; t <= f->t1; t += step) {
		double x = fx(f, t), m = round((t - f->now) / 60);

		mw_printf(w, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"%s\">", x, H - 4,
			  x < LEFT + 20 ? "start"
			  : x > W - 20	? "end"
					: "middle");
		if (m == 0)
			mw_puts(w, "now</text>");
		else
			mw_printf(w, "%s%.0f min</text>", m > 0 ? "+" : "", m);
	}
}

/* A path through the points where @value is a number; a gap starts a new piece. */
static unsigned path(struct metric_writer *w, const struct history *h, const struct frame *f,
		     double (*value)(const struct history_point *p, int arg), int arg)
{
	unsigned n = 0;
	bool pen = false;
	char buf[48];

	for (unsigned i = 0; i < h->n; i++) {
		const struct history_point *p = history_at(h, i);
		double v = value(p, arg);
		int len;

		if (isnan(v) || p->t < f->t0) {
			pen = false;
			continue;
		}
		len = snprintf(buf, sizeof(buf), "%c%.1f %.1f ", pen ? 'L' : 'M', fx(f, p->t),
			       fy(f, v));
		mw_append(w, buf, (size_t)len);
		pen = true;
		n++;
	}
	if (!n)
		mw_puts(w, "M0 0");
	return n;
}

static double v_fill(const struct history_point *p, int arg)
{
	(void)arg;
	return p->limit > 0 ? 100 * p->entries / p->limit : NAN;
}

static double v_rate(const struct history_point *p, int arg)
{
	return p->rate[arg];
}

/* The stack up to and with layer @arg. */
static double v_stack(const struct history_point *p, int arg)
{
	double s = 0;

	for (int i = 0; i <= arg; i++)
		s += isnan(p->states[i]) ? 0 : p->states[i];
	return isnan(p->states[HISTORY_STATES]) ? NAN : s;
}

static const char *level(double fill)
{
	return fill >= 0.9 ? "crit" : fill >= 0.75 ? "warn" : "ok";
}

static void gauge(struct metric_writer *w, const struct status_chart_now *c)
{
	double fill = c->limit > 0 ? c->entries / c->limit : NAN;
	double bw = W - 2, x75 = 1 + bw * 0.75, x90 = 1 + bw * 0.9;

	svg_open(w, "gauge", "Table fill against the limit", 64);
	if (isnan(fill))
		mw_puts(w, "No table size read yet.");
	else
		mw_printf(w,
			  "%.1f %% of the limit: %.0f of %.0f entries. Alerts at 75 %% and 90 %%.",
			  100 * fill, c->entries, c->limit);
	mw_puts(w, "</desc>");
	mw_printf(
		w,
		"<g id=\"gauge-value\" data-value=\"%.9g\" data-entries=\"%.0f\" data-limit=\"%.0f\">",
		isnan(fill) ? 0 : fill, c->entries, c->limit);
	mw_printf(w,
		  "<rect class=\"track\" x=\"1\" y=\"4\" width=\"%.1f\" height=\"30\" rx=\"3\"/>",
		  bw);
	if (!isnan(fill))
		mw_printf(
			w,
			"<rect class=\"bar %s\" x=\"1\" y=\"4\" width=\"%.1f\" height=\"30\" rx=\"3\"/>",
			level(fill), bw * fmin(fill, 1));
	mw_puts(w, "</g>");
	mw_printf(w,
		  "<line class=\"mark warn\" x1=\"%.1f\" y1=\"0\" x2=\"%.1f\" y2=\"38\"/>"
		  "<line class=\"mark crit\" x1=\"%.1f\" y1=\"0\" x2=\"%.1f\" y2=\"38\"/>"
		  "<text x=\"%.1f\" y=\"52\" text-anchor=\"middle\">75 %%</text>"
		  "<text x=\"%.1f\" y=\"52\" text-anchor=\"middle\">90 %%</text>"
		  "<text x=\"2\" y=\"52\">0</text><text x=\"%.0f\" y=\"52\" text-anchor=\"end\">",
		  x75, x75, x90, x90, x75, x90, W - 2);
	put_short(w, c->limit);
	mw_puts(w, "</text></svg>\n");
}

static void fill_chart(struct metric_writer *w, const struct history *h,
		       const struct status_chart_now *c)
{
	struct frame f = frame(h, c->t, 0.25);
	double fill = c->limit > 0 ? 100 * c->entries / c->limit : NAN;
	unsigned n;

	f.ymax = 100;
	svg_open(w, "fill-chart", "Table fill over the last hour", H);
	mw_printf(w, "%u samples over the last hour. ", h->n);
	if (!isnan(c->to_full))
		mw_printf(w, "Growing by %.2f entries a second: full in %.0f s at this rate.",
			  c->growth, c->to_full);
	else
		mw_puts(w, "Not growing.");
	mw_puts(w, "</desc>");
	axes(w, &f, " %");
	for (int i = 0; i < 2; i++)
		mw_printf(
			w,
			"<line class=\"mark %s\" x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\"/>",
			i ? "crit" : "warn", LEFT, fy(&f, i ? 90 : 75), W, fy(&f, i ? 90 : 75));
	mw_printf(w, "<line class=\"grid now\" x1=\"%.1f\" y1=\"0\" x2=\"%.1f\" y2=\"%.0f\"/>",
		  fx(&f, c->t), fx(&f, c->t), H - BOTTOM);
	mw_puts(w, "<path id=\"fill-line\" class=\"line s0\" d=\"");
	n = path(w, h, &f, v_fill, 0);
	mw_printf(w, "\" data-points=\"%u\"/>", n);
	/* The latest point marked: at 0 % or with one sample the line alone is not to be seen. */
	if (!isnan(fill))
		mw_printf(w, "<circle class=\"s0\" cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\"/>",
			  fx(&f, c->t), fy(&f, fill));
	if (!isnan(c->to_full) && !isnan(fill)) {
		double end = fmin(c->to_full, f.t1 - c->t);
		double at = fill + 100 * c->growth * end / c->limit;

		mw_printf(
			w,
			"<path id=\"projection\" class=\"line proj\" d=\"M%.1f %.1f L%.1f %.1f\"/>",
			fx(&f, c->t), fy(&f, fill), fx(&f, c->t + end), fy(&f, at));
	}
	mw_puts(w, "</svg>\n");
}

struct series {
	const char *label;
	int arg;
};

static void rate_chart(struct metric_writer *w, const struct history *h,
		       const struct status_chart_now *c, const char *id, const char *title,
		       const struct series *s, int ns)
{
	struct frame f = frame(h, c->t, 0);
	double top = 0;

	for (unsigned i = 0; i < h->n; i++)
		for (int k = 0; k < ns; k++) {
			double v = history_at(h, i)->rate[s[k].arg];

			if (!isnan(v) && v > top)
				top = v;
		}
	f.ymax = nice_max(top);
	svg_open(w, id, title, H + 16);
	for (int k = 0; k < ns; k++) {
		double v = h->n ? history_at(h, h->n - 1)->rate[s[k].arg] : NAN;

		mw_printf(w, "%s%s now: ", k ? "; " : "", s[k].label);
		put_short(w, v);
		mw_puts(w, "/s");
	}
	mw_puts(w, ", at most ");
	put_short(w, top);
	mw_puts(w, "/s in the last hour.</desc>");
	axes(w, &f, "/s");
	for (int k = 0; k < ns; k++) {
		mw_printf(w, "<path class=\"line s%d\" d=\"", k);
		path(w, h, &f, v_rate, s[k].arg);
		mw_puts(w, "\"/>");
	}
	for (int k = 0; k < ns; k++)
		mw_printf(
			w,
			"<rect class=\"key s%d\" x=\"%.0f\" y=\"%.0f\" width=\"10\" height=\"10\"/>"
			"<text x=\"%.0f\" y=\"%.0f\">%s</text>",
			k, LEFT + 150 * k, H + 4, LEFT + 150 * k + 14, H + 13, s[k].label);
	mw_puts(w, "</svg>\n");
}

static void states_chart(struct metric_writer *w, const struct history *h,
			 const struct status_chart_now *c)
{
	struct frame f = frame(h, c->t, 0);
	double top = 0;

	for (unsigned i = 0; i < h->n; i++) {
		double v = v_stack(history_at(h, i), HISTORY_STATES);

		if (!isnan(v) && v > top)
			top = v;
	}
	f.ymax = nice_max(top);
	svg_open(w, "states-chart", "Entries by state over the last hour, stacked", H + 16);
	for (int k = 0; k <= HISTORY_STATES; k++) {
		const char *name = k < HISTORY_STATES ? h->state_name[k] : "other";
		double v = h->n ? history_at(h, h->n - 1)->states[k] : NAN;

		if (!name[0])
			continue;
		mw_escape(w, TEXT_HTML, name);
		mw_puts(w, ": ");
		put_short(w, v);
		mw_puts(w, k < HISTORY_STATES ? "; " : ".");
	}
	mw_puts(w, "</desc>");
	axes(w, &f, "");
	/* The tallest stack first: each layer down paints over the one above it. */
	for (int k = HISTORY_STATES; k >= 0; k--) {
		if (k < HISTORY_STATES && !h->state_name[k][0])
			continue;
		mw_printf(w, "<path class=\"area s%d\" d=\"", k);
		if (path(w, h, &f, v_stack, k))
			mw_printf(w, "L%.1f %.1f L%.1f %.1f Z", fx(&f, history_at(h, h->n - 1)->t),
				  fy(&f, 0), fx(&f, fmax(f.t0, history_at(h, 0)->t)), fy(&f, 0));
		mw_puts(w, "\"/>");
	}
	for (int k = 0, x = 0; k <= HISTORY_STATES; k++) {
		const char *name = k < HISTORY_STATES ? h->state_name[k] : "other";

		if (!name[0])
			continue;
		mw_printf(
			w,
			"<rect class=\"key s%d\" x=\"%.0f\" y=\"%.0f\" width=\"10\" height=\"10\"/>"
			"<text x=\"%.0f\" y=\"%.0f\">",
			k, LEFT + 110 * x, H + 4, LEFT + 110 * x + 14, H + 13);
		mw_escape(w, TEXT_HTML, name);
		mw_puts(w, "</text>");
		x++;
	}
	mw_puts(w, "</svg>\n");
}

void status_charts(struct metric_writer *w, const struct history *h,
		   const struct status_chart_now *c)
{
	static const struct series drops[] = {
		{ "dropped", HC_DROP },
		{ "early dropped", HC_EARLY_DROP },
		{ "insert failed", HC_INSERT_FAILED },
	};
	static const struct series events[] = { { "events", HC_EVENTS } };

	mw_puts(w, "<div id=\"charts\">\n");
	gauge(w, c);
	mw_puts(w, "<h2>Fill, last hour</h2>\n");
	fill_chart(w, h, c);
	mw_puts(w, "<h2>Drops per second</h2>\n");
	rate_chart(w, h, c, "drops-chart", "Drops, early drops and insert failures per second",
		   drops, 3);
	if (c->have_states) {
		mw_puts(w, "<h2>Entries by state</h2>\n");
		states_chart(w, h, c);
	}
	if (c->have_events) {
		mw_puts(w, "<h2>Events per second</h2>\n");
		rate_chart(w, h, c, "events-chart", "Conntrack events per second", events, 1);
	}
	mw_puts(w, "</div>\n");
}

void status_fill_bar(struct metric_writer *w, double fill)
{
	mw_printf(
		w,
		"<svg class=\"fillbar\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 100 10\" "
		"width=\"120\" height=\"12\" aria-hidden=\"true\"><rect class=\"track\" width=\"100\" "
		"height=\"10\"/><rect class=\"bar %s\" width=\"%.1f\" height=\"10\"/></svg>",
		level(fill), 100 * fmin(fmax(fill, 0), 1));
}
