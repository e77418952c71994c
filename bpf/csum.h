/* SPDX-License-Identifier: GPL-2.0 */
/* Internet checksums, computed in the program without helper calls. */
#ifndef DOGFISH_BPF_CSUM_H
#define DOGFISH_BPF_CSUM_H

#include <linux/ip.h>
#include <bpf/bpf_helpers.h>

static __always_inline __u16 csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* The full checksum of a new 20-byte IPv4 header whose check field is zero. */
static __always_inline __u16 ipv4_hdr_csum(const struct iphdr *iph)
{
	const __u16 *w = (const __u16 *)iph;
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < (int)(sizeof(*iph) / 2); i++)
		sum += w[i];
	return csum_fold(sum);
}

#endif /* DOGFISH_BPF_CSUM_H */
