/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_FUZZ_H
#define NFCE_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
