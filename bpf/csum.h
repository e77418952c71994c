/* SPDX-License-Identifier: GPL-2.0 */
/* Internet checksums, computed in the program: folding, a new IPv4 header, one changed word. */
#ifndef DOGFISH_BPF_CSUM_H
#define DOGFISH_BPF_CSUM_H

#include <linux/bpf.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>

static __always_inline __u16 csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* A long sum of 32-bit words in memory order, folded and complemented: the checksum to
 * write, or 0 when the bytes summed carry their correct checksum. */
static __always_inline __u16 csum_fold64(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	return csum_fold((__u32)sum);
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

/* A checksum after one 16-bit word it covers went from `from` to `to` (RFC 1624, eqn. 3). */
static __always_inline __u16 csum_replace16(__u16 check, __u16 from, __u16 to)
{
	return csum_fold((__u32)(__u16)~check + (__u16)~from + to);
}

#endif /* DOGFISH_BPF_CSUM_H */
