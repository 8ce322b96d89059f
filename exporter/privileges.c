// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Dropping root after the sockets are open. Raw capget/capset rather than libcap: four
 * capabilities in a 64-bit mask do not justify a dependency.
 */
#include "privileges.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>
#include <linux/capability.h>

#include "log.h"
#include "util.h"

#define NAME_MAX_LEN 256
#define PW_BUF_MAX (1 << 20)

uint64_t privileges_kept_caps(bool keep_netns_caps)
{
	uint64_t m = 1ULL << CAP_NET_ADMIN;

	if (keep_netns_caps)
		m |= 1ULL << CAP_SYS_ADMIN | 1ULL << CAP_SYS_PTRACE | 1ULL << CAP_DAC_READ_SEARCH;
	return m;
}

/* "65534" -> 65534; names that merely start with digits are names. (uid_t)-1 means "unchanged". */
static bool parse_id(const char *s, unsigned *ret)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v >= UINT_MAX)
		return false;
	*ret = (unsigned)v;
	return true;
}

/* getpwnam_r/getgrnam_r want a caller's buffer of unknown size: grow it on ERANGE. */
static int lookup_user(const char *name, bool by_id, unsigned id, uid_t *ret_uid, gid_t *ret_gid)
{
	size_t size = 4096;

	for (;;) {
		_cleanup_free_ char *buf = malloc(size);
		struct passwd pw, *res = NULL;
		int r;

		if (!buf)
			return -ENOMEM;
		r = by_id ? getpwuid_r(id, &pw, buf, size, &res)
			  : getpwnam_r(name, &pw, buf, size, &res);
		if (r == ERANGE && size < PW_BUF_MAX) {
			size *= 2;
			continue;
		}
		if (r)
			return -r;
		if (!res)
			return -ENOENT;
		*ret_uid = pw.pw_uid;
		*ret_gid = pw.pw_gid;
		return 0;
	}
}

static int lookup_group(const char *name, gid_t *ret_gid)
{
	size_t size = 4096;

	for (;;) {
		_cleanup_free_ char *buf = malloc(size);
		struct group gr, *res = NULL;
		int r;

		if (!buf)
			return -ENOMEM;
		r = getgrnam_r(name, &gr, buf, size, &res);
		if (r == ERANGE && size < PW_BUF_MAX) {
			size *= 2;
			continue;
		}
		if (r)
			return -r;
		if (!res)
			return -ENOENT;
		*ret_gid = gr.gr_gid;
		return 0;
	}
}

static int resolve(const char *spec, uid_t *ret_uid, gid_t *ret_gid)
{
	char user[NAME_MAX_LEN], *group;
	unsigned id;
	uid_t uid;
	gid_t gid;
	int r;

	if (strlen(spec) >= sizeof(user))
		return -ENAMETOOLONG;
	strcpy(user, spec);
	group = strchr(user, ':');
	if (group)
		*group++ = '\0';

	r = lookup_user(user, false, 0, &uid, &gid);
	if (r == -ENOENT && parse_id(user, &id)) {
		/* A bare number need not be in /etc/passwd (containers, DynamicUser ranges). */
		uid = id;
		gid = id;
		r = lookup_user(NULL, true, id, &uid, &gid);
		if (r == -ENOENT)
			r = 0;
	}
	if (r < 0) {
		log_error("--runas: cannot resolve the user", LF_STR("user", user), LF_ERR(r));
		return r;
	}
	if (group) {
		r = lookup_group(group, &gid);
		if (r == -ENOENT && parse_id(group, &id)) {
			gid = id;
			r = 0;
		}
		if (r < 0) {
			log_error("--runas: cannot resolve the group", LF_STR("group", group),
				  LF_ERR(r));
			return r;
		}
	}
	*ret_uid = uid;
	*ret_gid = gid;
	return 0;
}

/* Threads started before the drop would keep root's credentials and full capabilities. */
static int count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int caps_get(uint64_t *ret_eff, uint64_t *ret_perm)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = { 0 };

	if (syscall(SYS_capget, &hdr, d) < 0)
		return -errno;
	*ret_eff = (uint64_t)d[1].effective << 32 | d[0].effective;
	*ret_perm = (uint64_t)d[1].permitted << 32 | d[0].permitted;
	return 0;
}

static int caps_set(uint64_t keep)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {
		{ .effective = (uint32_t)keep, .permitted = (uint32_t)keep },
		{ .effective = (uint32_t)(keep >> 32), .permitted = (uint32_t)(keep >> 32) },
	};

	return syscall(SYS_capset, &hdr, d) < 0 ? -errno : 0;
}

