// SPDX-License-Identifier: GPL-2.0
/*
 * dogfish's balancer: an XDP program that sends each packet for a VIP to one
 * real, encapsulated (IPIP / IP6IP6 / IPv4-in-IPv6, or any of them in UDP: GUE),
 * back out of the interface it came in on. Everything else goes to the stack
 * untouched. Beside it, on the same interface's tc egress, the health prober's
 * marked packets get the same encapsulation (probe.h). DESIGN.md has the packet's path; the ABI is
 * <dogfish/abi.h>.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <dogfish/abi.h>
#include <dogfish/flow_hash.h>
#include "maps.h"
#include "parse.h"
#include "encap.h"
#include "conn_table.h"
#include "icmp.h"
#include "vip_cache.h"
#include "probe.h"

/* Fixed at load: the verifier and JIT see them as constants. */
const volatile __u32 ring_size = DF_DEFAULT_RING_SIZE;
/* Row length of vip_real_stats (max_reals); 0: per-(VIP, real) counters are not kept. */
const volatile __u32 vip_real_stride = DF_DEFAULT_MAX_REALS;

/* Changed at run time by the control plane through the mmap'd .bss map. */
volatile struct df_config df_cfg;

/* Returned by a step that found nothing to stop for: the packet goes on. */
#define CONTINUE DF_REASON_MAX

/* What the parsers learn about a packet for a possible VIP. */
struct packet {
	struct df_flow_key flow __attribute__((aligned(8))); /* compared by 8-byte words */
	__u32 l3_len; /* the IP header's own idea of the packet's length */
	__u32 frame_l3_len; /* bytes the frame holds from the IP header on */
	__u8 tos;
	__u8 ttl;
	__u8 l4_hdr_len;
	__u8 tcp_flags; /* byte 13 of the TCP header; 0 for UDP */
	__u32 tcp_seq; /* host order; 0 for UDP */
	__u8 icmp; /* ICMP_ECHO, or ICMP_ERROR with the quoted flow in `flow` */
};

/* Some VIP lives on the destination: on the address alone, or on a prefix that holds it. */
static __always_inline int is_vip_addr(const struct packet *pkt)
{
	struct df_vip_addr_key key = {};

	__builtin_memcpy(key.addr, pkt->flow.vip.addr, sizeof(key.addr));
	key.family = pkt->flow.vip.family;
	return bpf_map_lookup_elem(&vip_addrs, &key) != NULL || in_vip_prefix(&pkt->flow.vip);
}

/*
 * A malformed packet is dropped when its destination carries a VIP (it claims to
 * be ours) and passed untouched otherwise: the stack judges what isn't ours.
 */
static __always_inline int drop_if_vip_addr(const struct packet *pkt, enum df_reason reason)
{
	return is_vip_addr(pkt) ? reason : DF_PASS_NOT_VIP;
}

/*
 * ICMP to a VIP address that the balancer handles: an echo request it answers, or
 * an error about a VIP's flow, whose quote then stands for the packet in `flow`.
 */
static __always_inline int parse_icmp(struct cursor *c, struct packet *pkt)
{
	struct icmp_hdr *ih = parse_icmp_hdr(c);

	if (!ih)
		return drop_if_vip_addr(pkt, DF_DROP_TRUNCATED_L4);
	pkt->icmp = icmp_kind(pkt->flow.vip.family, ih, df_cfg.icmp_off);
	if (pkt->icmp == ICMP_NOT_OURS)
		return DF_PASS_L4_PROTO;
	if (!is_vip_addr(pkt))
		return DF_PASS_NOT_VIP;
	if (pkt->icmp == ICMP_ECHO) {
		pkt->l4_hdr_len = sizeof(*ih);
		return CONTINUE;
	}
	pkt->l4_hdr_len = icmp_error_hdrs_len(pkt->flow.vip.family);
	return icmp_quoted_flow(c, &pkt->flow);
}

/*
 * The ports into the flow key, each in a word written whole with what shares it
 * (the protocol and family; the padding): the next reads of the key are by words
 * (the VIP copy's slot and compare, the kernel's hash), and a word read over
 * narrower stores still in flight waits for them to land.
 */
