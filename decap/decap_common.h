/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the XDP (decap.bpf.c) and tc (tc_decap.bpf.c) decap programs share: their
 * maps, the classification of a frame (strip, pass or drop, and why), and the
 * counting. Each program only does the stripping its hook allows. The ABI is
 * <dogfish/decap_abi.h>.
 */
#ifndef DOGFISH_DECAP_COMMON_H
#define DOGFISH_DECAP_COMMON_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <dogfish/decap_abi.h>
#include "parse.h"

/* Outer destinations to strip for; written by dogfish-decap. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DF_DECAP_MAX_ADDRS);
	__type(key, struct df_decap_addr);
	__type(value, __u32);
} decap_addrs SEC(".maps");

/* Outer sources to strip from (the balancers' source prefixes); written by dogfish-decap. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, DF_DECAP_MAX_SOURCES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct df_decap_prefix);
	__type(value, __u32);
} decap_sources SEC(".maps");

/* Inner destinations allowed with DF_DECAP_CHECK_INNER_DST; written by dogfish-decap. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DF_DECAP_MAX_ADDRS);
	__type(key, struct df_decap_addr);
	__type(value, __u32);
} decap_inner_dsts SEC(".maps");

/* One entry: flags such as DF_DECAP_ACCEPT_ANY; written by dogfish-decap. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct df_decap_config);
} decap_config SEC(".maps");

/* Per-reason and per-type counters, one entry; written by the program. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct df_decap_stats);
} decap_stats SEC(".maps");

/* What stripping a frame takes: the outer header's length and the inner family. */
struct decap_plan {
	__u32 strip; /* bytes between the Ethernet header and the inner IP header */
	__u16 inner_eth; /* ETH_P_IP or ETH_P_IPV6, host order */
};

/* Bytes a classification may read: Ethernet, the longest outer IPv4, an inner IPv6. */
#define DECAP_MAX_HDRS (sizeof(struct ethhdr) + 60 + sizeof(struct ipv6hdr))

static __always_inline __u32 decap_flags(void)
{
	__u32 zero = 0;
	struct df_decap_config *cfg = bpf_map_lookup_elem(&decap_config, &zero);

	return cfg ? cfg->flags : 0;
}

static __always_inline int decap_is_ours(struct df_decap_addr *key)
{
	if (decap_flags() & DF_DECAP_ACCEPT_ANY)
		return 1;
	return bpf_map_lookup_elem(&decap_addrs, key) != NULL;
}

/*
 * Who may send us tunnelled packets, and to what: a reason to drop, or
 * DF_DECAP_REASON_MAX. `src` points into a checked outer header; `inner_dst` is
 * checked against `end` here (the verifier wants it on this very pointer).
 */
static __always_inline int decap_check_peers(__u8 family, const void *src, __u8 inner_family,
					     const void *inner_dst, const void *end)
{
	__u32 flags = decap_flags();
	struct df_decap_prefix from = { .family = family };
	struct df_decap_addr to = { .family = inner_family };

	if (!(flags & DF_DECAP_ANY_SOURCE)) {
		if (family == DF_FAMILY_V4) {
			from.prefixlen = 8 + 32;
			__builtin_memcpy(from.addr, src, 4);
		} else {
			from.prefixlen = 8 + 128;
			__builtin_memcpy(from.addr, src, 16);
		}
		if (!bpf_map_lookup_elem(&decap_sources, &from))
			return DF_DECAP_DROP_SOURCE;
	}
	if (flags & DF_DECAP_CHECK_INNER_DST) {
		if (inner_family == DF_FAMILY_V4) {
			if (inner_dst + 4 > end)
				return DF_DECAP_DROP_TRUNCATED_INNER;
			__builtin_memcpy(to.addr, inner_dst, 4);
		} else {
			if (inner_dst + 16 > end)
				return DF_DECAP_DROP_TRUNCATED_INNER;
			__builtin_memcpy(to.addr, inner_dst, 16);
		}
		if (!bpf_map_lookup_elem(&decap_inner_dsts, &to))
			return DF_DECAP_DROP_INNER_DST;
	}
	return DF_DECAP_REASON_MAX;
}

/* The inner destination address of a checked inner header. */
static __always_inline const void *decap_inner_dst(void *inner, __u16 inner_eth)
{
	if (inner_eth == ETH_P_IP)
		return &((struct iphdr *)inner)->daddr;
	return &((struct ipv6hdr *)inner)->daddr;
}

/* The inner header must be in the frame and be what the outer header says it is. */
static __always_inline int decap_check_inner(void *inner, void *end, __u16 inner_eth)
{
	if (inner_eth == ETH_P_IP) {
		struct iphdr *iph = inner;

		if ((void *)(iph + 1) > end)
			return DF_DECAP_DROP_TRUNCATED_INNER;
		if (iph->version != 4 || iph->ihl < 5)
			return DF_DECAP_DROP_BAD_INNER;
	} else {
		struct ipv6hdr *ip6 = inner;

		if ((void *)(ip6 + 1) > end)
			return DF_DECAP_DROP_TRUNCATED_INNER;
		if (ip6->version != 6)
			return DF_DECAP_DROP_BAD_INNER;
	}
	return DF_DECAP_REASON_MAX;
}

