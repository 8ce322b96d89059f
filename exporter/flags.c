// SPDX-License-Identifier: GPL-2.0-or-later
#include "flags.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "collector.h"
#include "util.h"

enum flag_id {
	FLAG_LISTEN_ADDRESS,
	FLAG_TELEMETRY_PATH,
	FLAG_PROCFS,
	FLAG_SYSFS,
	FLAG_LOG_LEVEL,
	FLAG_LOG_FORMAT,
	FLAG_WEB_CONFIG,
	FLAG_WEB_CONFIG_ALLOW_DOWNGRADE,
	FLAG_RUNAS,
	FLAG_NETNS,
	FLAG_NETNS_MAX,
	FLAG_NETNS_METRICS,
	FLAG_FORMAT,
	FLAG_EVENTS_BUFFER_SIZE,
	FLAG_EVENTS_MAX_ZONES,
	FLAG_ATTRIB_ON,
	FLAG_ATTRIB_OFF,
	FLAG_ATTRIB_TOP_K,
	FLAG_ATTRIB_SKETCH_SIZE,
	FLAG_ATTRIB_SOURCE_PREFIX,
	FLAG_ATTRIB_SNAT_PORT_RANGE,
	FLAG_ATTRIB_REFRESH,
	FLAG_DISABLE_DEFAULTS,
	FLAG_HELP,
	FLAG_VERSION,
};

static const struct {
	const char *name;
	enum flag_id id;
	bool has_value;
	const char *arg;
	const char *help;
} flag_table[] = {
	{ "web.listen-address", FLAG_LISTEN_ADDRESS, true, "ADDR",
	  "address to listen on: :PORT (all addresses), HOST:PORT, [IPv6]:PORT (default " DEFAULT_LISTEN_ADDRESS
	  ")" },
	{ "web.telemetry-path", FLAG_TELEMETRY_PATH, true, "PATH",
	  "path under which to expose metrics (default /metrics)" },
	{ "path.procfs", FLAG_PROCFS, true, "DIR", "procfs mountpoint (default /proc)" },
	{ "path.sysfs", FLAG_SYSFS, true, "DIR", "sysfs mountpoint (default /sys)" },
	{ "log.level", FLAG_LOG_LEVEL, true, "LEVEL",
	  "only log messages with this severity or above: debug, info, warn, error (default info)" },
	{ "log.format", FLAG_LOG_FORMAT, true, "FORMAT",
	  "log line format: logfmt or json (default logfmt)" },
	{ "web.config.file", FLAG_WEB_CONFIG, true, "FILE",
	  "exporter-toolkit web configuration: TLS and basic auth (reloaded on SIGHUP)" },
	{ "web.config.allow-downgrade", FLAG_WEB_CONFIG_ALLOW_DOWNGRADE, false, NULL,
	  "let a SIGHUP reload remove TLS, a required client certificate or basic auth (refused otherwise)" },
	{ "runas", FLAG_RUNAS, true, "USER[:GROUP]",
	  "drop to this user once the sockets are open, keeping only the capabilities needed" },
	{ "netns", FLAG_NETNS, true, "all|NAME",
	  "collect in every network namespace (all) or in this one under /run/netns (repeatable); default: the exporter's own only" },
	{ "netns.max", FLAG_NETNS_MAX, true, "N",
	  "follow at most this many namespaces with --netns=all (default 1024)" },
	{ "netns.metrics", FLAG_NETNS_METRICS, true, "basic|full",
	  "series per followed namespace: basic (at most 20: entries, drops, insert failures, overruns, the largest states) or full (every series of the own namespace); the exporter's own namespace always gets full (default basic)" },
	{ "collector.events.buffer-size", FLAG_EVENTS_BUFFER_SIZE, true, "BYTES",
	  "receive buffer of the conntrack event socket, e.g. 8MiB (default 8MiB)" },
	{ "collector.events.max-zones", FLAG_EVENTS_MAX_ZONES, true, "N",
	  "conntrack zones with their own series; the rest are summed as zone=\"other\" (default 32)" },
	{ "collector.attribution", FLAG_ATTRIB_ON, false, NULL,
	  "which sources, destinations, DNAT backends and SNAT addresses hold the entries, and the unreplied ones, from the events collector (default enabled)" },
	{ "no-collector.attribution", FLAG_ATTRIB_OFF, false, NULL, "no attribution series" },
	{ "collector.attribution.top-k", FLAG_ATTRIB_TOP_K, true, "K",
	  "series per attribution family before the rest is summed as \"other\", 1 to 100 (default 10)" },
	{ "collector.attribution.sketch-size", FLAG_ATTRIB_SKETCH_SIZE, true, "N",
	  "Space-Saving slots per attribution family, at least 4 x top-k, at most 65536: memory, and exact counts up to N distinct keys (default 1024)" },
	{ "collector.attribution.source-prefix", FLAG_ATTRIB_SOURCE_PREFIX, true, "V4,V6",
	  "aggregate sources to these prefix lengths, e.g. 24,64 (default 32,64)" },
	{ "collector.attribution.snat-port-range", FLAG_ATTRIB_SNAT_PORT_RANGE, true, "LO-HI",
	  "source ports your SNAT/masquerade rules may use, for the port usage ratio (default 1024-65535, the kernel's own choice without a range)" },
	{ "collector.attribution.refresh-interval", FLAG_ATTRIB_REFRESH, true, "DURATION",
	  "rebuild attribution that had more distinct keys than sketch slots from a dump this often, e.g. 5m; 0 never (default 5m)" },
	{ "format", FLAG_FORMAT, true, "FORMAT", "doctor's output: text or json (default text)" },
	{ "collector.disable-defaults", FLAG_DISABLE_DEFAULTS, false, NULL,
	  "disable every collector not enabled explicitly with --collector.NAME" },
	{ "help", FLAG_HELP, false, NULL, "show this help and exit" },
	{ "version", FLAG_VERSION, false, NULL, "show the version and exit" },
};

