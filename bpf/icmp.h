/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ICMP at the balancer. An echo request to a VIP address is answered. A packet too
 * big for the path to the reals once encapsulated is answered with "fragmentation
 * needed" (RFC 1191) or "packet too big" (RFC 8201), so the sender sends smaller.
 * An ICMP error about a packet a VIP sent (a real's reply: DSR) is read back into
 * the flow it belongs to, so the balancer can send it on to that flow's real, whose
 * stack is the one to act on it. Answers are written over the frame they answer
 * and leave by XDP_TX, from the VIP, to the MAC the frame came from.
 */
#ifndef DOGFISH_BPF_ICMP_H
#define DOGFISH_BPF_ICMP_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <dogfish/abi.h>
#include "csum.h"
#include "maps.h"
#include "parse.h"

#ifndef IP_DF
#define IP_DF 0x4000
#endif

/* Types and codes, here because uapi's <linux/icmp.h> pulls in libc headers. */
#define ICMP4_ECHO_REPLY 0
#define ICMP4_DEST_UNREACH 3
#define ICMP4_FRAG_NEEDED 4
#define ICMP4_ECHO_REQUEST 8
#define ICMP6_DEST_UNREACH 1
#define ICMP6_PACKET_TOO_BIG 2
#define ICMP6_ECHO_REQUEST 128
#define ICMP6_ECHO_REPLY 129

/*
 * A too-big answer quotes as much of the packet as fits in 576 bytes for IPv4
 * (RFC 1812 4.3.2.3) and in IPv6's minimum MTU for IPv6 (RFC 4443 2.4 (c)).
 */
#define ICMP4_ANSWER_MAX 576
#define ICMP6_ANSWER_MAX 1280
/* The least MTU an answer names: IPv4's minimum (RFC 791), IPv6's (RFC 8200 5). */
#define ICMP4_MIN_MTU 68
#define ICMP6_MIN_MTU 1280
#define ICMP_ANSWER_TTL 64

/* The ICMP and ICMPv6 header alike. */
struct icmp_hdr {
	__u8 type;
	__u8 code;
	__u16 checksum;
	__be32 rest; /* echo: id, sequence; frag needed: unused, MTU; packet too big: MTU */
};

/* The part of a quoted TCP or UDP header every error carries (RFC 792: 64 bits). */
struct icmp_quoted_l4 {
	__be16 source;
	__be16 dest;
	__be32 rest;
};

DF_PARSE_HDR(icmp_hdr, struct icmp_hdr)
DF_PARSE_HDR(quoted_l4, struct icmp_quoted_l4)

/* What an ICMP message is to the balancer. */
enum icmp_kind {
	ICMP_NOT_OURS, /* the stack's */
	ICMP_ECHO, /* an echo request to answer */
	ICMP_ERROR, /* an error to send on to the real of the flow it quotes */
};

/* `off` is df_config.icmp_off: what is turned off is the stack's, as before. */
static __always_inline int icmp_kind(__u8 family, const struct icmp_hdr *ih, __u8 off)
{
	int echo, error;

	if (family == DF_FAMILY_V4) {
		echo = ih->type == ICMP4_ECHO_REQUEST;
		error = ih->type == ICMP4_DEST_UNREACH;
	} else {
		echo = ih->type == ICMP6_ECHO_REQUEST;
		error = ih->type == ICMP6_DEST_UNREACH || ih->type == ICMP6_PACKET_TOO_BIG;
	}
	if (echo && !(off & DF_ICMP_NO_ECHO))
		return ICMP_ECHO;
	if (error && !(off & DF_ICMP_NO_ERRORS))
		return ICMP_ERROR;
	return ICMP_NOT_OURS;
}

static __always_inline int same_addr(const void *a, const void *b, __u8 family)
{
	__u64 x[2] = {}, y[2] = {};

	if (family == DF_FAMILY_V4) {
		__builtin_memcpy(x, a, 4);
		__builtin_memcpy(y, b, 4);
	} else {
		__builtin_memcpy(x, a, 16);
		__builtin_memcpy(y, b, 16);
	}
	return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
}

/*
 * The flow an ICMP error is about, from the quote the cursor is at. *flow holds the
 * error's own destination (a VIP address) and family; the quoted packet must come
 * from that address, as every error goes to its packet's source. That packet is a
 * reply (VIP to client), so the flow is its 5-tuple reversed. Returns DF_REASON_MAX
 * with the flow in *flow, or the error's reason.
 */
static __always_inline int icmp_quoted_flow(struct cursor *c, struct df_flow_key *flow)
{
	struct icmp_quoted_l4 *l4;
	__u8 proto;

	if (flow->vip.family == DF_FAMILY_V4) {
		struct iphdr *iph = parse_ipv4(c);

		/* Not a first fragment: no ports to read. */
		if (!iph || !ipv4_is_plain(iph) || (iph->frag_off & bpf_htons(IP_OFFSET)) ||
		    !same_addr(&iph->saddr, flow->vip.addr, DF_FAMILY_V4))
			return DF_DROP_ICMP_QUOTE;
		proto = iph->protocol;
		__builtin_memcpy(flow->src, &iph->daddr, 4);
	} else {
		struct ipv6hdr *ip6 = parse_ipv6(c);

		if (!ip6 || ip6->version != 6 || ipv6_is_ext_hdr(ip6->nexthdr) ||
		    !same_addr(&ip6->saddr, flow->vip.addr, DF_FAMILY_V6))
			return DF_DROP_ICMP_QUOTE;
		proto = ip6->nexthdr;
		__builtin_memcpy(flow->src, &ip6->daddr, 16);
	}
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return DF_PASS_ICMP_NO_FLOW;
	l4 = parse_quoted_l4(c);
	if (!l4)
		return DF_DROP_ICMP_QUOTE;
	flow->vip.proto = proto;
	flow->vip.port = l4->source;
	flow->sport = l4->dest;
	return DF_REASON_MAX;
}

/* Bytes of an ICMP error up to the end of what icmp_quoted_flow reads. */
static __always_inline __u8 icmp_error_hdrs_len(__u8 family)
{
	return sizeof(struct icmp_hdr) +
	       (family == DF_FAMILY_V4 ? sizeof(struct iphdr) : sizeof(struct ipv6hdr)) +
	       sizeof(struct icmp_quoted_l4);
}

/* The sum of ICMPv6's pseudo-header (RFC 8200 8.1) for a message of `len` bytes. */
static __always_inline __u64 icmp6_pseudo_sum(const struct ipv6hdr *ip6, __u32 len)
{
	return pseudo_sum6(&ip6->saddr, len, IPPROTO_ICMPV6);
}

#define CSUM_PIECE 512 /* the most one bpf_csum_diff call sums */

/*
 * The sum of `len` frame bytes from offset `off`, as 32-bit words in memory order
 * (fold with csum_fold64), or -1 when they are not all in the frame. The bytes are
 * copied to the scratch buffer first: there a length known only at run time is one
 * bounded loop, where reading the frame in place takes a branch the verifier must
 * follow for every possible tail. Global, so the verifier checks it once, not at
 * each of its callers.
 */
__noinline __s64 frame_sum(struct xdp_md *ctx, __u32 off, __u32 len)
{
	__u32 zero = 0;
	struct scratch_buf *buf = bpf_map_lookup_elem(&scratch, &zero);
	__u64 sum = 0;

	if (!buf || len == 0 || len > SCRATCH_BYTES)
		return -1;
	/*
	 * Again as a mask (the same value): clang tests a copy of len for the range above,
	 * and the verifier of kernels before 6.10 (Debian 12's 6.1) does not carry a
	 * copy's bounds back to len, so it refused the copy into the buffer.
	 */
	barrier_var(len);
	len = ((len - 1) & (SCRATCH_BYTES - 1)) + 1;
	if (bpf_xdp_load_bytes(ctx, off, buf->bytes, len))
		return -1;
	/* Zeros to the next whole word: bpf_csum_diff sums words, and zeros add nothing. */
	__builtin_memset(&buf->bytes[len], 0, 4);
	__u32 words = (len + 3) / 4;

	for (int i = 0; i < SCRATCH_BYTES / CSUM_PIECE; i++) {
		__u32 left = words - i * (CSUM_PIECE / 4);

		if ((__s32)left <= 0)
			break;
		if (left > CSUM_PIECE / 4)
			left = CSUM_PIECE / 4;
		/* The same value, bounded where the 6.1 verifier sees it (as len above). */
		barrier_var(left);
		left = ((left - 1) & (CSUM_PIECE / 4 - 1)) + 1;
		sum += (__u32)bpf_csum_diff(NULL, 0, (void *)&buf->bytes[i * CSUM_PIECE], left * 4,
					    0);
	}
	sum = (sum & 0xffffffff) + (sum >> 32);
	return (sum & 0xffffffff) + (sum >> 32);
}

/*
 * Whether the ICMP message after the frame's IP header (no options: those were
 * dropped) verifies its checksum; `l3_len` is the checked IP length.
 */
static __always_inline int icmp_checksum_ok(struct xdp_md *ctx, __u8 family, __u32 l3_len)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ipv6hdr *ip6 = data + sizeof(struct ethhdr);
	__u32 hdrs = sizeof(struct ethhdr) + sizeof(struct iphdr);
	__u64 sum = 0;
	__s64 msg;

	if (family == DF_FAMILY_V6) {
		if ((void *)(ip6 + 1) > end)
			return 0;
		hdrs = sizeof(struct ethhdr) + sizeof(*ip6);
		sum = icmp6_pseudo_sum(ip6, l3_len - sizeof(*ip6));
	}
	msg = frame_sum(ctx, hdrs, l3_len - (hdrs - sizeof(struct ethhdr)));
	return msg >= 0 && csum_fold64(sum + msg) == 0;
}

