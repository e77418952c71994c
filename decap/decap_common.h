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
#include <linux/udp.h>
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

/* One entry: flags such as DF_DECAP_ACCEPT_ANY, the GUE port; written by dogfish-decap. */
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

/* What stripping a frame takes: the outer headers' length and the inner family. */
struct decap_plan {
	__u32 strip; /* bytes between the Ethernet header and the inner IP header (UDP included) */
	__u16 inner_eth; /* ETH_P_IP or ETH_P_IPV6, host order */
};

/* Bytes a classification may read: Ethernet, the longest outer IPv4, UDP, an inner IPv6. */
#define DECAP_MAX_HDRS (sizeof(struct ethhdr) + 60 + 8 + sizeof(struct ipv6hdr))

static __always_inline struct df_decap_config *decap_cfg(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&decap_config, &zero);
}

static __always_inline __u32 decap_flags(void)
{
	struct df_decap_config *cfg = decap_cfg();

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

static __always_inline __u32 inner_min_len(__u16 inner_eth)
{
	return inner_eth == ETH_P_IP ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);
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

/*
 * A UDP datagram at `l4` is GUE when GUE is on and it goes to the configured port:
 * DF_DECAP_REASON_MAX, or the pass that leaves it to the stack.
 */
static __always_inline int decap_is_gue(const struct udphdr *uh, const void *end)
{
	struct df_decap_config *cfg = decap_cfg();

	if (!cfg || !cfg->gue_port)
		return DF_DECAP_PASS_NOT_ENCAP;
	if ((void *)(uh + 1) > end)
		return DF_DECAP_PASS_TRUNCATED;
	return uh->dest == cfg->gue_port ? DF_DECAP_REASON_MAX : DF_DECAP_PASS_NOT_ENCAP;
}

/*
 * What a GUE packet carries, by its payload's first nibble (GUE variant 1, direct IP: the
 * inner IP version): its type, or a drop. A GUE header (variant 0: the nibble's top bits
 * 00) and IPv6 in IPv4, which the balancer never sends, are refused.
 */
static __always_inline int decap_gue_inner(const struct udphdr *uh, const void *end,
					   __u8 outer_family, struct decap_plan *plan)
{
	const __u8 *first = (const __u8 *)(uh + 1);

	if ((void *)(first + 1) > end)
		return DF_DECAP_DROP_TRUNCATED_INNER;
	if (*first >> 4 == 4) {
		plan->inner_eth = ETH_P_IP;
		return outer_family == DF_FAMILY_V4 ? DF_DECAP_DECAP_GUE_4IN4
						    : DF_DECAP_DECAP_GUE_4IN6;
	}
	if (*first >> 4 == 6 && outer_family == DF_FAMILY_V6) {
		plan->inner_eth = ETH_P_IPV6;
		return DF_DECAP_DECAP_GUE_6IN6;
	}
	return DF_DECAP_DROP_GUE_NOT_IP;
}

/* A GUE datagram's length must hold an inner header and fit the outer packet's payload. */
static __always_inline int decap_udp_len_ok(const struct udphdr *uh, __u32 payload, __u16 inner_eth)
{
	__u32 len = bpf_ntohs(uh->len);

	return len >= sizeof(*uh) + inner_min_len(inner_eth) && len <= payload;
}

static __always_inline int decap_classify_v4(struct cursor *c, __u32 l3_bytes,
					     struct decap_plan *plan)
{
	struct df_decap_addr key = { .family = DF_FAMILY_V4 };
	struct iphdr *iph = parse_ipv4(c);
	struct udphdr *uh = NULL;
	__u32 hdr, l3_len;
	int type, r;

	if (!iph)
		return DF_DECAP_PASS_TRUNCATED;
	hdr = (iph->ihl * 4) & 0x3c;
	if (iph->protocol == IPPROTO_UDP) {
		/* A later fragment's "ports" are payload bytes: fragments are the stack's. */
		if (ipv4_is_fragment(iph))
			return DF_DECAP_PASS_NOT_ENCAP;
		uh = (void *)iph + hdr;
		r = decap_is_gue(uh, c->end);
		if (r != DF_DECAP_REASON_MAX)
			return r;
	} else if (iph->protocol != IPPROTO_IPIP) {
		return DF_DECAP_PASS_NOT_ENCAP;
	}
	__builtin_memcpy(key.addr, &iph->daddr, 4);
	if (!decap_is_ours(&key))
		return DF_DECAP_PASS_NOT_OURS;
	if (iph->version != 4 || iph->ihl < 5 || ipv4_is_fragment(iph))
		return DF_DECAP_DROP_BAD_OUTER;

	if (uh) {
		type = decap_gue_inner(uh, c->end, DF_FAMILY_V4, plan);
		if (type >= DF_DECAP_TYPES)
			return type;
		plan->strip = hdr + sizeof(*uh);
	} else {
		type = DF_DECAP_DECAP_4IN4;
		plan->inner_eth = ETH_P_IP;
		plan->strip = hdr;
	}
	r = decap_check_inner((void *)iph + plan->strip, c->end, plan->inner_eth);
	if (r != DF_DECAP_REASON_MAX)
		return r;
	l3_len = bpf_ntohs(iph->tot_len);
	if (l3_len < plan->strip + inner_min_len(plan->inner_eth) || l3_len > l3_bytes ||
	    (uh && !decap_udp_len_ok(uh, l3_len - hdr, plan->inner_eth)))
		return DF_DECAP_DROP_BAD_OUTER;
	r = decap_check_peers(DF_FAMILY_V4, &iph->saddr,
			      plan->inner_eth == ETH_P_IP ? DF_FAMILY_V4 : DF_FAMILY_V6,
			      decap_inner_dst((void *)iph + plan->strip, plan->inner_eth), c->end);
	if (r != DF_DECAP_REASON_MAX)
		return r;
	return type;
}

static __always_inline int decap_classify_v6(struct cursor *c, __u32 l3_bytes,
					     struct decap_plan *plan)
{
	struct df_decap_addr key = { .family = DF_FAMILY_V6 };
	struct ipv6hdr *ip6 = parse_ipv6(c);
	struct udphdr *uh = NULL;
	__u32 payload_len;
	int type, r;

	if (!ip6)
		return DF_DECAP_PASS_TRUNCATED;
	if (ip6->nexthdr == IPPROTO_IPV6) {
		type = DF_DECAP_DECAP_6IN6;
		plan->inner_eth = ETH_P_IPV6;
	} else if (ip6->nexthdr == IPPROTO_IPIP) {
		type = DF_DECAP_DECAP_4IN6;
		plan->inner_eth = ETH_P_IP;
	} else if (ip6->nexthdr == IPPROTO_UDP) {
		uh = (void *)(ip6 + 1);
		r = decap_is_gue(uh, c->end);
		if (r != DF_DECAP_REASON_MAX)
			return r;
	} else {
		return DF_DECAP_PASS_NOT_ENCAP;
	}
	__builtin_memcpy(key.addr, &ip6->daddr, 16);
	if (!decap_is_ours(&key))
		return DF_DECAP_PASS_NOT_OURS;
	if (ip6->version != 6)
		return DF_DECAP_DROP_BAD_OUTER;

	plan->strip = sizeof(*ip6);
	if (uh) {
		type = decap_gue_inner(uh, c->end, DF_FAMILY_V6, plan);
		if (type >= DF_DECAP_TYPES)
			return type;
		plan->strip += sizeof(*uh);
	}
	r = decap_check_inner((void *)ip6 + plan->strip, c->end, plan->inner_eth);
	if (r != DF_DECAP_REASON_MAX)
		return r;
	payload_len = bpf_ntohs(ip6->payload_len);
	if (payload_len < plan->strip - sizeof(*ip6) + inner_min_len(plan->inner_eth) ||
	    payload_len > l3_bytes - sizeof(*ip6) ||
	    (uh && !decap_udp_len_ok(uh, payload_len, plan->inner_eth)))
		return DF_DECAP_DROP_BAD_OUTER;
	r = decap_check_peers(DF_FAMILY_V6, &ip6->saddr,
			      plan->inner_eth == ETH_P_IP ? DF_FAMILY_V4 : DF_FAMILY_V6,
			      decap_inner_dst((void *)ip6 + plan->strip, plan->inner_eth), c->end);
	if (r != DF_DECAP_REASON_MAX)
		return r;
	return type;
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
