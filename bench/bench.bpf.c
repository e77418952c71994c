// SPDX-License-Identifier: GPL-2.0
/*
 * Programs for dogfish-bench (bench/dogfish_bench.cpp).
 *
 * BPF_PROG_TEST_RUN with repeat > 1 runs every iteration on the same buffer:
 * from the second iteration on, an encapsulating program would see its own
 * output. bench_wrapper puts the original frame back before every iteration
 * and then tail-calls the program under test through the `target` slot; the
 * bench measures the wrapper in front of the program and the same wrapper in
 * front of bench_empty, and reports the difference.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "bench_abi.h"

/* Slot 0: the program under test; written by dogfish-bench before each run. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} target SEC(".maps");

/* The frame every iteration starts from, written by dogfish-bench before each run. */
__u64 frame[DF_BENCH_FRAME_WORDS];

/* Non-zero: before each iteration, write src_next (host order) as the IPv4 source and bump it. */
__u32 bump_src;
__u32 src_next;

SEC("xdp")
int bench_wrapper(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	/* Only the head ever moves: whatever the frame grew by, give it back. */
	int grown = (int)(data_end - data) - DF_BENCH_FRAME_LEN;
	__u64 *w;

	/* Called with 0 as well, so the wrapper costs the same whatever runs behind it. */
	if (bpf_xdp_adjust_head(ctx, grown))
		return XDP_ABORTED;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	w = data;
	if ((void *)(w + DF_BENCH_FRAME_WORDS) > data_end)
		return XDP_ABORTED;
#pragma unroll
	for (int i = 0; i < DF_BENCH_FRAME_WORDS; i++)
		w[i] = frame[i];
	if (bump_src) {
		__be32 src = bpf_htonl(src_next++);

		__builtin_memcpy((__u8 *)data + DF_BENCH_IPV4_SADDR_OFF, &src, sizeof(src));
	}
	bpf_tail_call(ctx, &target, 0);
	return XDP_ABORTED;
}

/* The baseline: what the wrapper costs with nothing behind it. */
SEC("xdp")
int bench_empty(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/* The floor of any useful XDP program: swap the MACs and send the frame back. */
SEC("xdp")
int bench_floor_xdp_tx(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u8 tmp[ETH_ALEN];

	if ((void *)(eth + 1) > data_end)
		return XDP_ABORTED;
	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