static int fail(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Decimal digits only (no sign, no blank), at most @max: past them, or NULL. */
static const char *parse_digits(const char *p, unsigned max, unsigned *ret)
{
	unsigned long v = 0;
	const char *start = p;

	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > max)
			return NULL;
	}
	if (p == start)
		return NULL;
	*ret = (unsigned)v;
	return p;
}

static bool port_valid(const char *p)
{
	unsigned long v = 0;

	if (!*p || strlen(p) > 5)
		return false;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	return v <= 65535;
}

int listen_address_split(const char *addr, char *host, size_t host_size, char *port,
			 size_t port_size)
{
	const char *colon, *h = addr;
	size_t hlen;

	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');

		if (!close || close[1] != ':' || close == addr + 1)
			return -EINVAL;
		h = addr + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon)
			return -EINVAL;
		hlen = (size_t)(colon - addr);
		if (memchr(addr, ':', hlen))
			return -EINVAL; /* a bare IPv6 address needs brackets */
	}
	if (hlen >= host_size || strlen(colon + 1) >= port_size || !port_valid(colon + 1))
		return -EINVAL;
	for (size_t i = 0; i < hlen; i++)
		if ((unsigned char)h[i] <= ' ' || h[i] == '[' || h[i] == ']' || h[i] == '/')
			return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	strcpy(port, colon + 1);
	return 0;
}

int parse_size(const char *s, size_t *ret)
{
	static const struct {
		const char *suffix;
		unsigned shift;
	} units[] = { { "", 0 }, { "B", 0 }, { "KiB", 10 }, { "MiB", 20 }, { "GiB", 30 } };
	unsigned long long v = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (1ull << 40))
			return -ERANGE;
		v = v * 10 + (unsigned long long)(*p - '0');
	}
	for (size_t i = 0; i < ARRAY_SIZE(units); i++)
		if (strcmp(p, units[i].suffix) == 0) {
			if (v > (1ull << 40) >> units[i].shift)
				return -ERANGE;
			*ret = (size_t)(v << units[i].shift);
			return 0;
		}
	return -EINVAL;
}

static int collector_index(const char *name, size_t len)
{
	for (size_t i = 0; i < collector_registry_size; i++)
		if (strlen(collector_registry[i]->name) == len &&
		    strncmp(collector_registry[i]->name, name, len) == 0)
			return (int)i;
	return -1;
}

static bool path_valid(const char *p)
{
	if (p[0] != '/')
		return false;
	for (; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '?' || *p == '#')
			return false;
	return true;
}

