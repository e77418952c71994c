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

/*
 * Why a packet left the decap program the way it did: every exit counts exactly
 * one reason. The first three are the encapsulations stripped (one counter per
 * type); then the passes (the packet goes to the stack untouched); then drops.
 */
#define DF_DECAP_REASONS(X)                                                                    \
	X(DECAP_4IN4, "decap_4in4", "IPv4-in-IPv4 stripped")                                   \
	X(DECAP_6IN6, "decap_6in6", "IPv6-in-IPv6 stripped")                                   \
	X(DECAP_4IN6, "decap_4in6", "IPv4-in-IPv6 stripped")                                   \
	X(PASS_NOT_IP, "pass_not_ip", "not IPv4 or IPv6")                                      \
	X(PASS_TRUNCATED, "pass_truncated", "frame ends inside the L2 or outer L3 header")     \
	X(PASS_NOT_ENCAP, "pass_not_encap", "not IPIP / IPv6-in-IPv6 / IPv4-in-IPv6")          \
	X(PASS_NOT_OURS, "pass_not_ours", "encapsulated, but to an address not configured")    \
	X(DROP_BAD_OUTER, "drop_bad_outer", "bad outer header (IHL, length, fragment)")        \
	X(DROP_TRUNCATED_INNER, "drop_truncated_inner", "frame ends inside the inner header")  \
	X(DROP_BAD_INNER, "drop_bad_inner", "inner header's version is not the outer's claim") \
	X(DROP_ADJUST, "drop_adjust", "the kernel refused to strip the outer header")

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

/* Config flags (df_decap_config.flags). */
#define DF_DECAP_ACCEPT_ANY (1U << 0) /* strip for every outer destination */

/* The one entry of the config map, written by dogfish-decap. */
struct df_decap_config {
	__u32 flags; /* DF_DECAP_* */
	__u32 pad;
};

/* Per-CPU counters, one entry: packets per reason, bytes (whole frame as received) per type. */
struct df_decap_stats {
	__u64 reason[DF_DECAP_REASON_MAX];
	__u64 decap_bytes[DF_DECAP_TYPES];
};

#endif /* DOGFISH_DECAP_ABI_H */