static __always_inline void set_ports(struct df_flow_key *flow, __be16 sport, __be16 dport)
{
	union {
		struct {
			__be16 port;
			__u8 proto;
			__u8 family;
		} f;
		__u32 w;
	} vip_tail = { .f = { dport, flow->vip.proto, flow->vip.family } };
	union {
		struct {
			__be16 port;
			__u8 pad[2];
		} f;
		__u32 w;
	} src_tail = { .f = { sport } };

	_Static_assert(__builtin_offsetof(struct df_vip_key, family) ==
			       __builtin_offsetof(struct df_vip_key, port) + 3,
		       "port, proto and family make one word");
	put_word32(&flow->vip.port, 0, vip_tail.w);
	put_word32(&flow->sport, 0, src_tail.w);
}

static __always_inline int parse_l4(struct cursor *c, struct packet *pkt)
{
	if (pkt->flow.vip.proto == IPPROTO_TCP) {
		struct tcphdr *th = parse_tcp(c);

		if (!th)
			return drop_if_vip_addr(pkt, DF_DROP_TRUNCATED_L4);
		set_ports(&pkt->flow, th->source, th->dest);
		pkt->l4_hdr_len = sizeof(*th);
		pkt->tcp_flags = ((const __u8 *)th)[13];
		pkt->tcp_seq = bpf_ntohl(th->seq);
		return CONTINUE;
	}
	if (pkt->flow.vip.proto == IPPROTO_UDP) {
		struct udphdr *uh = parse_udp(c);

		if (!uh)
			return drop_if_vip_addr(pkt, DF_DROP_TRUNCATED_L4);
		set_ports(&pkt->flow, uh->source, uh->dest);
		pkt->l4_hdr_len = sizeof(*uh);
		return CONTINUE;
	}
	if (pkt->flow.vip.proto ==
	    (pkt->flow.vip.family == DF_FAMILY_V4 ? IPPROTO_ICMP : IPPROTO_ICMPV6))
		return parse_icmp(c, pkt);
	return DF_PASS_L4_PROTO;
}

static __always_inline int parse_v4(struct cursor *c, struct packet *pkt)
{
	struct iphdr *iph = parse_ipv4(c);

	if (!iph)
		return DF_PASS_TRUNCATED;
	pkt->flow.vip.family = DF_FAMILY_V4;
	pkt->flow.vip.proto = iph->protocol;
	__builtin_memcpy(pkt->flow.vip.addr, &iph->daddr, 4);
	__builtin_memcpy(pkt->flow.src, &iph->saddr, 4);
	pkt->tos = iph->tos;
	pkt->ttl = iph->ttl;
	pkt->l3_len = bpf_ntohs(iph->tot_len);
	if (!ipv4_is_plain(iph)) {
		if (iph->version != 4 || iph->ihl < 5)
			return drop_if_vip_addr(pkt, DF_DROP_BAD_L3);
		return drop_if_vip_addr(pkt, DF_DROP_IP_OPTIONS);
	}
	if (ipv4_is_fragment(iph))
		return drop_if_vip_addr(pkt, DF_DROP_FRAGMENT);
	return parse_l4(c, pkt);
}

static __always_inline int parse_v6(struct cursor *c, struct packet *pkt)
{
	struct ipv6hdr *ip6 = parse_ipv6(c);

	if (!ip6)
		return DF_PASS_TRUNCATED;
	pkt->flow.vip.family = DF_FAMILY_V6;
	pkt->flow.vip.proto = ip6->nexthdr;
	__builtin_memcpy(pkt->flow.vip.addr, &ip6->daddr, 16);
	__builtin_memcpy(pkt->flow.src, &ip6->saddr, 16);
	pkt->tos = (ip6->priority << 4) | (ip6->flow_lbl[0] >> 4);
	pkt->ttl = ip6->hop_limit;
	pkt->l3_len = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
	if (ip6->version != 6)
		return drop_if_vip_addr(pkt, DF_DROP_BAD_L3);
	if (ipv6_is_ext_hdr(ip6->nexthdr))
		return drop_if_vip_addr(pkt, ip6->nexthdr == IPPROTO_FRAGMENT ? DF_DROP_FRAGMENT
									      : DF_DROP_IPV6_EXT);
	return parse_l4(c, pkt);
}

