/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_METRIC_NAMES_H
#define NFCE_METRIC_NAMES_H

/*
 * Names of the metrics and labels that more than one place uses: the collector that writes
 * one, and the status page, doctor or the rules' tests that read it. Renaming one here renames
 * it everywhere; removing one is a compile error in whoever still reads it.
 */

/* table */
#define MN_ENTRIES "nf_conntrack_entries"
#define MN_ENTRIES_LIMIT "nf_conntrack_entries_limit"
#define MN_BUCKETS "nf_conntrack_buckets"

/* stat: nf_conntrack_stat_<kernel statistic>_total */
#define MN_STAT_PREFIX "nf_conntrack_stat_"
#define MN_STAT_SUFFIX "_total"
#define MN_STAT(name) MN_STAT_PREFIX name MN_STAT_SUFFIX
#define MN_STAT_DROP MN_STAT("drop")
#define MN_STAT_EARLY_DROP MN_STAT("early_drop")
#define MN_STAT_INSERT_FAILED MN_STAT("insert_failed")
#define MN_STAT_CHAINTOOLONG MN_STAT("chaintoolong")

/* timeouts */
#define MN_TIMEOUT_SECONDS "nf_conntrack_timeout_seconds"

/* kernel */
#define MN_KERNEL_MEMORY_BYTES "nf_conntrack_kernel_memory_bytes"
#define MN_KERNEL_MEMORY_LIMIT_BYTES "nf_conntrack_kernel_memory_limit_bytes"

/* lnstat: lnstat_<column>_total{table} */
#define MN_LNSTAT_PREFIX "lnstat_"
#define MN_LNSTAT(name) MN_LNSTAT_PREFIX name "_total"
#define MN_LNSTAT_TABLE_FULLS MN_LNSTAT("table_fulls")
#define MN_LNSTAT_FORCED_GC_RUNS MN_LNSTAT("forced_gc_runs")

/* events */
#define MN_STATE_ENTRIES "nf_conntrack_state_entries"
#define MN_ZONE_ENTRIES "nf_conntrack_zone_entries"
#define MN_EVENTS_TOTAL "nf_conntrack_events_total"

/* events: attribution (who fills the table) */
#define MN_TOP_SOURCE_ENTRIES "nf_conntrack_top_source_entries"
#define MN_TOP_DESTINATION_ENTRIES "nf_conntrack_top_destination_entries"
#define MN_TOP_DNAT_TARGET_ENTRIES "nf_conntrack_top_dnat_target_entries"
#define MN_SNAT_ENTRIES "nf_conntrack_snat_entries"
#define MN_SNAT_BUSIEST_DESTINATION_ENTRIES "nf_conntrack_snat_busiest_destination_entries"
#define MN_SNAT_PORT_USAGE_RATIO "nf_conntrack_snat_port_usage_ratio"
#define MN_SNAT_PORT_RANGE_PORTS "nf_conntrack_snat_port_range_ports"
#define MN_UNREPLIED_ENTRIES "nf_conntrack_unreplied_entries"
#define MN_UNREPLIED_ENDED_TOTAL "nf_conntrack_unreplied_ended_total"
#define MN_ATTRIBUTION_ERROR_ENTRIES "nf_conntrack_attribution_error_entries"

/* the exporter itself */
#define MN_COLLECTOR_SUCCESS "nf_conntrack_exporter_collector_success"
#define MN_COLLECTOR_DURATION "nf_conntrack_exporter_collector_duration_seconds"

/* labels */
#define ML_NETNS "netns"
#define ML_PROTOCOL "protocol"
#define ML_STATE "state"
#define ML_ZONE "zone"
#define ML_TABLE "table"
#define ML_COLLECTOR "collector"
#define ML_SOURCE "source"
#define ML_DESTINATION "destination"
#define ML_PORT "port"
#define ML_TARGET "target"
#define ML_ADDRESS "address"
#define ML_AGE "age"
#define ML_SERVICE "service"
#define ML_FAMILY "family"
#define ML_OWNER_NETNS "owner_netns"

#endif