static int set_value(struct flags *f, enum flag_id id, const char *name, const char *v, char *err,
		     size_t size)
{
	switch (id) {
	case FLAG_LISTEN_ADDRESS:
		if (listen_address_split(v, f->listen_host, sizeof(f->listen_host), f->listen_port,
					 sizeof(f->listen_port)) < 0)
			return fail(err, size, "invalid value \"%s\" for --%s: want [HOST]:PORT", v,
				    name);
		f->listen_address = v;
		return 0;
	case FLAG_TELEMETRY_PATH:
		if (!path_valid(v))
			return fail(err, size,
				    "invalid value \"%s\" for --%s: want a path starting with /", v,
				    name);
		f->telemetry_path = v;
		return 0;
	case FLAG_PROCFS:
		if (!*v)
			return fail(err, size, "invalid value \"\" for --%s: want a directory",
				    name);
		f->procfs = v;
		return 0;
	case FLAG_SYSFS:
		if (!*v)
			return fail(err, size, "invalid value \"\" for --%s: want a directory",
				    name);
		f->sysfs = v;
		return 0;
	case FLAG_LOG_LEVEL:
		if (log_level_parse(v, &f->log_level) < 0)
			return fail(
				err, size,
				"invalid value \"%s\" for --%s: want debug, info, warn or error", v,
				name);
		return 0;
	case FLAG_LOG_FORMAT:
		if (strcmp(v, "json") != 0 && strcmp(v, "logfmt") != 0)
			return fail(err, size, "invalid value \"%s\" for --%s: want logfmt or json",
				    v, name);
		f->log_json = strcmp(v, "json") == 0;
		return 0;
	case FLAG_WEB_CONFIG:
		if (!*v)
			return fail(err, size, "invalid value \"\" for --%s: want a file", name);
		f->web_config_file = v;
		return 0;
	case FLAG_RUNAS:
		if (!*v || *v == ':' || strchr(v, ':') != strrchr(v, ':') ||
		    v[strlen(v) - 1] == ':')
			return fail(err, size,
				    "invalid value \"%s\" for --%s: want USER or USER:GROUP", v,
				    name);
		f->runas = v;
		return 0;
	case FLAG_NETNS:
		if (strcmp(v, "all") == 0) {
			f->netns_all = true;
			return 0;
		}
		/* A name under /run/netns, as ip-netns(8) allows it: no path tricks. */
		if (!*v || strlen(v) > 255 || strchr(v, '/') || strcmp(v, ".") == 0 ||
		    strcmp(v, "..") == 0)
			return fail(
				err, size,
				"invalid value \"%s\" for --%s: want all or a name under /run/netns",
				v, name);
		if (f->n_netns == FLAGS_MAX_NETNS)
			return fail(err, size, "too many --%s flags (at most %d)", name,
				    FLAGS_MAX_NETNS);
		f->netns[f->n_netns++] = v;
		return 0;
	case FLAG_NETNS_MAX: {
		size_t n;

		if (parse_size(v, &n) < 0 || n < 1 || n > 16384 || strpbrk(v, "KMGB"))
			return fail(err, size,
				    "invalid value \"%s\" for --%s: want a number from 1 to 16384",
				    v, name);
		f->netns_max = (unsigned)n;
		return 0;
	}
	case FLAG_NETNS_METRICS:
		if (strcmp(v, "basic") != 0 && strcmp(v, "full") != 0)
			return fail(err, size, "invalid value \"%s\" for --%s: want basic or full",
				    v, name);
		f->netns_metrics_full = strcmp(v, "full") == 0;
		return 0;
	case FLAG_FORMAT:
		if (strcmp(v, "json") != 0 && strcmp(v, "text") != 0)
			return fail(err, size, "invalid value \"%s\" for --%s: want text or json",
				    v, name);
		f->format_json = strcmp(v, "json") == 0;
		return 0;
	case FLAG_EVENTS_BUFFER_SIZE: {
		size_t n;

		if (parse_size(v, &n) < 0 || n < 4096 || n > (1u << 30))
			return fail(
				err, size,
				"invalid value \"%s\" for --%s: want a size from 4KiB to 1GiB, e.g. 8MiB",
				v, name);
		f->events_buffer_size = n;
		return 0;
	}
	case FLAG_EVENTS_MAX_ZONES: {
		size_t n;

		if (parse_size(v, &n) < 0 || n > 65536 || strpbrk(v, "KMGB"))
			return fail(err, size,
				    "invalid value \"%s\" for --%s: want a number from 0 to 65536",
				    v, name);
		f->events_max_zones = (unsigned)n;
		return 0;
	}
	case FLAG_ATTRIB_TOP_K: {
		size_t n;

		if (parse_size(v, &n) < 0 || n < 1 || n > MAX_ATTRIB_TOP_K || strpbrk(v, "KMGB"))
			return fail(err, size,
				    "invalid value \"%s\" for --%s: want a number from 1 to %d", v,
				    name, MAX_ATTRIB_TOP_K);
		f->attrib.top_k = (unsigned)n;
		return 0;
	}
	case FLAG_ATTRIB_SKETCH_SIZE: {
		size_t n;

		if (parse_size(v, &n) < 0 || n < 4 || n > 65536 || strpbrk(v, "KMGB"))
			return fail(err, size,
				    "invalid value \"%s\" for --%s: want a number from 4 to 65536",
				    v, name);
		f->attrib.sketch_size = (unsigned)n;
		return 0;
	}
	case FLAG_ATTRIB_SOURCE_PREFIX: {
		const char *q = v;
		unsigned a, b;

		if (!(q = parse_digits(q, 32, &a)) || *q++ != ',' ||
		    !(q = parse_digits(q, 128, &b)) || *q)
			return fail(
				err, size,
				"invalid value \"%s\" for --%s: want V4,V6 prefix lengths, e.g. 24,64",
				v, name);
		f->attrib.prefix4 = a;
		f->attrib.prefix6 = b;
		return 0;
	}
	case FLAG_ATTRIB_SNAT_PORT_RANGE: {
		const char *q = v;
		unsigned lo, hi;

		if (!(q = parse_digits(q, 65535, &lo)) || *q++ != '-' ||
		    !(q = parse_digits(q, 65535, &hi)) || *q || !lo || lo > hi)
			return fail(
				err, size,
				"invalid value \"%s\" for --%s: want LO-HI ports, 1 <= LO <= HI <= 65535",
				v, name);
		f->attrib.snat_lo = lo;
		f->attrib.snat_hi = hi;
		return 0;
	}
	case FLAG_ATTRIB_REFRESH: {
		static const char units[] = "smh";
		static const unsigned mult[] = { 1, 60, 3600 };
		unsigned n = 0, sec = 0;
		const char *q = parse_digits(v, 86400, &n), *u = NULL;

		if (q && (!*q || !q[1])) {
			u = *q ? strchr(units, *q) : units; /* no unit: seconds */
			sec = u ? n * mult[u - units] : 0;
		}
		if (!u || (n && (sec < 5 || sec > 86400)))
			return fail(
				err, size,
				"invalid value \"%s\" for --%s: want 0 or a duration from 5s to 24h, e.g. 30s, 5m, 1h",
				v, name);
		f->attrib.refresh_s = sec;
		return 0;
	}
	default:
		return fail(err, size, "internal error for --%s", name);
	}
}

