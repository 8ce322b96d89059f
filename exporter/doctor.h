/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_DOCTOR_H
#define NFCE_DOCTOR_H

#include "flags.h"

/*
 * `nf_conntrack_exporter doctor`: one look at the table for an operator in an incident or a
 * config review. Reads what the collectors read (two samples a few seconds apart), prints
 * findings with the reason and the exact setting that would change each (never applied).
 * Returns the exit status: 0 nothing at risk, 1 something is.
 */
int doctor_run(const struct flags *f);

#endif
