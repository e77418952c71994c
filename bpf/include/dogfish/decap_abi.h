/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The ABI between dogfish's decap programs (decap/decap.bpf.c, XDP, and
 * decap/tc_decap.bpf.c, tc) and dogfish-decap: every struct and constant that
 * crosses the boundary, in fixed-width types. The C++ side static_asserts the
 * layout (decap/decap_abi.hpp).
 */
#ifndef DOGFISH_DECAP_ABI_H
#define DOGFISH_DECAP_ABI_H

#include <linux/types.h>
#include <dogfish/abi.h> /* DF_FAMILY_* */

#define DF_DECAP_MAX_ADDRS 256
#define DF_DECAP_MAX_SOURCES 64

/*
 * Why a packet left the decap program the way it did: every exit counts exactly
 * one reason. The first six are the encapsulations stripped (one counter per type):
 * IP in IP, then the same in UDP to the GUE port (GUE variant 1, direct IP); then the
 * passes (the packet goes to the stack untouched); then drops.
 */
#define DF_DECAP_REASONS(X)                                                                        \
	X(DECAP_4IN4, "decap_4in4", "IPv4-in-IPv4 stripped")                                       \
	X(DECAP_6IN6, "decap_6in6", "IPv6-in-IPv6 stripped")                                       \
	X(DECAP_4IN6, "decap_4in6", "IPv4-in-IPv6 stripped")                                       \
	X(DECAP_GUE_4IN4, "decap_gue_4in4", "IPv4 in GUE over IPv4 stripped")                      \
	X(DECAP_GUE_6IN6, "decap_gue_6in6", "IPv6 in GUE over IPv6 stripped")                      \
	X(DECAP_GUE_4IN6, "decap_gue_4in6", "IPv4 in GUE over IPv6 stripped")                      \
	X(PASS_NOT_IP, "pass_not_ip", "not IPv4 or IPv6")                                          \
	X(PASS_TRUNCATED, "pass_truncated", "frame ends inside the L2, outer L3 or UDP header")    \
	X(PASS_NOT_ENCAP, "pass_not_encap", "not IP in IP, nor UDP to the GUE port")               \
	X(PASS_NOT_OURS, "pass_not_ours", "encapsulated, but to an address not configured")        \
	X(DROP_BAD_OUTER, "drop_bad_outer", "bad outer header (IHL, length, fragment)")            \
	X(DROP_TRUNCATED_INNER, "drop_truncated_inner", "frame ends inside the inner header")      \
	X(DROP_BAD_INNER, "drop_bad_inner", "inner header's version is not the outer's claim")     \
	X(DROP_GUE_NOT_IP, "drop_gue_not_ip", "GUE payload not IPv4 or IPv6 (a GUE header, 6in4)") \
	X(DROP_ADJUST, "drop_adjust", "the kernel refused to strip the outer header")              \
	X(DROP_SOURCE, "drop_source", "outer source not in the allowed source prefixes")           \
	X(DROP_INNER_DST, "drop_inner_dst", "inner destination not one of the allowed ones")

enum df_decap_reason {
#define DF_DECAP_REASON_ENUM(id, name, help) DF_DECAP_##id,
	DF_DECAP_REASONS(DF_DECAP_REASON_ENUM)
#undef DF_DECAP_REASON_ENUM
	DF_DECAP_REASON_MAX
};

/* Reasons before this one stripped a header; from it to DF_DECAP_FIRST_DROP, passes. */
#define DF_DECAP_FIRST_PASS DF_DECAP_PASS_NOT_IP
#define DF_DECAP_FIRST_DROP DF_DECAP_DROP_BAD_OUTER
#define DF_DECAP_TYPES DF_DECAP_FIRST_PASS /* one per encapsulation type */

/* Key of the address set: an outer destination the program strips for. IPv4 in addr[0..3]. */
struct df_decap_addr {
	__u8 addr[16];
	__u8 family; /* DF_FAMILY_* */
	__u8 pad[3];
};

/*
 * Key of the source allow-list (an LPM trie): the outer sources the balancers use
 * (their source_prefixes). prefixlen counts the family byte too: 8 + the prefix's length.
 */
struct df_decap_prefix {
	__u32 prefixlen;
	__u8 family; /* DF_FAMILY_* */
	__u8 addr[16]; /* IPv4 in addr[0..3] */
	__u8 pad[3];
};

/*
 * Config flags (df_decap_config.flags). A packet encapsulated to one of our outer
 * destinations is stripped only when its outer source is in the allow-list (unless
 * ANY_SOURCE) and, with CHECK_INNER_DST, its inner destination is in decap_inner_dsts:
 * otherwise it is dropped (drop_source, drop_inner_dst), never handed to the stack as
 * if it came from the client it names.
 */
#define DF_DECAP_ACCEPT_ANY (1U << 0) /* strip for every outer destination */
#define DF_DECAP_ANY_SOURCE (1U << 1) /* strip whatever the outer source */
#define DF_DECAP_CHECK_INNER_DST (1U << 2) /* the inner destination must be in the set */

/* The one entry of the config map, written by dogfish-decap. */
struct df_decap_config {
	__u32 flags; /* DF_DECAP_* */
	__be16 gue_port; /* UDP port of GUE packets to strip; 0: none are */
	__u16 pad;
};

/* Per-CPU counters, one entry: packets per reason, bytes (whole frame as received) per type. */
struct df_decap_stats {
	__u64 reason[DF_DECAP_REASON_MAX];
	__u64 decap_bytes[DF_DECAP_TYPES];
};

#endif /* DOGFISH_DECAP_ABI_H */
