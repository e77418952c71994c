/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Encapsulation: grow the frame at the head (XDP: bpf_xdp_adjust_head; tc, for
 * the health prober's packets: bpf_skb_adjust_room) and write a new Ethernet
 * header and an outer IPv4 or IPv6 header in front of the packet, which stays
 * byte for byte as it was; for a GUE real (DF_ENCAP_GUE) a UDP header to the GUE
 * port after the outer IP header. One set of outer-header rules for both hooks.
 */
#ifndef DOGFISH_BPF_ENCAP_H
#define DOGFISH_BPF_ENCAP_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <dogfish/abi.h>
#include "csum.h"
#include "parse.h"
#include "words.h"

#ifndef IP_DF
#define IP_DF 0x4000
#endif

/* What the outer header takes from the inner packet and the flow. */
struct encap_in {
	__u32 hash; /* flow hash: picks the outer source, the IPv6 flow label, the GUE source port */
	__u16 inner_len; /* inner L3 packet length */
	__u8 inner_proto; /* IPPROTO_IPIP or IPPROTO_IPV6: the inner family */
	__u8 tos; /* carried to the outer header */
	__u8 ttl; /* carried to the outer header */
};

/* Bytes of outer headers in front of the inner packet (Ethernet aside): IP, and UDP for GUE. */
static __always_inline __u32 outer_hdrs_len(const int v4, const int gue)
{
	return (v4 ? sizeof(struct iphdr) : sizeof(struct ipv6hdr)) +
	       (gue ? sizeof(struct udphdr) : 0);
}

/* The same for a real's encapsulation. */
static __always_inline __u32 encap_overhead(const struct df_real *real)
{
	return outer_hdrs_len(real->family == DF_FAMILY_V4, real->encap == DF_ENCAP_GUE);
}

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

/* The outer IPv4 header to an IPv4 real, `payload` bytes of `proto` after it. */
static __always_inline void outer_ipv4(struct iphdr *ip, const struct df_real *real,
				       const struct encap_in *in,
				       const volatile struct df_config *cfg, __u8 proto,
				       __u16 payload)
{
	ip->version = 4;
	ip->ihl = 5;
	ip->tos = in->tos;
	ip->tot_len = bpf_htons(payload + sizeof(*ip));
	ip->id = 0;
	ip->frag_off = bpf_htons(IP_DF);
	ip->ttl = in->ttl;
	ip->protocol = proto;
	ip->check = 0;
	ip->saddr = cfg->src4_prefix | (bpf_htonl(in->hash) & cfg->src4_hostmask);
	ip->daddr = word32_at(real->addr, 0);
	ip->check = ipv4_hdr_csum(ip);
}

/* The outer IPv6 header to an IPv6 real, `payload` bytes of `proto` after it. */
static __always_inline void outer_ipv6(struct ipv6hdr *ip6, const struct df_real *real,
				       const struct encap_in *in,
				       const volatile struct df_config *cfg, __u8 proto,
				       __u16 payload)
{
	const volatile __u32 *pfx = (const volatile __u32 *)cfg->src6_prefix;

	/* version 6, traffic class, and a flow label from the flow hash for the reals' RSS */
	*(__be32 *)ip6 = bpf_htonl((6U << 28) | ((__u32)in->tos << 20) | (in->hash & 0xfffff));
	ip6->payload_len = bpf_htons(payload);
	ip6->nexthdr = proto;
	ip6->hop_limit = in->ttl;
	ip6->saddr.in6_u.u6_addr32[0] = pfx[0];
	ip6->saddr.in6_u.u6_addr32[1] = pfx[1];
	ip6->saddr.in6_u.u6_addr32[2] = pfx[2];
	ip6->saddr.in6_u.u6_addr32[3] = pfx[3] | (bpf_htonl(in->hash) & cfg->src6_hostmask);
	copy_addr6(&ip6->daddr, real->addr);
}

/*
 * GUE's UDP header, checksum 0 (none; the IPv6 caller fills it in). The source port comes
 * from the flow hash's top bits (the outer source and the flow label take its low ones), in
 * the dynamic range (RFC 6335), so a flow keeps one and the reals' NICs spread flows over
 * their queues by it.
 */
static __always_inline void gue_udp(struct udphdr *uh, const struct encap_in *in,
				    const volatile struct df_config *cfg)
{
	uh->source = bpf_htons(0xc000 | (in->hash >> 18));
	uh->dest = cfg->gue_port;
	uh->len = bpf_htons(in->inner_len + sizeof(*uh));
	uh->check = 0;
}

/* A UDP header with no checksum (0) carries nothing its sum can be built on. */
static __always_inline int inner_udp_has_csum(const void *l4, const void *end)
{
	const struct udphdr *uh = l4;

	return (void *)(uh + 1) <= end && uh->check != 0;
}

/*
 * What the inner packet adds to its GUE datagram's sum, read from its headers alone (the
 * kernel's local checksum offload, Documentation/networking/checksum-offloads.rst): a
 * TCP, UDP or ICMPv6 segment whose checksum holds sums to the complement of its
 * pseudo-header's sum, and so does one whose checksum a NIC is still to fill in (the
 * health prober's: its field holds that pseudo-header sum); an ICMPv4 message and an IPv4
 * header sum to zero by their own checksums. -1 when the segment gives nothing to build
 * on: a fragment, UDP without a checksum, another protocol, headers cut short.
 */
static __always_inline __s64 gue_inner_sum(const void *inner, const void *end, __u8 inner_proto)
{
	if (inner_proto == IPPROTO_IPIP) {
		const struct iphdr *iph = inner;
		const void *l4;

		if ((void *)(iph + 1) > end || ipv4_is_fragment(iph))
			return -1;
		if (iph->protocol == IPPROTO_ICMP)
			return 0;
		l4 = (const __u8 *)iph + ((iph->ihl * 4) & 0x3c);
		if (iph->protocol == IPPROTO_UDP ? !inner_udp_has_csum(l4, end)
						 : iph->protocol != IPPROTO_TCP)
			return -1;
		return csum_neg(pseudo_sum4(iph->saddr, iph->daddr,
					    bpf_ntohs(iph->tot_len) - (l4 - inner), iph->protocol));
	}
	const struct ipv6hdr *ip6 = inner;

	if ((void *)(ip6 + 1) > end)
		return -1;
	if (ip6->nexthdr == IPPROTO_UDP
		    ? !inner_udp_has_csum(ip6 + 1, end)
		    : ip6->nexthdr != IPPROTO_TCP && ip6->nexthdr != IPPROTO_ICMPV6)
		return -1;
	/*
	 * The header's sum and its pseudo-header's complement: the addresses are in both and
	 * cancel, which leaves the header's first two words and the complement of the length
	 * and next header as the pseudo-header has them.
	 */
	return (__u64)word32_at(ip6, 0) + word32_at(ip6, 1) +
	       csum_neg((__u64)bpf_htonl(bpf_ntohs(ip6->payload_len)) + bpf_htonl(ip6->nexthdr));
}

/*
 * The UDP checksum of a GUE datagram over IPv6, whose header `uh` (checksum 0) the inner
 * packet follows. IPv6 wants one (RFC 8200 8.1) and here it costs a few header words;
 * where the inner packet gives nothing to build it on, 0: a tunnel may send none over
 * IPv6 (RFC 6935, RFC 6936), dogfish-decap never asks for one, and the kernel's FOU
 * accepts none by default. A sum that folds to 0 is sent as 0xffff (RFC 768).
 */
static __always_inline __u16 gue_check6(const struct ipv6hdr *ip6, const struct udphdr *uh,
					const void *end, __u8 inner_proto)
{
	__s64 inner = gue_inner_sum(uh + 1, end, inner_proto);
	__u16 check;

	if (inner < 0)
		return 0;
	check = csum_fold64(pseudo_sum6(&ip6->saddr, bpf_ntohs(uh->len), IPPROTO_UDP) +
			    sum_words(uh, sizeof(*uh) / 4) + inner);
	return check ? check : 0xffff;
}

/*
 * The outer headers after the Ethernet header, in room made for them and checked: IP
 * (with the real's family) and, for GUE, UDP. Over IPv4 GUE sends no UDP checksum (0, as
 * RFC 768 allows): the outer IPv4 header has its own, and the inner packet its own.
 */
static __always_inline void outer_v4(struct iphdr *ip, const struct df_real *real,
				     const struct encap_in *in,
				     const volatile struct df_config *cfg, const int gue)
{
	if (!gue) {
		outer_ipv4(ip, real, in, cfg, in->inner_proto, in->inner_len);
		return;
	}
	outer_ipv4(ip, real, in, cfg, IPPROTO_UDP, in->inner_len + sizeof(struct udphdr));
	gue_udp((void *)(ip + 1), in, cfg);
}

static __always_inline void outer_v6(struct ipv6hdr *ip6, const struct df_real *real,
				     const struct encap_in *in,
				     const volatile struct df_config *cfg, const int gue,
				     const void *end)
{
	struct udphdr *uh = (void *)(ip6 + 1);

	if (!gue) {
		outer_ipv6(ip6, real, in, cfg, in->inner_proto, in->inner_len);
		return;
	}
	outer_ipv6(ip6, real, in, cfg, IPPROTO_UDP, in->inner_len + sizeof(*uh));
	gue_udp(uh, in, cfg);
	uh->check = gue_check6(ip6, uh, end, in->inner_proto);
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
 * outer headers overwrite it.
 */
static __always_inline void write_eth(struct ethhdr *eth, const __u8 *old_dst,
				      const volatile struct df_config *cfg, __u16 proto)
{
	copy_mac(eth->h_source, old_dst);
	eth_to_gateway(eth, cfg, proto);
}

/*
 * XDP: the outer headers to an IPv4 real (gue: with UDP). Returns 0, or -1 when the
 * head cannot grow. `gue` is a constant at each call, so each variant is its own code.
 */
static __always_inline int encap_ipv4(struct xdp_md *ctx, const struct df_real *real,
				      const struct encap_in *in,
				      const volatile struct df_config *cfg, const int gue)
{
	const int delta = outer_hdrs_len(1, gue);
	struct ethhdr *eth;
	struct iphdr *ip;
	void *data, *data_end;

	if (bpf_xdp_adjust_head(ctx, -delta))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) + (gue ? sizeof(struct udphdr) : 0) > data_end)
		return -1;
	write_eth(eth, (const __u8 *)data + delta, cfg, ETH_P_IP);
	outer_v4(ip, real, in, cfg, gue);
	return 0;
}

