/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The ABI between dogfish's BPF programs and its C++ control plane: every
 * struct and constant that crosses the boundary, defined once, in fixed-width
 * types. The C++ side static_asserts the layout (balancer/include/dogfish/abi.hpp).
 */
#ifndef DOGFISH_ABI_H
#define DOGFISH_ABI_H

#include <linux/types.h>

/*
 * The version of this ABI that pinned maps carry (their "abi" stamp): a daemon adopts the maps
 * another left pinned only when it matches. Bump it when a pinned map's key, value, size rule
 * or meaning changes; the C++ side also stamps a fingerprint of the struct sizes.
 */
/*
 * 4: port 0 in a VIP key is any port; hash choice flags (DF_VIP_HASH_*).
 * 5: prefix VIPs: the tries vip_prefixes and vip_addr_pfxs (struct df_prefix_key), pinned.
 * 6: a real's encapsulation (df_real.encap: IPIP or GUE) and the GUE port (df_config.gue_port).
 */
#define DF_ABI_VERSION 6

/* Address families as stored in keys: fixed values, not AF_* (which is libc's). */
#define DF_FAMILY_V4 4
#define DF_FAMILY_V6 6

#define DF_DEFAULT_RING_SIZE 65537 /* prime, as Maglev needs */
#define DF_DEFAULT_MAX_VIPS 64
#define DF_DEFAULT_MAX_REALS 4096
#define DF_DEFAULT_CONN_ENTRIES 1000000
#define DF_DEFAULT_CONN_INSERT_RATE 100000 /* table entries a CPU may write per second */
#define DF_MAX_VIP_ADDRS 1024
/*
 * Counters per (VIP, real) are one per-CPU array of max_vips x max_reals, at
 * vip_id * max_reals + real_id; above this many entries (16 MiB a CPU) they are not kept.
 */
#define DF_MAX_VIP_REAL_COUNTERS (1U << 20)

/* Real id 0 is never a real: an empty ring slot or a missing connection reads as 0. */
#define DF_REAL_NONE 0

/*
 * The kernel rounds array elements up to 8 bytes, so in the mmap'd ring array
 * real id i of the whole array sits at byte offset i * DF_RING_MMAP_STRIDE.
 */
#define DF_RING_MMAP_STRIDE 8

/* Each VIP owns two rings so a new one is written while packets read the old. */
#define DF_RINGS_PER_VIP 2

/* A connection-table timestamp unit is 2^24 ns (~16.8 ms); a u32 of them wraps in ~2.3 years. */
#define DF_TICK_SHIFT 24

/* ICMP work the balancer can be told not to do (df_config.icmp_off); those packets pass. */
#define DF_ICMP_NO_ECHO (1U << 0) /* echo requests to VIP addresses */
#define DF_ICMP_NO_ERRORS (1U << 1) /* ICMP errors about a VIP's flows, to its real */

/*
 * Health probes to a VIP through a real's decap: the daemon's probe sockets carry
 * SO_MARK DF_PROBE_MARK | slot, and the balancer's tc egress program encapsulates each
 * such packet to probe_reals[slot] as the XDP program would a client's. Packets with
 * other marks pass untouched. The slot is the mark's low 24 bits.
 */
#define DF_PROBE_MARK 0xdf000000U
#define DF_PROBE_MARK_MASK 0xff000000U

/* Per-VIP flags (df_vip_meta.flags). */
#define DF_VIP_NO_CONN_TABLE (1U << 0) /* hash every packet, never remember */
#define DF_VIP_SRC_HASH_ONLY (1U << 1) /* hash the source address only */
#define DF_VIP_HASH_NO_SRC_PORT (1U << 2) /* hash the 5-tuple with the source port left out */
#define DF_VIP_HASH_DPORT_ONLY (1U << 3) /* hash the destination port only */
/* What the ring is hashed on: at most one of these per VIP; none is the whole 5-tuple. */
#define DF_VIP_HASH_CHOICES \
	(DF_VIP_SRC_HASH_ONLY | DF_VIP_HASH_NO_SRC_PORT | DF_VIP_HASH_DPORT_ONLY)

/*
 * Why a packet left the program the way it did: the XDP program, or the tc
 * program for marked health probes (those marked "(tc)"). Every exit counts exactly one
 * reason. The X-macro keeps the names next to the values for the C++ side.
 */
