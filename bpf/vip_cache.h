/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The VIP lookup, through a per-CPU copy of the VIP map's answers.
 *
 * A hash map lookup is the kernel's hashing, bucket walk and key compare, each a
 * call: 30-40 ns a lookup on a machine with return-stack mitigations, a third of a
 * table hit. Every packet of a service asks the same few keys, so each CPU keeps
 * the last answer for each key's slot (VIP or not) and checks it inline.
 *
 * A copy holds while vip_gen (maps.h) is what it was when the copy was made. The
 * program reads vip_gen before it asks the VIP map, and the control plane adds one
 * after every write to the map: a copy that carries the newest generation was
 * therefore made after the last write and holds what the map holds. (A weakly
 * ordered CPU may let the map's loads pass the generation's, by far less than the
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

/* The VIP the map holds for a packet's key: the exact one, else its address's any-port VIP. */
static __always_inline const struct df_vip_meta *vip_map_lookup(const struct df_vip_key *key)
{
	const struct df_vip_meta *meta = bpf_map_lookup_elem(&vips, key);
	struct df_vip_key any;

	if (meta || key->port == DF_VIP_ANY_PORT)
		return meta;
	__builtin_memcpy(&any, key, sizeof(any));
	any.port = DF_VIP_ANY_PORT;
	return bpf_map_lookup_elem(&vips, &any);
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
