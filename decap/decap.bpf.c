// SPDX-License-Identifier: GPL-2.0
/*
 * dogfish's decap for reals, XDP flavour: strip the outer IPv4 or IPv6 header (and
 * for GUE the UDP header after it) the balancer put around a client's packet (when
 * it is addressed to us) and hand the inner packet to the stack. Everything else passes untouched. The logic shared
 * with the tc flavour lives in decap_common.h.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <dogfish/decap_abi.h>
#include "decap_common.h"

/* Move the Ethernet header forward over the outer headers, then drop the head. */
static __always_inline int strip_outer(struct xdp_md *ctx, const struct decap_plan *plan)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr eth;

	if (data + sizeof(eth) > data_end)
		return -1;
	__builtin_memcpy(&eth, data, sizeof(eth));
	eth.h_proto = bpf_htons(plan->inner_eth);
	if (bpf_xdp_adjust_head(ctx, (int)plan->strip))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + sizeof(eth) > data_end)
		return -1;
	__builtin_memcpy(data, &eth, sizeof(eth));
	return 0;
}

SEC("xdp")
int decap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 frame_len = data_end - data;
	struct decap_plan plan = {};
	int reason = decap_classify(data, data_end, frame_len, &plan);

	if (reason < DF_DECAP_TYPES && strip_outer(ctx, &plan))
		reason = DF_DECAP_DROP_ADJUST;
	if (decap_count(reason, frame_len))
		return XDP_ABORTED;
	return reason < DF_DECAP_FIRST_DROP ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
