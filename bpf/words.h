/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Bytes read and written as words where clang would go byte by byte (a packed
 * struct ethhdr, a __u8[16] address): through void *, so that clang takes the
 * word's alignment rather than the bytes', and may_alias, so that the accesses
 * stay in order with the headers' own field accesses. Packet words need no
 * alignment (no BPF_F_STRICT_ALIGNMENT); map values and the stack are 8-aligned.
 */
#ifndef DOGFISH_BPF_WORDS_H
#define DOGFISH_BPF_WORDS_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>

typedef __u32 __attribute__((__may_alias__)) df_word32;
typedef __u16 __attribute__((__may_alias__)) df_word16;

static __always_inline __u32 word32_at(const void *p, int i)
{
	return ((const df_word32 *)p)[i];
}

static __always_inline void put_word32(void *p, int i, __u32 w)
{
	((df_word32 *)p)[i] = w;
}

#endif /* DOGFISH_BPF_WORDS_H */