static __always_inline void swap_macs(struct ethhdr *eth)
{
	__u8 tmp[ETH_ALEN];

	__builtin_memcpy(tmp, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, tmp, ETH_ALEN);
}

/*
 * Turns the echo request in the frame into its reply, in place: addresses swapped,
 * a fresh TTL, the reply's type, the checksum updated for the type. A request that
 * fails its checksum is dropped, as the stack would drop it.
 */
static __always_inline int icmp_echo_reply(struct xdp_md *ctx, __u8 family, __u32 l3_len)
{
	void *data, *end;
	struct ethhdr *eth;
	struct icmp_hdr *ih;
	__u16 before, after;
	__u8 reply;

	if (!icmp_checksum_ok(ctx, family, l3_len))
		return DF_DROP_ICMP_CHECKSUM;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	if (family == DF_FAMILY_V4) {
		struct iphdr *iph = (void *)(eth + 1);
		__be32 client;

		ih = (void *)(iph + 1);
		if ((void *)(ih + 1) > end)
			return DF_DROP_BAD_L3;
		client = iph->saddr;
		iph->saddr = iph->daddr;
		iph->daddr = client;
		iph->ttl = ICMP_ANSWER_TTL;
		iph->check = 0;
		iph->check = ipv4_hdr_csum(iph);
		reply = ICMP4_ECHO_REPLY;
	} else {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		struct in6_addr client;

		ih = (void *)(ip6 + 1);
		if ((void *)(ih + 1) > end)
			return DF_DROP_BAD_L3;
		client = ip6->saddr;
		ip6->saddr = ip6->daddr;
		ip6->daddr = client;
		ip6->hop_limit = ICMP_ANSWER_TTL;
		reply = ICMP6_ECHO_REPLY;
	}
	/* The pseudo-header sums the same with its addresses swapped: only the type counts. */
	__builtin_memcpy(&before, ih, sizeof(before));
	ih->type = reply;
	__builtin_memcpy(&after, ih, sizeof(after));
	ih->checksum = csum_replace16(ih->checksum, before, after);
	swap_macs(eth);
	return DF_TX_ICMP_ECHO;
}

