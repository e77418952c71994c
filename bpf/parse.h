/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Header parsing with a cursor: each parse_* checks bounds, advances the cursor
 * past its header and returns a pointer to it, or NULL when the frame ends first.
 * Shared by the balancer and the decap programs.
 */
#ifndef DOGFISH_BPF_PARSE_H
#define DOGFISH_BPF_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef IP_MF
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff
#endif

struct cursor {
	void *pos;
	void *end;
};

#define DF_PARSE_HDR(name, type)                                    \
	static __always_inline type *parse_##name(struct cursor *c) \
	{                                                           \
		type *h = c->pos;                                   \
		if ((void *)(h + 1) > c->end)                       \
			return NULL;                                \
		c->pos = h + 1;                                     \
		return h;                                           \
	}

DF_PARSE_HDR(eth, struct ethhdr)
DF_PARSE_HDR(ipv4, struct iphdr)
DF_PARSE_HDR(ipv6, struct ipv6hdr)
DF_PARSE_HDR(tcp, struct tcphdr)
DF_PARSE_HDR(udp, struct udphdr)

/* An IPv4 header with version 4 and no options: the only kind the fast path takes. */
static __always_inline int ipv4_is_plain(const struct iphdr *iph)
{
	return *(const __u8 *)iph == 0x45;
}

static __always_inline int ipv4_is_fragment(const struct iphdr *iph)
{
	return (iph->frag_off & bpf_htons(IP_MF | IP_OFFSET)) != 0;
}

#define DF_TCP_FIN 0x01
#define DF_TCP_SYN 0x02
#define DF_TCP_RST 0x04
#define DF_TCP_ACK 0x10
#define DF_TCP_URG 0x20
/* The flags that tell flag sets apart: PSH, ECE and CWR may go with any of them. */
#define DF_TCP_KIND (DF_TCP_FIN | DF_TCP_SYN | DF_TCP_RST | DF_TCP_ACK | DF_TCP_URG)
#define DF_TCP_SET(flags) (1ULL << (flags))

/*
 * The flag sets a TCP connection sends, as netfilter's tcp_valid_flags has them:
 * no flags, SYN with FIN or RST, FIN without ACK and the like only come from
 * scans and attacks. `flags` is the header's 13th byte.
 */
static __always_inline int tcp_flags_valid(__u8 flags)
{
	const __u64 valid = DF_TCP_SET(DF_TCP_SYN) | DF_TCP_SET(DF_TCP_SYN | DF_TCP_URG) |
			    DF_TCP_SET(DF_TCP_SYN | DF_TCP_ACK) | DF_TCP_SET(DF_TCP_RST) |
			    DF_TCP_SET(DF_TCP_RST | DF_TCP_ACK) |
			    DF_TCP_SET(DF_TCP_FIN | DF_TCP_ACK) |
			    DF_TCP_SET(DF_TCP_FIN | DF_TCP_ACK | DF_TCP_URG) |
			    DF_TCP_SET(DF_TCP_ACK) | DF_TCP_SET(DF_TCP_ACK | DF_TCP_URG);

	return (valid >> (flags & DF_TCP_KIND)) & 1;
}

/* A SYN without ACK: a client opening a flow, which re-hashes instead of using the table. */
static __always_inline int tcp_is_syn(__u8 flags)
{
	return (flags & (DF_TCP_SYN | DF_TCP_ACK)) == DF_TCP_SYN;
}

/* Next-header values that are IPv6 extension headers (RFC 8200 4.1, plus mobility and HIP). */
static __always_inline int ipv6_is_ext_hdr(__u8 nexthdr)
{
	switch (nexthdr) {
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_FRAGMENT:
	case IPPROTO_DSTOPTS:
	case IPPROTO_AH:
	case 135: /* mobility */
	case 139: /* HIP */
	case 140: /* shim6 */
		return 1;
	}
	return 0;
}

#endif /* DOGFISH_BPF_PARSE_H */