static __always_inline void count(void *stats_map, __u32 id, __u64 bytes)
{
	struct df_counter *ctr = bpf_map_lookup_elem(stats_map, &id);

	if (ctr) {
		ctr->packets++;
		ctr->bytes += bytes;
	}
}

/* The real for a flow the table doesn't know (or must forget): its VIP's ring decides. */
static __always_inline __u32 ring_lookup(const struct df_vip_meta *vip, const struct packet *pkt,
					 __u32 flow_hash)
{
	__u32 hash = df_ring_hash(&pkt->flow, vip->flags, flow_hash);
	__u32 idx = vip->ring_slot * ring_size + df_ring_slot(hash, ring_size);
	__u32 *id = bpf_map_lookup_elem(&rings, &idx);

	return id ? *id : DF_REAL_NONE;
}

static __always_inline const struct df_real *real_by_id(__u32 id)
{
	const struct df_real *real = bpf_map_lookup_elem(&reals, &id);

	return real && real->family ? real : NULL;
}

/* The ring's real for a flow the table does not settle; counted as a decision. */
static __always_inline const struct df_real *ring_decides(const struct df_vip_meta *vip,
							  const struct packet *pkt, __u32 flow_hash,
							  struct df_global_stats *gs,
							  __u32 *real_id)
{
	const struct df_real *real;

	*real_id = ring_lookup(vip, pkt, flow_hash);
	real = real_by_id(*real_id);
	if (real)
		gs->hash_decisions++;
	return real;
}

/*
 * A flow the table does not know: the SYN it answers decides if there was one
 * (a proven handshake), the ring otherwise; remembered if the guard allows.
 */
static __always_inline const struct df_real *table_miss(const struct df_vip_meta *vip,
							const struct packet *pkt, __u32 flow_hash,
							struct df_global_stats *gs, __u32 *real_id)
{
	const struct df_real *real = NULL;
	struct df_conn fresh = {};
	int proven = 0;

	gs->conn_miss++;
	if (pkt->flow.vip.proto == IPPROTO_TCP) {
		*real_id = syn_answered(&pkt->flow, flow_hash, pkt->tcp_seq);
		real = real_by_id(*real_id);
		proven = real != NULL;
	}
	if (proven)
		gs->conn_proven++;
	else
		real = ring_decides(vip, pkt, flow_hash, gs, real_id);
	if (!real)
		return NULL;
	if (!guard_allows(df_cfg.conn_insert_rate, proven, gs)) {
		gs->conn_skipped++;
		return real;
	}
	fresh.real_id = *real_id;
	fresh.hash = flow_hash;
	if (pkt->flow.vip.proto == IPPROTO_UDP && df_cfg.udp_idle_ticks)
		fresh.atime = bpf_ktime_get_coarse_ns() >> DF_TICK_SHIFT;
	bpf_map_update_elem(&conn_table, &pkt->flow, &fresh, BPF_ANY);
	gs->conn_inserted++;
	return real;
}

/*
 * A flow the table knows: its entry's real, unless a newer handshake on the same
 * tuple chose another, the UDP entry went idle too long, or the real is gone;
 * then the entry is rewritten in place (no new entry: the guard is not asked).
 */
static __always_inline const struct df_real *table_hit(struct df_conn *conn,
						       const struct df_vip_meta *vip,
						       const struct packet *pkt, __u32 flow_hash,
						       struct df_global_stats *gs, __u32 *real_id)
{
	const struct df_real *real;
	__u32 now = 0;

