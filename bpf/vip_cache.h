/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The VIP lookup, through a per-CPU copy of the VIP maps' answers.
 *
 * A hash map lookup is the kernel's hashing, bucket walk and key compare, each a
 * call: 30-40 ns a lookup on a machine with return-stack mitigations, a third of a
 * table hit. Every packet of a service asks the same few keys, so each CPU keeps
 * the last answer for each key's slot (VIP or not) and checks it inline.
 *
 * A copy holds while vip_gen (maps.h) is what it was when the copy was made. The
 * program reads vip_gen before it asks the VIP maps (vips, vip_prefixes), and the control
 * plane adds one after every write to either: a copy that carries the newest generation was
 * therefore made after the last write and holds what the maps hold. (A weakly
 * ordered CPU may let the maps' loads pass the generation's, by far less than the
 * syscall that parts a write from its bump.)
 */
#ifndef DOGFISH_BPF_VIP_CACHE_H
#define DOGFISH_BPF_VIP_CACHE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <dogfish/abi.h>
#include "maps.h"
#include "words.h"

/* The key's words (20 bytes, at an 8-byte boundary in the packet's key and in the slot). */
static __always_inline __u32 vip_cache_slot(const struct df_vip_key *k)
{
	__u32 h = word32_at(k, 0) ^ word32_at(k, 1) ^ word32_at(k, 2) ^ word32_at(k, 3) ^
		  (word32_at(k, 4) * 0x85ebca6bU);

	return (h * 0x9e3779b1U) >> (32 - DF_VIP_CACHE_BITS);
}

static __always_inline int vip_key_equal(const struct df_vip_key *a, const struct df_vip_key *b)
{
	return !((word32_at(a, 0) ^ word32_at(b, 0)) | (word32_at(a, 1) ^ word32_at(b, 1)) |
		 (word32_at(a, 2) ^ word32_at(b, 2)) | (word32_at(a, 3) ^ word32_at(b, 3)) |
		 (word32_at(a, 4) ^ word32_at(b, 4)));
}

/* A trie key that asks for every bit of a packet's key (the longest prefix answers). */
static __always_inline void prefix_key_of(struct df_prefix_key *pk, const struct df_vip_key *key,
					  __u8 proto, __be16 port)
{
	pk->prefixlen = DF_PREFIX_KEY_BITS;
	pk->family = key->family;
	pk->proto = proto;
	pk->port = port;
	__builtin_memcpy(pk->addr, key->addr, sizeof(pk->addr));
}

/* True when a prefix VIP covers the key's address, whatever its protocol and port. */
static __always_inline int in_vip_prefix(const struct df_vip_key *key)
{
	struct df_prefix_key pk;

	prefix_key_of(&pk, key, 0, 0);
	return bpf_map_lookup_elem(&vip_addr_pfxs, &pk) != NULL;
}

/*
 * The VIP the maps hold for a packet's key, the first that matches of:
 *   1. the exact VIP (address, port, protocol);
 *   2. the address's any-port VIP (address, DF_VIP_ANY_PORT, protocol);
 *   3. the longest prefix VIP with the port (prefix, port, protocol);
 *   4. the longest any-port prefix VIP (prefix, DF_VIP_ANY_PORT, protocol).
 * An address named alone is more specific than any prefix that holds it, and within each kind
 * the port named is more specific than every port, so a /24 on port 80 takes port 80 from a
 * /28 on every port. Prefix VIPs cost their lookups only where no VIP of the address answers.
 */
static __always_inline const struct df_vip_meta *vip_map_lookup(const struct df_vip_key *key)
{
	const struct df_vip_meta *meta = bpf_map_lookup_elem(&vips, key);
	struct df_prefix_key pk;
	struct df_vip_key any;

	if (meta)
		return meta;
	if (key->port != DF_VIP_ANY_PORT) {
		__builtin_memcpy(&any, key, sizeof(any));
		any.port = DF_VIP_ANY_PORT;
		meta = bpf_map_lookup_elem(&vips, &any);
		if (meta)
			return meta;
	}
	prefix_key_of(&pk, key, key->proto, key->port);
	meta = bpf_map_lookup_elem(&vip_prefixes, &pk);
	if (meta || key->port == DF_VIP_ANY_PORT)
		return meta;
	pk.port = DF_VIP_ANY_PORT;
	return bpf_map_lookup_elem(&vip_prefixes, &pk);
}

/* The VIP's meta, or NULL when the key is no VIP; as vip_map_lookup answers. */
static __always_inline const struct df_vip_meta *vip_lookup(const struct df_vip_key *key)
{
	__u32 zero = 0, slot = vip_cache_slot(key);
	__u32 *gen = bpf_map_lookup_elem(&vip_gen, &zero);
	struct df_vip_cached *c = bpf_map_lookup_elem(&vip_cache, &slot);
	const struct df_vip_meta *meta;
	__u32 now;

	if (!gen || !c)
		return vip_map_lookup(key);
	now = *(volatile __u32 *)gen;
	/* A zeroed slot never matches: a packet's key has a family. */
	if (c->gen == now && vip_key_equal(&c->key, key))
		return c->found ? &c->meta : NULL;
	meta = vip_map_lookup(key);
	for (int i = 0; i < (int)(sizeof(*key) / 4); i++)
		put_word32(&c->key, i, word32_at(key, i));
	c->gen = now;
	c->found = meta != NULL;
	if (meta)
		__builtin_memcpy(&c->meta, meta, sizeof(c->meta));
	return meta;
}

#endif /* DOGFISH_BPF_VIP_CACHE_H */
