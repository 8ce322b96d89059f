// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Finding the network namespaces of the host. A namespace has no list of its own: it is
 * reachable through the processes in it (/proc/PID/ns/net) and through bind mounts such as
 * ip-netns(8)'s /run/netns/NAME, and is known by the inode of its nsfs file.
 */
#include "netns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static int push(struct netns_scan *s, const struct stat *st, pid_t pid, const char *name)
{
	struct netns_seen *n;
	int r = GROW_ARRAY(s->v, s->cap, s->n + 1, 256);

	if (r < 0)
		return r;
	n = &s->v[s->n++];
	n->dev = st->st_dev;
	n->ino = st->st_ino;
	n->pid = pid;
	n->followed = false;
	strcpy(n->name, name);
	return 0;
}

static bool name_valid(const char *name)
{
	return name[0] && strlen(name) <= NETNS_NAME_MAX && !strchr(name, '/') &&
	       strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

static int scan_named(struct netns_scan *s, int run_fd, const char *name)
{
	struct stat st;

	if (!name_valid(name))
		return 0;
	/* A name created by "ip netns add" is an empty file until the mount lands on it. */
	if (fstatat(run_fd, name, &st, 0) < 0)
		return 0;
	if (st.st_dev != s->nsfs_dev) {
		/* Only a fresh one: a leftover file would have us looking again forever. */
		if (time(NULL) - st.st_ctim.tv_sec <= NETNS_PENDING_S)
			s->pending++;
		return 0;
	}
	return push(s, &st, 0, name);
}

static int scan_run_dir(struct netns_scan *s, int run_fd)
{
	struct dirent *de;
	DIR *d;
	int r = 0, fd;

	fd = openat(run_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	while (r == 0 && (de = readdir(d)))
		if (de->d_name[0] != '.')
			r = scan_named(s, run_fd, de->d_name);
	closedir(d);
	return r;
}

/*
 * Call @fn for each process of @procfs_fd with the stat of its /proc/PID/ns/net: one walk of
 * /proc, for the namespace scan and for the lookup of who is in the followed ones.
 */
static int for_each_proc_netns(int procfs_fd,
			       int (*fn)(void *ctx, pid_t pid, const struct stat *st), void *ctx)
{
	struct dirent *de;
	DIR *d;
	int r;

	r = opendir_at(procfs_fd, ".", &d);
	if (r < 0)
		return r;
	while ((de = readdir(d))) {
		char path[64];
		struct stat st;
		char *end;
		long pid;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || pid > (1L << 30))
			continue;
		snprintf(path, sizeof(path), "%ld/ns/net", pid);
		/* Gone since readdir(), a kernel thread, or not ours to see: not an error. */
		if (fstatat(procfs_fd, path, &st, 0) < 0)
			continue;
		r = fn(ctx, (pid_t)pid, &st);
		if (r < 0)
			break;
	}
	closedir(d);
	return r < 0 ? r : 0;
}

static int scan_one_proc(void *ctx, pid_t pid, const struct stat *st)
{
	struct netns_scan *s = ctx;

	return st->st_dev == s->nsfs_dev ? push(s, st, pid, "") : 0;
}

static int scan_procs(struct netns_scan *s, int procfs_fd)
{
	return for_each_proc_netns(procfs_fd, scan_one_proc, s);
}

static int seen_cmp(const void *a, const void *b)
{
	const struct netns_seen *x = a, *y = b;

	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return 0;
}

/* One entry per namespace: the lowest pid, the smallest name. */
static void dedup(struct netns_scan *s)
{
	size_t out = 0;

	if (s->n) /* qsort(NULL, 0, ...) is undefined */
		qsort(s->v, s->n, sizeof(s->v[0]), seen_cmp);
	for (size_t i = 0; i < s->n; i++) {
		struct netns_seen *a = &s->v[i], *o = out ? &s->v[out - 1] : NULL;

		if (!o || seen_cmp(o, a) != 0) {
			s->v[out++] = *a;
			continue;
		}
		if (a->pid && (!o->pid || a->pid < o->pid))
			o->pid = a->pid;
		if (a->name[0] && (!o->name[0] || strcmp(a->name, o->name) < 0))
			strcpy(o->name, a->name);
	}
	s->n = out;
}

int netns_scan(struct netns_scan *s, int procfs_fd, const char *run_dir, const char *const *names,
	       size_t n_names)
{
	struct stat st;
	int run_fd, r = 0;

	s->n = 0;
	s->pending = 0;
	if (fstatat(procfs_fd, "self/ns/net", &st, 0) < 0)
		return -errno;
	s->nsfs_dev = st.st_dev;
	run_fd = open(run_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (names) {
		for (size_t i = 0; r == 0 && run_fd >= 0 && i < n_names; i++)
			r = scan_named(s, run_fd, names[i]);
	} else {
		if (run_fd >= 0)
			r = scan_run_dir(s, run_fd);
		if (r == 0)
			r = scan_procs(s, procfs_fd);
	}
	if (run_fd >= 0)
		close(run_fd);
	if (r < 0)
		return r;
	dedup(s);
	return 0;
}

void netns_scan_free(struct netns_scan *s)
{
	free(s->v);
	*s = (struct netns_scan){ 0 };
}

int netns_open(const struct netns_seen *seen, int procfs_fd, const char *run_dir)
{
	char path[NETNS_NAME_MAX + 64];
	struct stat st;
	int fd;

	if (seen->name[0]) {
		snprintf(path, sizeof(path), "%s/%s", run_dir, seen->name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
	} else {
		snprintf(path, sizeof(path), "%d/ns/net", (int)seen->pid);
		fd = openat(procfs_fd, path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_dev != seen->dev || st.st_ino != seen->ino) {
		close(fd);
		return -ESTALE; /* fstat() of an open fd fails for no reason worth telling apart */
	}
	return fd;
}

static int key_cmp(const void *a, const void *b)
{
	const struct netns_key *x = a, *y = b;

	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return (x->dev > y->dev) - (x->dev < y->dev);
}

struct find_pids {
	struct netns_key *keys;
	size_t n;
};

static int find_one_pid(void *ctx, pid_t pid, const struct stat *st)
{
	struct find_pids *f = ctx;
	struct netns_key probe = { .dev = st->st_dev, .ino = st->st_ino }, *hit;

	hit = bsearch(&probe, f->keys, f->n, sizeof(*f->keys), key_cmp);
	if (hit && (!hit->pid || pid < hit->pid))
		hit->pid = pid;
	return 0;
}

int netns_find_pids(int procfs_fd, struct netns_key *keys, size_t n)
{
	struct find_pids f = { keys, n };

	for (size_t i = 0; i < n; i++)
		keys[i].pid = 0;
	if (!n)
		return 0;
	qsort(keys, n, sizeof(*keys), key_cmp);
	/* One pass: each process's namespace looked up among the keys, N log K in all. */
	return for_each_proc_netns(procfs_fd, find_one_pid, &f);
}

static int addr_cmp(const struct ns_addr *x, int family, const unsigned char *addr)
{
	if (x->family != family)
		return x->family < family ? -1 : 1;
	return memcmp(x->addr, addr, sizeof(x->addr));
}

static int ns_addr_cmp(const void *a, const void *b)
{
	const struct ns_addr *x = a, *y = b;
	int c = addr_cmp(x, y->family, y->addr);

	if (c)
		return c;
	return (x->slot > y->slot) - (x->slot < y->slot);
}

int ns_addrmap_add(struct ns_addrmap *m, int family, const void *addr, uint32_t slot, uint32_t gen)
{
	struct ns_addr *a;
	int r = GROW_ARRAY(m->v, m->cap, m->n + 1, 64);

	if (r < 0)
		return r;
	a = &m->v[m->n++];
	memset(a, 0, sizeof(*a));
	a->family = (unsigned char)family;
	memcpy(a->addr, addr, family == AF_INET ? 4 : 16);
	a->slot = slot;
	a->gen = gen;
	return 0;
}

void ns_addrmap_seal(struct ns_addrmap *m)
{
	size_t out = 0;

	if (m->n) /* qsort(NULL, 0, ...) is undefined */
		qsort(m->v, m->n, sizeof(*m->v), ns_addr_cmp);
	for (size_t i = 0; i < m->n;) {
		size_t j = i + 1;
		bool shared = false;

		for (; j < m->n && addr_cmp(&m->v[j], m->v[i].family, m->v[i].addr) == 0; j++)
			shared |= m->v[j].slot != m->v[i].slot;
		/* Twice in one namespace is still its own; in two, it is nobody's to claim. */
		if (!shared)
			m->v[out++] = m->v[i];
		i = j;
	}
	m->n = out;
}

const struct ns_addr *ns_addrmap_find(const struct ns_addrmap *m, int family, const void *addr)
{
	unsigned char key[16] = { 0 };
	size_t lo = 0, hi = m->n;

	if (family != AF_INET && family != AF_INET6)
		return NULL;
	memcpy(key, addr, family == AF_INET ? 4 : 16);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = addr_cmp(&m->v[mid], family, key);

		if (c == 0)
			return &m->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void ns_addrmap_free(struct ns_addrmap *m)
{
	free(m->v);
	*m = (struct ns_addrmap){ 0 };
}
