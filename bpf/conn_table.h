/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The connection table and its flood guard.
 *
 * A TCP flow is remembered at its first packet after the SYN, never at the SYN:
 * spoofed SYNs, however many, write nothing to the table. The SYN leaves a record
 * instead (its hash, its sequence number, the real the ring chose); the packet
 * that answers it (sequence number ISN + 1) proves the handshake and takes the
 * SYN's real, so a ring change between a SYN and its ACK moves nothing, and a
 * tuple reused after a ring change leaves its stale entry behind.
 *
 * Every entry a miss writes costs a token from its CPU's bucket (conn_insert_rate
 * a second, as many in store): a proven handshake may take the last token, any
 * other miss (an ACK or UDP datagram of a flow the table does not know) only
 * the upper half. A flood of misses thus writes at most conn_insert_rate entries
 * a second per CPU, and real handshakes go first.
 */
#ifndef DOGFISH_BPF_CONN_TABLE_H
#define DOGFISH_BPF_CONN_TABLE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <dogfish/abi.h>
#include "maps.h"

#define DF_NSEC_PER_SEC 1000000000ULL

static __always_inline __u32 syn_rec_check(__u32 hash, __u32 isn, __u32 real_id)
{
	return hash ^ isn ^ real_id ^ DF_SYN_REC_MAGIC;
}

/* Remembers which real a SYN went to, for its ACK. */
static __always_inline void syn_record(const struct df_flow_key *flow, __u32 hash, __u32 isn,
				       __u32 real_id)
{
	__u32 slot = hash & (DF_SYN_SLOTS - 1);
	struct df_syn_rec *rec = bpf_map_lookup_elem(&syn_recs, &slot);

	if (!rec)
		return;
	rec->hash = hash;
	rec->isn = isn;
	rec->real_id = real_id;
	rec->check = syn_rec_check(hash, isn, real_id);
	__builtin_memcpy(&rec->flow, flow, sizeof(*flow));
}

static __always_inline int flow_equal(const struct df_flow_key *a, const struct df_flow_key *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;

	return !((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) | (x[4] ^ y[4]));
}

/* The real of the SYN this packet (sequence number seq) answers; DF_REAL_NONE if none. */
static __always_inline __u32 syn_answered(const struct df_flow_key *flow, __u32 hash, __u32 seq)
{
	__u32 slot = hash & (DF_SYN_SLOTS - 1);
	struct df_syn_rec *rec = bpf_map_lookup_elem(&syn_recs, &slot);
	__u32 h, isn, real_id;

	if (!rec || rec->hash != hash)
		return DF_REAL_NONE;
	h = rec->hash;
	isn = rec->isn;
	real_id = rec->real_id;
	if (isn + 1 != seq || rec->check != syn_rec_check(h, isn, real_id) ||
	    !flow_equal(&rec->flow, flow))
		return DF_REAL_NONE;
	return real_id;
}

/*
 * Whether a miss may write an entry: a token from this CPU's bucket, the last
 * ones kept for proven handshakes. Refusals are counted by the second.
 */
static __always_inline int guard_allows(__u32 rate, int proven, struct df_global_stats *gs)
{
	__u32 zero = 0, floor = proven ? 0 : rate / 2;
	struct df_guard *g;
	__u64 now, elapsed, add;

	if (!rate)
		return 1;
	g = bpf_map_lookup_elem(&conn_guard, &zero);
	if (!g)
		return 0;
	now = bpf_ktime_get_coarse_ns();
	elapsed = now - g->stamp;
	if (elapsed >= DF_NSEC_PER_SEC) {
		g->tokens = rate;
		g->stamp = now;
	} else {
		add = elapsed * rate / DF_NSEC_PER_SEC;
		if (add) {
			g->tokens = g->tokens + add > rate ? rate : g->tokens + add;
			g->stamp += add * DF_NSEC_PER_SEC / rate;
		}
	}
	if (g->tokens > floor) {
		g->tokens--;
		return 1;
	}
	if (g->refused_in != (__u32)(now >> 30)) {
		g->refused_in = now >> 30;
		gs->guard_engaged++;
	}
	return 0;
}

#endif /* DOGFISH_BPF_CONN_TABLE_H */
