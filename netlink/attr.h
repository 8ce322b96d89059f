/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef NFCE_ATTR_H
#define NFCE_ATTR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <linux/netlink.h>

/*
 * Netlink attributes, parsed the libmnl way: a validating walk fills tb[TYPE_MAX + 1] with the
 * attributes a policy knows, and the parser then reads tb[] in whatever order it likes.
 *
 * Unlike libmnl's iterators, which bound the walk by the 4-byte-aligned message length and so
 * may read a few bytes past an unaligned end (valgrind found it), a walk covers exactly the
 * bytes it is given: bytes left over that make no whole attribute make the message malformed.
 *
 * Errors, distinct so that a test (or a log line) can tell them apart:
 *   -EBADMSG  framing: an attribute shorter than its header, longer than what holds it
 *             (message or nest), or trailing bytes that make no attribute;
 *   -EINVAL   a type the policy knows, with a payload of the wrong size or shape
 *             (mnl_attr_validate()'s semantics: a u16 is exactly 2 bytes, not "at least").
 * Types the policy doesn't know (above its max, or CTNL_ATTR_UNKNOWN) are a newer kernel's or
 * of no interest: skipped whatever their shape, for forward compatibility.
 */

enum ctnl_attr_kind {
	CTNL_ATTR_UNKNOWN = 0, /* skipped */
	CTNL_ATTR_U8, /* exactly 1 byte */
	CTNL_ATTR_U16, /* exactly 2 bytes */
	CTNL_ATTR_U32, /* exactly 4 bytes */
	CTNL_ATTR_U64, /* exactly 8 bytes */
	CTNL_ATTR_NESTED, /* empty, or attributes that exactly fill it (one level deep) */
	CTNL_ATTR_STRING, /* not empty, NUL-terminated */
	CTNL_ATTR_IN6, /* exactly 16 bytes: an IPv6 address */
};

/* The highest attribute type a policy can name: tb[] arrays are at most 64 entries. */
#define CTNL_ATTR_TB_MAX 63

typedef int (*ctnl_attr_fn)(const struct nlattr *attr, void *data);

/*
 * An attribute's payload and its length, and its value once validated: libmnl's accessors,
 * inline (they are calls into the shared library, a few on every event).
 */
static inline const void *ctnl_attr_payload(const struct nlattr *a)
{
	return (const char *)a + NLA_HDRLEN;
}

static inline size_t ctnl_attr_len(const struct nlattr *a)
{
	return (size_t)a->nla_len - NLA_HDRLEN;
}

static inline uint8_t ctnl_attr_u8(const struct nlattr *a)
{
	return *(const uint8_t *)ctnl_attr_payload(a);
}

static inline uint16_t ctnl_attr_u16(const struct nlattr *a)
{
	uint16_t v;

	memcpy(&v, ctnl_attr_payload(a), sizeof(v));
	return v;
}

static inline uint32_t ctnl_attr_u32(const struct nlattr *a)
{
	uint32_t v;

	memcpy(&v, ctnl_attr_payload(a), sizeof(v));
	return v;
}

static inline uint64_t ctnl_attr_u64(const struct nlattr *a)
{
	uint64_t v;

	memcpy(&v, ctnl_attr_payload(a), sizeof(v));
	return v;
}

/*
 * Call @fn on each attribute in exactly @len bytes at @p; -EBADMSG when they don't frame
 * (see above), else the first negative return of @fn, else 0.
 */
int ctnl_attr_walk(const void *p, size_t len, ctnl_attr_fn fn, void *data);

/* Whether @a's payload has the size and shape that @kind asks for: 0, -EINVAL or -EBADMSG. */
int ctnl_attr_validate(const struct nlattr *a, enum ctnl_attr_kind kind);

/*
 * Parse the attributes in @len bytes at @p into @ret_tb[0..@max] (@max <= CTNL_ATTR_TB_MAX),
 * each validated against @policy[type] (@policy has @max + 1 entries). An attribute given
 * twice: the last one counts. @ret_tb is written only on success.
 */
int ctnl_attr_parse(const void *p, size_t len, const enum ctnl_attr_kind *policy, unsigned max,
		    const struct nlattr **ret_tb);
/* The same over the payload of the nest @a. */
int ctnl_attr_parse_nested(const struct nlattr *a, const enum ctnl_attr_kind *policy, unsigned max,
			   const struct nlattr **ret_tb);
/* The same over the attributes of a nfnetlink message, after its nfgenmsg header. */
int ctnl_msg_parse(const struct nlmsghdr *nlh, const enum ctnl_attr_kind *policy, unsigned max,
		   const struct nlattr **ret_tb);

#endif
