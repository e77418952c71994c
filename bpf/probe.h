/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The health prober's packets to a VIP, carried through a real's decap (tc egress on
 * the balancer's interface): a packet marked DF_PROBE_MARK | slot is encapsulated to
 * probe_reals[slot] exactly as the XDP program encapsulates a client's packet to that
 * VIP (encap.h; the outer source from the flow hash of the same 5-tuple), so the
 * real's decap, the VIP on its loopback and its service all answer for it. The
 * control plane fills probe_reals: a real down in every VIP is out of the reals map,
 * yet still probed.
 */
#ifndef DOGFISH_BPF_PROBE_H
#define DOGFISH_BPF_PROBE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <dogfish/abi.h>
#include <dogfish/flow_hash.h>
#include "maps.h"
#include "parse.h"
#include "encap.h"

/* The headers read: Ethernet, IPv6 (the longer), TCP without options. */
#define PROBE_HDRS (sizeof(struct ethhdr) + sizeof(struct ipv6hdr) + sizeof(struct tcphdr))

/* Returned by probe_flow when the packet goes on to be encapsulated. */
#define PROBE_PARSED DF_REASON_MAX

/* Ports of a TCP or UDP packet; none for anything else (the addresses alone are hashed). */
static __always_inline void probe_ports(struct cursor *c, struct df_flow_key *flow)
{
	if (flow->vip.proto == IPPROTO_TCP) {
		struct tcphdr *th = parse_tcp(c);

		if (th) {
			flow->sport = th->source;
			flow->vip.port = th->dest;
		}
	} else if (flow->vip.proto == IPPROTO_UDP) {
		struct udphdr *uh = parse_udp(c);

		if (uh) {
			flow->sport = uh->source;
			flow->vip.port = uh->dest;
		}
	}
}

/* The flow key the XDP program would build for this packet, and what the outer header takes. */
static __always_inline int probe_flow(struct __sk_buff *skb, struct df_flow_key *flow,
				      struct encap_in *in)
{
	struct cursor c = { .pos = (void *)(long)skb->data, .end = (void *)(long)skb->data_end };
	struct ethhdr *eth = parse_eth(&c);

	if (!eth)
		return DF_PASS_TRUNCATED;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = parse_ipv4(&c);

		if (!iph)
			return DF_PASS_TRUNCATED;
		flow->vip.family = DF_FAMILY_V4;
		__builtin_memcpy(flow->vip.addr, &iph->daddr, 4);
		__builtin_memcpy(flow->src, &iph->saddr, 4);
		in->inner_len = bpf_ntohs(iph->tot_len);
		in->inner_proto = IPPROTO_IPIP;
		in->tos = iph->tos;
		in->ttl = iph->ttl;
		if (ipv4_is_plain(iph) && !ipv4_is_fragment(iph))
			flow->vip.proto = iph->protocol;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = parse_ipv6(&c);

		if (!ip6)
			return DF_PASS_TRUNCATED;
		flow->vip.family = DF_FAMILY_V6;
		__builtin_memcpy(flow->vip.addr, &ip6->daddr, 16);
		__builtin_memcpy(flow->src, &ip6->saddr, 16);
		in->inner_len = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
		in->inner_proto = IPPROTO_IPV6;
		in->tos = (ip6->priority << 4) | (ip6->flow_lbl[0] >> 4);
		in->ttl = ip6->hop_limit;
		if (!ipv6_is_ext_hdr(ip6->nexthdr))
			flow->vip.proto = ip6->nexthdr;
	} else {
		return DF_PASS_NOT_IP;
	}
	probe_ports(&c, flow);
	return PROBE_PARSED;
}

/* Encapsulates a marked packet to its slot's real; the reason it leaves with. */
static __always_inline int probe_encap_reason(struct __sk_buff *skb,
					      const volatile struct df_config *cfg)
{
	__u32 slot = skb->mark & ~DF_PROBE_MARK_MASK;
	const struct df_real *real = bpf_map_lookup_elem(&probe_reals, &slot);
	struct df_flow_key flow __attribute__((aligned(8))) = {};
	struct encap_in in = {};
	__u32 overhead;
	int r;

	if (!real || !real->family)
		return DF_DROP_PROBE_NO_REAL;
	/* Headers in a non-linear part are out of reach of direct access: pull them in. */
	if (skb->data_end - skb->data < PROBE_HDRS && skb->len > skb->data_end - skb->data)
		bpf_skb_pull_data(skb, skb->len < PROBE_HDRS ? skb->len : PROBE_HDRS);
	r = probe_flow(skb, &flow, &in);
	if (r != PROBE_PARSED)
		return r;
	if (real->family == DF_FAMILY_V4 && flow.vip.family == DF_FAMILY_V6)
		return DF_DROP_REAL_FAMILY;
	overhead = encap_overhead(real);
	if (cfg->max_pkt_size && in.inner_len + overhead > cfg->max_pkt_size)
		return DF_DROP_TOO_BIG;
	if (!cfg->gateway_set)
		return DF_DROP_NO_GATEWAY;
	in.hash = df_flow_hash(&flow);
	if (encap_skb(skb, real, &in, cfg))
		return DF_DROP_ADJUST_HEAD;
	return DF_TX_PROBE;
}

#endif /* DOGFISH_BPF_PROBE_H */
