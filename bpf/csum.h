/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internet checksums, computed in the program: folding, a new IPv4 header, one changed word,
 * pseudo-headers. Sums are of 32-bit words in memory order, as csum_fold64 takes them.
 */
#ifndef DOGFISH_BPF_CSUM_H
#define DOGFISH_BPF_CSUM_H

#include <linux/bpf.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "words.h"

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

/*
 * What adds -x to a long sum: sums only ever count modulo 0xffff (folding keeps that), of which
 * 0xffff << 32 is a multiple; it keeps the value positive for every x below 2^47.
 */
static __always_inline __u64 csum_neg(__u64 x)
{
	return (0xffffULL << 32) - x;
}

/* The sum of `n` 32-bit words at `p`. */
static __always_inline __u64 sum_words(const void *p, int n)
{
	__u64 sum = 0;

#pragma unroll
	for (int i = 0; i < n; i++)
		sum += word32_at(p, i);
	return sum;
}

/* The sum of an IPv4 pseudo-header (RFC 768, RFC 9293 3.1) for `len` bytes of `proto`. */
static __always_inline __u64 pseudo_sum4(__be32 saddr, __be32 daddr, __u32 len, __u8 proto)
{
	return (__u64)saddr + daddr + bpf_htonl(len) + bpf_htonl(proto);
}

/* The sum of an IPv6 pseudo-header (RFC 8200 8.1); `addrs`: the source, then the destination. */
static __always_inline __u64 pseudo_sum6(const void *addrs, __u32 len, __u8 proto)
{
	return sum_words(addrs, 8) + bpf_htonl(len) + bpf_htonl(proto);
}

#endif /* DOGFISH_BPF_CSUM_H */