	/* Coarse (jiffy) time is plenty for 16.8 ms ticks; the precise clock costs ~20 ns in a VM. */
	if (pkt->flow.vip.proto == IPPROTO_UDP && df_cfg.udp_idle_ticks) {
		now = bpf_ktime_get_coarse_ns() >> DF_TICK_SHIFT;
		if (now - conn->atime > df_cfg.udp_idle_ticks) {
			gs->conn_expired++;
			goto rehash;
		}
		if (conn->atime != now)
			conn->atime = now;
	} else if (pkt->flow.vip.proto == IPPROTO_TCP) {
		__u32 newer = syn_answered(&pkt->flow, flow_hash, pkt->tcp_seq);

		if (newer != DF_REAL_NONE && newer != conn->real_id && real_by_id(newer)) {
			conn->real_id = newer;
			gs->conn_replaced++;
		}
	}
	real = real_by_id(conn->real_id);
	if (real) {
		gs->conn_hit++;
		*real_id = conn->real_id;
		return real;
	}
rehash:
	real = ring_decides(vip, pkt, flow_hash, gs, real_id);
	if (real) {
		conn->real_id = *real_id;
		conn->atime = now;
	}
	return real;
}

/*
 * Pick the real. A SYN takes the ring's and leaves a record of it, the table
 * untouched; any other packet asks the table first (unless the VIP opts out).
 * The flow's hash comes with the entry on a hit, and is computed otherwise.
 */
static __always_inline const struct df_real *choose_real(const struct df_vip_meta *vip,
							 const struct packet *pkt,
							 struct df_global_stats *gs, __u32 *real_id,
							 __u32 *flow_hash)
{
	const struct df_real *real;
	struct df_conn *conn = NULL;

	if (!(vip->flags & DF_VIP_NO_CONN_TABLE) &&
	    !(pkt->flow.vip.proto == IPPROTO_TCP && tcp_is_syn(pkt->tcp_flags))) {
		conn = bpf_map_lookup_elem(&conn_table, &pkt->flow);
		if (conn) {
			*flow_hash = conn->hash;
			return table_hit(conn, vip, pkt, *flow_hash, gs, real_id);
		}
		*flow_hash = df_flow_hash(&pkt->flow);
		return table_miss(vip, pkt, *flow_hash, gs, real_id);
	}
	*flow_hash = df_flow_hash(&pkt->flow);
	real = ring_decides(vip, pkt, *flow_hash, gs, real_id);
	if (real && !(vip->flags & DF_VIP_NO_CONN_TABLE))
		syn_record(&pkt->flow, *flow_hash, pkt->tcp_seq, *real_id);
	return real;
}

/*
 * The real that owns the flow an ICMP error is about: the connection table's,
 * else the ring's (a flow the table does not hold, in its handshake or passed
 * over by the flood guard, went where the ring said). Never remembered, nor
 * counted as a lookup: an error is not a packet of the flow.
 */
static __always_inline const struct df_real *flow_owner(const struct df_vip_meta *vip,
							const struct packet *pkt, __u32 *real_id,
							__u32 *flow_hash)
{
	const struct df_conn *conn = NULL;
	const struct df_real *real;

	if (!(vip->flags & DF_VIP_NO_CONN_TABLE))
		conn = bpf_map_lookup_elem(&conn_table, &pkt->flow);
	if (conn) {
		real = real_by_id(conn->real_id);
		if (real) {
			*real_id = conn->real_id;
			*flow_hash = conn->hash;
			return real;
		}
	}
	*flow_hash = df_flow_hash(&pkt->flow);
	*real_id = ring_lookup(vip, pkt, *flow_hash);
	return real_by_id(*real_id);
}

/* The header's length must fit its own headers and the frame (padding may follow). */
static __always_inline int l3_len_ok(const struct packet *pkt, __u64 frame_len)
{
	__u32 hdrs = pkt->flow.vip.family == DF_FAMILY_V4 ? sizeof(struct iphdr)
							  : sizeof(struct ipv6hdr);

	return pkt->l3_len <= frame_len - sizeof(struct ethhdr) &&
	       pkt->l3_len >= hdrs + pkt->l4_hdr_len;
}