/* XDP: the outer headers to an IPv6 real, around an IPv4 or IPv6 packet. */
static __always_inline int encap_ipv6(struct xdp_md *ctx, const struct df_real *real,
				      const struct encap_in *in,
				      const volatile struct df_config *cfg, const int gue)
{
	const int delta = outer_hdrs_len(0, gue);
	struct ethhdr *eth;
	struct ipv6hdr *ip6;
	void *data, *data_end;

	if (bpf_xdp_adjust_head(ctx, -delta))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	ip6 = (void *)(eth + 1);
	if ((void *)(ip6 + 1) + (gue ? sizeof(struct udphdr) : 0) > data_end)
		return -1;
	write_eth(eth, (const __u8 *)data + delta, cfg, ETH_P_IPV6);
	outer_v6(ip6, real, in, cfg, gue, data_end);
	return 0;
}

/* XDP: the real's encapsulation. Returns 0, or -1 when the head cannot grow. */
static __always_inline int encap_xdp(struct xdp_md *ctx, const struct df_real *real,
				     const struct encap_in *in,
				     const volatile struct df_config *cfg)
{
	if (real->family == DF_FAMILY_V4)
		return real->encap == DF_ENCAP_GUE ? encap_ipv4(ctx, real, in, cfg, 1)
						   : encap_ipv4(ctx, real, in, cfg, 0);
	return real->encap == DF_ENCAP_GUE ? encap_ipv6(ctx, real, in, cfg, 1)
					   : encap_ipv6(ctx, real, in, cfg, 0);
}

