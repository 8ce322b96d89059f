/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_TIMEOUTS_H
#define NFCE_TIMEOUTS_H

struct timeout_name {
	char protocol[32];
	char state[48];
};

/*
 * Split a sysctl file name such as nf_conntrack_tcp_timeout_time_wait into protocol "tcp" and
 * state "time_wait"; a name without a state gets "default", one without a protocol "generic".
 * -EINVAL when it is not a conntrack timeout sysctl.
 */
int timeout_sysctl_parse(const char *name, struct timeout_name *ret);

#endif
