// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * flowgen: create new conntrack entries as fast as one core can (or at a set rate).
 *
 * One unconnected UDP socket bound to 127.0.0.1 sends one small datagram to each of a
 * sequence of distinct (destination address in 127.0.0.0/8, destination port) pairs with
 * sendmmsg(), so with conntrack active every datagram is a new flow (an unreplied UDP entry).
 * Flow i goes to address 127.1.0.0 + i / 64512, port 1024 + i % 64512 (see dst_of());
 * --start lets successive runs use fresh tuples.
 *
 * Loopback only: every destination is in 127.0.0.0/8 (127.1.0.0 .. 127.254.255.255).
 *
 *   flowgen [--rate FLOWS_PER_S] [--count N] [--duration S] [--start I] [--batch B]
 *
 * Prints one line: sent=N errors=E elapsed=S rate=FLOWS_PER_S first=I next=I
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCH 256
#define PORTS 64512u /* 1024..65535 */
#define ADDRS (254u * 65536u - 1u) /* 127.1.0.0 .. 127.254.255.254 */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void dst_of(uint64_t i, struct sockaddr_in *sa)
{
	uint32_t a = (uint32_t)((i / PORTS) % ADDRS);

	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)(1024u + i % PORTS));
	sa->sin_addr.s_addr = htonl(0x7f010000u + a); /* 127.1.0.0 + a */
}

static void usage(void)
{
	fprintf(stderr, "usage: flowgen [--rate FLOWS_PER_S] [--count N] [--duration S] "
			"[--start I] [--batch B]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rate", required_argument, NULL, 'r' },
		{ "count", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "start", required_argument, NULL, 's' },
		{ "batch", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	static struct mmsghdr msgs[MAX_BATCH];
	static struct iovec iov[MAX_BATCH];
	static struct sockaddr_in dst[MAX_BATCH];
	static char payload[16] = "flowgen";
	double rate = 0, duration = 0, t0, t, elapsed;
	uint64_t count = 0, start = 0, i, sent = 0, errors = 0;
	unsigned batch = 64;
	struct sockaddr_in src = { .sin_family = AF_INET };
	struct sigaction sa = { .sa_handler = on_signal };
	int c, fd;

	while ((c = getopt_long(argc, argv, "r:n:d:s:b:", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			rate = strtod(optarg, NULL);
			break;
		case 'n':
			count = strtoull(optarg, NULL, 10);
			break;
		case 'd':
			duration = strtod(optarg, NULL);
			break;
		case 's':
			start = strtoull(optarg, NULL, 10);
			break;
		case 'b':
			batch = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || batch < 1 || batch > MAX_BATCH || (!count && duration <= 0))
		usage();
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	src.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
		perror("bind");
		return 1;
	}
	for (unsigned k = 0; k < MAX_BATCH; k++) {
		iov[k] = (struct iovec){ .iov_base = payload, .iov_len = sizeof(payload) };
		msgs[k].msg_hdr = (struct msghdr){ .msg_name = &dst[k],
						   .msg_namelen = sizeof(dst[k]),
						   .msg_iov = &iov[k],
						   .msg_iovlen = 1 };
	}

	i = start;
	t0 = t = now_s();
	while (!stop) {
		unsigned want = batch;
		int n;

		if (count && sent + errors >= count)
			break;
		t = now_s();
		if (duration > 0 && t - t0 >= duration)
			break;
		if (count && count - (sent + errors) < want)
			want = (unsigned)(count - (sent + errors));
		if (rate > 0) {
			/* Pace: never more than rate * elapsed flows so far. */
			double allowed = rate * (t - t0) - (double)(sent + errors);

			if (allowed < 1) {
				struct timespec ts = { 0, 200000 }; /* 0.2 ms */

				nanosleep(&ts, NULL);
				continue;
			}
			if (allowed < want)
				want = (unsigned)allowed;
		}
		for (unsigned k = 0; k < want; k++)
			dst_of(i + k, &dst[k]);
		n = sendmmsg(fd, msgs, want, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* e.g. EPERM: the packet was dropped (conntrack table full); skip the flow. */
			errors++;
			i++;
			continue;
		}
		sent += (uint64_t)n;
		i += (uint64_t)n;
	}
	t = now_s();
	elapsed = t - t0;
	printf("sent=%llu errors=%llu elapsed=%.3f rate=%.0f first=%llu next=%llu\n",
	       (unsigned long long)sent, (unsigned long long)errors, elapsed,
	       elapsed > 0 ? (double)sent / elapsed : 0.0, (unsigned long long)start,
	       (unsigned long long)i);
	return 0;
}