/*
 * Makes room for an answer over the frame: the tail cut to the Ethernet header and
 * `quote` bytes of the packet, the head grown by `grow` bytes of new headers. Writes
 * the new Ethernet header, back to where the frame came from, and returns what
 * follows it (`grow` bytes checked), or NULL.
 */
static __always_inline void *icmp_answer_room(struct xdp_md *ctx, __u32 quote, int grow,
					      __u16 proto)
{
	void *data = (void *)(long)ctx->data;
	__u64 frame_len = (void *)(long)ctx->data_end - data;
	__u64 keep = sizeof(struct ethhdr) + quote;
	__u8 old[2 * ETH_ALEN];
	struct ethhdr *eth;

	if (data + sizeof(old) > (void *)(long)ctx->data_end)
		return NULL;
	__builtin_memcpy(old, data, sizeof(old));
	/* A scalar from here: else clang may fold the pointers into 32-bit sums the verifier refuses. */
	barrier_var(frame_len);
	if (frame_len > keep && bpf_xdp_adjust_tail(ctx, -(int)(frame_len - keep)))
		return NULL;
	if (bpf_xdp_adjust_head(ctx, -grow))
		return NULL;
	eth = (void *)(long)ctx->data;
	if ((void *)(eth + 1) + grow > (void *)(long)ctx->data_end)
		return NULL;
	__builtin_memcpy(eth->h_dest, old + ETH_ALEN, ETH_ALEN);
	__builtin_memcpy(eth->h_source, old, ETH_ALEN);
	eth->h_proto = bpf_htons(proto);
	return eth + 1;
}

/* Fills in the too-big message after `ip_len` bytes of new IP header, checksum last. */
static __always_inline int icmp_too_big_msg(struct xdp_md *ctx, struct icmp_hdr *ih, __u8 type,
					    __u8 code, __u32 rest, __u32 ip_len, __u32 quote,
					    __u64 pseudo_sum)
{
	__s64 sum;

	ih->type = type;
	ih->code = code;
	ih->checksum = 0;
	ih->rest = bpf_htonl(rest);
	sum = frame_sum(ctx, sizeof(struct ethhdr) + ip_len, sizeof(*ih) + quote);
	if (sum < 0)
		return DF_DROP_ADJUST_HEAD;
	ih->checksum = csum_fold64(pseudo_sum + sum);
	return DF_TX_ICMP_TOO_BIG;
}

