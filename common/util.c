// SPDX-License-Identifier: GPL-2.0-or-later
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <string.h>
#include <time.h>

void rbuf_free(struct rbuf *b)
{
	if (!b)
		return;
	free(b->data);
	*b = (struct rbuf){ 0 };
}

int grow_array(void **v, size_t *cap, size_t need, size_t size, size_t min)
{
	size_t k = *cap ? *cap : min ? min : 1;
	void *p;

	if (need <= *cap)
		return 0;
	while (k < need) {
		if (k > SIZE_MAX / 2)
			return -E2BIG;
		k *= 2;
	}
	if (k > SIZE_MAX / size)
		return -E2BIG;
	p = realloc(*v, k * size);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = k;
	return 0;
}

static int rbuf_grow(struct rbuf *b, size_t max)
{
	size_t cap = b->cap ? b->cap * 2 : 4096;
	char *p;

	if (b->cap >= max + 1)
		return -EFBIG;
	if (cap > max + 1)
		cap = max + 1;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int open_file_at(int dirfd, const char *path)
{
	struct stat st;
	int fd, r;

	/* O_NONBLOCK: a FIFO planted under --path.procfs must not hang us; only files are read. */
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (!S_ISREG(st.st_mode))
		r = -EINVAL;
	else
		return fd;
	close(fd);
	return r;
}

static int read_all(int fd, struct rbuf *b, size_t max)
{
	int r;

	b->len = 0;
	for (;;) {
		ssize_t n;

		if (b->cap - b->len < 2) {
			r = rbuf_grow(b, max);
			if (r < 0)
				return r;
		}
		n = read(fd, b->data + b->len, b->cap - b->len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		b->len += (size_t)n;
	}
	b->data[b->len] = '\0';
	return 0;
}

int read_file_at(int dirfd, const char *path, struct rbuf *b, size_t max)
{
	_cleanup_close_ int fd = open_file_at(dirfd, path);

	b->len = 0;
	if (fd < 0)
		return fd;
	return read_all(fd, b, max);
}

int read_file_fd(int fd, struct rbuf *b, size_t max)
{
	/* A /proc file read again from the start makes its text afresh. */
	if (lseek(fd, 0, SEEK_SET) < 0) {
		b->len = 0;
		return -errno;
	}
	return read_all(fd, b, max);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int parse_u64(const char *buf, size_t len, uint64_t *ret)
{
	size_t i = 0;
	uint64_t v = 0;
	bool digits = false;

	while (i < len && is_space(buf[i]))
		i++;
	for (; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
		unsigned d = (unsigned)(buf[i] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
		digits = true;
	}
	while (i < len && is_space(buf[i]))
		i++;
	if (!digits || i != len)
		return -EINVAL;
	*ret = v;
	return 0;
}

uint64_t now_monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

double now_realtime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int read_u64_at(int dirfd, const char *path, struct rbuf *b, uint64_t *ret)
{
	int r;

	r = read_file_at(dirfd, path, b, 4096);
	if (r < 0)
		return r;
	return parse_u64(b->data, b->len, ret);
}

int opendir_at(int dirfd, const char *path, DIR **ret)
{
	int fd, r;
	DIR *d;

	fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	*ret = d;
	return 0;
}
