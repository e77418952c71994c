// SPDX-License-Identifier: GPL-2.0
/*
 * dogfish's decap for reals, tc flavour (clsact ingress), for interfaces where XDP
 * is not wanted: the same decisions as decap.bpf.c (decap_common.h), the outer
 * headers removed with bpf_skb_adjust_room, which for IPv4-in-IPv6 also sets
 * skb->protocol to the inner family (BPF_F_ADJ_ROOM_DECAP_L3_*, kernel 6.3 and later).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <dogfish/decap_abi.h>
#include "decap_common.h"

/* Newer than the uapi headers of Debian 12; fixed values in the kernel's ABI. */
#ifndef BPF_F_ADJ_ROOM_DECAP_L3_IPV4
#define BPF_F_ADJ_ROOM_DECAP_L3_IPV4 (1ULL << 7)
#define BPF_F_ADJ_ROOM_DECAP_L3_IPV6 (1ULL << 8)
#endif

static __always_inline int strip_outer(struct __sk_buff *skb, const struct decap_plan *plan)
{
	/* The inner segments keep their size: FIXED_GSO leaves gso_size alone. */
	__u64 flags = BPF_F_ADJ_ROOM_FIXED_GSO;
	void *data, *data_end;
	struct ethhdr *eth;

	/* Only IPv4-in-IPv6 changes the family, so only it asks for skb->protocol to follow:
	 * kernels before 6.3 refuse the DECAP_L3 flags, and 4in4 and 6in6 need none. */
	if (skb->protocol != bpf_htons(plan->inner_eth))
		flags |= plan->inner_eth == ETH_P_IP ? BPF_F_ADJ_ROOM_DECAP_L3_IPV4
						     : BPF_F_ADJ_ROOM_DECAP_L3_IPV6;

	if (bpf_skb_adjust_room(skb, -(__s32)plan->strip, BPF_ADJ_ROOM_MAC, flags))
		return -1;
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return -1;
	eth->h_proto = bpf_htons(plan->inner_eth);
	return 0;
}

SEC("tc")
int tc_decap(struct __sk_buff *skb)
{
	__u32 len = skb->len;
	struct decap_plan plan = {};
	void *data, *data_end;
	int reason;

	/* Headers in a non-linear part are out of reach of direct access: pull them in. */
	if (skb->data_end - skb->data < DECAP_MAX_HDRS && len > skb->data_end - skb->data)
		bpf_skb_pull_data(skb, len < DECAP_MAX_HDRS ? len : DECAP_MAX_HDRS);
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	reason = decap_classify(data, data_end, len, &plan);
	if (reason < DF_DECAP_TYPES && strip_outer(skb, &plan))
		reason = DF_DECAP_DROP_ADJUST;
	if (decap_count(reason, len))
		return TC_ACT_SHOT;
	return reason < DF_DECAP_FIRST_DROP ? TC_ACT_OK : TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