/*
 * tc: the real's encapsulation, room made after the Ethernet header (which keeps our
 * MAC as its source) with bpf_skb_adjust_room, which also marks the skb encapsulated
 * (L3, and L4 UDP for GUE) so checksum offload and GSO see the inner headers, and for
 * IPv4-in-IPv6 sets its protocol to the outer family. Returns 0, or -1 when it cannot
 * grow.
 */
static __always_inline int encap_skb(struct __sk_buff *skb, const struct df_real *real,
				     const struct encap_in *in,
				     const volatile struct df_config *cfg)
{
	const int v4 = real->family == DF_FAMILY_V4;
	const int gue = real->encap == DF_ENCAP_GUE;
	__u64 flags = v4 ? BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 : BPF_F_ADJ_ROOM_ENCAP_L3_IPV6;
	struct ethhdr *eth;
	void *data_end;

	if (gue)
		flags |= BPF_F_ADJ_ROOM_ENCAP_L4_UDP;
	if (bpf_skb_adjust_room(skb, encap_overhead(real), BPF_ADJ_ROOM_MAC, flags))
		return -1;
	/* Checked for the UDP header either way: an IPIP packet's inner header is longer. */
	eth = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	if (v4) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) + sizeof(struct udphdr) > data_end)
			return -1;
		eth_to_gateway(eth, cfg, ETH_P_IP);
		outer_v4(ip, real, in, cfg, gue);
	} else {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) + sizeof(struct udphdr) > data_end)
			return -1;
		eth_to_gateway(eth, cfg, ETH_P_IPV6);
		outer_v6(ip6, real, in, cfg, gue, data_end);
	}
	return 0;
}

#endif /* DOGFISH_BPF_ENCAP_H */
