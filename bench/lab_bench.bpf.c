// SPDX-License-Identifier: GPL-2.0
/*
 * XDP programs for lab-bench's packets-per-second measurement (bench/README.md).
 *
 * lab_gen_tx is run by dogfish-loadgen through BPF_PROG_TEST_RUN with
 * BPF_F_TEST_XDP_LIVE_FRAMES on the gateway's end of the balancer link: each
 * XDP_TX there transmits the frame out of that veth, to the balancer (what
 * xdp-trafficgen does; Debian's 1.3.1 cannot load on kernels without the
 * xdp_redirect_map_err tracepoint). lab_sink_drop replaces the gateway's
 * pass-through program meanwhile, so what comes back is counted by the veth and
 * never reaches the gateway's stack.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "lab_bench_abi.h"

/* Ethernet, IPv4, UDP (checksum 0) and padding, written by dogfish-loadgen before the run. */
__u64 gen_frame[DF_GEN_FRAME_WORDS];
/* The UDP source port cycles over [gen_sport, gen_sport + gen_flows); dogfish-loadgen
 * takes 1 to 65535 flows. */
__u16 gen_sport;
__u16 gen_flows = 1;
__u32 gen_next;

SEC("xdp")
int lab_gen_tx(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 *w = data;
	__be16 sport;

	if ((void *)(w + DF_GEN_FRAME_WORDS) > data_end)
		return XDP_ABORTED;
		/*
	 * Live frames recycle their pages without resetting the bytes, and the
	 * balancer encapsulates in place: write the headers afresh every time.
	 */
#pragma unroll
	for (int i = 0; i < DF_GEN_FRAME_WORDS; i++)
		w[i] = gen_frame[i];
	sport = bpf_htons(gen_sport + (__u16)(gen_next++ % gen_flows));
	__builtin_memcpy((__u8 *)data + DF_GEN_UDP_SPORT_OFF, &sport, sizeof(sport));
	return XDP_TX;
}

SEC("xdp")
int lab_sink_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
