// SPDX-License-Identifier: GPL-2.0-or-later
/* Input: command-line arguments separated by NUL bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flags.h"
#include "fuzz.h"

#define MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[MAX_ARGS + 2] = { "fuzz" };
	char err[512];
	struct flags f;
	char *copy;
	int argc = 1;

	copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (char *p = copy; p < copy + size && argc <= MAX_ARGS; p += strlen(p) + 1)
		argv[argc++] = p;
	flags_parse(argc, argv, &f, err, sizeof(err));
	free(copy);
	return 0;
}
