// SPDX-License-Identifier: GPL-2.0
// Attached by dogfish-lab to the gateway's end of the balancer link. A veth
// delivers frames that its peer sends with native XDP_TX only when this end has
// an XDP program of its own (DESIGN.md, lab facts 1): without one every
// balancer reply is dropped as xdp_tx_errors.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int lab_xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