static __always_inline int icmp_too_big_v4(struct xdp_md *ctx, __u32 l3_len, __u32 mtu)
{
	const int grow = sizeof(struct iphdr) + sizeof(struct icmp_hdr);
	struct iphdr *iph = (void *)(long)ctx->data + sizeof(struct ethhdr);
	__u32 quote = l3_len < ICMP4_ANSWER_MAX - grow ? l3_len : ICMP4_ANSWER_MAX - grow;
	__be32 vip, client;

	if ((void *)(iph + 1) > (void *)(long)ctx->data_end)
		return DF_DROP_BAD_L3;
	if (!(iph->frag_off & bpf_htons(IP_DF)))
		return DF_DROP_TOO_BIG;
	vip = iph->daddr;
	client = iph->saddr;
	iph = icmp_answer_room(ctx, quote, grow, ETH_P_IP);
	if (!iph)
		return DF_DROP_ADJUST_HEAD;
	iph->version = 4;
	iph->ihl = 5;
	iph->tos = 0;
	iph->tot_len = bpf_htons(grow + quote);
	iph->id = 0;
	iph->frag_off = bpf_htons(IP_DF);
	iph->ttl = ICMP_ANSWER_TTL;
	iph->protocol = IPPROTO_ICMP;
	iph->check = 0;
	iph->saddr = vip;
	iph->daddr = client;
	iph->check = ipv4_hdr_csum(iph);
	/* 16 bits unused, then the next-hop MTU */
	return icmp_too_big_msg(ctx, (void *)(iph + 1), ICMP4_DEST_UNREACH, ICMP4_FRAG_NEEDED, mtu,
				sizeof(*iph), quote, 0);
}

static __always_inline int icmp_too_big_v6(struct xdp_md *ctx, __u32 l3_len, __u32 mtu)
{
	const int grow = sizeof(struct ipv6hdr) + sizeof(struct icmp_hdr);
	struct ipv6hdr *ip6 = (void *)(long)ctx->data + sizeof(struct ethhdr);
	__u32 quote = l3_len < ICMP6_ANSWER_MAX - grow ? l3_len : ICMP6_ANSWER_MAX - grow;
	struct in6_addr vip, client;

	if ((void *)(ip6 + 1) > (void *)(long)ctx->data_end)
		return DF_DROP_BAD_L3;
	vip = ip6->daddr;
	client = ip6->saddr;
	ip6 = icmp_answer_room(ctx, quote, grow, ETH_P_IPV6);
	if (!ip6)
		return DF_DROP_ADJUST_HEAD;
	*(__be32 *)ip6 = bpf_htonl(6U << 28); /* version 6, traffic class 0, no flow label */
	ip6->payload_len = bpf_htons(sizeof(struct icmp_hdr) + quote);
	ip6->nexthdr = IPPROTO_ICMPV6;
	ip6->hop_limit = ICMP_ANSWER_TTL;
	ip6->saddr = vip;
	ip6->daddr = client;
	return icmp_too_big_msg(ctx, (void *)(ip6 + 1), ICMP6_PACKET_TOO_BIG, 0, mtu, sizeof(*ip6),
				quote, icmp6_pseudo_sum(ip6, sizeof(struct icmp_hdr) + quote));
}

/*
 * Answers a packet of `l3_len` bytes that would exceed `max_size` once the real's
 * `overhead` is added, naming the MTU at which the sender's next packet fits.
 *
 * An IPv4 packet without DF gets no answer and is dropped (DF_DROP_TOO_BIG): its
 * sender asked routers to fragment it, which XDP cannot do to the outer packet; the
 * only message there is describes a DF packet; and a sender that did heed it would
 * fragment at the source, and fragments to a VIP are dropped anyway.
 */
static __always_inline int icmp_too_big(struct xdp_md *ctx, __u8 family, __u32 l3_len,
					__u32 max_size, __u32 overhead)
{
	__u32 mtu = max_size > overhead ? max_size - overhead : 0;

	if (family == DF_FAMILY_V4)
		return icmp_too_big_v4(ctx, l3_len,
				       mtu < ICMP4_MIN_MTU ? ICMP4_MIN_MTU
				       : mtu > 0xffff	   ? 0xffff
							   : mtu);
	return icmp_too_big_v6(ctx, l3_len, mtu < ICMP6_MIN_MTU ? ICMP6_MIN_MTU : mtu);
}

#endif /* DOGFISH_BPF_ICMP_H */