int flags_parse(int argc, char *const *argv, struct flags *ret, char *err, size_t err_size)
{
	struct flags f = {
		.telemetry_path = "/metrics",
		.procfs = "/proc",
		.sysfs = "/sys",
		.log_level = LOG_LEVEL_INFO,
		.events_buffer_size = DEFAULT_EVENTS_BUFFER_SIZE,
		.events_max_zones = DEFAULT_EVENTS_MAX_ZONES,
		.netns_max = DEFAULT_NETNS_MAX,
		.attrib = {
			.top_k = DEFAULT_ATTRIB_TOP_K,
			.sketch_size = DEFAULT_ATTRIB_SKETCH_SIZE,
			.prefix4 = 32,
			.prefix6 = 64,
			.snat_lo = DEFAULT_SNAT_PORT_LO,
			.snat_hi = DEFAULT_SNAT_PORT_HI,
			.refresh_s = DEFAULT_ATTRIB_REFRESH_S,
		},
	};
	signed char explicit[FLAGS_MAX_COLLECTORS] = { 0 }; /* +1 enabled, -1 disabled */
	bool disable_defaults = false;
	int r;

	if (collector_registry_size > FLAGS_MAX_COLLECTORS)
		return fail(err, err_size, "too many collectors");
	r = set_value(&f, FLAG_LISTEN_ADDRESS, "web.listen-address", DEFAULT_LISTEN_ADDRESS, err,
		      err_size);
	if (r < 0)
		return r;

	bool format_given = false;
	int first = 1;

	if (argc > 1 && strcmp(argv[1], "doctor") == 0) {
		f.doctor = true;
		first = 2;
	}
	for (int i = first; i < argc; i++) {
		const char *arg = argv[i], *name, *eq, *value = NULL;
		size_t len;
		size_t k;

		if (strcmp(arg, "-h") == 0)
			arg = "--help";
		if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0')
			return fail(err, err_size, "unexpected argument \"%s\"", arg);
		name = arg + 2;
		eq = strchr(name, '=');
		len = eq ? (size_t)(eq - name) : strlen(name);

		if (len > 10 && strncmp(name, "collector.", 10) == 0 &&
		    collector_index(name + 10, len - 10) >= 0) {
			if (eq)
				return fail(err, err_size, "flag --%.*s takes no value", (int)len,
					    name);
			explicit[collector_index(name + 10, len - 10)] = 1;
			continue;
		}
		if (len > 13 && strncmp(name, "no-collector.", 13) == 0 &&
		    collector_index(name + 13, len - 13) >= 0) {
			if (eq)
				return fail(err, err_size, "flag --%.*s takes no value", (int)len,
					    name);
			explicit[collector_index(name + 13, len - 13)] = -1;
			continue;
		}
		for (k = 0; k < ARRAY_SIZE(flag_table); k++)
			if (strlen(flag_table[k].name) == len &&
			    strncmp(flag_table[k].name, name, len) == 0)
				break;
		if (k == ARRAY_SIZE(flag_table))
			return fail(err, err_size, "unknown flag --%.*s", (int)len, name);

		if (!flag_table[k].has_value) {
			if (eq)
				return fail(err, err_size, "flag --%s takes no value",
					    flag_table[k].name);
			switch (flag_table[k].id) {
			case FLAG_DISABLE_DEFAULTS:
				disable_defaults = true;
				break;
			case FLAG_WEB_CONFIG_ALLOW_DOWNGRADE:
				f.web_config_allow_downgrade = true;
				break;
			case FLAG_HELP:
				f.help = true;
				break;
			case FLAG_VERSION:
				f.version = true;
				break;
			case FLAG_ATTRIB_ON:
			case FLAG_ATTRIB_OFF:
				f.attrib.off = flag_table[k].id == FLAG_ATTRIB_OFF;
				break;
			default:
				break;
			}
			continue;
		}
		if (eq)
			value = eq + 1;
		else if (i + 1 < argc)
			value = argv[++i];
		else
			return fail(err, err_size, "flag --%s needs a value", flag_table[k].name);
		r = set_value(&f, flag_table[k].id, flag_table[k].name, value, err, err_size);
		if (r < 0)
			return r;
		format_given |= flag_table[k].id == FLAG_FORMAT;
	}
	if (format_given && !f.doctor)
		return fail(err, err_size, "flag --format is for the doctor command");
	if (f.netns_all && f.n_netns)
		return fail(err, err_size, "--netns=all and --netns=NAME exclude each other");
	if (f.attrib.sketch_size < 4 * f.attrib.top_k)
		return fail(
			err, err_size,
			"--collector.attribution.sketch-size (%u) must be at least 4 x top-k (%u)",
			f.attrib.sketch_size, 4 * f.attrib.top_k);

	for (size_t i = 0; i < collector_registry_size; i++)
		f.collector_enabled[i] =
			explicit[i] ? explicit[i] > 0
				    : !disable_defaults && collector_registry[i]->default_enabled;
	*ret = f;
	return 0;
}

void flags_usage(const char *prog, void *stream)
{
	FILE *out = stream;

	fprintf(out,
		"usage: %s [FLAGS]\n"
		"       %s doctor [--format=text|json] [--netns=all|NAME] [--path.procfs=DIR]\n\n"
		"Prometheus exporter for Linux netfilter connection tracking. \"doctor\" looks at\n"
		"the table once, says what is at risk and which setting would change it, and exits\n"
		"1 when something is at risk.\n\nFlags:\n",
		prog, prog);
	for (size_t k = 0; k < ARRAY_SIZE(flag_table); k++) {
		char left[64];

		snprintf(left, sizeof(left), "--%s%s%s", flag_table[k].name,
			 flag_table[k].arg ? "=" : "", flag_table[k].arg ? flag_table[k].arg : "");
		fprintf(out, "  %-32s %s\n", left, flag_table[k].help);
	}
	fprintf(out, "\nCollectors (--collector.NAME enables, --no-collector.NAME disables):\n");
	for (size_t i = 0; i < collector_registry_size; i++)
		fprintf(out, "  %-32s %s (default %s)\n", collector_registry[i]->name,
			collector_registry[i]->help,
			collector_registry[i]->default_enabled ? "enabled" : "disabled");
}
