/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The flow hash: Bob Jenkins' lookup3 (jhash) over the words of a flow key.
 * Shared by the BPF program and C++ so that the control plane and the tests
 * compute exactly what the data plane does, and so that two balancers with one
 * configuration place every flow on the same real.
 */
#ifndef DOGFISH_FLOW_HASH_H
#define DOGFISH_FLOW_HASH_H

#include <linux/types.h>
#include <dogfish/abi.h>

#ifdef __bpf__
#define DF_INLINE static __attribute__((always_inline)) inline
#else
#define DF_INLINE static inline
#endif

#define DF_HASH_SEED 0x0d06f154U
#define DF_JHASH_INITVAL 0xdeadbeefU

DF_INLINE __u32 df_rol32(__u32 w, unsigned int s)
{
	return (w << s) | (w >> (32 - s));
}

/* clang-format off: one line per round, as lookup3.c writes it */
#define DF_JHASH_MIX(a, b, c)         \
	do {                          \
		a -= c;               \
		a ^= df_rol32(c, 4);  \
		c += b;               \
		b -= a;               \
		b ^= df_rol32(a, 6);  \
		a += c;               \
		c -= b;               \
		c ^= df_rol32(b, 8);  \
		b += a;               \
		a -= c;               \
		a ^= df_rol32(c, 16); \
		c += b;               \
		b -= a;               \
		b ^= df_rol32(a, 19); \
		a += c;               \
		c -= b;               \
		c ^= df_rol32(b, 4);  \
		b += a;               \
	} while (0)

#define DF_JHASH_FINAL(a, b, c)       \
	do {                          \
		c ^= b;               \
		c -= df_rol32(b, 14); \
		a ^= c;               \
		a -= df_rol32(c, 11); \
		b ^= a;               \
		b -= df_rol32(a, 25); \
		c ^= b;               \
		c -= df_rol32(b, 16); \
		a ^= c;               \
		a -= df_rol32(c, 4);  \
		b ^= a;               \
		b -= df_rol32(a, 14); \
		c ^= b;               \
		c -= df_rol32(b, 24); \
	} while (0)

/* clang-format on */

DF_INLINE __u32 df_load32(const __u8 *p)
{
	__u32 w;

	__builtin_memcpy(&w, p, sizeof(w));
	return w;
}

/* The ports and protocol as one word, in a fixed order of the key's bytes. */
DF_INLINE __u32 df_ports_word(const struct df_flow_key *k, __be16 sport)
{
	return ((__u32)sport << 16) ^ (__u32)k->vip.port ^ ((__u32)k->vip.proto << 8);
}

/* Hash of the 5-tuple with `sport` for the source port (0 leaves it out). */
DF_INLINE __u32 df_tuple_hash(const struct df_flow_key *k, __be16 sport)
{
	__u32 a, b, c;

	if (k->vip.family == DF_FAMILY_V4) {
		a = df_load32(k->src) + DF_JHASH_INITVAL + DF_HASH_SEED;
		b = df_load32(k->vip.addr) + DF_JHASH_INITVAL + DF_HASH_SEED;
		c = df_ports_word(k, sport) + DF_JHASH_INITVAL + DF_HASH_SEED;
		DF_JHASH_FINAL(a, b, c);
		return c;
	}
	a = b = c = DF_JHASH_INITVAL + DF_HASH_SEED + 36;
	a += df_load32(k->src);
	b += df_load32(k->src + 4);
	c += df_load32(k->src + 8);
	DF_JHASH_MIX(a, b, c);
	a += df_load32(k->src + 12);
	b += df_load32(k->vip.addr);
	c += df_load32(k->vip.addr + 4);
	DF_JHASH_MIX(a, b, c);
	a += df_load32(k->vip.addr + 8);
	b += df_load32(k->vip.addr + 12);
	c += df_ports_word(k, sport);
	DF_JHASH_FINAL(a, b, c);
	return c;
}

/* Hash of the whole 5-tuple: spreads flows over the ring and over outer sources. */
DF_INLINE __u32 df_flow_hash(const struct df_flow_key *k)
{
	return df_tuple_hash(k, k->sport);
}

/* Hash of the source address alone: one client, one real, whatever its ports. */
DF_INLINE __u32 df_src_hash(const struct df_flow_key *k)
{
	__u32 a, b, c;

	a = b = c = DF_JHASH_INITVAL + DF_HASH_SEED + 16;
	a += df_load32(k->src);
	if (k->vip.family == DF_FAMILY_V4) {
		DF_JHASH_FINAL(a, b, c);
		return c;
	}
	b += df_load32(k->src + 4);
	c += df_load32(k->src + 8);
	DF_JHASH_MIX(a, b, c);
	a += df_load32(k->src + 12);
	DF_JHASH_FINAL(a, b, c);
	return c;
}

/* Hash of the destination port (and protocol) alone: one port, one real, whoever asks. */
DF_INLINE __u32 df_dport_hash(const struct df_flow_key *k)
{
	__u32 a, b, c;

	a = b = c = DF_JHASH_INITVAL + DF_HASH_SEED + 4;
	a += df_ports_word(k, 0);
	DF_JHASH_FINAL(a, b, c);
	return c;
}

/*
 * The hash a VIP's ring is asked with, by its DF_VIP_HASH_CHOICES flag (at most one is
 * set); `flow_hash` is the flow's df_flow_hash, the default.
 */
DF_INLINE __u32 df_ring_hash(const struct df_flow_key *k, __u32 vip_flags, __u32 flow_hash)
{
	if (vip_flags & DF_VIP_SRC_HASH_ONLY)
		return df_src_hash(k);
	if (vip_flags & DF_VIP_HASH_NO_SRC_PORT)
		return df_tuple_hash(k, 0);
	if (vip_flags & DF_VIP_HASH_DPORT_ONLY)
		return df_dport_hash(k);
	return flow_hash;
}

/* A hash's slot on a ring: multiply-shift is uniform over [0, ring_size) and needs no divide. */
DF_INLINE __u32 df_ring_slot(__u32 hash, __u32 ring_size)
{
	return (__u32)(((__u64)hash * ring_size) >> 32);
}

#endif /* DOGFISH_FLOW_HASH_H */
