/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_FLAGS_H
#define NFCE_FLAGS_H

#include <stdbool.h>
#include <stddef.h>

#include "log.h"

#define FLAGS_MAX_COLLECTORS 32
#define DEFAULT_LISTEN_ADDRESS ":39901"
#define DEFAULT_EVENTS_BUFFER_SIZE (8u << 20)
#define DEFAULT_EVENTS_MAX_ZONES 32
#define FLAGS_MAX_NETNS 64
#define DEFAULT_NETNS_MAX 1024
#define DEFAULT_ATTRIB_TOP_K 10
#define MAX_ATTRIB_TOP_K 100
#define DEFAULT_ATTRIB_SKETCH_SIZE 1024
/* The kernel's own SNAT port choice for a source port >= 1024 with no range given. */
#define DEFAULT_SNAT_PORT_LO 1024
#define DEFAULT_SNAT_PORT_HI 65535
#define DEFAULT_ATTRIB_REFRESH_S 300

struct flags {
	const char *listen_address;
	char listen_host[256]; /* empty: every address */
	char listen_port[8];
	const char *telemetry_path;
	const char *procfs;
	const char *sysfs;
	enum log_level log_level;
	bool log_json; /* --log.format=json */
	const char *web_config_file; /* --web.config.file, or NULL */
	bool web_config_allow_downgrade; /* a reload may remove TLS or authentication */
	const char *runas; /* --runas=USER[:GROUP], or NULL */
	bool netns_all; /* --netns=all */
	const char *netns[FLAGS_MAX_NETNS]; /* --netns=NAME, names under /run/netns */
	size_t n_netns;
	unsigned netns_max; /* --netns.max */
	bool netns_metrics_full; /* --netns.metrics=full */
	size_t events_buffer_size;
	unsigned events_max_zones;
	struct {
		bool off; /* --no-collector.attribution */
		unsigned top_k, sketch_size, prefix4, prefix6, snat_lo, snat_hi, refresh_s;
	} attrib;
	bool collector_enabled[FLAGS_MAX_COLLECTORS];
	bool help;
	bool version;
	bool doctor; /* the "doctor" subcommand */
	bool format_json; /* --format=json, doctor only */
};

/*
 * node_exporter-style flags: --name=value or --name value, --collector.NAME and
 * --no-collector.NAME for each collector of the registry, --collector.disable-defaults.
 * On error returns -EINVAL and a one-line message naming the flag in @err.
 */
int flags_parse(int argc, char *const *argv, struct flags *ret, char *err, size_t err_size);
void flags_usage(const char *prog, void *stream);

/* "262144", "8MiB", "512KiB", "1GiB" -> bytes. */
int parse_size(const char *s, size_t *ret);

/* ":39901", "127.0.0.1:39901", "[::1]:39901", "localhost:39901" -> host and port. */
int listen_address_split(const char *addr, char *host, size_t host_size, char *port,
			 size_t port_size);

#endif