/* Needs CAP_SETPCAP, so before the uid changes. Stops at the first number the kernel lacks. */
static int bounding_set_cut(uint64_t keep)
{
	for (int cap = 0; cap < 64; cap++) {
		int in = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);

		if (in < 0)
			return errno == EINVAL ? 0 : -errno;
		if (in && !(keep & 1ULL << cap) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return -errno;
	}
	return 0;
}

static void caps_string(uint64_t m, char *buf, size_t size)
{
	static const struct {
		int cap;
		const char *name;
	} names[] = {
		{ CAP_DAC_READ_SEARCH, "cap_dac_read_search" },
		{ CAP_NET_ADMIN, "cap_net_admin" },
		{ CAP_SYS_PTRACE, "cap_sys_ptrace" },
		{ CAP_SYS_ADMIN, "cap_sys_admin" },
	};
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(names) && len < size; i++)
		if (m & 1ULL << names[i].cap)
			len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? "," : "",
						names[i].name);
}

int privileges_drop(const char *spec, bool keep_netns_caps)
{
	uint64_t keep = privileges_kept_caps(keep_netns_caps), eff = 0, perm = 0;
	uid_t uid, ruid, euid, suid;
	gid_t gid, rgid, egid, sgid;
	char caps[128];
	int r, n;

	if (geteuid() != 0) {
		log_error("--runas needs the exporter to be started as root", LF_STR("runas", spec),
			  LF_INT("euid", geteuid()));
		return -EPERM;
	}
	r = resolve(spec, &uid, &gid);
	if (r < 0)
		return r;
	if (uid == 0 || gid == 0) {
		/* uid and gid 0 own most of the system's files: no capability is needed to change them. */
		log_error(
			"--runas: refusing to run as uid or gid 0; name an unprivileged user and group",
			LF_STR("runas", spec));
		return -EINVAL;
	}
	n = count_threads();
	if (n != 1) {
		r = n < 0 ? n : -EBUSY;
		log_error("--runas: cannot drop privileges once threads are running",
			  LF_INT("threads", n), LF_ERR(r));
		return r;
	}

	r = bounding_set_cut(keep);
	if (r < 0) {
		log_error("--runas: cannot cut the capability bounding set", LF_ERR(r));
		return r;
	}
	/* Keep the permitted set across setuid(), to pick what stays with capset() after. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) {
		r = -errno;
		log_error("--runas: prctl(PR_SET_KEEPCAPS) failed", LF_ERR(r));
		return r;
	}
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0) {
		r = -errno;
		log_error("--runas: cannot change user and group", LF_STR("runas", spec),
			  LF_INT("uid", uid), LF_INT("gid", gid), LF_ERR(r));
		return r;
	}
	r = caps_set(keep);
	if (r < 0) {
		log_error("--runas: capset() failed", LF_ERR(r));
		return r;
	}
	/* Ambient capabilities would survive an exec(); EINVAL: a kernel before 4.3 has none. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
		r = -errno;
		log_error("--runas: cannot clear the ambient capabilities", LF_ERR(r));
		return r;
	}
	/*
	 * The uid change made the process non-dumpable, which turns /proc/self/ into root's and
	 * hides /proc/self/fd from process_open_fds. A service started as the user is dumpable
	 * too; other processes of that user still cannot ptrace it, for it has capabilities
	 * they lack.
	 */
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0 || prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		r = -errno;
		log_error("--runas: prctl() failed", LF_ERR(r));
		return r;
	}

	/* Trust, but verify: anything more than asked for is a reason not to start. */
	r = caps_get(&eff, &perm);
	if (r == 0 && (eff != keep || perm != keep))
		r = -EPERM;
	if (r == 0 && (getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0))
		r = -errno;
	if (r == 0 && (ruid != uid || euid != uid || suid != uid || rgid != gid || egid != gid ||
		       sgid != gid))
		r = -EPERM;
	if (r == 0 && setresuid(0, 0, 0) == 0)
		r = -EPERM;
	if (r < 0) {
		log_error("--runas: privileges not dropped as asked", LF_ERR(r));
		return r;
	}
	caps_string(keep, caps, sizeof(caps));
	log_info("dropped privileges", LF_STR("runas", spec), LF_INT("uid", uid),
		 LF_INT("gid", gid), LF_STR("capabilities", caps));
	return 0;
}
