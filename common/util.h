/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_UTIL_H
#define NFCE_UTIL_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The netfilter sysctls, relative to --path.procfs. */
#define NF_SYSCTL_DIR "sys/net/netfilter"

/*
 * Room for @need items in the array *@v of *@cap items of @size bytes, doubling from @min.
 * *@v and *@cap change only on success; -ENOMEM or -E2BIG (size overflow) otherwise.
 */
int grow_array(void **v, size_t *cap, size_t need, size_t size, size_t min);
#define GROW_ARRAY(v, cap, need, min) grow_array((void **)&(v), &(cap), (need), sizeof(*(v)), (min))

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)

/* A growable byte buffer for whole-file reads, kept by its owner across scrapes. */
struct rbuf {
	char *data;
	size_t len;
	size_t cap;
};

void rbuf_free(struct rbuf *b);

/*
 * Read the whole of @path (relative to @dirfd) into @b, NUL-terminated, refusing files over
 * @max bytes with -EFBIG. /proc files have no size, so this reads until EOF.
 */
int read_file_at(int dirfd, const char *path, struct rbuf *b, size_t max);
/* A regular file under @dirfd, opened for read_file_fd(): the fd, or -errno (-EINVAL: not a file). */
int open_file_at(int dirfd, const char *path);
/* The whole of an open file, from its start, as read_file_at() reads it. */
int read_file_fd(int fd, struct rbuf *b, size_t max);

/* Parse one decimal unsigned integer surrounded by optional whitespace: a sysctl value. */
int parse_u64(const char *buf, size_t len, uint64_t *ret);

uint64_t now_monotonic_us(void);
double now_realtime(void);

/* opendir() of @path relative to @dirfd. */
int opendir_at(int dirfd, const char *path, DIR **ret);

/* A sysctl-style file holding one unsigned decimal number. */
int read_u64_at(int dirfd, const char *path, struct rbuf *b, uint64_t *ret);
#endif
