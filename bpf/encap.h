/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Encapsulation: grow the frame at the head (XDP: bpf_xdp_adjust_head; tc, for
 * the health prober's packets: bpf_skb_adjust_room) and write a new Ethernet
 * header and an outer IPv4 or IPv6 header in front of the packet, which stays
 * byte for byte as it was. One set of outer-header rules for both.
 */
#ifndef DOGFISH_BPF_ENCAP_H
#define DOGFISH_BPF_ENCAP_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <dogfish/abi.h>
#include "csum.h"
#include "words.h"

#ifndef IP_DF
#define IP_DF 0x4000
#endif

/* What the outer header takes from the inner packet and the flow. */
struct encap_in {
	__u32 hash; /* flow hash: picks the outer source and the IPv6 flow label */
	__u16 inner_len; /* inner L3 packet length */
	__u8 inner_proto; /* IPPROTO_IPIP or IPPROTO_IPV6 */
	__u8 tos; /* carried to the outer header */
	__u8 ttl; /* carried to the outer header */
};

/* Six bytes as a word and a half-word. */
static __always_inline void copy_mac(void *dst, const void *src)
{
	put_word32(dst, 0, word32_at(src, 0));
	*(df_word16 *)((__u8 *)dst + 4) = *(const df_word16 *)((const __u8 *)src + 4);
}

/* An IPv6 address (16 bytes) as four words. */
static __always_inline void copy_addr6(void *dst, const void *src)
{
	for (int i = 0; i < 4; i++)
		put_word32(dst, i, word32_at(src, i));
}

/* The outer IPv4 header to an IPv4 real. */
static __always_inline void outer_ipv4(struct iphdr *ip, const struct df_real *real,
				       const struct encap_in *in,
				       const volatile struct df_config *cfg)
{
	ip->version = 4;
	ip->ihl = 5;
	ip->tos = in->tos;
	ip->tot_len = bpf_htons(in->inner_len + sizeof(*ip));
	ip->id = 0;
	ip->frag_off = bpf_htons(IP_DF);
	ip->ttl = in->ttl;
	ip->protocol = in->inner_proto;
	ip->check = 0;
	ip->saddr = cfg->src4_prefix | (bpf_htonl(in->hash) & cfg->src4_hostmask);
	ip->daddr = word32_at(real->addr, 0);
	ip->check = ipv4_hdr_csum(ip);
}

/* The outer IPv6 header to an IPv6 real, around an IPv4 or IPv6 packet. */
static __always_inline void outer_ipv6(struct ipv6hdr *ip6, const struct df_real *real,
				       const struct encap_in *in,
				       const volatile struct df_config *cfg)
{
	const volatile __u32 *pfx = (const volatile __u32 *)cfg->src6_prefix;

	/* version 6, traffic class, and a flow label from the flow hash for the reals' RSS */
	*(__be32 *)ip6 = bpf_htonl((6U << 28) | ((__u32)in->tos << 20) | (in->hash & 0xfffff));
	ip6->payload_len = bpf_htons(in->inner_len);
	ip6->nexthdr = in->inner_proto;
	ip6->hop_limit = in->ttl;
	ip6->saddr.in6_u.u6_addr32[0] = pfx[0];
	ip6->saddr.in6_u.u6_addr32[1] = pfx[1];
	ip6->saddr.in6_u.u6_addr32[2] = pfx[2];
	ip6->saddr.in6_u.u6_addr32[3] = pfx[3] | (bpf_htonl(in->hash) & cfg->src6_hostmask);
	copy_addr6(&ip6->daddr, real->addr);
}

static __always_inline void eth_to_gateway(struct ethhdr *eth, const volatile struct df_config *cfg,
					   __u16 proto)
{
	copy_mac(eth->h_dest, (const void *)cfg->gateway_mac);
	eth->h_proto = bpf_htons(proto);
}

/*
 * After the head moved by delta bytes, the old Ethernet header sits at
 * data + delta: its destination (our MAC) becomes the new source before the
 * outer IP header overwrites it.
 */
static __always_inline void write_eth(struct ethhdr *eth, const __u8 *old_dst,
				      const volatile struct df_config *cfg, __u16 proto)
{
	copy_mac(eth->h_source, old_dst);
	eth_to_gateway(eth, cfg, proto);
}

/* XDP: an IPv4 outer header to an IPv4 real. Returns 0, or -1 when the head cannot grow. */
static __always_inline int encap_ipv4(struct xdp_md *ctx, const struct df_real *real,
				      const struct encap_in *in,
				      const volatile struct df_config *cfg)
{
	const int delta = sizeof(struct iphdr);
	struct ethhdr *eth;
	struct iphdr *ip;
	void *data, *data_end;

	if (bpf_xdp_adjust_head(ctx, -delta))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return -1;
	write_eth(eth, (const __u8 *)data + delta, cfg, ETH_P_IP);
	outer_ipv4(ip, real, in, cfg);
	return 0;
}

/* XDP: an IPv6 outer header to an IPv6 real, around an IPv4 or IPv6 packet. */
static __always_inline int encap_ipv6(struct xdp_md *ctx, const struct df_real *real,
				      const struct encap_in *in,
				      const volatile struct df_config *cfg)
{
	const int delta = sizeof(struct ipv6hdr);
	struct ethhdr *eth;
	struct ipv6hdr *ip6;
	void *data, *data_end;

	if (bpf_xdp_adjust_head(ctx, -delta))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	ip6 = (void *)(eth + 1);
	if ((void *)(ip6 + 1) > data_end)
		return -1;
	write_eth(eth, (const __u8 *)data + delta, cfg, ETH_P_IPV6);
	outer_ipv6(ip6, real, in, cfg);
	return 0;
}

/*
 * tc: the outer header for the real's family, room made after the Ethernet header
 * (which keeps our MAC as its source) with bpf_skb_adjust_room, which also marks the
 * skb encapsulated so checksum offload and GSO see the inner headers, and for
 * IPv4-in-IPv6 sets its protocol to the outer family. Returns 0, or -1 when it
 * cannot grow.
 */
static __always_inline int encap_skb(struct __sk_buff *skb, const struct df_real *real,
				     const struct encap_in *in,
				     const volatile struct df_config *cfg)
{
	const int v4 = real->family == DF_FAMILY_V4;
	struct ethhdr *eth;
	void *data_end;

	if (bpf_skb_adjust_room(skb, v4 ? sizeof(struct iphdr) : sizeof(struct ipv6hdr),
				BPF_ADJ_ROOM_MAC,
				v4 ? BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 : BPF_F_ADJ_ROOM_ENCAP_L3_IPV6))
		return -1;
	eth = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	if (v4) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > data_end)
			return -1;
		eth_to_gateway(eth, cfg, ETH_P_IP);
		outer_ipv4(ip, real, in, cfg);
	} else {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			return -1;
		eth_to_gateway(eth, cfg, ETH_P_IPV6);
		outer_ipv6(ip6, real, in, cfg);
	}
	return 0;
}

#endif /* DOGFISH_BPF_ENCAP_H */
