// SPDX-License-Identifier: GPL-2.0-or-later
// Fresh-connection scrape client for bench/run.sh: for DURATION seconds, one scrape after the
// other, each on a new TCP connection, as curl does: socket, connect, send GET (HTTP/1.1, no
// "Connection: close", no Accept-Encoding), read the whole response (Content-Length or chunked),
// close. The latency of a scrape runs from before socket() to after close(), so it includes the
// handshake and the server's accept. Prints one line in the format of bench/report.lua:
//   RESULT requests=.. duration_us=.. bytes=.. p50_us=.. p90_us=.. p99_us=.. max_us=.. mean_us=..
//          err_connect=.. err_read=.. err_write=.. err_status=.. err_timeout=..
// Usage: fresh HOST PORT DURATION_S [PATH]      (IPv4 HOST, e.g. 127.0.0.1)
// Build: cc -O2 -o fresh bench/fresh.c
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_MS 10000

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

struct buf {
	char *p;
	size_t len, cap;
};

// Read more bytes into b; 0 on EOF, -1 on error or timeout.
static ssize_t fill(int fd, struct buf *b)
{
	if (b->cap - b->len < 65536) {
		b->cap = b->cap * 2 + 65536;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int r = poll(&pfd, 1, TIMEOUT_MS);
	if (r <= 0)
		return -1;
	ssize_t n = read(fd, b->p + b->len, b->cap - b->len);
	if (n > 0)
		b->len += (size_t)n;
	return n;
}

enum { OK, E_CONNECT, E_READ, E_WRITE, E_STATUS };

// One scrape on a new connection; *body gets the body length.
static int scrape(const struct sockaddr_in *sa, const char *req, size_t reqlen, struct buf *b,
		  size_t *body)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return E_CONNECT;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); // as curl does
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		close(fd);
		return E_CONNECT;
	}
	int rc = E_READ;
	if (write(fd, req, reqlen) != (ssize_t)reqlen) {
		rc = E_WRITE;
		goto out;
	}
	b->len = 0;
	char *hend = NULL;
	while (!(hend = memmem(b->p ? b->p : "", b->len, "\r\n\r\n", 4)))
		if (fill(fd, b) <= 0)
			goto out;
	size_t hlen = (size_t)(hend - b->p) + 4;
	int status = 0;
	if (sscanf(b->p, "HTTP/1.%*d %d", &status) != 1)
		goto out;
	long long clen = -1;
	int chunked = 0;
	for (char *l = b->p; l < hend;) {
		char *e = memmem(l, (size_t)(hend + 2 - l), "\r\n", 2);
		if (!e)
			break;
		if (!strncasecmp(l, "content-length:", 15))
			clen = atoll(l + 15);
		else if (!strncasecmp(l, "transfer-encoding:", 18) &&
			 memmem(l, (size_t)(e - l), "chunked", 7))
			chunked = 1;
		l = e + 2;
	}
	if (chunked) {
		size_t pos = hlen, total = 0;
		for (;;) {
			char *e;
			while (!(e = memmem(b->p + pos, b->len - pos, "\r\n", 2)))
				if (fill(fd, b) <= 0)
					goto out;
			size_t n = strtoul(b->p + pos, NULL, 16);
			pos = (size_t)(e - b->p) + 2;
			while (b->len < pos + n + 2)
				if (fill(fd, b) <= 0)
					goto out;
			pos += n + 2;
			total += n;
			if (n == 0)
				break; // no trailers from either exporter: "0\r\n\r\n"
		}
		*body = total;
	} else if (clen >= 0) {
		while (b->len < hlen + (size_t)clen)
			if (fill(fd, b) <= 0)
				goto out;
		*body = (size_t)clen;
	} else {
		ssize_t n;
		while ((n = fill(fd, b)) > 0)
			;
		if (n < 0)
			goto out;
		*body = b->len - hlen;
	}
	rc = status == 200 ? OK : E_STATUS;
out:
	close(fd);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s HOST PORT DURATION_S [PATH]\n", argv[0]);
		return 2;
	}
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)atoi(argv[2])) };
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "bad IPv4 address %s\n", argv[1]);
		return 2;
	}
	double dur = atof(argv[3]);
	char req[512];
	int reqlen = snprintf(
		req, sizeof(req),
		"GET %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: nfce-bench-fresh\r\nAccept: */*\r\n\r\n",
		argc > 4 ? argv[4] : "/metrics", argv[1], argv[2]);
	size_t cap = 1 << 16, n = 0;
	uint64_t *lat = malloc(cap * sizeof(*lat));
	unsigned long long err[5] = { 0 }, bytes = 0;
	struct buf b = { 0 };
	uint64_t t_start = now_us(), t_end = t_start + (uint64_t)(dur * 1e6);
	for (;;) {
		uint64_t t0 = now_us();
		if (t0 >= t_end)
			break;
		size_t body = 0;
		int rc = scrape(&sa, req, (size_t)reqlen, &b, &body);
		uint64_t t1 = now_us();
		if (rc != OK) {
			err[rc]++;
			if (rc == E_CONNECT)
				usleep(10000);
			continue;
		}
		bytes += body;
		if (n == cap) {
			cap *= 2;
			lat = realloc(lat, cap * sizeof(*lat));
			if (!lat)
				abort();
		}
		lat[n++] = t1 - t0;
	}
	uint64_t elapsed = now_us() - t_start;
	double mean = 0;
	for (size_t i = 0; i < n; i++)
		mean += (double)lat[i];
	mean = n ? mean / (double)n : 0;
	qsort(lat, n, sizeof(*lat), cmp_u64);
#define PCT(p) (n ? lat[(size_t)((double)(n - 1) * (p) / 100.0 + 0.5)] : 0)
	printf("RESULT requests=%zu duration_us=%llu bytes=%llu p50_us=%llu p90_us=%llu p99_us=%llu "
	       "max_us=%llu mean_us=%.1f err_connect=%llu err_read=%llu err_write=%llu err_status=%llu "
	       "err_timeout=0\n",
	       n, (unsigned long long)elapsed, bytes, (unsigned long long)PCT(50),
	       (unsigned long long)PCT(90), (unsigned long long)PCT(99),
	       (unsigned long long)(n ? lat[n - 1] : 0), mean, err[E_CONNECT], err[E_READ],
	       err[E_WRITE], err[E_STATUS]);
	free(lat);
	free(b.p);
	return n ? 0 : 1;
}