static __always_inline int decap_classify_v4(struct cursor *c, __u32 l3_bytes,
					     struct decap_plan *plan)
{
	struct df_decap_addr key = { .family = DF_FAMILY_V4 };
	struct iphdr *iph = parse_ipv4(c);
	__u32 l3_len;
	int r;

	if (!iph)
		return DF_DECAP_PASS_TRUNCATED;
	if (iph->protocol != IPPROTO_IPIP)
		return DF_DECAP_PASS_NOT_ENCAP;
	__builtin_memcpy(key.addr, &iph->daddr, 4);
	if (!decap_is_ours(&key))
		return DF_DECAP_PASS_NOT_OURS;
	if (iph->version != 4 || iph->ihl < 5 || ipv4_is_fragment(iph))
		return DF_DECAP_DROP_BAD_OUTER;

	plan->strip = (iph->ihl * 4) & 0x3c;
	plan->inner_eth = ETH_P_IP;
	r = decap_check_inner((void *)iph + plan->strip, c->end, ETH_P_IP);
	if (r != DF_DECAP_REASON_MAX)
		return r;
	l3_len = bpf_ntohs(iph->tot_len);
	if (l3_len < plan->strip + sizeof(struct iphdr) || l3_len > l3_bytes)
		return DF_DECAP_DROP_BAD_OUTER;
	r = decap_check_peers(DF_FAMILY_V4, &iph->saddr, DF_FAMILY_V4,
			      decap_inner_dst((void *)iph + plan->strip, ETH_P_IP), c->end);
	if (r != DF_DECAP_REASON_MAX)
		return r;
	return DF_DECAP_DECAP_4IN4;
}

static __always_inline int decap_classify_v6(struct cursor *c, __u32 l3_bytes,
					     struct decap_plan *plan)
{
	struct df_decap_addr key = { .family = DF_FAMILY_V6 };
	struct ipv6hdr *ip6 = parse_ipv6(c);
	__u32 payload_len;
	int r;

	if (!ip6)
		return DF_DECAP_PASS_TRUNCATED;
	if (ip6->nexthdr == IPPROTO_IPV6)
		plan->inner_eth = ETH_P_IPV6;
	else if (ip6->nexthdr == IPPROTO_IPIP)
		plan->inner_eth = ETH_P_IP;
	else
		return DF_DECAP_PASS_NOT_ENCAP;
	__builtin_memcpy(key.addr, &ip6->daddr, 16);
	if (!decap_is_ours(&key))
		return DF_DECAP_PASS_NOT_OURS;
	if (ip6->version != 6)
		return DF_DECAP_DROP_BAD_OUTER;

	plan->strip = sizeof(*ip6);
	r = decap_check_inner(ip6 + 1, c->end, plan->inner_eth);
	if (r != DF_DECAP_REASON_MAX)
		return r;
	payload_len = bpf_ntohs(ip6->payload_len);
	if (payload_len <
		    (plan->inner_eth == ETH_P_IP ? sizeof(struct iphdr) : sizeof(struct ipv6hdr)) ||
	    payload_len > l3_bytes - sizeof(*ip6))
		return DF_DECAP_DROP_BAD_OUTER;
	r = decap_check_peers(DF_FAMILY_V6, &ip6->saddr,
			      plan->inner_eth == ETH_P_IP ? DF_FAMILY_V4 : DF_FAMILY_V6,
			      decap_inner_dst(ip6 + 1, plan->inner_eth), c->end);
	if (r != DF_DECAP_REASON_MAX)
		return r;
	return plan->inner_eth == ETH_P_IP ? DF_DECAP_DECAP_4IN6 : DF_DECAP_DECAP_6IN6;
}

/*
 * Decide what happens to a frame of frame_len bytes whose headers are readable in
 * [data, end) (an skb's linear part may end before the frame does): a reason
 * below DF_DECAP_TYPES means "strip plan->strip bytes after the Ethernet header";
 * any other reason leaves the frame as it is.
 */
static __always_inline int decap_classify(void *data, void *end, __u32 frame_len,
					  struct decap_plan *plan)
{
	struct cursor c = { .pos = data, .end = end };
	struct ethhdr *eth = parse_eth(&c);

	if (!eth)
		return DF_DECAP_PASS_TRUNCATED;
	if (eth->h_proto == bpf_htons(ETH_P_IP))
		return decap_classify_v4(&c, frame_len - sizeof(*eth), plan);
	if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		return decap_classify_v6(&c, frame_len - sizeof(*eth), plan);
	return DF_DECAP_PASS_NOT_IP;
}

/* Count the frame's one reason (and its bytes, if stripped). Returns 0 or -1 (no stats map). */
static __always_inline int decap_count(__u32 reason, __u64 bytes)
{
	__u32 zero = 0;
	struct df_decap_stats *st = bpf_map_lookup_elem(&decap_stats, &zero);

	if (!st || reason >= DF_DECAP_REASON_MAX)
		return -1;
	st->reason[reason]++;
	if (reason < DF_DECAP_TYPES)
		st->decap_bytes[reason] += bytes;
	return 0;
}

#endif /* DOGFISH_DECAP_COMMON_H */
