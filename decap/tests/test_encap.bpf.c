// SPDX-License-Identifier: GPL-2.0
/*
 * Test helper for the netns test, not part of dogfish: a tc egress program on
 * the client's veth that wraps packets to the test's VIPs as the balancer would
 * (IPv4 VIP: IPIP from 10.77.0.1 to 10.77.0.2; IPv6 VIP: IPv6-in-IPv6 from
 * fd77::1 to fd77::2), so real sockets can talk to a VIP through decap.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "csum.h"

#define VIP4 0x0a630001 /* 10.99.0.1 */
#define OUTER_SRC4 0x0a4d0001 /* 10.77.0.1 */
#define OUTER_DST4 0x0a4d0002 /* 10.77.0.2 */

/* fd99::1, fd77::1, fd77::2: the first 32-bit word, then the last byte */
#define VIP6_HI 0xfd990000
#define NET6_HI 0xfd770000

static __always_inline void set_addr6(struct in6_addr *a, __u32 hi, __u32 lo)
{
	a->in6_u.u6_addr32[0] = bpf_htonl(hi);
	a->in6_u.u6_addr32[1] = 0;
	a->in6_u.u6_addr32[2] = 0;
	a->in6_u.u6_addr32[3] = bpf_htonl(lo);
}

static __always_inline int encap4(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct iphdr *inner = data + sizeof(struct ethhdr), outer = {};

	if ((void *)(inner + 1) > end || inner->daddr != bpf_htonl(VIP4))
		return TC_ACT_OK;
	outer.version = 4;
	outer.ihl = 5;
	outer.tot_len = bpf_htons(bpf_ntohs(inner->tot_len) + sizeof(outer));
	outer.ttl = 64;
	outer.protocol = IPPROTO_IPIP;
	outer.saddr = bpf_htonl(OUTER_SRC4);
	outer.daddr = bpf_htonl(OUTER_DST4);
	outer.check = ipv4_hdr_csum(&outer);
	if (bpf_skb_adjust_room(skb, sizeof(outer), BPF_ADJ_ROOM_MAC,
				BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_ENCAP_L3_IPV4))
		return TC_ACT_SHOT;
	if (bpf_skb_store_bytes(skb, sizeof(struct ethhdr), &outer, sizeof(outer), 0))
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

static __always_inline int encap6(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ipv6hdr *inner = data + sizeof(struct ethhdr), outer = {};

	if ((void *)(inner + 1) > end)
		return TC_ACT_OK;
	if (inner->daddr.in6_u.u6_addr32[0] != bpf_htonl(VIP6_HI) ||
	    inner->daddr.in6_u.u6_addr32[1] || inner->daddr.in6_u.u6_addr32[2] ||
	    inner->daddr.in6_u.u6_addr32[3] != bpf_htonl(1))
		return TC_ACT_OK;
	outer.version = 6;
	outer.payload_len = bpf_htons(bpf_ntohs(inner->payload_len) + sizeof(outer));
	outer.nexthdr = IPPROTO_IPV6;
	outer.hop_limit = 64;
	set_addr6(&outer.saddr, NET6_HI, 1);
	set_addr6(&outer.daddr, NET6_HI, 2);
	if (bpf_skb_adjust_room(skb, sizeof(outer), BPF_ADJ_ROOM_MAC,
				BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_ENCAP_L3_IPV6))
		return TC_ACT_SHOT;
	if (bpf_skb_store_bytes(skb, sizeof(struct ethhdr), &outer, sizeof(outer), 0))
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

SEC("tc")
int test_encap(struct __sk_buff *skb)
{
	if (skb->protocol == bpf_htons(ETH_P_IP))
		return encap4(skb);
	if (skb->protocol == bpf_htons(ETH_P_IPV6))
		return encap6(skb);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
