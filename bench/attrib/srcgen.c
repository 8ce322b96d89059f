// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * srcgen: one conntrack entry from each of many source addresses, for the attribution storm.
 *
 * Sends raw IPv4/UDP datagrams (IP_HDRINCL, so the source address is ours to choose) from
 * --sources addresses, --per-source datagrams each (source ports 1024, 1025, ...), all to
 * --dst:--dport. Source s is FIRST + s, e.g. --first 127.16.0.1: 200,000 sources run from
 * 127.16.0.1 to 127.19.13.64. Every datagram is a distinct (source, source port) pair, so with
 * conntrack active each is a new, unreplied UDP entry.
 *
 * Loopback only: every address must lie in 127.0.0.0/8 (checked), and the packet leaves through
 * lo because a 127/8 source routes there.
 *
 *   srcgen --first A.B.C.D --sources N [--per-source M] [--dst A.B.C.D] [--dport P]
 *          [--rate PKTS_PER_S]
 *
 * Prints one line: sent=N errors=E elapsed=S rate=PKTS_PER_S
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define PAYLOAD 8

struct pkt {
	struct iphdr ip;
	struct udphdr udp;
	char data[PAYLOAD];
} __attribute__((packed));

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int in_loopback(uint32_t host_order)
{
	return (host_order >> 24) == 127;
}

static void usage(void)
{
	fprintf(stderr, "usage: srcgen --first A.B.C.D --sources N [--per-source M] "
			"[--dst A.B.C.D] [--dport P] [--rate PKTS_PER_S]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "first", required_argument, NULL, 'f' },
		{ "sources", required_argument, NULL, 'n' },
		{ "per-source", required_argument, NULL, 'm' },
		{ "dst", required_argument, NULL, 'd' },
		{ "dport", required_argument, NULL, 'p' },
		{ "rate", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	static struct pkt pkts[BATCH];
	static struct mmsghdr msgs[BATCH];
	static struct iovec iov[BATCH];
	struct sockaddr_in to = { .sin_family = AF_INET };
	struct in_addr first = { 0 }, dst = { htonl(0x7f000001u) };
	uint64_t sources = 0, per = 1, total, done = 0, sent = 0, errors = 0;
	unsigned dport = 9;
	double rate = 0, t0, elapsed;
	int c, fd, one = 1;

	while ((c = getopt_long(argc, argv, "f:n:m:d:p:r:", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (inet_pton(AF_INET, optarg, &first) != 1)
				usage();
			break;
		case 'n':
			sources = strtoull(optarg, NULL, 10);
			break;
		case 'm':
			per = strtoull(optarg, NULL, 10);
			break;
		case 'd':
			if (inet_pton(AF_INET, optarg, &dst) != 1)
				usage();
			break;
		case 'p':
			dport = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			rate = strtod(optarg, NULL);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || !sources || !per || per > 64512 || dport > 65535)
		usage();
	/* Never leave the loopback range, whatever the arguments. */
	if (!in_loopback(ntohl(first.s_addr)) ||
	    !in_loopback(ntohl(first.s_addr) + (uint32_t)(sources - 1)) ||
	    !in_loopback(ntohl(dst.s_addr))) {
		fprintf(stderr, "srcgen: every address must be in 127.0.0.0/8\n");
		return 2;
	}

	fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	if (setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one)) < 0) {
		perror("IP_HDRINCL");
		return 1;
	}
	to.sin_addr = dst;
	for (unsigned k = 0; k < BATCH; k++) {
		/* The kernel fills the IP checksum and id; a UDP checksum of 0 means none. */
		pkts[k].ip = (struct iphdr){ .version = 4,
					     .ihl = 5,
					     .tot_len = htons(sizeof(struct pkt)),
					     .ttl = 64,
					     .protocol = IPPROTO_UDP,
					     .daddr = dst.s_addr };
		pkts[k].udp = (struct udphdr){ .uh_dport = htons((uint16_t)dport),
					       .uh_ulen = htons(sizeof(struct udphdr) + PAYLOAD) };
		memcpy(pkts[k].data, "srcgen", 7);
		iov[k] = (struct iovec){ .iov_base = &pkts[k], .iov_len = sizeof(pkts[k]) };
		msgs[k].msg_hdr = (struct msghdr){ .msg_name = &to,
						   .msg_namelen = sizeof(to),
						   .msg_iov = &iov[k],
						   .msg_iovlen = 1 };
	}

	total = sources * per;
	t0 = now_s();
	while (done < total) {
		unsigned want = BATCH;
		int n;

		if (total - done < want)
			want = (unsigned)(total - done);
		if (rate > 0) {
			/* Pace: never more than rate * elapsed packets so far. */
			double allowed = rate * (now_s() - t0) - (double)done;

			if (allowed < 1) {
				struct timespec ts = { 0, 200000 }; /* 0.2 ms */

				nanosleep(&ts, NULL);
				continue;
			}
			if (allowed < want)
				want = (unsigned)allowed;
		}
		for (unsigned k = 0; k < want; k++) {
			/* Source-major order: all of one address's ports, then the next address. */
			uint64_t i = done + k;

			pkts[k].ip.saddr = htonl(ntohl(first.s_addr) + (uint32_t)(i / per));
			pkts[k].udp.uh_sport = htons((uint16_t)(1024u + i % per));
		}
		n = sendmmsg(fd, msgs, want, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* e.g. EPERM: dropped (table full); skip that packet. */
			errors++;
			done++;
			continue;
		}
		sent += (uint64_t)n;
		done += (uint64_t)n;
	}
	elapsed = now_s() - t0;
	printf("sent=%llu errors=%llu elapsed=%.3f rate=%.0f\n", (unsigned long long)sent,
	       (unsigned long long)errors, elapsed, elapsed > 0 ? (double)sent / elapsed : 0.0);
	return 0;
}
