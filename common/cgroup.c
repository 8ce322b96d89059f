// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Pod identity from /proc/PID/cgroup: the kubelet names a pod's cgroup after its UID and the
 * runtime names each container's after its ID, so the path alone says who a process is,
 * without asking the Kubernetes API.
 */
#include "cgroup.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

struct span {
	const char *p;
	size_t n;
};

/* What one line says, and how much: a UID counts more than a container ID. */
struct found {
	struct pod_id id;
	int score;
};

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static char lower(char c)
{
	return c >= 'A' && c <= 'F' ? (char)(c - 'A' + 'a') : c;
}

static bool starts(struct span s, const char *pre)
{
	size_t k = strlen(pre);

	return s.n >= k && memcmp(s.p, pre, k) == 0;
}

static bool ends(struct span s, const char *suf)
{
	size_t k = strlen(suf);

	return s.n >= k && memcmp(s.p + s.n - k, suf, k) == 0;
}

static bool is(struct span s, const char *str)
{
	return s.n == strlen(str) && memcmp(s.p, str, s.n) == 0;
}

static struct span cut(struct span s, size_t head, size_t tail)
{
	return (struct span){ s.p + head, s.n - head - tail };
}

/*
 * 8-4-4-4-12 hex with '-' or, in systemd unit names where '-' separates the parents, '_'; or
 * the 32 hex of a static pod's config hash. Written lower-case and dashed, only when valid.
 */
static bool uid_parse(struct span s, char *out)
{
	char v[POD_UID_MAX + 1];

	if (s.n != 32 && s.n != 36)
		return false;
	for (size_t i = 0; i < s.n; i++) {
		bool dash = s.n == 36 && (i == 8 || i == 13 || i == 18 || i == 23);

		if (dash && (s.p[i] == '-' || s.p[i] == '_'))
			v[i] = '-';
		else if (!dash && is_hex(s.p[i]))
			v[i] = lower(s.p[i]);
		else
			return false;
	}
	v[s.n] = '\0';
	memcpy(out, v, s.n + 1);
	return true;
}

static bool id_parse(struct span s, char *out)
{
	if (s.n != CONTAINER_ID_LEN)
		return false;
	for (size_t i = 0; i < s.n; i++)
		if (!is_hex(s.p[i]))
			return false;
	for (size_t i = 0; i < s.n; i++)
		out[i] = lower(s.p[i]);
	out[s.n] = '\0';
	return true;
}

/* kubepods-pod<uid>.slice, kubepods-besteffort-pod<uid>.slice, or (cgroupfs) pod<uid>. */
static bool pod_component(struct span c, bool under_kubepods, char *uid)
{
	static const char *const qos[] = { "kubepods-pod", "kubepods-besteffort-pod",
					   "kubepods-burstable-pod" };

	if (ends(c, ".slice")) {
		for (size_t i = 0; i < sizeof(qos) / sizeof(qos[0]); i++)
			if (starts(c, qos[i]))
				return uid_parse(cut(c, strlen(qos[i]), 6), uid);
		return false;
	}
	return under_kubepods && starts(c, "pod") && uid_parse(cut(c, 3, 0), uid);
}

/* A runtime's scope (containerd, CRI-O, Docker with the systemd driver), or a bare ID. */
static bool container_component(struct span c, bool bare, char *id)
{
	static const char *const pre[] = { "cri-containerd-", "crio-", "docker-" };

	if (bare && id_parse(c, id))
		return true;
	if (!ends(c, ".scope"))
		return false;
	for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++)
		if (starts(c, pre[i]))
			return id_parse(cut(c, strlen(pre[i]), 6), id);
	return false;
}

static void path_parse(struct span path, struct found *f)
{
	const char *p = path.p, *end = path.p + path.n;
	bool kubepods = false, after_pod = false;
	struct span last = { NULL, 0 };

	*f = (struct found){ 0 };
	while (p < end) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		struct span c = { p, (size_t)((slash ? slash : end) - p) };

		p = slash ? slash + 1 : end;
		if (!c.n)
			continue;
		last = c;
		if (after_pod) {
			after_pod = false;
			if (container_component(c, true, f->id.container_id))
				f->score |= 1;
			continue;
		}
		if (!f->id.uid[0] && pod_component(c, kubepods, f->id.uid)) {
			f->score |= 2;
			after_pod = true;
			continue;
		}
		if (is(c, "kubepods") || is(c, "kubepods.slice"))
			kubepods = true;
	}
	/* Outside a pod: a container of a runtime's own, by its scope's name. */
	if (!f->id.uid[0] && last.n && container_component(last, false, f->id.container_id))
		f->score |= 1;
}

/* "ID:controllers:/path"; @v2 for the unified hierarchy's "0::" line. */
static int line_parse(struct span l, struct span *ret_path, bool *ret_v2)
{
	const char *c1, *c2, *end = l.p + l.n;
	unsigned long id = 0;

	c1 = memchr(l.p, ':', l.n);
	if (!c1 || c1 == l.p || c1 - l.p > 10)
		return -EINVAL;
	for (const char *q = l.p; q < c1; q++) {
		if (*q < '0' || *q > '9')
			return -EINVAL;
		id = id * 10 + (unsigned long)(*q - '0');
	}
	c2 = memchr(c1 + 1, ':', (size_t)(end - c1 - 1));
	if (!c2 || c2 + 1 == end || c2[1] != '/')
		return -EINVAL;
	*ret_v2 = id == 0 && c2 == c1 + 1;
	*ret_path = (struct span){ c2 + 1, (size_t)(end - c2 - 1) };
	return 0;
}

int cgroup_pod_parse(const char *buf, size_t len, struct pod_id *ret)
{
	const char *p = buf, *end = buf + len;
	struct found best = { 0 }, f;
	bool best_v2 = false;
	size_t lines = 0;

	if (!buf || memchr(buf, '\0', len))
		return -EINVAL;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		struct span l = { p, (size_t)((nl ? nl : end) - p) }, path;
		bool v2;
		int r;

		p = nl ? nl + 1 : end;
		/* Lines have no blanks between them; a file ends with one newline. */
		if (!l.n)
			return -EINVAL;
		r = line_parse(l, &path, &v2);
		if (r < 0)
			return r;
		lines++;
		path_parse(path, &f);
		/* The unified hierarchy is the one a kubelet on cgroup v2 names; else the fullest. */
		if (best_v2 || !f.score)
			continue;
		if (v2 || f.score > best.score) {
			best = f;
			best_v2 = v2;
		}
	}
	if (!lines)
		return -EINVAL;
	if (!best.score)
		return -ENOENT;
	*ret = best.id;
	return 0;
}