static __always_inline int balance(struct xdp_md *ctx, struct df_global_stats *gs)
{
	struct cursor c = { .pos = (void *)(long)ctx->data, .end = (void *)(long)ctx->data_end };
	__u64 frame_len = c.end - c.pos;
	const struct df_vip_meta *vip;
	const struct df_real *real;
	struct packet pkt = {};
	struct encap_in in = {};
	struct ethhdr *eth;
	__u32 flow_hash, real_id, overhead;
	int r;

	eth = parse_eth(&c);
	if (!eth)
		return DF_PASS_TRUNCATED;
	if (eth->h_proto == bpf_htons(ETH_P_IP))
		r = parse_v4(&c, &pkt);
	else if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		r = parse_v6(&c, &pkt);
	else
		return DF_PASS_NOT_IP;
	if (r != CONTINUE)
		return r;
	if (pkt.icmp == ICMP_ECHO)
		return l3_len_ok(&pkt, frame_len)
			       ? icmp_echo_reply(ctx, pkt.flow.vip.family, pkt.l3_len)
			       : DF_DROP_BAD_L3;

	vip = vip_lookup(&pkt.flow.vip);
	if (!vip)
		return pkt.icmp ? DF_PASS_ICMP_NO_FLOW : DF_PASS_NOT_VIP;
	count(&vip_stats, vip->vip_id, frame_len);

	if (!l3_len_ok(&pkt, frame_len))
		return DF_DROP_BAD_L3;
	if (pkt.icmp && !icmp_checksum_ok(ctx, pkt.flow.vip.family, pkt.l3_len))
		return DF_DROP_ICMP_CHECKSUM;
	if (!pkt.icmp && pkt.flow.vip.proto == IPPROTO_TCP && !tcp_flags_valid(pkt.tcp_flags))
		return DF_DROP_TCP_FLAGS;

	real = pkt.icmp ? flow_owner(vip, &pkt, &real_id, &flow_hash)
			: choose_real(vip, &pkt, gs, &real_id, &flow_hash);
	if (!real)
		return DF_DROP_NO_REAL;
	if (real->family == DF_FAMILY_V4 && pkt.flow.vip.family == DF_FAMILY_V6)
		return DF_DROP_REAL_FAMILY;

	overhead = encap_overhead(real);
	if (df_cfg.max_pkt_size && pkt.l3_len + overhead > df_cfg.max_pkt_size)
		return pkt.icmp ? DF_DROP_TOO_BIG
				: icmp_too_big(ctx, pkt.flow.vip.family, pkt.l3_len,
					       df_cfg.max_pkt_size, overhead);
	if (!df_cfg.gateway_set)
		return DF_DROP_NO_GATEWAY;

	in.hash = flow_hash;
	in.inner_len = pkt.l3_len;
	in.inner_proto = pkt.flow.vip.family == DF_FAMILY_V4 ? IPPROTO_IPIP : IPPROTO_IPV6;
	in.tos = pkt.tos;
	in.ttl = pkt.ttl;
	if (encap_xdp(ctx, real, &in, &df_cfg))
		return DF_DROP_ADJUST_HEAD;
	count(&real_stats, real_id, frame_len);
	if (vip_real_stride)
		count(&vip_real_stats, vip->vip_id * vip_real_stride + real_id, frame_len);
	return pkt.icmp ? DF_TX_ICMP_ERROR : DF_TX;
}

SEC("xdp")
int balancer(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct df_global_stats *gs = bpf_map_lookup_elem(&global_stats, &zero);
	__u32 reason;

	if (!gs)
		return XDP_ABORTED;
	reason = balance(ctx, gs);
	if (reason >= DF_REASON_MAX)
		return XDP_ABORTED;
	gs->reason[reason]++;
	if (reason < DF_FIRST_PASS)
		return XDP_TX;
	return reason < DF_FIRST_DROP ? XDP_PASS : XDP_DROP;
}

/* tc egress: the health prober's marked packets; anything else passes untouched, uncounted. */
SEC("tc")
int probe_encap(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct df_global_stats *gs;
	__u32 reason;

	if ((skb->mark & DF_PROBE_MARK_MASK) != DF_PROBE_MARK)
		return TC_ACT_OK;
	gs = bpf_map_lookup_elem(&global_stats, &zero);
	if (!gs)
		return TC_ACT_SHOT;
	reason = probe_encap_reason(skb, &df_cfg);
	if (reason >= DF_REASON_MAX)
		return TC_ACT_SHOT;
	gs->reason[reason]++;
	return reason < DF_FIRST_DROP ? TC_ACT_OK : TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