#define DF_REASONS(X)                                                                \
	X(TX, "tx", "encapsulated and sent to a real")                               \
	X(TX_ICMP_ECHO, "tx_icmp_echo", "echo request to a VIP address, answered")   \
	X(TX_ICMP_TOO_BIG, "tx_icmp_too_big", "too big: ICMP too-big sent back")     \
	X(TX_ICMP_ERROR, "tx_icmp_error", "ICMP error sent to its flow's real")      \
	X(TX_PROBE, "tx_probe", "health probe encapsulated to its real (tc)")        \
	X(PASS_NOT_IP, "pass_not_ip", "not IPv4 or IPv6")                            \
	X(PASS_NOT_VIP, "pass_not_vip", "no VIP on this address, port, protocol")    \
	X(PASS_TRUNCATED, "pass_truncated", "frame ends inside the L2 or L3 header") \
	X(PASS_L4_PROTO, "pass_l4_proto", "not TCP, UDP, or ICMP we handle")         \
	X(PASS_ICMP_NO_FLOW, "pass_icmp_no_flow", "ICMP error on no VIP's flow")     \
	X(DROP_BAD_L3, "drop_bad_l3", "bad IP header (IHL, length) for a VIP")       \
	X(DROP_IP_OPTIONS, "drop_ip_options", "IPv4 options to a VIP")               \
	X(DROP_FRAGMENT, "drop_fragment", "IP fragment to a VIP")                    \
	X(DROP_IPV6_EXT, "drop_ipv6_ext", "IPv6 extension header to a VIP")          \
	X(DROP_TRUNCATED_L4, "drop_truncated_l4", "L4 header cut short, to a VIP")   \
	X(DROP_TCP_FLAGS, "drop_tcp_flags", "TCP flags no stack sends, to a VIP")    \
	X(DROP_NO_REAL, "drop_no_real", "the VIP's ring has no real")                \
	X(DROP_REAL_FAMILY, "drop_real_family", "IPv6 VIP with an IPv4 real")        \
	X(DROP_TOO_BIG, "drop_too_big", "too big, no answer (no DF, or ICMP)")       \
	X(DROP_ADJUST_HEAD, "drop_adjust_head", "no headroom for the outer header")  \
	X(DROP_NO_GATEWAY, "drop_no_gateway", "gateway MAC not configured")          \
	X(DROP_ICMP_QUOTE, "drop_icmp_quote", "ICMP error to a VIP, bad quote")      \
	X(DROP_ICMP_CHECKSUM, "drop_icmp_checksum", "bad ICMP checksum, to a VIP")   \
	X(DROP_PROBE_NO_REAL, "drop_probe_no_real", "health probe marked for no real (tc)")

enum df_reason {
#define DF_REASON_ENUM(id, name, help) DF_##id,
	DF_REASONS(DF_REASON_ENUM)
#undef DF_REASON_ENUM
	DF_REASON_MAX
};

/*
 * Reasons before DF_FIRST_PASS send a frame (XDP_TX; tc sends tx_probe on); from
 * DF_FIRST_DROP on, drops; passes between.
 */
#define DF_FIRST_PASS DF_PASS_NOT_IP
#define DF_FIRST_DROP DF_DROP_BAD_L3

/*
 * Key of the VIP map. IPv4 addresses use addr[0..3]; the rest is zero. Port 0 is an
 * any-port VIP: a packet whose (address, port, protocol) is no VIP takes the VIP at
 * (address, 0, protocol), so an exact VIP wins over an any-port VIP on its address.
 * Only when both miss do prefix VIPs answer (df_prefix_key; the order is vip_cache.h's).
 */
#define DF_VIP_ANY_PORT 0

struct df_vip_key {
	__u8 addr[16];
	__be16 port; /* DF_VIP_ANY_PORT: every port */
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 family; /* DF_FAMILY_* */
};

/*
 * Value of the VIP map: replaced whole, so switching ring_slot is atomic. After
 * every write to the VIP map the control plane adds one to the map vip_gen (a
 * __u32 at key 0): the program's per-CPU copies of the VIP map hold until it does.
 */
struct df_vip_meta {
	__u32 vip_id; /* index into vip_stats */
	__u32 flags; /* DF_VIP_* */
	__u32 ring_slot; /* which ring of the ring array this VIP reads now */
	__u32 pad;
};

/* Key of the VIP-address set: "some VIP lives on this address", for dropping malformed packets. */
struct df_vip_addr_key {
	__u8 addr[16];
	__u8 family;
	__u8 pad[3];
};

/*
 * Key of the prefix tries (BPF_MAP_TYPE_LPM_TRIE), which hold what is a prefix rather than one
 * address: in vip_prefixes a prefix VIP, every address of a prefix with one protocol and a port
 * (DF_VIP_ANY_PORT: every port); in vip_addr_pfxs a prefix VIP's addresses, as vip_addrs holds
 * single VIP addresses (proto and port 0). A trie compares the first prefixlen bits after
 * prefixlen: the family, protocol and port always (DF_PREFIX_HEAD_BITS), then the prefix's
 * length of the address. A lookup asks with every bit (DF_PREFIX_KEY_BITS) and gets the longest
 * prefix that matches.
 */
struct df_prefix_key {
	__u32 prefixlen; /* DF_PREFIX_HEAD_BITS + the prefix's length */
	__u8 family; /* DF_FAMILY_* */
	__u8 proto; /* vip_prefixes: IPPROTO_TCP or IPPROTO_UDP; vip_addr_pfxs: 0 */
	__be16 port; /* vip_prefixes: the port, or DF_VIP_ANY_PORT; vip_addr_pfxs: 0 */
	__u8 addr[16]; /* the prefix's address, host bits zero; IPv4 in addr[0..3] */
};

#define DF_PREFIX_HEAD_BITS 32
#define DF_PREFIX_KEY_BITS (DF_PREFIX_HEAD_BITS + 128)

/*
 * How the balancer wraps a client's packet for a real (df_real.encap): in an outer IP
 * header of the real's family (IPv4-in-IPv4, IPv6-in-IPv6, IPv4-in-IPv6), or in an outer
 * IP header and a UDP header to df_config.gue_port with the inner packet right after it:
 * GUE's variant 1 ("direct IP", draft-ietf-intarea-gue), where the inner header's first
 * nibble, 4 or 6, is what tells the receiver a GUE packet from a GUE header.
 */
#define DF_ENCAP_IPIP 0
#define DF_ENCAP_GUE 1
#define DF_DEFAULT_GUE_PORT 6080 /* Katran's; IANA has none for GUE */

/* Entry of the reals array, indexed by real id. */
struct df_real {
	__u8 addr[16];
	__u8 family; /* DF_FAMILY_*; 0 = unused slot */
	__u8 encap; /* DF_ENCAP_* */
	__u8 pad[2];
};

/*
 * Key of the connection table: the client's 5-tuple as it arrived. It starts
 * with the VIP key so the program looks the VIP up with the flow key's head.
 */
struct df_flow_key {
	struct df_vip_key vip; /* destination address, destination port, protocol, family */
	__u8 src[16];
	__be16 sport;
	__u8 pad[2];
};

/* Value of the connection table. */
struct df_conn {
	__u32 real_id;
	__u32 atime; /* ktime >> DF_TICK_SHIFT when last seen; refreshed for UDP only */
	__u32 hash; /* the flow's df_flow_hash, kept so that a hit need not compute it */
};

/*
 * A SYN's record, slot hash & (DF_SYN_SLOTS - 1) of the SYN records: the real
 * its ACK (sequence number isn + 1) takes. Written by the program; the check
 * word catches a record read while another CPU writes it.
 */
#define DF_SYN_SLOTS 32768 /* a power of two */
#define DF_SYN_REC_MAGIC 0x5a17c0deU

struct df_syn_rec {
	__u32 hash; /* the flow's df_flow_hash: most lookups stop here */
	__u32 isn; /* the SYN's sequence number, host order */
	__u32 real_id;
	__u32 check; /* hash ^ isn ^ real_id ^ DF_SYN_REC_MAGIC */
	struct df_flow_key flow;
};

/* Packets and bytes, per VIP (by vip_id) and per real (by real id), per CPU. */
struct df_counter {
	__u64 packets;
	__u64 bytes;
};

/* Global per-CPU counters: one entry, one lookup per packet. */
struct df_global_stats {
	__u64 reason[DF_REASON_MAX];
	__u64 conn_hit; /* connection-table lookups that found a live entry */
	__u64 conn_miss; /* lookups that found nothing */
	__u64 conn_expired; /* UDP entries found but idle too long */
	__u64 hash_decisions; /* new flows placed by the Maglev ring */
	__u64 conn_proven; /* misses that answered a recorded SYN and took its real */
	__u64 conn_inserted; /* entries written by misses */
	__u64 conn_skipped; /* misses not remembered: the flood guard's budget was spent */
	__u64 conn_replaced; /* entries that gave way to a newer handshake on their tuple */
	__u64 guard_engaged; /* seconds (2^30 ns) in which the guard refused an entry */
};

/*
 * Runtime configuration, a global in the program's .data: the control plane
 * writes it through the mmap'd map, the program reads it without a helper call.
 */
struct df_config {
	__u8 gateway_mac[6]; /* destination MAC of every encapsulated frame */
	__u8 gateway_set; /* 0 until the control plane has resolved the gateway */
	__u8 icmp_off; /* DF_ICMP_NO_*: ICMP work turned off; 0 = all on */
	__u32 max_pkt_size; /* largest outer L3 packet sent; 0 = no limit */
	__u32 udp_idle_ticks; /* UDP entries older than this re-hash; 0 = never expire */
	__be32 src4_prefix; /* outer IPv4 source = prefix | (hash & hostmask) */
	__be32 src4_hostmask;
	__be32 src6_hostmask; /* applied to the last 32 bits of src6_prefix */
	__u8 src6_prefix[16];
	__u32 conn_insert_rate; /* table entries per CPU per second from misses; 0 = no limit */
	__be16 gue_port; /* UDP destination port of GUE-encapsulated packets (DF_ENCAP_GUE) */
	__u16 pad;
};

#endif /* DOGFISH_ABI_H */
